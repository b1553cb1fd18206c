//! Request bodies handed to reqwest: as bytes when they are whole when the
//! request is made, so that reqwest can send them again (a redirect).
//!
//! `reqwest::Body::wrap` makes a stream, which reqwest cannot replay: a
//! request with a body would no longer follow a redirect. A body whose
//! frames are all ready at once (`Full<Bytes>`, `String`, a `ReplayBody`
//! replaying, …) is read here and given as `reqwest::Body::from(Bytes)`, as
//! plain reqwest holds it.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tower::BoxError;

/// Bytes copied at most to join a body of several ready frames into one
/// (a body in one frame is taken whole, without a copy); past it, the body
/// is streamed.
const MAX_JOINED_BYTES: usize = 64 * 1024;

/// Frames read at most while looking for the end (empty frames add no bytes).
const MAX_FRAMES: usize = 64;

/// `body` as reqwest should hold it: bytes if it is whole now, else a stream
/// of what was read, then the rest.
pub(super) fn into_reqwest_body<B>(body: B) -> ::reqwest::Body
where
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        return ::reqwest::Body::default();
    }
    let mut body = Box::pin(body);
    // Only frames ready now are taken: a body that is not whole now stays
    // a stream, read by reqwest with a real waker.
    let mut cx = Context::from_waker(Waker::noop());
    let mut read = ReadSoFar::default();
    for _ in 0..MAX_FRAMES {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(None) => return ::reqwest::Body::from(read.into_bytes()),
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    if let Err(data) = read.push(data) {
                        return read.then(Some(Ok(Frame::data(data))), body);
                    }
                }
                Err(trailers) => return read.then(Some(Ok(trailers)), body),
            },
            Poll::Ready(Some(Err(e))) => return read.then(Some(Err(e.into())), body),
            Poll::Pending => break,
        }
    }
    read.then(None, body)
}

/// The data frames read so far, joined within [`MAX_JOINED_BYTES`].
#[derive(Default)]
struct ReadSoFar {
    first: Bytes,
    joined: Option<BytesMut>,
}

impl ReadSoFar {
    /// Keeps `data`, or hands it back when joining it would copy too much.
    fn push(&mut self, data: Bytes) -> Result<(), Bytes> {
        if self.first.is_empty() && self.joined.is_none() {
            self.first = data;
            return Ok(());
        }
        let joined = self.joined.get_or_insert_with(BytesMut::new);
        if self.first.len() + joined.len() + data.len() > MAX_JOINED_BYTES {
            return Err(data);
        }
        if !self.first.is_empty() {
            joined.extend_from_slice(&std::mem::take(&mut self.first));
        }
        joined.extend_from_slice(&data);
        Ok(())
    }

    fn into_bytes(self) -> Bytes {
        match self.joined {
            Some(joined) => joined.freeze(),
            None => self.first,
        }
    }

    /// A stream of what was read, then `next`, then the rest of `body`.
    fn then<B>(
        self,
        next: Option<Result<Frame<Bytes>, BoxError>>,
        body: Pin<Box<B>>,
    ) -> ::reqwest::Body
    where
        B: Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let read = self.into_bytes();
        let read = (!read.is_empty()).then(|| Ok(Frame::data(read)));
        ::reqwest::Body::wrap(Resumed {
            read: [read, next],
            rest: body,
        })
    }
}

/// A body resumed after some of it was read: the frames read (in order),
/// then the rest.
struct Resumed<B> {
    read: [Option<Result<Frame<Bytes>, BoxError>>; 2],
    rest: Pin<Box<B>>,
}

impl<B> Body for Resumed<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(frame) = self.read.iter_mut().find_map(Option::take) {
            return Poll::Ready(Some(frame));
        }
        self.rest
            .as_mut()
            .poll_frame(cx)
            .map(|frame| frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.read.iter().all(Option::is_none) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let read: u64 = self
            .read
            .iter()
            .flatten()
            .filter_map(|f| f.as_ref().ok()?.data_ref())
            .map(|d| d.len() as u64)
            .sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(read));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(read));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::{BodyExt, Full, StreamBody};

    fn frames(parts: Vec<&'static str>) -> impl Body<Data = Bytes, Error = BoxError> + Send + Sync {
        let frames = parts
            .into_iter()
            .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from(p))));
        StreamBody::new(futures_util::stream::iter(frames))
    }

    /// Whether reqwest holds the body as bytes (it can clone those only),
    /// and what it sends.
    async fn held(body: ::reqwest::Body) -> (bool, Bytes) {
        let replayable = body.as_bytes().is_some();
        (replayable, body.collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn whole_bodies_become_bytes() {
        let full = into_reqwest_body(Full::new(Bytes::from("hello")).map_err(BoxError::from));
        assert_eq!(held(full).await, (true, Bytes::from("hello")));
        let empty = into_reqwest_body(Full::new(Bytes::new()).map_err(BoxError::from));
        assert_eq!(held(empty).await, (true, Bytes::new()));
        let parts = into_reqwest_body(frames(vec!["he", "", "llo"]));
        assert_eq!(held(parts).await, (true, Bytes::from("hello")));
    }

    #[tokio::test]
    async fn a_large_single_frame_is_taken_without_a_copy() {
        let big = Bytes::from(vec![7; 4 * MAX_JOINED_BYTES]);
        let body = into_reqwest_body(Full::new(big.clone()).map_err(BoxError::from));
        assert_eq!(body.as_bytes().map(<[u8]>::as_ptr), Some(big.as_ptr()));
    }

    #[tokio::test]
    async fn past_the_bounds_the_body_is_streamed_whole() {
        let chunk: &'static str = Box::leak("x".repeat(MAX_JOINED_BYTES / 2).into_boxed_str());
        let body = into_reqwest_body(frames(vec![chunk, chunk, chunk, "end"]));
        let (replayable, sent) = held(body).await;
        assert!(!replayable);
        assert_eq!(sent.len(), 3 * chunk.len() + 3);
        assert!(sent.ends_with(b"end"));

        let empties = into_reqwest_body(frames(vec![""; MAX_FRAMES + 1]));
        assert_eq!(held(empties).await, (false, Bytes::new()));
    }

    #[tokio::test]
    async fn trailers_and_errors_are_kept_in_order() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("checksum", http::HeaderValue::from_static("1"));
        let t = trailers.clone();
        let with_trailers = StreamBody::new(futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from("data"))),
            Ok(Frame::trailers(t)),
        ]));
        let collected = into_reqwest_body(with_trailers).collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "data");

        let failing = StreamBody::new(futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from("data"))),
            Err(BoxError::from("broken")),
        ]));
        let mut body = into_reqwest_body(failing);
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "data");
        assert!(body.frame().await.unwrap().is_err());
    }
}
