//! Hedging: [`HedgeLayer`] starts another attempt when the first is slow;
//! the first answer wins.
//!
//! A request that has not been answered `delay` after it was sent is sent
//! again (a *hedge*), without cancelling the first; whichever answers first
//! is returned, and the others are dropped: their inner futures are
//! cancelled, and a response that arrives for one of them never reaches
//! the caller. It cuts tail latency (the slow attempt is raced, not waited
//! out) at the price of extra load: with a delay at the p95 latency, about
//! 5 % more requests.
//!
//! - **Only requests safe to replay are hedged**: the crate's one rule, as
//!   for retries (idempotent methods by RFC 9110 §9.2.2, or any request
//!   with an `Idempotency-Key`). Any other request is passed through once.
//!   The body is replayed as a retry's is, so it must be `Clone` (wrap a
//!   streaming body with [`ReplayBodyLayer`](crate::ReplayBodyLayer) above;
//!   a body past its replay limit is not hedged again).
//! - **At most [`max_hedges`](HedgeLayer::max_hedges) extra attempts**
//!   (default 1), each `delay` after the previous one.
//! - **The first response wins**, whatever its status (a `RetryLayer` above
//!   decides what to do with a 503), and so does an error that is not
//!   transient ([`ErrorClass::Fatal`](crate::ErrorClass::Fatal), such as
//!   [`CircuitOpen`](crate::CircuitOpen)). A transient error of one attempt
//!   lets the others go on and starts the next hedge at once; when none is
//!   left, the last error goes back.
//! - **Hedges spend a retry budget**: every request deposits, every hedge
//!   withdraws, and a hedge the budget refuses is not made. The default is
//!   a budget of the layer's own with the bounds of `RetryPolicy`'s
//!   default; [`budget_of`](HedgeLayer::budget_of) shares a policy's, so
//!   retries and hedges together stay within one bound.
//! - **The delay**: fixed, or [taken from observed
//!   latency](HedgeLayer::latency_percentile) (a percentile over a
//!   rotating window, as `tower::hedge`).
//!
//! The response carries [`Attempts`](crate::Attempts): the attempts
//! started (unless a `RetryLayer` beneath already set it). Each hedge
//! carries a [`ResendCount`](crate::retry::ResendCount): the attempts started
//! before it.
//!
//! # Why not `tower::hedge`
//!
//! `tower::hedge::Hedge` makes one hedge only, decides by a `Policy` with
//! its own `clone_request` (this crate has one replay rule), spends no
//! budget, and lets an error of either attempt end the race. Its rotating
//! percentile histogram is private; the same idea is rebuilt on the same
//! histogram crate, with bounded memory.
//!
//! # Where it sits
//!
//! ```text
//! RetryLayer            retries what the race returned (a 503, the last error)
//!   HedgeLayer          races attempts of one try
//!     CircuitBreakerLayer  counts every attempt, losers included
//!       HTTP client
//! ```
//!
//! To a breaker beneath, a losing attempt is an abandoned call: what it
//! counts as is the breaker's
//! [`abandoned_calls`](crate::CircuitBreakerConfig::abandoned_calls) setting.
//!
//! # Tracing
//!
//! | event | level | fields |
//! |---|---|---|
//! | `hedging request` | DEBUG | `attempt` (the one started), `after_ms`, `trigger` (`delay` or `transient_error`), `method`, `host` |
//! | `hedge refused by the budget` | DEBUG | `attempts`, `method`, `host` |
//! | `hedged request answered` | DEBUG | `attempts`, `first_won`, `method`, `host` |
//!
//! With the `metrics` feature, `tower_http_retry_hedges_total{outcome}`
//! counts hedges `started` and `refused`.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{Attempts, HedgeLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The first attempt hangs for a second; any later one answers at once.
//! let calls = Arc::new(AtomicU32::new(0));
//! let downstream = service_fn(move |_req: Request<String>| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         if n == 0 {
//!             tokio::time::sleep(Duration::from_secs(1)).await;
//!         }
//!         Ok::<_, Infallible>(Response::new(format!("attempt {}", n + 1)))
//!     }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(HedgeLayer::new(Duration::from_millis(10)))
//!     .service(downstream);
//!
//! let res = client.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(res.body(), "attempt 2");
//! assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(2));
//! # }
//! ```
//!
//! Customised: up to two hedges, after the observed p95 (50 ms until 100
//! latencies were seen in the last 10 s), spending the retry policy's
//! budget:
//!
//! ```
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_http_retry::{HedgeLayer, RetryLayer, RetryPolicy};
//!
//! let policy = RetryPolicy::default();
//! let layers = ServiceBuilder::new()
//!     .layer(RetryLayer::new(policy.clone()))
//!     .layer(
//!         HedgeLayer::new(Duration::from_millis(50))
//!             .max_hedges(2)
//!             .latency_percentile(0.95, Duration::from_secs(10), 100)
//!             .budget_of(&policy),
//!     );
//! # let _ = layers;
//! ```

pub mod future;
mod latency;
mod layer;
mod race;
mod service;

pub use layer::HedgeLayer;
pub use service::Hedge;
