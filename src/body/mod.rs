//! Bodies: replayable request bodies ([`ReplayBodyLayer`], [`ReplayBody`])
//! and response bodies read before the decision ([`BufferResponseLayer`],
//! [`BufferedBody`]).
//!
//! # Replayable request bodies
//!
//! [`RetryLayer`](crate::RetryLayer) sends a clone of the request for every
//! attempt, so the body must be `Clone`. hyper's `Incoming`, a
//! `StreamBody`, `reqwest::Body` are not: `ReplayBodyLayer`, put above the
//! retry layer, wraps each of them in a `ReplayBody`, which is.
//!
//! - The first attempt streams the body as it comes; nothing is buffered
//!   ahead of the client. Each chunk sent is kept (the same reference-counted
//!   [`Bytes`](bytes::Bytes), not a copy), with the trailers, while the body
//!   is within the limit.
//! - A replay sends byte-identical data and the same trailers. If the server
//!   answered before the body was fully sent, a replay sends what was kept,
//!   then the rest of the original body. A replay of a body fully kept has
//!   an exact size hint (unless it has trailers), so the client can set
//!   `Content-Length`.
//! - A body that sends more than the limit is never replayed: the memory
//!   kept for it is released, the server gets it once, intact, and the
//!   [`RetryPolicy`](crate::RetryPolicy) hands the first outcome back to the
//!   caller (logging `giving up on request` with
//!   `why = "request body exceeded the replay limit"`).
//!
//! The limit bounds the data bytes kept per request. A kept chunk holds on
//! to the allocation it was cut from (with hyper's `Incoming`, part of the
//! connection's read buffer) until the request is done.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use futures_util::stream;
//! use http::{Method, Request, Response, StatusCode};
//! use http_body::Frame;
//! use http_body_util::{BodyExt, StreamBody};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{backoff::ConstantBackoff, Attempts, ReplayBody, ReplayBodyLayer};
//! use tower_http_retry::{RetryLayer, RetryPolicy};
//!
//! # type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A downstream that reads the whole body, fails once, then echoes it.
//! let calls = Arc::new(AtomicU32::new(0));
//! let downstream = service_fn(move |req: Request<ReplayBody<Chunks>>| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         let body = req.into_body().collect().await?.to_bytes();
//!         let mut res = Response::new(body);
//!         if n == 0 {
//!             *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!         }
//!         Ok::<_, tower::BoxError>(res)
//!     }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(ReplayBodyLayer::new(64 * 1024))
//!     .layer(RetryLayer::new(
//!         RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1))),
//!     ))
//!     .service(downstream);
//!
//! // A streamed body: not `Clone`.
//! let chunks = vec![Ok(Frame::data(Bytes::from("chunk 1, "))), Ok(Frame::data(Bytes::from("chunk 2")))];
//! let req = Request::builder()
//!     .method(Method::PUT)
//!     .body(StreamBody::new(stream::iter(chunks)))
//!     .unwrap();
//!
//! let res = client.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(2));
//! assert_eq!(res.body(), "chunk 1, chunk 2");
//! # }
//! ```
//!
//! # Response bodies read before the decision
//!
//! [`BufferResponseLayer`], beneath the retry layer and the breaker (and
//! beneath a per-attempt timeout, so that it covers the body too), reads each
//! response body up to a limit before the response goes up the stack:
//!
//! - A failure while reading the body (a connection reset half-way, a
//!   timeout) is the attempt's error: ambiguous, so retried when the request
//!   is safe to replay, and counted by the breaker. Without the layer it
//!   reaches the caller as a body error after the retry layer said "done".
//! - A body that fit is [`BufferedBody::bytes`], whole, and the classifier
//!   above sees it. The trailers are kept; the size hint is exact.
//! - A body over the limit goes on intact: what was read, then the rest as
//!   it streams. Its `bytes()` is `None`, an error in the rest reaches the
//!   caller as a body error, and the attempt is final: the retry policy
//!   hands it back, whatever its status (logged as `giving up on request`
//!   with `why = "response body over the BufferResponseLayer limit"`).
//! - A discarded buffered body needs no drain: it was read to its end.
//!
//! A body of one chunk is kept as it came; a body of several is copied once
//! into one buffer (sized from its size hint), as
//! `http_body_util::BodyExt::collect` does. An empty body is read without
//! allocating. The response body type must be `Unpin` (hyper's `Incoming`,
//! `reqwest::Body` and `BoxBody` are).
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use futures_util::stream;
//! use http::{Request, Response};
//! use http_body::Frame;
//! use http_body_util::StreamBody;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{backoff::ConstantBackoff, Attempts, BufferResponseLayer};
//! use tower_http_retry::{RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A downstream whose first body breaks half-way.
//! let calls = Arc::new(AtomicU32::new(0));
//! let downstream = service_fn(move |_req: Request<String>| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     let mut frames = vec![Ok(Frame::data(Bytes::from("half ")))];
//!     frames.push(if n == 0 {
//!         Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
//!     } else {
//!         Ok(Frame::data(Bytes::from("and whole")))
//!     });
//!     async move { Ok::<_, std::io::Error>(Response::new(StreamBody::new(stream::iter(frames)))) }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(
//!         RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1))),
//!     ))
//!     .layer(BufferResponseLayer::new(64 * 1024))
//!     .service(downstream);
//!
//! let res = client.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(2));
//! assert_eq!(res.body().bytes().map(|b| &b[..]), Some(&b"half and whole"[..]));
//! # }
//! ```

mod buffer;
mod layer;
mod replay;

pub use self::buffer::{BufferResponse, BufferResponseLayer, BufferedBody};
pub use self::layer::{ReplayBodyLayer, ReplayBodyService};
pub use self::replay::ReplayBody;

pub mod future {
    //! Response futures of the body layers.
    pub use super::buffer::future::ResponseFuture;
}

pub(crate) use self::replay::ReplayHandle;

/// Marks a response whose body was over the limit of the layer that read
/// it: the body is committed (part of it read, the rest streaming), so the
/// retry policy hands the response back instead of retrying it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyOverLimit;

/// The whole body of a response, put in the response's extensions by the
/// layer that buffered it, so that a decision above (the retry classifier's
/// `Outcome::body()`) can read it whatever the body type is.
#[derive(Debug, Clone)]
pub(crate) struct BufferedBytes(pub(crate) bytes::Bytes);
