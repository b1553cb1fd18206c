//! [`Throttled`]: the error of a request rejected locally.

use std::fmt;
use std::sync::Arc;

/// The error of a request that
/// [`AdaptiveThrottleLayer`](crate::AdaptiveThrottleLayer) rejected
/// locally: the inner service was not called.
///
/// It names the host and the probability with which requests to it were
/// being rejected. [`RetryLayer`](crate::RetryLayer) never retries it
/// (it is [`ErrorClass::Fatal`](crate::ErrorClass::Fatal)): a retry would
/// be one more request the server is expected to refuse.
///
/// ```
/// use tower_http_retry::{ErrorClass, Throttled};
///
/// let err: tower::BoxError = Box::new(Throttled::new(Some("api.example.com"), 0.25));
/// let throttled = err.downcast_ref::<Throttled>().expect("a Throttled");
/// assert_eq!(throttled.host(), Some("api.example.com"));
/// assert_eq!(throttled.probability(), 0.25);
/// assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
/// assert_eq!(
///     err.to_string(),
///     "request throttled locally: 25% of requests to api.example.com are rejected while the server sheds load"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Throttled {
    host: Option<Arc<str>>,
    probability: f64,
}

impl Throttled {
    /// An error for `host` at `probability` (for tests of code that
    /// handles it).
    pub fn new(host: Option<&str>, probability: f64) -> Self {
        Throttled {
            host: host.map(Arc::from),
            probability,
        }
    }

    pub(crate) fn with_host(host: Option<Arc<str>>, probability: f64) -> Self {
        Throttled { host, probability }
    }

    /// The host: `scheme://host:port` of a per-host throttle, or the host
    /// of the request's URI for a shared one; `None` without one.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The probability with which requests were being rejected when this
    /// one was, in (0, 1).
    pub fn probability(&self) -> f64 {
        self.probability
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request throttled locally: {:.0}% of requests",
            self.probability * 100.0
        )?;
        if let Some(host) = &self.host {
            write!(f, " to {host}")?;
        }
        f.write_str(" are rejected while the server sheds load")
    }
}

impl std::error::Error for Throttled {}
