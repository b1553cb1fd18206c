//! Reading the body of a response that is discarded for a retry, so that
//! its pooled connection can be reused.
//!
//! A policy only sees the response by reference; the body can be taken out
//! only for body types with an empty value to leave in its place:
//! `http_body_util`'s `BoxBody` and `UnsyncBoxBody` (with a boxed error, or
//! hyper's with the feature `hyper`), axum's `Body` (feature `axum`) and
//! `reqwest::Body` (feature `reqwest`). hyper's `Incoming` has none: boxed
//! (by [`BoxResponseBodyLayer`](crate::retry::BoxResponseBodyLayer)) it is a
//! `BoxBody`.
//!
//! The drain is bounded in bytes, in frames and in time (the wait before the
//! retry, see [`RetryDelay`](super::future::RetryDelay)), and it never holds the
//! thread: a body that is always ready is read a few frames per poll.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::Body;
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::BodyExt;
use sync_wrapper::SyncWrapper;
use tower::BoxError;

/// Bytes read from a discarded body at most: past this, the connection is
/// not worth the read and is dropped.
pub(crate) const MAX_DRAIN_BYTES: usize = 256 * 1024;

/// Frames read from a discarded body at most, whatever they hold: empty
/// data frames or endless non-data frames add no bytes, but each costs a
/// poll. (256 KiB in frames of 64 bytes.)
pub(crate) const MAX_DRAIN_FRAMES: u32 = 4096;

/// Frames read in one poll before the drain yields (waking itself), so that
/// a body that is always ready never holds the executor's thread.
const FRAMES_PER_POLL: u32 = 32;

/// How long after the response a retry waits for its discarded body at
/// most, when its own delay is shorter (a `Retry-After: 0`, a short
/// backoff): a body already buffered or arriving at once is read and keeps
/// the connection, a slow one costs at most this much latency. A delay
/// longer than this is never lengthened.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_millis(50);

type DynBody = Pin<Box<dyn Body<Data = Bytes, Error = BoxError> + Send>>;

/// A body being read to its end and thrown away, bounded in bytes and frames.
pub(crate) struct Drain {
    // Polled only through `&mut`: the wrapper keeps `RetryDelay` `Sync`
    // for bodies that are only `Send` (`UnsyncBoxBody`, axum's `Body`).
    body: SyncWrapper<DynBody>,
    bytes: usize,
    frames: u32,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("bytes", &self.bytes)
            .field("frames", &self.frames)
            .finish()
    }
}

impl Drain {
    fn new<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Drain {
            body: SyncWrapper::new(Box::pin(body.map_err(Into::into))),
            bytes: 0,
            frames: 0,
        }
    }

    /// Reads frames until the body ends, fails, or passes a bound; `Ready`
    /// when it is done with the body, whether the body ended or not.
    pub(crate) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let body = self.body.get_mut();
        for _ in 0..FRAMES_PER_POLL {
            match body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.frames += 1;
                    if let Some(data) = frame.data_ref() {
                        self.bytes = self.bytes.saturating_add(data.remaining());
                    }
                    if self.bytes > MAX_DRAIN_BYTES || self.frames >= MAX_DRAIN_FRAMES {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Ready frame after frame: let the thread's other tasks run first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Takes the body out of `body` when its type allows it: a type with an
/// empty value to leave in its place, found by `Any` (the policy is generic
/// over every body type, and Rust has no specialisation).
pub(crate) fn take<B: 'static>(body: &mut B) -> Option<Drain> {
    let any: &mut dyn std::any::Any = body;
    // Any body boxed with a boxed error (`BoxResponseBodyLayer`, or
    // `BodyExt::map_err(Into::into).boxed()`).
    if let Some(b) = any.downcast_mut::<BoxBody<Bytes, BoxError>>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    if let Some(b) = any.downcast_mut::<UnsyncBoxBody<Bytes, BoxError>>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    // hyper's `Incoming` boxed as it is (`res.map(BodyExt::boxed)`).
    #[cfg(feature = "hyper")]
    if let Some(b) = any.downcast_mut::<BoxBody<Bytes, hyper::Error>>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    #[cfg(feature = "hyper")]
    if let Some(b) = any.downcast_mut::<UnsyncBoxBody<Bytes, hyper::Error>>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    #[cfg(feature = "axum")]
    if let Some(b) = any.downcast_mut::<axum_core::body::Body>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    #[cfg(feature = "reqwest")]
    if let Some(b) = any.downcast_mut::<::reqwest::Body>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body::Frame;
    use http_body_util::Full;

    /// A body that is always ready, with `frame()` for ever.
    fn endless(frame: fn() -> Frame<Bytes>) -> Drain {
        let frames = futures_util::stream::repeat_with(move || Ok::<_, BoxError>(frame()));
        Drain::new(http_body_util::StreamBody::new(frames))
    }

    /// Polls `drain` until it is done; returns the polls it took and the
    /// self-wakes it asked for.
    fn polls_to_finish(mut drain: Drain) -> (u32, u32) {
        let wakes = std::sync::Arc::new(WakeCount::default());
        let waker = std::task::Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut polls = 0;
        while drain.poll_drain(&mut cx).is_pending() {
            polls += 1;
            assert!(polls < 1_000_000, "the drain never ends");
        }
        (polls + 1, wakes.0.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[derive(Default)]
    struct WakeCount(std::sync::atomic::AtomicU32);

    impl std::task::Wake for WakeCount {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn endless_empty_frames_are_read_a_budget_per_poll_and_bounded() {
        let drain = endless(|| Frame::data(Bytes::new()));
        let (polls, wakes) = polls_to_finish(drain);
        assert_eq!(polls, MAX_DRAIN_FRAMES / FRAMES_PER_POLL);
        assert_eq!(wakes, polls - 1, "every poll but the last wakes itself");
    }

    #[test]
    fn endless_non_data_frames_are_bounded_too() {
        let drain = endless(|| Frame::trailers(http::HeaderMap::new()));
        let (polls, _) = polls_to_finish(drain);
        assert_eq!(polls, MAX_DRAIN_FRAMES / FRAMES_PER_POLL);
    }

    #[test]
    fn endless_bytes_stop_at_the_byte_bound() {
        let drain = endless(|| Frame::data(Bytes::from_static(&[0; 1024])));
        let (polls, _) = polls_to_finish(drain);
        // 257 frames of 1 KiB pass 256 KiB: the ninth poll.
        assert_eq!(polls, 257_u32.div_ceil(FRAMES_PER_POLL));
    }

    #[test]
    fn the_boxed_bodies_are_taken() {
        let full = || Full::new(Bytes::from_static(b"page"));
        let mut boxed = full().map_err(BoxError::from).boxed();
        assert!(take(&mut boxed).is_some());
        let mut unsync = full().map_err(BoxError::from).boxed_unsync();
        assert!(take(&mut unsync).is_some());
        #[cfg(feature = "hyper")]
        {
            let mut hyper_err = full().map_err(|e| -> hyper::Error { match e {} }).boxed();
            assert!(take(&mut hyper_err).is_some());
        }
        #[cfg(feature = "axum")]
        assert!(take(&mut axum_core::body::Body::new(full())).is_some());
        #[cfg(feature = "reqwest")]
        assert!(take(&mut ::reqwest::Body::from("page")).is_some());
        assert!(take(&mut full()).is_none(), "no empty value to leave");
    }
}
