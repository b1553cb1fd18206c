//! [`Verdict`]: what a classifier decides about one outcome.

use std::time::Duration;

/// A [`Classifier`](crate::retry::Classifier)'s word on one
/// [`Outcome`](crate::retry::Outcome).
///
/// Every verdict that retries is still bounded: `max_attempts`,
/// `max_elapsed`, the retry budget and the `ReplayBodyLayer` limit refuse
/// it as they refuse a retry of the built-in rules (the outcome goes back
/// to the caller, with a give-up event). An error that retrying cannot help
/// (an [`ErrorClass::Fatal`](crate::ErrorClass::Fatal) one: a
/// [`CircuitOpen`](crate::CircuitOpen), a malformed request) is handed back
/// whatever the verdict: the breaker beneath has the last word on whether
/// the downstream is called.
///
/// ```
/// use std::time::Duration;
/// use http::{Method, StatusCode};
/// use tower_http_retry::retry::{Outcome, Verdict};
///
/// fn classify(outcome: &Outcome<'_>) -> Verdict {
///     match outcome.status() {
///         // A lock held by another writer: transient, for a request safe to replay.
///         Some(StatusCode::CONFLICT) => Verdict::Retry,
///         // The gateway says the request never reached the origin.
///         Some(StatusCode::MISDIRECTED_REQUEST) => Verdict::NotProcessed,
///         // This API's 503 is a maintenance window: no use retrying.
///         Some(StatusCode::SERVICE_UNAVAILABLE) => Verdict::Final,
///         Some(StatusCode::TOO_MANY_REQUESTS) if outcome.method() == Method::GET => {
///             Verdict::RetryAfter(Duration::from_secs(2))
///         }
///         _ => Verdict::Default,
///     }
/// }
/// # let _ = tower_http_retry::RetryPolicy::default().classify(classify);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Verdict {
    /// The built-in rules decide: the retry statuses, the error classes,
    /// the server's `Retry-After`.
    #[default]
    Default,
    /// Hand this outcome back to the caller now, whatever the built-in
    /// rules say.
    Final,
    /// Transient: retried if the request is safe to replay (an idempotent
    /// method or an `Idempotency-Key`; any method after an error proving the
    /// request never left the client). The wait is the server's
    /// `Retry-After` when the response has one, else the backoff's.
    Retry,
    /// As [`Retry`](Self::Retry), waiting exactly this long: never early,
    /// never jittered, whatever the response's headers say. A wait above
    /// `max_retry_after` hands the outcome back at once, as a `Retry-After`
    /// above it does.
    RetryAfter(Duration),
    /// The server did not process the request (a proxy's word that it
    /// never forwarded it, an API's "not started"): replayed whatever the
    /// method, a POST included. The wait is chosen as for
    /// [`Retry`](Self::Retry).
    NotProcessed,
}
