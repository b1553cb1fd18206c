//! Tower middleware for HTTP clients: retries that are correct by RFC 9110,
//! and a circuit breaker.
//!
//! - [`RetryLayer`] retries transient failures (408, 429, 500, 502, 503,
//!   504 and transport errors) with backoff and jitter, honours
//!   `Retry-After`, replays only requests that are safe to replay, and is
//!   bounded in attempts, elapsed time and by a retry budget.
//! - [`CircuitBreakerLayer`] sits beneath it, counts every attempt, and fails
//!   fast with [`CircuitOpen`] while a downstream is sick.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{Attempts, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Any `Service<http::Request<B>>`: hyper-util's client, a reqwest adapter, …
//! let http_client = service_fn(|_req: Request<Full<Bytes>>| async {
//!     Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("hello")))
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryPolicy::default()))
//!     .service(http_client);
//!
//! let response = client.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(response.extensions().get::<Attempts>().map(Attempts::get), Some(1));
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
// Nothing a peer sends may panic the crate: no `unwrap` outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod backoff;
pub mod body;
pub mod circuit_breaker;
mod classify;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
mod reqwest;
pub mod retry;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use crate::reqwest::ReqwestService;
pub use body::{ReplayBody, ReplayBodyLayer};
pub use circuit_breaker::{
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerLayer, CircuitOpen,
    CircuitState,
};
pub use classify::ErrorClass;
pub use retry::{Attempts, ResendCount, RetryEvent, RetryLayer, RetryPolicy, RetryReason};
