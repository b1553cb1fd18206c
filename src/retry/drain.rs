//! Reading the body of a response that is discarded for a retry, so that
//! its pooled connection can be reused.
//!
//! A policy only sees the response by reference; the body can be taken out
//! only for body types with an empty value to leave in its place:
//! `http_body_util`'s `BoxBody` (with hyper's or a boxed error) and
//! `reqwest::Body` (feature `reqwest`); hyper's `Incoming` has none, boxed
//! it is a `BoxBody`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::Body;
use http_body_util::combinators::BoxBody;
#[cfg(any(feature = "hyper", feature = "reqwest"))]
use http_body_util::BodyExt;
use tower::BoxError;

/// Bytes read from a discarded body at most: past this, the connection is
/// not worth the read and is dropped.
pub(crate) const MAX_DRAIN_BYTES: usize = 256 * 1024;

/// A body being read to its end and thrown away, bounded in bytes.
pub(crate) struct Drain {
    body: Pin<Box<dyn Body<Data = Bytes, Error = BoxError> + Send + Sync>>,
    read: usize,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain").field("read", &self.read).finish()
    }
}

impl Drain {
    fn new<B>(body: B) -> Self
    where
        B: Body<Data = Bytes, Error = BoxError> + Send + Sync + 'static,
    {
        Drain {
            body: Box::pin(body),
            read: 0,
        }
    }

    /// Reads frames until the body ends, fails, or passes the byte bound.
    pub(crate) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        self.read = self.read.saturating_add(data.remaining());
                        if self.read > MAX_DRAIN_BYTES {
                            return Poll::Ready(());
                        }
                    }
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Takes the body out of `body` when its type allows it: a type with an
/// empty value to leave in its place, found by `Any` (the policy is generic
/// over every body type, and Rust has no specialisation).
pub(crate) fn take<B: 'static>(body: &mut B) -> Option<Drain> {
    let any: &mut dyn std::any::Any = body;
    // hyper's `Incoming` boxed (`res.map(BodyExt::boxed)`), and any body
    // boxed with a boxed error (`BodyExt::map_err(Into::into).boxed()`).
    #[cfg(feature = "hyper")]
    if let Some(b) = any.downcast_mut::<BoxBody<Bytes, hyper::Error>>() {
        return Some(Drain::new(std::mem::take(b).map_err(Into::into)));
    }
    if let Some(b) = any.downcast_mut::<BoxBody<Bytes, BoxError>>() {
        return Some(Drain::new(std::mem::take(b)));
    }
    #[cfg(feature = "reqwest")]
    if let Some(b) = any.downcast_mut::<::reqwest::Body>() {
        return Some(Drain::new(std::mem::take(b).map_err(Into::into)));
    }
    None
}
