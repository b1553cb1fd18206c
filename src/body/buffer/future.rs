//! The response future of [`BufferResponse`](super::BufferResponse): the
//! inner call, then the body read up to the limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::response::Parts;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;
use tower::BoxError;

use super::collect::Collect;
use super::BufferedBody;
use crate::body::{BodyOverLimit, BufferedBytes};

pin_project! {
    /// The response future of [`BufferResponse`](crate::body::BufferResponse):
    /// resolves once the response body was read to its end (or past the
    /// limit), or fails with the error the inner call or the body reading
    /// met. Polled again after it completed, it fails.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
        limit: usize,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Call {
            #[pin]
            future: F,
        },
        Read {
            head: Option<(Parts, B)>,
            collect: Collect,
        },
        Done,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn new(future: F, limit: usize) -> Self {
        ResponseFuture {
            state: State::Call { future },
            limit,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<BufferedBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Call { future } => {
                    let (parts, body) = match ready!(future.poll(cx)) {
                        Ok(res) => res.into_parts(),
                        Err(e) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(e.into()));
                        }
                    };
                    let hint = body.size_hint();
                    if body.is_end_stream() {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(whole(parts, Collect::default(), None)));
                    }
                    if hint.lower() > *this.limit as u64 {
                        // Says it is over the limit: streamed as it comes.
                        this.state.set(State::Done);
                        let nothing = Bytes::new();
                        return Poll::Ready(Ok(over_limit(parts, nothing.clone(), nothing, body)));
                    }
                    let expected = hint.upper().unwrap_or(hint.lower()).min(*this.limit as u64);
                    this.state.set(State::Read {
                        head: Some((parts, body)),
                        collect: Collect::new(expected as usize),
                    });
                }
                StateProj::Read { head, collect } => {
                    let Some((_, body)) = head.as_mut() else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    let done = match ready!(Pin::new(body).poll_frame(cx)) {
                        None => Ok(None),
                        Some(Err(e)) => Err(e.into()),
                        Some(Ok(frame)) => match frame.into_data() {
                            Ok(mut data) => {
                                let chunk = data.copy_to_bytes(data.remaining());
                                if collect.len().saturating_add(chunk.len()) <= *this.limit {
                                    collect.push(chunk);
                                    continue;
                                }
                                // Over the limit: what was read, then the rest.
                                let Some((parts, body)) = head.take() else {
                                    return Poll::Ready(Err(polled_after_completion()));
                                };
                                let read = std::mem::take(collect).finish();
                                this.state.set(State::Done);
                                return Poll::Ready(Ok(over_limit(parts, read, chunk, body)));
                            }
                            Err(frame) => match frame.into_trailers() {
                                Ok(trailers) => Ok(Some(trailers)),
                                Err(_) => continue, // a kind of frame unknown to us
                            },
                        },
                    };
                    let Some((parts, _)) = head.take() else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    let collect = std::mem::take(collect);
                    this.state.set(State::Done);
                    // An error while reading within the limit fails the
                    // attempt, so the retry layer and the breaker see it.
                    return Poll::Ready(done.map(|trailers| whole(parts, collect, trailers)));
                }
                StateProj::Done => return Poll::Ready(Err(polled_after_completion())),
            }
        }
    }
}

/// The response of a body read whole, with the bytes in its extensions for
/// the classifier above.
fn whole<B>(
    mut parts: Parts,
    collect: Collect,
    trailers: Option<http::HeaderMap>,
) -> Response<BufferedBody<B>> {
    let data = collect.finish();
    parts.extensions.insert(BufferedBytes(data.clone()));
    Response::from_parts(parts, BufferedBody::whole(data, trailers))
}

/// The response of a body over the limit: what was read, then the rest,
/// marked so that the retry policy does not retry it.
fn over_limit<B>(
    mut parts: Parts,
    read: Bytes,
    crossing: Bytes,
    rest: B,
) -> Response<BufferedBody<B>> {
    parts.extensions.insert(BodyOverLimit);
    Response::from_parts(parts, BufferedBody::partial(read, crossing, rest))
}

fn polled_after_completion() -> BoxError {
    "buffer response future polled after completion".into()
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}
