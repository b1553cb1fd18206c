//! [`ReplayBody`]: a body that keeps what it sends, up to a limit, so that
//! it can be sent again.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tower::BoxError;

/// A request body that can be sent more than once: the `Clone` body that
/// [`ReplayBodyLayer`](crate::ReplayBodyLayer) puts in every request.
///
/// The first attempt streams the original body as it comes and keeps each
/// data chunk (a reference-counted [`Bytes`], the very allocation that is
/// sent, not a copy) and the trailers, until the body has sent more than the
/// limit. Every clone then reads the body from its beginning: first what
/// was kept, then, if the original has not ended yet (the server answered
/// before the body was fully sent), the rest of the original.
///
/// Once the original has produced more than the limit, the kept chunks are
/// dropped and the body can no longer be replayed: the clone that is
/// streaming it goes on to the end, and any other clone fails with an
/// error. [`RetryPolicy`](crate::RetryPolicy) learns of it through the
/// request (the layer marks it), and hands the first outcome back to the
/// caller instead of retrying. A body whose size hint already says it is
/// above the limit keeps nothing at all.
///
/// Its `Body` impl needs `B: Unpin`, as hyper-util's client does: a body
/// that is not `Unpin` can be wrapped in `Box::pin(body)` first.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use futures_util::stream;
/// use http::{Request, Response};
/// use http_body::Frame;
/// use http_body_util::{BodyExt, StreamBody};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_http_retry::{ReplayBody, ReplayBodyLayer};
///
/// # type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A downstream that reads the body twice: once as sent, once replayed.
/// let svc = ServiceBuilder::new()
///     .layer(ReplayBodyLayer::new(1024))
///     .service(service_fn(|req: Request<ReplayBody<Chunks>>| async move {
///         let replay = req.body().clone();
///         let sent = req.into_body().collect().await?.to_bytes();
///         let again = replay.collect().await?.to_bytes();
///         assert_eq!(sent, again);
///         Ok::<_, tower::BoxError>(Response::new(sent))
///     }));
///
/// let chunks = vec![Ok(Frame::data(Bytes::from("hello "))), Ok(Frame::data(Bytes::from("world")))];
/// let req = Request::new(StreamBody::new(stream::iter(chunks)));
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.body(), "hello world");
/// # }
/// ```
pub struct ReplayBody<B> {
    shared: Arc<Shared<B>>,
    /// Data chunks this clone has yielded.
    pos: usize,
    /// Data bytes this clone has yielded.
    yielded: u64,
    trailers_sent: bool,
    done: bool,
    /// This clone is waiting on the original body (its waker is in
    /// `State::waiters`).
    waiting: bool,
}

struct Shared<B> {
    state: Mutex<State<B>>,
    capped: ReplayHandle,
    limit: usize,
}

struct State<B> {
    /// The original body, until it has ended or failed.
    body: Option<B>,
    /// The data chunks read from the original, while within the limit.
    kept: Vec<Bytes>,
    /// Data chunks read from the original (kept or not).
    read: usize,
    /// Data bytes read from the original (kept or not).
    read_bytes: u64,
    trailers: Option<HeaderMap>,
    /// The original produced more than the limit: `kept` is empty for good.
    capped: bool,
    /// The original returned an error.
    failed: bool,
    /// Clones waiting for the original while another clone polls it: one
    /// body keeps one waker, so the clone that gets a frame wakes the rest.
    waiters: Vec<Waker>,
}

/// Whether a request's [`ReplayBody`] outgrew its limit: put in the
/// request's extensions by [`ReplayBodyLayer`](crate::ReplayBodyLayer) so
/// that [`RetryPolicy`](crate::RetryPolicy), which sees the body only as
/// some `B: Clone`, can tell.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplayHandle(Arc<AtomicBool>);

impl ReplayHandle {
    /// The body can no longer be replayed.
    pub(crate) fn is_capped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn cap(&self) {
        self.0.store(true, Ordering::Release);
    }
}

const CAPPED: &str = "request body exceeded the replay limit and cannot be replayed";

