//! The pluggable rules deciding which outcomes count against a downstream:
//! a yes/no [`FailureClassifier`], and the retry layer's own rule (a
//! [`Classifier`](crate::retry::Classifier) giving a [`Verdict`]), read as
//! [`Recorded`] says.

use std::error::Error;

use http::StatusCode;

use crate::classify::{Verdict, DEFAULT_RETRY_STATUSES};

/// Decides whether the outcome of a call is a failure, to be counted
/// against the downstream.
///
/// The outcome is the response's status, or the transport error (the inner
/// service's error, as a `dyn Error`). The default,
/// [`DefaultFailureClassifier`], counts exactly what the crate's one
/// classification calls transient: the statuses retried by default (408,
/// 429, 500, 502, 503, 504) and every error it is shown.
///
/// The breaker shows it no error that [`ErrorClass::of`](crate::ErrorClass::of)
/// classes [`Fatal`](crate::ErrorClass::Fatal) (a malformed request that
/// never reached the server, a [`CircuitOpen`](crate::CircuitOpen) from a
/// breaker beneath): such an outcome says nothing of the downstream, and
/// counts as neither a failure nor a success (a probe's permit goes back).
///
/// To give the breaker the same rule as the retry layer (an
/// [`Outcome`](crate::retry::Outcome) in, a [`Verdict`] out), use
/// [`CircuitBreakerConfig::classify`](crate::CircuitBreakerConfig::classify):
/// where that rule says [`Verdict::Default`], this classifier decides.
///
/// Closures implement it:
///
/// ```
/// use std::error::Error;
/// use http::StatusCode;
/// use tower_http_retry::CircuitBreakerConfig;
///
/// // Only 503s and transport errors count; a 500 is the caller's problem.
/// let config = CircuitBreakerConfig::default().classifier(
///     |outcome: Result<StatusCode, &(dyn Error + 'static)>| match outcome {
///         Ok(status) => status == StatusCode::SERVICE_UNAVAILABLE,
///         Err(_) => true,
///     },
/// );
/// ```
pub trait FailureClassifier: Send + Sync + 'static {
    /// Whether this outcome is a failure.
    fn is_failure(&self, outcome: Result<StatusCode, &(dyn Error + 'static)>) -> bool;
}

impl<F> FailureClassifier for F
where
    F: Fn(Result<StatusCode, &(dyn Error + 'static)>) -> bool + Send + Sync + 'static,
{
    fn is_failure(&self, outcome: Result<StatusCode, &(dyn Error + 'static)>) -> bool {
        self(outcome)
    }
}

/// The default [`FailureClassifier`]: every transport error it is shown
/// (the breaker shows it none classed
/// [`Fatal`](crate::ErrorClass::Fatal)), and the statuses the retry layer
/// retries by default: 408 (Request Timeout), 429 (Too Many Requests), 500,
/// 502, 503 and 504. Every other status is a success, the downstream
/// answered: 404, and 501 (Not Implemented, the same answer every time)
/// or 505 too.
///
/// ```
/// use http::StatusCode;
/// use tower_http_retry::circuit_breaker::{DefaultFailureClassifier, FailureClassifier};
///
/// let c = DefaultFailureClassifier;
/// assert!(c.is_failure(Ok(StatusCode::BAD_GATEWAY)));
/// assert!(c.is_failure(Ok(StatusCode::TOO_MANY_REQUESTS)));
/// assert!(!c.is_failure(Ok(StatusCode::NOT_FOUND)));
/// assert!(!c.is_failure(Ok(StatusCode::NOT_IMPLEMENTED)));
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert!(c.is_failure(Err(&refused)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultFailureClassifier;

impl FailureClassifier for DefaultFailureClassifier {
    fn is_failure(&self, outcome: Result<StatusCode, &(dyn Error + 'static)>) -> bool {
        match outcome {
            Ok(status) => DEFAULT_RETRY_STATUSES.contains(&status),
            Err(_) => true,
        }
    }
}

/// What the breaker records for a call, from the [`Verdict`] of a rule set
/// with [`CircuitBreakerConfig::classify`](crate::CircuitBreakerConfig::classify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// A failure: the outcome is transient, the retry layer would retry it.
    Failure,
    /// A success: the downstream answered, and its answer stands.
    Success,
    /// Nothing (a probe's permit goes back): an error retrying cannot help
    /// says nothing of the downstream's health.
    Nothing,
}

impl Recorded {
    /// What `verdict`, on a response or (`is_error`) an error, records;
    /// `None` for [`Verdict::Default`]: the [`FailureClassifier`] decides.
    pub(crate) fn of(verdict: Verdict, is_error: bool) -> Option<Recorded> {
        match verdict {
            Verdict::Default => None,
            // "Transient" for the retry layer is "a failure" for the
            // breaker: one vocabulary, one meaning.
            Verdict::Retry | Verdict::RetryAfter(_) | Verdict::NotProcessed => {
                Some(Recorded::Failure)
            }
            // As the built-in rules treat an error classed `Fatal`.
            Verdict::Final if is_error => Some(Recorded::Nothing),
            Verdict::Final => Some(Recorded::Success),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Recorded, Verdict};

    #[test]
    fn verdicts_map_to_what_is_recorded() {
        for is_error in [false, true] {
            assert_eq!(Recorded::of(Verdict::Default, is_error), None);
            for transient in [
                Verdict::Retry,
                Verdict::RetryAfter(Duration::from_secs(1)),
                Verdict::NotProcessed,
            ] {
                assert_eq!(Recorded::of(transient, is_error), Some(Recorded::Failure));
            }
        }
        assert_eq!(Recorded::of(Verdict::Final, false), Some(Recorded::Success));
        assert_eq!(Recorded::of(Verdict::Final, true), Some(Recorded::Nothing));
    }
}
