//! Adaptive client-side throttling: [`AdaptiveThrottleLayer`] rejects
//! locally the share of requests a server is refusing anyway (Google SRE
//! book, "Handling Overload").
//!
//! Each throttle counts, over a sliding window (2 minutes by default, in
//! ten buckets), the `requests` the application made (those it rejected
//! locally included) and the `accepts`: requests the server did not refuse.
//! A request is rejected locally, without calling the inner service, with
//! probability
//!
//! ```text
//! max(0, (requests − K·accepts) / (requests + 1))        K = 2 by default
//! ```
//!
//! While the server accepts everything the probability is 0 and the layer
//! costs a lock and a few additions per request. When it refuses most
//! requests, the client stops sending what would be refused: the load the
//! server sees falls to about K times what it accepts, which a retry
//! budget alone cannot do (the budget bounds the retries, not the first
//! attempts).
//!
//! # What "not accepted" means
//!
//! An overload signal, by the crate's vocabulary:
//!
//! - a response **429** (Too Many Requests) or **503** (Service
//!   Unavailable);
//! - an error of class [`ErrorClass::NeverSent`](crate::ErrorClass::NeverSent)
//!   (connection refused): the server, or its full listen queue, shed the
//!   request before reading it.
//!
//! Everything else counts as accepted: any other status (the server
//! processed the request), an [`Ambiguous`](crate::ErrorClass::Ambiguous)
//! error (a reset or a timeout says nothing certain about load; the
//! breaker counts those), a [`Fatal`](crate::ErrorClass::Fatal) one (a
//! [`CircuitOpen`](crate::CircuitOpen) from a breaker beneath: the breaker
//! is already shedding), and a call dropped before it ended (a hedge that
//! lost, a caller that gave up).
//!
//! # Rejections
//!
//! A rejected call fails with [`Throttled`] (downcast from
//! `tower::BoxError`), which names the host and the probability.
//! `Throttled` is [`ErrorClass::Fatal`](crate::ErrorClass::Fatal):
//! [`RetryLayer`](crate::RetryLayer) never retries it. The breaker goes
//! beneath the throttle, so that it never sees (nor counts) a request
//! rejected locally:
//!
//! ```text
//! RetryLayer               a Throttled ends the retries at once
//!   AdaptiveThrottleLayer  counts every attempt, retries included
//!     CircuitBreakerLayer  never sees a locally rejected request
//!       HTTP client
//! ```
//!
//! # Per host
//!
//! [`per_host`](AdaptiveThrottleLayer::per_host) keeps one throttle per
//! URI authority, at most [`max_hosts`](AdaptiveThrottleLayer::max_hosts)
//! of them (least recently used dropped first, those not rejecting before
//! those that are).
//!
//! # Observability
//!
//! | event | level | fields |
//! |---|---|---|
//! | `adaptive throttling started` | INFO | `host` (per host, or empty), `probability`, `requests`, `accepts` |
//! | `adaptive throttling stopped` | INFO | `host`, `requests`, `accepts` |
//! | `request throttled locally` | TRACE | `host`, `probability`, `per_host` |
//!
//! With the `metrics` feature, the gauge
//! `tower_http_retry_throttle_probability{host}` follows the rejection
//! probability (moved in steps of 0.01, and whenever it reaches or leaves
//! zero).
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{AdaptiveThrottleLayer, Throttled};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A server refusing everything.
//! let downstream = service_fn(|_req: Request<()>| async {
//!     let mut res = Response::new(());
//!     *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!     Ok::<_, Infallible>(res)
//! });
//! let layer = AdaptiveThrottleLayer::new().seed(1);
//! let mut client = ServiceBuilder::new().layer(layer.clone()).service(downstream);
//!
//! let mut throttled = 0;
//! for _ in 0..100 {
//!     let call = client.ready().await.unwrap().call(Request::new(()));
//!     if let Err(e) = call.await {
//!         assert!(e.is::<Throttled>());
//!         throttled += 1;
//!     }
//! }
//! // (requests − 2·0) / (requests + 1): nearly every request is rejected.
//! assert!(throttled > 80, "{throttled}");
//! assert!(layer.rejection_probability(&"/".parse().unwrap()) > 0.99);
//! # }
//! ```

mod error;
pub mod future;
mod layer;
mod service;
mod state;
mod window;

pub use error::Throttled;
pub use layer::AdaptiveThrottleLayer;
pub use service::AdaptiveThrottle;