/// Why a clone of a [`ReplayBody`] cannot send its body.
#[derive(Debug)]
struct NotReplayable(&'static str);

impl fmt::Display for NotReplayable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NotReplayable {}

impl<B: Body> ReplayBody<B> {
    /// Wraps `body`, keeping up to `limit` bytes of it for replays.
    pub(crate) fn new(body: B, limit: usize) -> Self {
        let capped = ReplayHandle::default();
        // A body known to be too large keeps nothing from the start.
        let too_large = body.size_hint().lower() > limit as u64;
        ReplayBody {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    body: Some(body),
                    kept: Vec::new(),
                    read: 0,
                    read_bytes: 0,
                    trailers: None,
                    capped: too_large,
                    failed: false,
                    waiters: Vec::new(),
                }),
                capped,
                limit,
            }),
            pos: 0,
            yielded: 0,
            trailers_sent: false,
            done: false,
            waiting: false,
        }
    }
}

impl<B> ReplayBody<B> {
    /// The handle the layer puts in the request's extensions.
    pub(crate) fn handle(&self) -> ReplayHandle {
        self.shared.capped.clone()
    }

    /// The body outgrew its limit: it can no longer be replayed.
    pub(crate) fn is_capped(&self) -> bool {
        self.shared.capped.is_capped()
    }
}

impl<B> Clone for ReplayBody<B> {
    /// Another reader of the same body, from its beginning.
    fn clone(&self) -> Self {
        ReplayBody {
            shared: Arc::clone(&self.shared),
            pos: 0,
            yielded: 0,
            trailers_sent: false,
            done: false,
            waiting: false,
        }
    }
}

impl<B> Drop for ReplayBody<B> {
    fn drop(&mut self) {
        if self.waiting {
            // The original may hold this clone's waker only: pass the turn
            // to the other clones waiting on it.
            if let Ok(mut state) = self.shared.state.lock() {
                state.waiters.drain(..).for_each(Waker::wake);
            }
        }
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayBody")
            .field("limit", &self.shared.limit)
            .field("capped", &self.is_capped())
            .field("yielded", &self.yielded)
            .finish_non_exhaustive()
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let ReplayBody {
            shared,
            pos,
            yielded,
            trailers_sent,
            done,
            waiting,
        } = self.get_mut();
        if *done {
            return Poll::Ready(None);
        }
        let fail = |done: &mut bool, why: &'static str| {
            *done = true;
            Poll::Ready(Some(Err(BoxError::from(NotReplayable(why)))))
        };
        let Ok(mut guard) = shared.state.lock() else {
            return fail(done, "replay body state poisoned by a panic");
        };
        let state = &mut *guard;

