//! The response future of [`RateLimitPace`](super::RateLimitPace).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};

use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::BoxError;
use tower_service::Service;

use super::hosts::{key, PacedHosts};
use super::QuotaExhausted;
use crate::retry::rate_limit::quota_spent_wait;

pin_project! {
    /// The response future of [`RateLimitPace`](crate::pace::RateLimitPace):
    /// waits for the host's quota to reset when it is spent, then calls the
    /// inner service and reads the quota its response advertises. Polled
    /// again after it completed, it fails.
    pub struct ResponseFuture<F, S, B> {
        #[pin]
        state: State<F, S, B>,
        paced: Pacing,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B> {
        Refused { error: Option<QuotaExhausted> },
        Waiting {
            #[pin]
            sleep: Sleep,
            call: Option<(S, Request<B>)>,
        },
        Called {
            #[pin]
            future: F,
        },
    }
}

/// What a call needs to pace its host: the shared map, its URI, the cap.
#[derive(Debug)]
pub(super) struct Pacing {
    pub(super) hosts: Arc<PacedHosts>,
    pub(super) uri: Uri,
    pub(super) max_wait: Duration,
}

impl Pacing {
    /// The error for a wait above the cap.
    fn refuse(&self, wait: Duration) -> QuotaExhausted {
        QuotaExhausted::new(key(&self.uri), wait, self.max_wait)
    }
}

impl<F, S, B> ResponseFuture<F, S, B> {
    pub(super) fn called(future: F, paced: Pacing) -> Self {
        ResponseFuture {
            state: State::Called { future },
            paced,
        }
    }

    /// A request to a paced host: sent after `wait`, or refused at once
    /// when `wait` is above the cap.
    pub(super) fn paced(wait: Duration, inner: S, req: Request<B>, paced: Pacing) -> Self {
        let state = if wait > paced.max_wait {
            State::Refused {
                error: Some(paced.refuse(wait)),
            }
        } else {
            State::Waiting {
                sleep: tokio::time::sleep(wait),
                call: Some((inner, req)),
            }
        };
        ResponseFuture { state, paced }
    }
}

impl<S, B, ResB> Future for ResponseFuture<S::Future, S, B>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Refused { error } => {
                    return Poll::Ready(Err(match error.take() {
                        Some(error) => error.into(),
                        None => "rate limit pace future polled after completion".into(),
                    }))
                }
                StateProj::Waiting { mut sleep, call } => {
                    ready!(sleep.as_mut().poll(cx));
                    // Another response may have pushed the reset further.
                    let now = Instant::now();
                    if let Some(wait) = this.paced.hosts.wait(&this.paced.uri, now) {
                        if wait > this.paced.max_wait {
                            let error = Some(this.paced.refuse(wait));
                            this.state.set(State::Refused { error });
                        } else {
                            sleep.reset(now + wait);
                        }
                        continue;
                    }
                    let Some((mut inner, req)) = call.take() else {
                        this.state.set(State::Refused { error: None });
                        continue;
                    };
                    // `inner` was made ready by `poll_ready` before the wait.
                    let future = inner.call(req);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => {
                    let res = ready!(future.poll(cx)).map_err(Into::into)?;
                    let spent = quota_spent_wait(res.headers(), SystemTime::now());
                    if let Some(wait) = spent.filter(|w| !w.is_zero()) {
                        let p = &this.paced;
                        p.hosts.pace(&p.uri, wait, Instant::now());
                    }
                    return Poll::Ready(Ok(res));
                }
            }
        }
    }
}

impl<F, S, B> std::fmt::Debug for ResponseFuture<F, S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("uri", &self.paced.uri)
            .finish_non_exhaustive()
    }
}
