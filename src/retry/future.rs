//! The wait between two attempts.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::drain::Drain;

pin_project! {
    /// The wait before a retry: the future of [`RetryPolicy`](crate::RetryPolicy)'s
    /// `tower::retry::Policy` impl.
    ///
    /// A zero delay resolves at once, without touching the timer. tower's
    /// `Retry` polls it; user code rarely sees it.
    ///
    /// ```
    /// use tower::retry::Policy;
    /// use tower_http_retry::{retry::RetryDelay, RetryPolicy};
    ///
    /// fn wait_type<P: Policy<http::Request<String>, http::Response<()>, std::io::Error, Future = RetryDelay>>(_: &P) {}
    /// wait_type(&RetryPolicy::default());
    /// ```
    #[derive(Debug)]
    pub struct RetryDelay {
        #[pin]
        state: State,
        // The discarded response's body, read while we wait.
        drain: Option<Drain>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State {
        Now,
        Sleep { #[pin] sleep: Sleep },
    }
}

impl RetryDelay {
    pub(crate) fn new(delay: Duration, drain: Option<Drain>) -> Self {
        let state = if delay.is_zero() {
            State::Now
        } else {
            // `sleep` (not `sleep_until(now + delay)`) so that a huge delay
            // cannot overflow an `Instant`; the policy caps it anyway.
            State::Sleep {
                sleep: tokio::time::sleep(delay),
            }
        };
        RetryDelay { state, drain }
    }
}

impl Future for RetryDelay {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // Bounded by the wait: when it ends, a body not yet read is dropped.
        if let Some(drain) = this.drain {
            if drain.poll_drain(cx).is_ready() {
                *this.drain = None;
            }
        }
        match this.state.project() {
            StateProj::Now => Poll::Ready(()),
            StateProj::Sleep { sleep } => sleep.poll(cx),
        }
    }
}
