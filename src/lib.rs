//! Tower middleware for HTTP clients: retries that are correct by RFC 9110,
//! and a circuit breaker.
//!
//! ```text
//! caller ──► ReplayBodyLayer (optional: streaming bodies)
//!        ──► RetryLayer           which outcomes, which requests, how long to wait
//!        ──► CircuitBreakerLayer  fails fast while a downstream is sick
//!        ──► TimeoutLayer         (optional) per attempt
//!        ──► HTTP client          hyper-util, ReqwestService, …
//! ```
//!
//! - [`RetryLayer`] retries transient failures (408, 429, 500, 502, 503,
//!   504 and transport errors) with backoff and jitter, honours
//!   `Retry-After`, replays only requests that are safe to replay, and is
//!   bounded in attempts, elapsed time and by a retry budget. See
//!   [`retry`].
//! - [`CircuitBreakerLayer`] sits beneath it, counts every attempt, and fails
//!   fast with [`CircuitOpen`] while a downstream is sick; one breaker per
//!   host with [`CircuitBreakerLayer::per_host`]. See [`circuit_breaker`].
//! - [`ReplayBodyLayer`] makes a streaming request body replayable, up to a
//!   limit. See [`body`].
//! - [`BufferResponseLayer`] reads the response body before the decision,
//!   so a failure half-way through it is a failed attempt. See [`body`].
//! - [`RateLimitPaceLayer`](pace::RateLimitPaceLayer) holds back requests to a host whose quota is
//!   spent, until its reset. See [`pace`].
//! - [`backoff`] holds the schedules; [`ErrorClass`] is the one failure
//!   classification that both layers share.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{Attempts, CircuitBreakerConfig, CircuitBreakerLayer, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Any `Service<http::Request<B>>`: hyper-util's client, `ReqwestService`, …
//! let http_client = service_fn(|_req: Request<Full<Bytes>>| async {
//!     Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("hello")))
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryPolicy::default()))
//!     .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
//!     .service(http_client);
//!
//! let response = client.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(response.extensions().get::<Attempts>().map(Attempts::get), Some(1));
//! # }
//! ```
//!
//! # Your own rules
//!
//! [`RetryPolicy::classify`] runs a rule of yours on every outcome, before
//! the built-in ones: it sees the request, the attempt number, the status,
//! headers and buffered body or the error, and returns a
//! [`Verdict`](retry::Verdict) (`Default`, `Final`, `Retry`,
//! `RetryAfter(d)`, `NotProcessed`); the bounds still apply. See
//! [`retry`](retry#classifier). [`CircuitBreakerConfig::classify`] takes
//! the same rule, so that what it makes transient the breaker counts as a
//! failure.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::retry::{Outcome, Verdict};
//! use tower_http_retry::{Attempts, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // This API's 503 means "down for maintenance": no use retrying.
//! let policy = RetryPolicy::default().classify(|outcome: &Outcome<'_>| {
//!     match outcome.status() {
//!         Some(StatusCode::SERVICE_UNAVAILABLE) => Verdict::Final,
//!         _ => Verdict::Default,
//!     }
//! });
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(policy))
//!     .service(service_fn(|_req: Request<String>| async {
//!         Ok::<_, Infallible>(Response::builder().status(503).body(()).unwrap())
//!     }));
//!
//! let res = client.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(1));
//! # }
//! ```
//!
//! # Errors
//!
//! No layer wraps the inner error: over a bare client the error is the
//! client's own type; with [`CircuitBreakerLayer`] (or tower's
//! `TimeoutLayer`) beneath, it is `tower::BoxError`, from which
//! [`CircuitOpen`], tower's `Elapsed` and the client's error downcast. An
//! error carries no [`Attempts`]: put a [`retry::AttemptsHandle`] in the
//! request's extensions and read it after the call.
//!
//! # Observability
//!
//! `tracing` events for every retry, every give-up and every breaker
//! transition (their levels and fields are listed in [`retry`] and
//! [`circuit_breaker`]); hooks ([`RetryPolicy::on_retry`] with a
//! [`RetryEvent`](retry::RetryEvent), [`RetryPolicy::on_give_up`] with a [`GiveUpEvent`](retry::GiveUpEvent),
//! [`CircuitBreakerConfig::on_state_change`]);
//! an [`Attempts`] extension on every response and a [`ResendCount`](retry::ResendCount) on
//! every replay (OpenTelemetry's `http.request.resend_count`).
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `hyper-util` (default) | recognises hyper-util's `client::legacy::Error` (see [`ErrorClass`]); implies `hyper` |
//! | `hyper` | recognises `hyper::Error` and the `h2::Error` beneath it (HTTP/2 refusals are never sent), and drains a discarded `BoxBody<Bytes, hyper::Error>` |
//! | `axum` | a discarded axum `Body` (`axum-core`) is read to keep its connection |
//! | `reqwest` | `ReqwestService`: a `reqwest::Client` as a `tower::Service<http::Request<B>>`; recognises `reqwest::Error` |
//! | `metrics` | counters of retries, give-ups, breaker transitions and rejections, and a breaker state gauge, through the `metrics` facade: `tower_http_retry_retries_total{reason}`, `tower_http_retry_give_ups_total{reason,why}`, `tower_http_retry_circuit_state{breaker,host}` (0 closed, 1 half-open, 2 open), `tower_http_retry_circuit_transitions_total{breaker,host,from,to}`, `tower_http_retry_circuit_rejected_total{breaker,host}` |

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
// Nothing a peer sends may panic the crate: no `unwrap` outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod authority_map;
pub mod backoff;
pub mod body;
pub mod circuit_breaker;
mod classify;
pub mod hedge;
#[cfg(feature = "metrics")]
mod metrics;
pub mod pace;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
mod reqwest;
pub mod retry;
mod sync;
pub mod throttle;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use crate::reqwest::ReqwestService;
pub use body::{BufferResponseLayer, ReplayBody, ReplayBodyLayer};
pub use circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};
pub use classify::ErrorClass;
pub use hedge::HedgeLayer;
pub use retry::{Attempts, RetryLayer, RetryPolicy};
pub use throttle::{AdaptiveThrottleLayer, Throttled};

// The README's examples compile and run as doctests (they need every
// feature: `cargo test --all-features`, as CI runs it).
#[cfg(all(doctest, feature = "reqwest"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
