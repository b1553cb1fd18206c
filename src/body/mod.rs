//! Replayable request bodies: [`ReplayBodyLayer`] and [`ReplayBody`].
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

mod layer;
mod replay;

pub use self::layer::{ReplayBodyLayer, ReplayBodyService};
pub use self::replay::ReplayBody;

pub(crate) use self::replay::ReplayHandle;

/// The whole body of a response, put in the response's extensions by the
/// layer that buffered it, so that a decision above (the retry classifier's
/// `Outcome::body()`) can read it whatever the body type is.
#[derive(Debug, Clone)]
#[allow(dead_code)] // written by the response-buffering layer, read by the classifier
pub(crate) struct BufferedBytes(pub(crate) bytes::Bytes);
