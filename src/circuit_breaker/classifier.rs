//! The pluggable rule deciding which outcomes count against a downstream.

use std::error::Error;

use http::StatusCode;

use crate::classify::is_failure_status;

/// Decides whether the outcome of a call is a failure, to be counted
/// against the downstream.
///
/// The outcome is the response's status, or the transport error (the inner
/// service's error, as a `dyn Error`). The default,
/// [`DefaultFailureClassifier`], counts every transport error and the
/// statuses 5xx, 408 and 429: the ones the retry layer treats as transient.
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

/// The default [`FailureClassifier`]: every transport error, and the
/// statuses 5xx, 408 (Request Timeout) and 429 (Too Many Requests). Every
/// other status, 404 included, is a success: the downstream answered.
///
/// ```
/// use http::StatusCode;
/// use tower_http_retry::circuit_breaker::{DefaultFailureClassifier, FailureClassifier};
///
/// let c = DefaultFailureClassifier;
/// assert!(c.is_failure(Ok(StatusCode::BAD_GATEWAY)));
/// assert!(c.is_failure(Ok(StatusCode::TOO_MANY_REQUESTS)));
/// assert!(!c.is_failure(Ok(StatusCode::NOT_FOUND)));
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert!(c.is_failure(Err(&refused)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultFailureClassifier;

impl FailureClassifier for DefaultFailureClassifier {
    fn is_failure(&self, outcome: Result<StatusCode, &(dyn Error + 'static)>) -> bool {
        match outcome {
            Ok(status) => is_failure_status(status),
            Err(_) => true,
        }
    }
}
