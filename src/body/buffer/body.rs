//! [`BufferedBody`]: a response body read before the decision, whole or in
//! part.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::BoxError;

pin_project! {
    /// The response body of [`BufferResponseLayer`](crate::BufferResponseLayer):
    /// the whole body, read before the response went up the stack, or,
    /// when it was over the limit, what was read followed by the rest as it
    /// streams.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use tower_http_retry::body::BufferedBody;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let body = BufferedBody::<Full<Bytes>>::whole(Bytes::from("hello"), None);
    /// assert_eq!(body.bytes().map(|b| &b[..]), Some(&b"hello"[..]));
    /// assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
    /// # }
    /// ```
    pub struct BufferedBody<B> {
        #[pin]
        state: State<B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B> {
        // The body fit: it was read to its end.
        Whole {
            data: Bytes,
            data_sent: bool,
            trailers: Option<HeaderMap>,
        },
        // Over the limit: what was read (at most two chunks: the bytes
        // gathered within the limit, then the chunk that crossed it), then
        // the rest of the original.
        Partial {
            read: Option<Bytes>,
            crossing: Option<Bytes>,
            #[pin]
            rest: B,
        },
    }
}

impl<B> BufferedBody<B> {
    /// A body read whole: `data`, then `trailers` if any.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body::Body;
    /// use tower_http_retry::body::BufferedBody;
    ///
    /// let body = BufferedBody::<String>::whole(Bytes::from_static(b"abc"), None);
    /// assert_eq!(body.size_hint().exact(), Some(3));
    /// ```
    pub fn whole(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        BufferedBody {
            state: State::Whole {
                data_sent: data.is_empty(),
                data,
                trailers,
            },
        }
    }

    /// A body over the limit: the bytes `read` before the limit was
    /// crossed, the chunk that crossed it, then `rest`.
    pub(crate) fn partial(read: Bytes, crossing: Bytes, rest: B) -> Self {
        let some = |b: Bytes| (!b.is_empty()).then_some(b);
        BufferedBody {
            state: State::Partial {
                read: some(read),
                crossing: some(crossing),
                rest,
            },
        }
    }

    /// The whole body, when it fit within the limit; `None` for a body that
    /// was over it (and streams on). Still `Some` after the body was read.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tower_http_retry::body::BufferedBody;
    ///
    /// let body = BufferedBody::<String>::whole(Bytes::new(), None);
    /// assert_eq!(body.bytes().map(Bytes::len), Some(0));
    /// ```
    pub fn bytes(&self) -> Option<&Bytes> {
        match &self.state {
            State::Whole { data, .. } => Some(data),
            State::Partial { .. } => None,
        }
    }
}

impl<B> Body for BufferedBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().state.project() {
            StateProj::Whole {
                data,
                data_sent,
                trailers,
            } => {
                if !*data_sent {
                    *data_sent = true;
                    return Poll::Ready(Some(Ok(Frame::data(data.clone()))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            StateProj::Partial {
                read,
                crossing,
                rest,
            } => {
                if let Some(chunk) = read.take().or_else(|| crossing.take()) {
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                rest.poll_frame(cx).map(|frame| {
                    frame.map(|f| match f {
                        Ok(f) => Ok(f.map_data(|mut d| d.copy_to_bytes(d.remaining()))),
                        Err(e) => Err(e.into()),
                    })
                })
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Whole {
                data_sent,
                trailers,
                ..
            } => *data_sent && trailers.is_none(),
            State::Partial {
                read,
                crossing,
                rest,
            } => read.is_none() && crossing.is_none() && rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Whole {
                data, data_sent, ..
            } => SizeHint::with_exact(if *data_sent { 0 } else { data.len() as u64 }),
            State::Partial {
                read,
                crossing,
                rest,
            } => {
                let held = [read, crossing]
                    .iter()
                    .filter_map(|b| b.as_ref())
                    .map(|b| b.len() as u64)
                    .sum::<u64>();
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(held));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(held));
                }
                hint
            }
        }
    }
}

impl<B> fmt::Debug for BufferedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Whole { data, trailers, .. } => f
                .debug_struct("BufferedBody::Whole")
                .field("len", &data.len())
                .field("trailers", &trailers.is_some())
                .finish(),
            State::Partial { .. } => f
                .debug_struct("BufferedBody::Partial")
                .finish_non_exhaustive(),
        }
    }
}
