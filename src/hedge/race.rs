//! The race of one hedged request: the hedges in flight, when the next
//! one is due, and who wins.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::{Instant, Sleep};
use tower::util::Oneshot;
use tower_service::Service;

use super::layer::Config;
use crate::body::ReplayHandle;
use crate::classify::ErrorClass;
use crate::retry::ResendCount;
use crate::Attempts;

/// A hedge in flight. Boxed: their number is known only at run time, and
/// a `Vec` of futures needs each pinned where it is; the allocation is
/// made only when a hedge is started, never on the path of a request
/// that answers within the delay.
pub(super) struct Hedged<S, B>
where
    S: Service<Request<B>>,
{
    start: Instant,
    future: Pin<Box<Oneshot<S, Request<B>>>>,
}

/// Everything a race needs besides the two pinned futures.
pub(super) struct Race<S, B>
where
    S: Service<Request<B>>,
{
    /// Cloned for every hedge; polled ready by its `Oneshot`.
    service: S,
    /// The request as it was first sent, cloned for every hedge.
    template: Request<B>,
    config: Arc<Config>,
    first_start: Instant,
    hedges: Vec<Hedged<S, B>>,
    /// Attempts started, the first included.
    started: u32,
    /// The wait between hedges, taken once per request.
    delay: Duration,
    /// When the next hedge is due.
    next_at: Instant,
    /// Whether another hedge may start (not past `max_hedges`, not refused
    /// by the budget, the body still replayable).
    more: bool,
}

impl<S, B> Race<S, B>
where
    S: Service<Request<B>>,
{
    /// A race whose first attempt starts now; the first hedge is due
    /// after the delay.
    pub(super) fn new(service: S, template: Request<B>, config: Arc<Config>) -> Self {
        let first_start = Instant::now();
        let delay = config.delay();
        let next_at = deadline(first_start, delay);
        Race {
            service,
            template,
            config,
            first_start,
            hedges: Vec::new(),
            started: 1,
            delay,
            next_at,
            more: true,
        }
    }

    pub(super) fn started(&self) -> u32 {
        self.started
    }

    pub(super) fn hedges_in_flight(&self) -> usize {
        self.hedges.len()
    }
}

/// `from + delay`, or a time too far to matter when that overflows.
fn deadline(from: Instant, delay: Duration) -> Instant {
    from.checked_add(delay)
        .unwrap_or_else(|| from + Duration::from_secs(60 * 60 * 24 * 365))
}

/// `Attempts` on the response, unless a layer beneath (a `RetryLayer`)
/// already counted them.
pub(super) fn mark_attempts<ResB>(res: &mut Response<ResB>, attempts: u32) {
    if res.extensions().get::<Attempts>().is_none() {
        res.extensions_mut().insert(Attempts::new(attempts));
    }
}

impl<S, B, ResB> Race<S, B>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: 'static,
    B: Clone,
{
    pub(super) fn poll_race(
        &mut self,
        cx: &mut Context<'_>,
        mut first: Pin<&mut Option<S::Future>>,
        mut timer: Pin<&mut Option<Sleep>>,
    ) -> Poll<Result<Response<ResB>, S::Error>> {
        loop {
            if let Some(future) = first.as_mut().as_pin_mut() {
                if let Poll::Ready(output) = future.poll(cx) {
                    first.set(None);
                    let others = !self.hedges.is_empty();
                    if let Some(done) = self.settle(output, self.first_start, true, others) {
                        return Poll::Ready(done);
                    }
                }
            }
            let mut i = 0;
            while i < self.hedges.len() {
                if let Poll::Ready(output) = self.hedges[i].future.as_mut().poll(cx) {
                    let hedge = self.hedges.swap_remove(i);
                    let others = first.is_some() || !self.hedges.is_empty();
                    if let Some(done) = self.settle(output, hedge.start, false, others) {
                        return Poll::Ready(done);
                    }
                    continue;
                }
                i += 1;
            }
            if !self.more {
                return Poll::Pending;
            }
            if timer.is_none() {
                timer.set(Some(tokio::time::sleep_until(self.next_at)));
            }
            let Some(mut sleep) = timer.as_mut().as_pin_mut() else {
                return Poll::Pending;
            };
            if sleep.deadline() != self.next_at {
                sleep.as_mut().reset(self.next_at);
            }
            if sleep.poll(cx).is_ready() {
                self.start_hedge(Trigger::Delay);
                // Poll the new hedge, and the timer again (its waker).
                continue;
            }
            return Poll::Pending;
        }
    }

    /// An attempt ended: `Some` with the output of the whole request if it
    /// wins, `None` if the others go on.
    fn settle(
        &mut self,
        output: Result<Response<ResB>, S::Error>,
        start: Instant,
        first: bool,
        others_in_flight: bool,
    ) -> Option<Result<Response<ResB>, S::Error>> {
        match output {
            Ok(mut res) => {
                if let Some(window) = &self.config.latency {
                    window.record(start.elapsed());
                }
                if self.started > 1 {
                    tracing::debug!(
                        attempts = self.started,
                        first_won = first,
                        method = %self.template.method(),
                        host = self.template.uri().host().unwrap_or(""),
                        "hedged request answered"
                    );
                }
                mark_attempts(&mut res, self.started);
                Some(Ok(res))
            }
            Err(error) => match ErrorClass::of(&error) {
                ErrorClass::Fatal => Some(Err(error)),
                _ => {
                    // A transient failure: the others go on, and the next
                    // hedge need not wait for its delay.
                    let hedged = self.start_hedge(Trigger::TransientError);
                    if hedged || others_in_flight {
                        None
                    } else {
                        Some(Err(error))
                    }
                }
            },
        }
    }

    /// Starts a hedge if one may start; whether it did.
    fn start_hedge(&mut self, trigger: Trigger) -> bool {
        if !self.more {
            return false;
        }
        // Put there by `ReplayBodyLayer`: the body outgrew its replay limit.
        if let Some(body) = self.template.extensions().get::<ReplayHandle>() {
            if body.is_capped() {
                self.more = false;
                return false;
            }
        }
        if !self.config.withdraw(self.template.uri()) {
            self.more = false;
            tracing::debug!(
                attempts = self.started,
                method = %self.template.method(),
                host = self.template.uri().host().unwrap_or(""),
                "hedge refused by the budget"
            );
            #[cfg(feature = "metrics")]
            crate::metrics::hedge("refused");
            return false;
        }
        let mut req = self.template.clone();
        req.extensions_mut().insert(ResendCount::new(self.started));
        self.started += 1;
        if self.started > self.config.max_hedges {
            self.more = false;
        }
        tracing::debug!(
            attempt = self.started,
            after_ms = self.first_start.elapsed().as_millis() as u64,
            trigger = trigger.as_str(),
            method = %req.method(),
            host = req.uri().host().unwrap_or(""),
            "hedging request"
        );
        #[cfg(feature = "metrics")]
        crate::metrics::hedge("started");
        let now = Instant::now();
        self.next_at = deadline(now, self.delay);
        self.hedges.push(Hedged {
            start: now,
            future: Box::pin(Oneshot::new(self.service.clone(), req)),
        });
        true
    }
}

/// What started a hedge.
#[derive(Clone, Copy)]
enum Trigger {
    Delay,
    TransientError,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Delay => "delay",
            Trigger::TransientError => "transient_error",
        }
    }
}
