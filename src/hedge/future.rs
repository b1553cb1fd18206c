//! The response future of [`Hedge`](super::Hedge): the race between the
//! attempts of one request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::layer::Config;
use super::race::{mark_attempts, Race};

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
            // Made at the first poll that finds the first attempt pending:
            // a request answered at once never touches the timer.
            timer: Option<Sleep>,
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
        let race = Race::new(service, template, config);
        ResponseFuture {
            state: State::Racing {
                first: Some(first),
                timer: None,
                race,
            },
        }
    }
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
                    .field("attempts", &race.started())
                    .field("hedges_in_flight", &race.hedges_in_flight())
                    .finish_non_exhaustive()
            }
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