        // 1. What the original sent before this clone caught up.
        if *pos < state.read {
            let Some(chunk) = state.kept.get(*pos).cloned() else {
                return fail(done, CAPPED);
            };
            *pos += 1;
            *yielded += chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        // 2. The trailers, once every data chunk is out.
        if let (Some(trailers), false) = (&state.trailers, *trailers_sent) {
            *trailers_sent = true;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers.clone()))));
        }
        // 3. The rest of the original.
        loop {
            let Some(body) = state.body.as_mut() else {
                if state.failed {
                    return fail(done, "the original request body failed");
                }
                *done = true;
                return Poll::Ready(None);
            };
            let polled = match Pin::new(body).poll_frame(cx) {
                Poll::Pending => {
                    if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        state.waiters.push(cx.waker().clone());
                    }
                    *waiting = true;
                    return Poll::Pending;
                }
                Poll::Ready(polled) => polled,
            };
            // Progress for every clone: wake those waiting on the original.
            *waiting = false;
            for waker in state.waiters.drain(..) {
                if !waker.will_wake(cx.waker()) {
                    waker.wake();
                }
            }
            match polled {
                None => {
                    state.body = None;
                    *done = true;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    state.body = None;
                    state.failed = true;
                    *done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => {
                        // Zero-copy for `Bytes` and `BytesMut`.
                        let chunk = data.copy_to_bytes(data.remaining());
                        let len = chunk.len() as u64;
                        state.read += 1;
                        state.read_bytes = state.read_bytes.saturating_add(len);
                        if !state.capped && state.read_bytes > shared.limit as u64 {
                            state.capped = true;
                            state.kept = Vec::new();
                        }
                        if state.capped {
                            // Data is gone for good now (not before: an
                            // unread body may still be sent by a replay).
                            shared.capped.cap();
                        } else {
                            state.kept.push(chunk.clone());
                        }
                        *pos += 1;
                        *yielded += len;
                        return Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            state.trailers = Some(trailers.clone());
                            *trailers_sent = true;
                            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                        }
                        // A frame of a kind this version of `http-body`
                        // does not know: not ours to send.
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.done {
            return true;
        }
        let Ok(state) = self.shared.state.lock() else {
            return false;
        };
        if self.pos < state.read || (state.trailers.is_some() && !self.trailers_sent) {
            return false;
        }
        match &state.body {
            Some(body) => body.is_end_stream(),
            None => !state.failed,
        }
    }

    fn size_hint(&self) -> SizeHint {
        let Ok(state) = self.shared.state.lock() else {
            return SizeHint::default();
        };
        if self.done {
            return SizeHint::with_exact(0);
        }
        if self.pos < state.read && state.capped {
            // This clone will fail.
            return SizeHint::default();
        }
        // What the original sent that this clone has not, plus the rest.
        let behind = state.read_bytes.saturating_sub(self.yielded);
        let rest = match &state.body {
            Some(body) => body.size_hint(),
            None => SizeHint::with_exact(0),
        };
        let mut hint = SizeHint::new();
        let lower = rest.lower().saturating_add(behind);
        hint.set_lower(lower);
        // With trailers, no exact size: an HTTP/1 client would send a
        // `Content-Length` body, which has no room for trailers.
        if let (Some(upper), None) = (rest.upper(), &state.trailers) {
            hint.set_upper(upper.saturating_add(behind).max(lower));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Frames = Vec<Result<Frame<Bytes>, Infallible>>;
    type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    fn stream_body(frames: Frames) -> Chunks {
        StreamBody::new(stream::iter(frames))
    }

    fn chunks(parts: &[&'static str]) -> Frames {
        parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect()
    }

    fn trailers() -> HeaderMap {
        let mut t = HeaderMap::new();
        t.insert("x-checksum", http::HeaderValue::from_static("abc"));
        t
    }

    /// Reads every frame: the data chunks and the trailers.
    async fn frames<B>(mut body: B) -> Result<(Vec<Bytes>, Option<HeaderMap>), BoxError>
    where
        B: Body<Data = Bytes, Error = BoxError> + Unpin,
    {
        let (mut data, mut trailers) = (Vec::new(), None);
        while let Some(frame) = body.frame().await {
            match frame?.into_data() {
                Ok(d) => data.push(d),
                Err(f) => trailers = f.into_trailers().ok(),
            }
        }
        Ok((data, trailers))
    }

    #[tokio::test]
    async fn a_replay_sends_the_same_chunks_and_trailers() {
        let mut parts = chunks(&["ab", "cd", "e"]);
        parts.push(Ok(Frame::trailers(trailers())));
        let body = ReplayBody::new(stream_body(parts), 5);
        let replay = body.clone();
        let first = frames(body).await.unwrap();
        assert_eq!(first.0, ["ab", "cd", "e"]);
        assert_eq!(first.1, Some(trailers()));
        assert!(!replay.is_capped());
        // Not exact, so that HTTP/1 frames it chunked, with room for trailers.
        assert_eq!(replay.size_hint().lower(), 5);
        assert_eq!(replay.size_hint().upper(), None);
        let second = frames(replay).await.unwrap();
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn kept_chunks_are_the_sent_allocations() {
        let body = ReplayBody::new(stream_body(chunks(&["hello"])), 16);
        let replay = body.clone();
        let (sent, _) = frames(body).await.unwrap();
        let (again, _) = frames(replay).await.unwrap();
        assert_eq!(sent[0].as_ptr(), again[0].as_ptr());
    }

    #[tokio::test]
    async fn a_replay_after_an_early_stop_sends_the_kept_then_the_rest() {
        let mut parts = chunks(&["one", "two", "three"]);
        parts.push(Ok(Frame::trailers(trailers())));
        let mut first = ReplayBody::new(stream_body(parts), 64);
        let replay = first.clone();
        // The first attempt sends two chunks, then the server answers.
        let a = first.frame().await.unwrap().unwrap().into_data().unwrap();
        let b = first.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!((&a[..], &b[..]), (&b"one"[..], &b"two"[..]));
        drop(first);
        assert!(!replay.is_end_stream());
        let (data, t) = frames(replay.clone()).await.unwrap();
        assert_eq!(data, ["one", "two", "three"]);
        assert_eq!(t, Some(trailers()));
        // The original has ended now: a third reader is fully kept.
        assert_eq!(replay.size_hint().lower(), 11);
        assert_eq!(frames(replay).await.unwrap().0, ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn trailers_seen_by_the_first_attempt_are_replayed_before_the_end() {
        // The first attempt stopped right after the trailers frame, before
        // the original said it had ended.
        let mut parts = chunks(&["x"]);
        parts.push(Ok(Frame::trailers(trailers())));
        let mut first = ReplayBody::new(stream_body(parts), 64);
        let replay = first.clone();
        assert!(first.frame().await.unwrap().unwrap().is_data());
        assert!(first.frame().await.unwrap().unwrap().is_trailers());
        drop(first);
        let (data, t) = frames(replay).await.unwrap();
        assert_eq!((data, t), (vec![Bytes::from("x")], Some(trailers())));
    }

    #[tokio::test]
    async fn at_the_limit_is_kept_above_is_capped() {
        let at = ReplayBody::new(stream_body(chunks(&["ab", "cd"])), 4);
        let replay = at.clone();
        frames(at).await.unwrap();
        assert!(!replay.is_capped());
        assert_eq!(frames(replay).await.unwrap().0, ["ab", "cd"]);

        let above = ReplayBody::new(stream_body(chunks(&["ab", "cd", "e"])), 4);
        let replay = above.clone();
        // The first attempt still sends everything, intact.
        assert_eq!(frames(above).await.unwrap().0, ["ab", "cd", "e"]);
        assert!(replay.is_capped());
        let err = frames(replay).await.unwrap_err();
        assert!(err.to_string().contains("replay limit"), "{err}");
    }

    #[tokio::test]
    async fn the_clone_streaming_past_the_limit_goes_on_to_the_end() {
        let mut first = ReplayBody::new(stream_body(chunks(&["ab", "cd", "ef"])), 3);
        let replay = first.clone();
        first.frame().await.unwrap().unwrap();
        drop(first);
        // The replay sends the kept chunk, then streams past the limit.
        assert_eq!(frames(replay.clone()).await.unwrap().0, ["ab", "cd", "ef"]);
        assert!(replay.is_capped());
        assert!(frames(replay).await.is_err());
    }

    #[tokio::test]
    async fn a_body_known_to_be_too_large_keeps_nothing() {
        let body = ReplayBody::new(http_body_util::Full::new(Bytes::from("too large")), 4);
        assert_eq!(body.size_hint().exact(), Some(9));
        // Nothing sent yet (the connection was refused, say): a replay can
        // still send the original.
        assert!(!body.is_capped());
        let replay = body.clone();
        let collected = replay.clone().collect().await.unwrap().to_bytes();
        assert_eq!(collected, "too large");
        assert!(replay.is_capped());
        assert!(frames(body).await.is_err());
    }

    #[tokio::test]
    async fn size_hint_and_end_of_stream() {
        let body = ReplayBody::new(http_body_util::Full::new(Bytes::from("abc")), 16);
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        let empty = ReplayBody::new(http_body_util::Empty::<Bytes>::new(), 16);
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));

        let streamed = ReplayBody::new(stream_body(chunks(&["a", "b"])), 16);
        assert_eq!(streamed.size_hint().exact(), None);
        let replay = streamed.clone();
        frames(streamed).await.unwrap();
        assert_eq!(replay.size_hint().exact(), Some(2));
        assert!(!replay.is_end_stream());
    }

    #[tokio::test]
    async fn an_error_of_the_original_fails_replays() {
        let parts: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
            Ok(Frame::data(Bytes::from("a"))),
            Err(std::io::Error::other("broken")),
        ];
        let body = ReplayBody::new(StreamBody::new(stream::iter(parts)), 16);
        let replay = body.clone();
        assert_eq!(frames(body).await.unwrap_err().to_string(), "broken");
        let err = frames(replay).await.unwrap_err();
        assert_eq!(err.to_string(), "the original request body failed");
    }

    #[tokio::test]
    async fn two_clones_polled_at_once_both_see_every_byte() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        let rx = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        let body = ReplayBody::new(StreamBody::new(Box::pin(rx)), 64);
        let (a, b) = (body.clone(), body);
        let a = tokio::spawn(frames(a));
        let b = tokio::spawn(frames(b));
        for part in ["1", "2", "3"] {
            tokio::task::yield_now().await;
            tx.send(Ok(Frame::data(Bytes::from(part)))).await.unwrap();
        }
        drop(tx);
        let a = a.await.unwrap().unwrap().0;
        let b = b.await.unwrap().unwrap().0;
        assert_eq!(a, ["1", "2", "3"]);
        assert_eq!(a, b);
    }
}
