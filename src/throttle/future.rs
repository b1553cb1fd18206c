//! The response future of [`AdaptiveThrottle`](super::AdaptiveThrottle).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Response, StatusCode};
use pin_project_lite::pin_project;
use tower::BoxError;

use super::state::Throttle;
use super::Throttled;
use crate::classify::ErrorClass;

pin_project! {
    /// The response future of
    /// [`AdaptiveThrottle`](super::AdaptiveThrottle): the inner service's
    /// future, which tells the throttle whether the server accepted the
    /// request, or a [`Throttled`] error, ready at once.
    ///
    /// Polling it again after it completed returns an error.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F, guard: Option<Guard> },
        Rejected { error: Option<Throttled> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn called(future: F, guard: Guard) -> Self {
        ResponseFuture {
            state: State::Called {
                future,
                guard: Some(guard),
            },
        }
    }

    pub(super) fn rejected(error: Throttled) -> Self {
        ResponseFuture {
            state: State::Rejected { error: Some(error) },
        }
    }
}

/// The server's refusals: what "not accepted" means to the SRE rule.
fn is_overload_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Rejected { error } => Poll::Ready(Err(match error.take() {
                Some(error) => error.into(),
                None => "adaptive throttle response future polled after completion".into(),
            })),
            StateProj::Called { future, guard } => {
                let output = ready!(future.poll(cx)).map_err(Into::into);
                let accepted = match &output {
                    Ok(res) => !is_overload_status(res.status()),
                    // Refused before the request was read: the server (or
                    // its listen queue) shed it.
                    Err(e) => ErrorClass::of(e) != ErrorClass::NeverSent,
                };
                if let Some(guard) = guard.take() {
                    guard.complete(accepted);
                }
                Poll::Ready(output)
            }
        }
    }
}

/// Held by an admitted call: tells the throttle the outcome. A call
/// dropped before it ends (its caller gave up, a hedge lost) counts as
/// accepted: nothing says the server refused it, and the SRE rule reacts
/// to refusals only (a hanging server is the breaker's to detect).
#[derive(Debug)]
pub(crate) struct Guard {
    throttle: Option<Arc<Throttle>>,
}

impl Guard {
    pub(super) fn new(throttle: Arc<Throttle>) -> Self {
        Guard {
            throttle: Some(throttle),
        }
    }

    fn complete(mut self, accepted: bool) {
        if let Some(throttle) = self.throttle.take() {
            if accepted {
                throttle.accepted();
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(throttle) = self.throttle.take() {
            throttle.accepted();
        }
    }
}
