//! A circuit breaker: [`CircuitBreakerLayer`] fails fast while a downstream
//! is sick, and recovers by itself.
//!
//! # States
//!
//! ```text
//!                 a trip rule fires
//!   ┌────────┐ ─────────────────────────────► ┌──────┐
//!   │ Closed │                                │ Open │ ◄──┐
//!   └────────┘ ◄──────────┐                   └──────┘    │
//!                         │                      │        │ one probe
//!          every probe    │   open_duration has  │        │ failed (or
//!          succeeded      │   elapsed; the next  │        │ was slow)
//!                         │   call is a probe    ▼        │
//!                         │                 ┌──────────┐  │
//!                         └──────────────── │ HalfOpen │ ─┘
//!                                           └──────────┘
//! ```
//!
//! - **Closed**: calls go through and their outcomes fill a sliding window.
//!   A *failure* is exactly an outcome the retry layer treats as transient:
//!   a status it retries by default (408, 429, 500, 502, 503, 504) or a
//!   transport error ([`ErrorClass::NeverSent`](crate::ErrorClass::NeverSent)
//!   or [`Ambiguous`](crate::ErrorClass::Ambiguous)). Every other status,
//!   404 and 501 included, is a success: the downstream answered. An error
//!   classed [`Fatal`](crate::ErrorClass::Fatal) (a malformed request that
//!   never reached the server, a [`CircuitOpen`] from a breaker beneath, a
//!   local refusal) is neither: it is not recorded, and a probe's permit
//!   goes back. A [`FailureClassifier`] can replace the rule for the
//!   other outcomes; so can the retry layer's own rule, given to
//!   [`CircuitBreakerConfig::classify`] as to
//!   [`RetryPolicy::classify`](crate::RetryPolicy::classify): one rule, and
//!   what it makes transient both layers treat so (retried, and counted as
//!   a failure).
//! - **Open**: `call` fails at once with [`CircuitOpen`], which names the
//!   breaker and says when it lets a probe through; the inner service is
//!   not called.
//! - **HalfOpen**: after `open_duration`, exactly `half_open_calls` probes
//!   go through, however many callers race for them; every other call
//!   fails fast. When all of them succeed the breaker closes with an empty
//!   window; when one fails it opens again (for longer, up to
//!   `max_open_duration`, if that is set). A probe whose inner service
//!   panics, or whose future is dropped early, gives its permit back; one
//!   dropped after the slow-call duration is a failed probe (see
//!   *Abandoned calls*). A probe that is
//!   out too long is not waited for: once every probe is taken, the next
//!   call opens the breaker again for another round when the latest probe
//!   has been out longer than the slow-call duration (with `slow_calls`
//!   on: a failed probe) or than `max_probe_duration` (60 s by default),
//!   so a probe that never ends, or whose future was leaked, can't keep
//!   the breaker half-open for good.
//!
//! The breaker opens when one of these rules fires:
//!
//! - the failure rate of the window is at least `failure_rate_threshold`,
//!   once the window holds `minimum_calls` calls;
//! - the slow-call rate (calls slower than the `slow_calls` duration) is at
//!   least its threshold, once the window holds `minimum_calls` calls;
//! - `consecutive_failures` calls failed in a row.
//!
//! # Abandoned calls
//!
//! A call whose future is dropped before it ends (a hedge that lost, a
//! caller that gave up, a timeout above the breaker) counts by
//! [`abandoned_calls`](CircuitBreakerConfig::abandoned_calls): by default
//! ([`AbandonedCalls::SlowWhenLate`]) as a slow call when it was out for
//! at least the slow-call duration, and as nothing when abandoned earlier.
//! A host that hangs while its callers give up so trips the slow-call rule
//! (turn `slow_calls` on, below the callers' timeouts), while a hedge's
//! loser or an impatient caller, which learned nothing of the downstream,
//! moves nothing. [`AbandonedCalls::Failed`] counts every abandonment as a
//! failure; [`AbandonedCalls::Ignored`] counts none.
//!
//! The window is count-based (the last `window_size` calls) or time-based
//! (the calls of the last `time_window` seconds). An outcome is recorded
//! only in the state it was let through in: a call that started before the
//! breaker opened neither extends the open period nor causes a second
//! transition.
//!
//! # Defaults
//!
//! | setting | default | from |
//! |---|---|---|
//! | failure rate threshold | 50 % | resilience4j `failureRateThreshold` |
//! | window | the last 100 calls | resilience4j `slidingWindowSize`, `COUNT_BASED` |
//! | minimum calls | 20 | resilience4j `minimumNumberOfCalls` is 100; 20 lets a quieter client trip |
//! | consecutive failures | off | opt in; the rate rule is the default |
//! | slow calls | off | resilience4j: 60 s at 100 %, which rarely fires |
//! | open duration | 30 s | resilience4j `waitDurationInOpenState` is 60 s |
//! | growth of the open duration | none | resilience4j's default interval function is constant |
//! | half-open probes | 1 | resilience4j `permittedNumberOfCallsInHalfOpenState` is 10; all must succeed here |
//! | abandoned calls | slow when out for the slow-call duration, else nothing | seatbelt's `AbandonedPolicy` makes it a choice; an early give-up says nothing of the downstream |
//! | longest wait for a probe | 60 s | resilience4j `maxWaitDurationInHalfOpenState` (off there); its slow-call duration |
//! | failures | 408, 429, 500, 502, 503, 504, transport errors; fatal errors not counted | exactly what `RetryLayer` treats as transient |
//!
//! # Under `RetryLayer`
//!
//! ```text
//! RetryLayer  →  CircuitBreakerLayer  →  (TimeoutLayer)  →  HTTP client
//! ```
//!
//! Beneath [`RetryLayer`](crate::RetryLayer), the breaker counts every
//! attempt, not every logical request. Its [`CircuitOpen`] is classified
//! [`ErrorClass::Fatal`](crate::ErrorClass::Fatal), so the retry loop ends at
//! once: a request that meets an open breaker makes exactly one attempt.
//! The service's error is `tower::BoxError`; `CircuitOpen` downcasts from
//! it.
//!
//! # Readiness
//!
//! As tower's `LoadShed` does it: while the breaker refuses calls,
//! `poll_ready` is ready at once without polling the inner service, and
//! `call` fails without calling it. Otherwise `poll_ready` polls the inner
//! service, and `call` calls it only after it was polled ready, so the
//! breaker may sit over `ConcurrencyLimit` or `Buffer`. A `call` on a
//! service whose inner service was not polled ready (because the breaker
//! was open when `poll_ready` ran) fails with `CircuitOpen`.
//!
//! [Per host](CircuitBreakerLayer::per_host) the rule is weaker: the host
//! of a call is known only in `call`, when the request is there, so
//! `poll_ready` can't tell which breaker will answer, and always polls the
//! inner service. An open host's calls still fail fast in `call`, without
//! calling the inner service, but readiness waits on the inner service
//! (its `ConcurrencyLimit` or `Buffer`) like any call, even when every
//! host's breaker is open.
//!
//! # Per host
//!
//! [`CircuitBreakerLayer::per_host`] keeps one breaker per URI authority:
//! scheme, host and port of each request's URI, the port defaulted from
//! the scheme (`http://a` and `http://a:80` share one), host names compared
//! without regard to case, IP literals by address (`http://[::1]:8080` and
//! `http://[0:0:0:0:0:0:0:1]:8080` share one, named by the canonical
//! `[::1]`). Each breaker counts only its host's calls, so
//! one sick host never opens another's breaker; requests without an
//! authority share one breaker of their own. The breakers live in a map of
//! at most [`max_hosts`](CircuitBreakerConfig::max_hosts) (1,024 by
//! default): a new host past that drops the least recently used closed
//! breaker (an open one only when every breaker is open or half-open), so
//! memory stays bounded whatever hosts the callers name.
//!
//! The [handle](CircuitBreakerHandle) answers for one host
//! ([`state_for`](CircuitBreakerHandle::state_for),
//! [`metrics_for`](CircuitBreakerHandle::metrics_for)) or for all
//! ([`state`](CircuitBreakerHandle::state) is the most severe state of
//! any host, [`hosts`](CircuitBreakerHandle::hosts) lists them); its manual
//! controls apply to every host, those met later included. A refusal's
//! [`CircuitOpen::host`] names the host.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode, Uri};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // `sick.example` is down; every other host answers.
//! let downstream = service_fn(|req: Request<()>| async move {
//!     let mut res = Response::new(());
//!     if req.uri().host() == Some("sick.example") {
//!         *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!     }
//!     Ok::<_, Infallible>(res)
//! });
//! let breaker = CircuitBreakerLayer::per_host(
//!     CircuitBreakerConfig::default().minimum_calls(5).max_hosts(256),
//! );
//! let handle = breaker.handle();
//! let mut client = ServiceBuilder::new().layer(breaker).service(downstream);
//! let get = |uri: &str| Request::get(uri).body(()).unwrap();
//!
//! for _ in 0..5 {
//!     client.ready().await.unwrap().call(get("http://sick.example/")).await.unwrap();
//! }
//! let sick = Uri::from_static("http://sick.example:80/");
//! assert_eq!(handle.state_for(&sick), CircuitState::Open);
//! assert_eq!(handle.state(), CircuitState::Open); // the most severe
//!
//! // The sick host fails fast; the other one is untouched.
//! let err = client.ready().await.unwrap().call(get("http://sick.example/")).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<CircuitOpen>().unwrap().host(), Some("http://sick.example:80"));
//! let res = client.ready().await.unwrap().call(get("http://well.example/")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(
//!     handle.hosts(),
//!     [
//!         ("http://sick.example:80".to_string(), CircuitState::Open),
//!         ("http://well.example:80".to_string(), CircuitState::Closed),
//!     ]
//! );
//! # }
//! ```
//!
//! # Cost
//!
//! Every service made by one layer, and every clone, shares one breaker
//! behind an `Arc`. Letting a call through when closed is one atomic load;
//! recording its outcome is a few atomic operations on the window, with no
//! lock and no allocation. Only transitions take a lock. Slow-call
//! detection adds a clock read per call; a time-based window, one per
//! outcome.
//!
//! Per host, each call also finds its host's breaker: it hashes the
//! authority in place, takes the map's shared (read) lock and stamps the
//! entry with one atomic add; no allocation. Only the first call to a new
//! host takes the exclusive lock, allocates the breaker, and (when the map
//! is full) scans it for the entry to drop.
//!
//! # Observing transitions
//!
//! Every transition is told three ways, after the breaker's lock (and the
//! per-host map's) is released:
//!
//! - a `tracing` event, with target `tower_http_retry::circuit_breaker::state`:
//!
//!   | event | level | fields |
//!   |---|---|---|
//!   | `circuit breaker opened` | WARN | `breaker` (its name, or empty), `host` (per host only), `from`, `to` (`open`, `forced_open`), `why`, `rate` (the rate that tripped it, for the rate rules), `open_ms` (how long it stays open, except when forced) |
//!   | `circuit breaker state changed` | INFO | `breaker`, `host` (per host only), `from`, `to` (`half_open`, `closed`, `forced_closed`), `why` |
//!
//!   `from` and `to` are `closed`, `open`, `half_open`, `forced_open` or
//!   `forced_closed`; `why` is a [`StateChangeReason`]'s
//!   [`as_str`](StateChangeReason::as_str): `failure_rate`,
//!   `slow_call_rate`, `consecutive_failures`, `open_duration_elapsed`,
//!   `probe_failed`, `probe_timed_out`, `probes_succeeded`, `forced_open`,
//!   `forced_closed` or `reset`; `host` is `scheme://host:port` (empty for
//!   requests without an authority);
//! - the [`on_state_change`](CircuitBreakerConfig::on_state_change)
//!   callback, given a [`StateChange`] with the same facts (its `why` a
//!   [`StateChangeReason`]);
//! - with the cargo feature `metrics`, through the `metrics` facade: the
//!   gauge `tower_http_retry_circuit_state` (0 closed, 1 half-open, 2
//!   open), the counter `tower_http_retry_circuit_transitions_total`
//!   (labels `from`, `to`), and, for every call refused with
//!   [`CircuitOpen`], the counter `tower_http_retry_circuit_rejected_total`;
//!   all labelled `breaker` (the name, or empty) and, per host, `host`.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use tower_http_retry::circuit_breaker::StateChange;
//! use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
//!
//! let opened = Arc::new(AtomicUsize::new(0));
//! let count = opened.clone();
//! let breaker = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default().on_state_change(
//!     move |change: &StateChange<'_>| {
//!         if change.to == CircuitState::Open {
//!             count.fetch_add(1, Ordering::Relaxed);
//!             eprintln!("{} opened: {} {:?}", change.host.unwrap_or("?"), change.why, change.rate);
//!         }
//!     },
//! ));
//! # let _ = breaker;
//! ```
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//! use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A downstream that is down.
//! let downstream = service_fn(|_req: Request<()>| async {
//!     let mut res = Response::new(());
//!     *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!     Ok::<_, Infallible>(res)
//! });
//!
//! let breaker = CircuitBreakerLayer::new(
//!     CircuitBreakerConfig::default()
//!         .name("inventory")
//!         .minimum_calls(5)
//!         .open_duration(Duration::from_secs(30)),
//! );
//! let handle = breaker.handle();
//! let mut client = ServiceBuilder::new().layer(breaker).service(downstream);
//!
//! for _ in 0..5 {
//!     let res = client.ready().await.unwrap().call(Request::new(())).await.unwrap();
//!     assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
//! }
//! assert_eq!(handle.state(), CircuitState::Open);
//! assert_eq!(handle.metrics().failure_rate, 1.0);
//!
//! // Now calls fail fast, without reaching the downstream.
//! let err = client.ready().await.unwrap().call(Request::new(())).await.unwrap_err();
//! let open = err.downcast_ref::<CircuitOpen>().unwrap();
//! assert_eq!(open.name(), Some("inventory"));
//! assert!(open.retry_after().unwrap() <= Duration::from_secs(30));
//! # }
//! ```

pub(crate) mod authority;
mod classifier;
mod config;
mod error;
pub mod future;
mod handle;
mod layer;
mod observe;
mod per_host;
mod service;
mod state;
mod vocabulary;
mod window;

pub use classifier::{DefaultFailureClassifier, FailureClassifier};
pub use config::CircuitBreakerConfig;
pub use error::CircuitOpen;
pub use handle::{CircuitBreakerHandle, CircuitMetrics};
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;
pub use vocabulary::{AbandonedCalls, CircuitState, StateChange, StateChangeReason};
