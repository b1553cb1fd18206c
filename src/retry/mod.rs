//! Retries: [`RetryLayer`] and its [`RetryPolicy`].
//!
//! `RetryLayer` wraps a service in [`tower::retry::Retry`] driven by a
//! `RetryPolicy`, which decides for every outcome:
//!
//! 0. **What does your classifier say?** When one is set with
//!    [`classify`](RetryPolicy::classify), its [`Verdict`] comes first:
//!    see [Classifier](#classifier) below.
//! 1. **Is it transient?** A response whose status is in
//!    [`retry_statuses`](RetryPolicy::retry_statuses) (408, 429, 500, 502,
//!    503, 504 by default), or a transport error. Every other status goes
//!    back at once; so do [`CircuitOpen`](crate::CircuitOpen) and an error
//!    saying the request was malformed ([`ErrorClass::Fatal`]).
//! 2. **Is the request safe to send again?** Idempotent methods (RFC 9110
//!    §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or any request with an
//!    `Idempotency-Key` header. A POST or PATCH without one is replayed only
//!    after an error proving it never left the client (connection refused,
//!    DNS failure) or was not processed (an HTTP/2 stream the server
//!    refused): [`ErrorClass::NeverSent`]. An error type of your own is
//!    seen through its `source()` chain once named with
//!    [`error_type`](RetryPolicy::error_type).
//! 3. **Is there room?** Under [`max_attempts`](RetryPolicy::max_attempts),
//!    within [`max_elapsed`](RetryPolicy::max_elapsed), and the retry
//!    [`budget`](RetryPolicy::budget) allows it.
//! 4. **How long to wait?** The server's word when the response has a
//!    valid one, never sent early and never jittered; a wait above
//!    [`max_retry_after`](RetryPolicy::max_retry_after) hands the response
//!    back at once. Otherwise the [`backoff`](RetryPolicy::backoff)
//!    schedule. The first of these with a valid value sets the wait:
//!
//!    | precedence | header | value |
//!    |---|---|---|
//!    | 1 | `Retry-After` | delay-seconds or an HTTP-date (RFC 9110 §10.2.3) |
//!    | 2 | `retry-after-ms` | milliseconds (OpenAI, Anthropic) |
//!    | 3 | `RateLimit` | IETF draft-ietf-httpapi-ratelimit-headers: the longest `t` (seconds) of the policies with `r=0`, as in `"default";r=0;t=30` |
//!    | 4 | `RateLimit-Reset` | delta-seconds; a value from 1,000,000,000 on is a Unix time |
//!    | 5 | `X-RateLimit-Reset` | the same (GitHub sends a Unix time) |
//!
//!    The reset headers (4, 5) count only when the quota is spent: on a 429,
//!    or when their `RateLimit-Remaining` / `X-RateLimit-Remaining` is `0`.
//!    A malformed, negative, overflowing or non-ASCII value is skipped.
//!
//! The server may also say whether to retry at all: `x-should-retry: false`
//! hands a retryable response back; `x-should-retry: true` makes any error
//! status (4xx, 5xx) retryable, still only for a request safe to replay.
//!
//! Every response returned carries an [`Attempts`] extension; for the
//! count of a call that ended in an error, put an [`AttemptsHandle`] in the
//! request's extensions. A replay is
//! the first request again (method, URI, version, headers, extensions, body)
//! plus a [`ResendCount`] extension: OpenTelemetry's
//! `http.request.resend_count`, for the span of each attempt.
//!
//! # Requirements
//!
//! The request body must be `Clone` (`Full<Bytes>`, `String`, …); wrap other
//! bodies (a stream, hyper's `Incoming`, `reqwest::Body`) in a
//! [`ReplayBody`](crate::ReplayBody) with
//! [`ReplayBodyLayer`](crate::ReplayBodyLayer) first. Waiting uses
//! `tokio::time`, so retries need a Tokio runtime with its timer enabled.
//!
//! # Response bodies of retried attempts
//!
//! The response of an attempt that is retried is discarded. To keep its
//! pooled connection, its body is read to its end while the policy waits
//! before the retry, where the body type lets the policy take it: tower's
//! `Retry` hands the policy the response by reference only, so the body can
//! be moved out only if it has an empty value to leave in its place. That
//! holds for `http_body_util`'s `BoxBody` and `UnsyncBoxBody` with
//! `tower::BoxError` (or, feature `hyper`, `hyper::Error`) as their error,
//! axum's `Body` (feature `axum`) and `reqwest::Body` (feature `reqwest`).
//! hyper's `Incoming` has none: put [`BoxResponseBodyLayer`] beneath
//! `RetryLayer`, a layer whose service type can be named. Left unboxed,
//! hyper itself reads a dropped body that is already in its buffer, so an
//! empty or small error page (a few KiB) keeps the connection, and a larger
//! one still in flight closes it: the retry opens a new connection.
//!
//! The read is bounded: at most 256 KiB and 4,096 frames (empty frames and
//! trailers count), a few frames per poll so that a body that is always
//! ready never holds the thread, and never past the retry's delay: when
//! the delay is over the retry goes and a body not yet read is dropped. A
//! delay shorter than 50 ms (`Retry-After: 0`, a short backoff) waits for
//! the body until 50 ms after the response at most.
//!
//! # Tracing
//!
//! | event | level | fields |
//! |---|---|---|
//! | `retrying request` | DEBUG | `attempt` (the one that failed), `delay_ms`, `delay_from` (`backoff`, `retry-after`, `retry-after-ms`, `ratelimit`, `ratelimit-reset`, `x-ratelimit-reset` or `classifier`: a [`WaitSource`]), `reason` (status code or error class), `method`, `host` |
//! | `giving up on request` | INFO | `attempts`, `reason`, `why` (a [`GiveUpReason`]), `method`, `host` |
//!
//! Nothing is emitted for a request that needs no retry. The hooks
//! [`on_retry`](RetryPolicy::on_retry) and
//! [`on_give_up`](RetryPolicy::on_give_up) are told the same facts, as a
//! [`RetryEvent`] and a [`GiveUpEvent`].
//!
//! # Classifier
//!
//! The built-in rules are defaults. [`RetryPolicy::classify`] runs a
//! [`Classifier`] (any `Fn(&Outcome<'_>) -> Verdict`) on every outcome,
//! before them. It sees an [`Outcome`]: the request's method, URI and
//! headers, the attempt number, the status and headers (and the whole body,
//! when `BufferResponseLayer` read it) or the error. Its [`Verdict`]:
//!
//! - [`Default`](Verdict::Default): the built-in rules decide.
//! - [`Final`](Verdict::Final): hand this outcome back now.
//! - [`Retry`](Verdict::Retry): transient, retried if the request is safe
//!   to replay.
//! - [`RetryAfter(d)`](Verdict::RetryAfter): as `Retry`, waiting exactly
//!   `d`, never early; a `d` above `max_retry_after` hands the outcome back
//!   at once.
//! - [`NotProcessed`](Verdict::NotProcessed): the server did not process
//!   the request; replayed whatever the method.
//!
//! Every bound (attempts, elapsed time, budget, replay limit) still applies
//! to a verdict that retries, and a fatal error (a
//! [`CircuitOpen`](crate::CircuitOpen), a malformed request) goes back
//! whatever the verdict. Without a classifier, a response whose status is
//! not retried skips this step.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use http::{Method, Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::retry::{Outcome, Verdict};
//! use tower_http_retry::{backoff::ConstantBackoff, Attempts, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A 409 from a lock is transient; a 503 from this API means "maintenance".
//! let policy = RetryPolicy::default()
//!     .backoff(ConstantBackoff::new(Duration::from_millis(1)))
//!     .classify(|outcome: &Outcome<'_>| match outcome.status() {
//!         Some(StatusCode::CONFLICT) => Verdict::Retry,
//!         Some(StatusCode::SERVICE_UNAVAILABLE) => Verdict::Final,
//!         _ => Verdict::Default,
//!     });
//!
//! let calls = Arc::new(AtomicU32::new(0));
//! let downstream = service_fn(move |_req: Request<String>| {
//!     let status = match calls.fetch_add(1, Ordering::SeqCst) {
//!         0 => StatusCode::CONFLICT,
//!         _ => StatusCode::OK,
//!     };
//!     async move { Ok::<_, Infallible>(Response::builder().status(status).body(()).unwrap()) }
//! });
//! let client = ServiceBuilder::new().layer(RetryLayer::new(policy)).service(downstream);
//!
//! let req = Request::builder().method(Method::DELETE).uri("/lock").body(String::new()).unwrap();
//! let res = client.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(2));
//! # }
//! ```
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{backoff::ConstantBackoff, Attempts, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A downstream that fails twice, then answers.
//! let calls = Arc::new(AtomicU32::new(0));
//! let downstream = service_fn(move |_req: Request<Full<Bytes>>| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         let status = if n < 2 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
//!         let mut res = Response::new(Full::<Bytes>::default());
//!         *res.status_mut() = status;
//!         Ok::<_, Infallible>(res)
//!     }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(
//!         RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1))),
//!     ))
//!     .service(downstream);
//!
//! let res = client.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(3));
//! # }
//! ```

mod attempt_header;
mod attempts;
mod box_body;
mod budget;
mod decide;
mod decimal;
mod drain;
mod event;
pub mod future;
mod hooks;
mod layer;
mod policy;
pub(crate) mod rate_limit;
mod retry_after;
mod server_wait;

pub use crate::classify::{Classifier, DefaultClassifier, Outcome, Verdict};
pub use attempt_header::{AttemptHeader, AttemptHeaderLayer};
pub use attempts::{Attempts, AttemptsHandle, ResendCount};
pub use box_body::{BoxResponseBody, BoxResponseBodyLayer};
pub use event::{GiveUpEvent, GiveUpReason, RetryEvent, WaitSource};
pub use layer::RetryLayer;
pub use policy::RetryPolicy;

use std::fmt;

use http::StatusCode;

use crate::classify::ErrorClass;

/// Why an attempt is retried (or would have been): its status, or the class
/// of its error. Its `Display` is the `reason` field of the tracing events.
///
/// ```
/// use http::StatusCode;
/// use tower_http_retry::retry::RetryReason;
/// use tower_http_retry::ErrorClass;
///
/// assert_eq!(RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE).to_string(), "503");
/// assert_eq!(RetryReason::Error(ErrorClass::NeverSent).to_string(), "never_sent");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// The response had a retryable status.
    Status(StatusCode),
    /// The attempt failed with a transport error of this class.
    Error(ErrorClass),
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryReason::Status(s) => write!(f, "{}", s.as_u16()),
            RetryReason::Error(c) => f.write_str(c.as_str()),
        }
    }
}
