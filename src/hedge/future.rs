//! The response future of [`Hedge`](super::Hedge): the race between the
//! attempts of one request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::util::Oneshot;
use tower_service::Service;

use super::layer::Config;
use crate::body::ReplayHandle;
use crate::classify::ErrorClass;
use crate::{Attempts, ResendCount};

pin_project! {
    /// The response future of [`Hedge`](super::Hedge): the first attempt,
    /// and the hedges started while it had not answered; the first
    /// response (or error that is not transient) is the output, and the
    /// other attempts are dropped with it.
    ///
    /// Polling it again after it completed panics, as tower's `Oneshot`
    /// does: the inner error type leaves nothing else to return.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        // Not hedged (not safe to replay, or hedging off): the inner future.
        Single {
            #[pin]
            future: S::Future,
            latency: Option<LatencyClock>,
        },
        Racing {
            #[pin]
            first: Option<S::Future>,
            #[pin]
            timer: Sleep,
            race: Race<S, B>,
        },
        Done,
    }
}

/// When an attempt started, for the latency window.
struct LatencyClock {
    start: Instant,
    config: Arc<Config>,
}

/// A hedge in flight. Boxed: their number is known only at run time, and
/// a `Vec` of futures needs each pinned where it is; the allocation is
/// made only when a hedge is started, never on the path of a request
/// that answers within the delay.
struct Hedged<S, B>
where
    S: Service<Request<B>>,
{
    start: Instant,
    future: Pin<Box<Oneshot<S, Request<B>>>>,
}

/// Everything a race needs besides the two pinned futures.
struct Race<S, B>
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

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(super) fn single(future: S::Future, config: &Arc<Config>) -> Self {
        let latency = config.latency.as_ref().map(|_| LatencyClock {
            start: Instant::now(),
            config: config.clone(),
        });
        ResponseFuture {
            state: State::Single { future, latency },
        }
    }

    pub(super) fn racing(
        first: S::Future,
        service: S,
        template: Request<B>,
        config: Arc<Config>,
    ) -> Self {
        let first_start = Instant::now();
        let delay = config.delay();
        let next_at = deadline(first_start, delay);
        ResponseFuture {
            state: State::Racing {
                first: Some(first),
                timer: tokio::time::sleep_until(next_at),
                race: Race {
                    service,
                    template,
                    config,
                    first_start,
                    hedges: Vec::new(),
                    started: 1,
                    delay,
                    next_at,
                    more: true,
                },
            },
        }
    }
}

/// `from + delay`, or a time too far to matter when that overflows.
fn deadline(from: Instant, delay: Duration) -> Instant {
    from.checked_add(delay)
        .unwrap_or_else(|| from + Duration::from_secs(60 * 60 * 24 * 365))
}

impl<S, B, ResB> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: 'static,
    B: Clone,
{
    type Output = Result<Response<ResB>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let output = match state.as_mut().project() {
            StateProj::Single { future, latency } => {
                let mut output = std::task::ready!(future.poll(cx));
                if let Some(clock) = latency.take() {
                    clock.record();
                }
                if let Ok(res) = &mut output {
                    mark_attempts(res, 1);
                }
                // The inner future is done: dropped now, not with this one.
                output
            }
            StateProj::Racing { first, timer, race } => {
                std::task::ready!(race.poll_race(cx, first, timer))
            }
            StateProj::Done => panic!("hedge response future polled after completion"),
        };
        // Drops the losers (cancelling their inner futures) and their
        // responses, if any came in the same poll.
        state.set(State::Done);
        Poll::Ready(output)
    }
}

impl LatencyClock {
    fn record(self) {
        if let Some(window) = &self.config.latency {
            window.record(self.start.elapsed());
        }
    }
}

/// `Attempts` on the response, unless a layer beneath (a `RetryLayer`)
/// already counted them.
fn mark_attempts<ResB>(res: &mut Response<ResB>, attempts: u32) {
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
    fn poll_race(
        &mut self,
        cx: &mut Context<'_>,
        mut first: Pin<&mut Option<S::Future>>,
        mut timer: Pin<&mut Sleep>,
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
            if timer.deadline() != self.next_at {
                timer.as_mut().reset(self.next_at);
            }
            if self.more && timer.as_mut().poll(cx).is_ready() {
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
        if let Some(budget) = &self.config.budget {
            if !budget.withdraw() {
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

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Single { .. } => "single",
            State::Racing { race, .. } => {
                return f
                    .debug_struct("ResponseFuture")
                    .field("attempts", &race.started)
                    .field("hedges_in_flight", &race.hedges.len())
                    .finish_non_exhaustive()
            }
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
