//! Reading the body of a response that is discarded for a retry, so that
//! its pooled connection can be reused.
//!
//! A policy only sees the response by reference; the body can be taken out
//! only for body types with an empty value to leave in its place. Today
//! that is `reqwest::Body` (feature `reqwest`); hyper's `Incoming` has none.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::Body;

/// Bytes read from a discarded body at most: past this, the connection is
/// not worth the read and is dropped.
pub(crate) const MAX_DRAIN_BYTES: usize = 256 * 1024;

/// A body being read to its end and thrown away, bounded in bytes.
pub(crate) struct Drain {
    body: Pin<
        Box<
            dyn Body<Data = bytes::Bytes, Error = Box<dyn std::error::Error + Send + Sync>>
                + Send
                + Sync,
        >,
    >,
    read: usize,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain").field("read", &self.read).finish()
    }
}

impl Drain {
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

/// Takes the body out of `body` when its type allows it.
#[allow(unused_variables)]
pub(crate) fn take<B: 'static>(body: &mut B) -> Option<Drain> {
    #[cfg(feature = "reqwest")]
    {
        let any: &mut dyn std::any::Any = body;
        if let Some(b) = any.downcast_mut::<::reqwest::Body>() {
            use http_body_util::BodyExt;
            let b = std::mem::take(b).map_err(Into::into);
            return Some(Drain {
                body: Box::pin(b),
                read: 0,
            });
        }
    }
    None
}
