//! The futures of the retry module: [`RetryDelay`], the wait between two
//! attempts, and [`BoxResponseBodyFuture`], the response future of
//! [`BoxResponseBody`](super::BoxResponseBody).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

pub use super::box_body::BoxResponseBodyFuture;
use super::drain::{Drain, DRAIN_GRACE};

pin_project! {
    /// The wait before a retry: the future of [`RetryPolicy`](crate::RetryPolicy)'s
    /// `tower::retry::Policy` impl.
    ///
    /// It ends when the delay is over, never earlier. While it waits, the
    /// discarded response's body (for the body types the policy can take)
    /// is read to keep its connection; a delay shorter than 50 ms waits for
    /// that read until 50 ms after the response at most, a longer one is
    /// never lengthened. A zero delay without a body to read resolves at
    /// once, without touching the timer. tower's `Retry` polls it; user code
    /// rarely sees it.
    ///
    /// ```
    /// use tower::retry::Policy;
    /// use tower_http_retry::{retry::future::RetryDelay, RetryPolicy};
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
        Sleep {
            #[pin]
            sleep: Sleep,
            // While the drain may hold the retry past its delay: when the
            // delay ends (the sleep ends at the grace's end).
            delay_ends: Option<Instant>,
        },
    }
}

impl RetryDelay {
    pub(crate) fn new(delay: Duration, drain: Option<Drain>) -> Self {
        let state = match &drain {
            None if delay.is_zero() => State::Now,
            Some(_) if delay < DRAIN_GRACE => {
                let now = Instant::now();
                State::Sleep {
                    sleep: tokio::time::sleep_until(now + DRAIN_GRACE),
                    delay_ends: Some(now + delay),
                }
            }
            // `sleep` (not `sleep_until(now + delay)`): tokio saturates a
            // delay too large for an `Instant` (`Duration::MAX`) to a far
            // future instead of overflowing.
            _ => State::Sleep {
                sleep: tokio::time::sleep(delay),
                delay_ends: None,
            },
        };
        RetryDelay { state, drain }
    }
}

impl Future for RetryDelay {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let StateProj::Sleep {
            mut sleep,
            delay_ends,
        } = this.state.project()
        else {
            return Poll::Ready(());
        };
        // The timer first: when it ends, the retry goes, whatever the drain
        // (a body not yet read is dropped with this future).
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let Some(drain) = this.drain else {
            return Poll::Pending;
        };
        if drain.poll_drain(cx).is_pending() {
            return Poll::Pending;
        }
        *this.drain = None;
        // Read before the grace ended: the retry goes when its delay ends.
        match delay_ends.take() {
            Some(at) if at <= Instant::now() => Poll::Ready(()),
            Some(at) => {
                sleep.as_mut().reset(at);
                sleep.poll(cx)
            }
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_send_and_sync_whatever_the_body_drained() {
        // `UnsyncBoxBody` and axum's `Body` are `Send` only.
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RetryDelay>();
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_that_ends_before_a_short_delay_leaves_the_delay_exact() {
        use http_body_util::BodyExt;
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"page"))
            .map_err(tower::BoxError::from)
            .boxed_unsync();
        let mut res = http::Response::new(body);
        let drain = super::super::drain::take(res.body_mut());
        assert!(drain.is_some());
        let start = Instant::now();
        RetryDelay::new(Duration::from_millis(5), drain).await;
        assert_eq!(start.elapsed(), Duration::from_millis(5));
        let start = Instant::now();
        RetryDelay::new(Duration::ZERO, super::super::drain::take(res.body_mut())).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_comes_holds_a_zero_delay_for_the_grace_only() {
        use http_body_util::BodyExt;
        let pending = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<http_body::Frame<bytes::Bytes>, tower::BoxError>,
        >())
        .boxed();
        let mut res = http::Response::new(pending);
        let start = Instant::now();
        RetryDelay::new(Duration::ZERO, super::super::drain::take(res.body_mut())).await;
        assert_eq!(start.elapsed(), DRAIN_GRACE);
    }
}
