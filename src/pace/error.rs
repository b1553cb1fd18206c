//! [`QuotaExhausted`]: a request refused because its host's quota is spent
//! for longer than the pacing cap.

use std::fmt;
use std::time::Duration;

/// The error of a request that [`RateLimitPaceLayer`](crate::pace::RateLimitPaceLayer)
/// did not send: its host said its quota is spent for longer than the cap.
/// Downcast it from the `BoxError`; [`RetryLayer`](crate::RetryLayer) never
/// retries it ([`ErrorClass::Fatal`](crate::ErrorClass::Fatal)).
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::ErrorClass;
/// use tower_http_retry::pace::QuotaExhausted;
///
/// let err: tower::BoxError =
///     Box::new(QuotaExhausted::new("https://api.example.com:443", Duration::from_secs(90), Duration::from_secs(60)));
/// assert_eq!(err.to_string(), "rate limit of https://api.example.com:443 spent for 90s, above the pacing cap of 60s");
/// assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExhausted {
    host: Box<str>,
    wait: Duration,
    max_wait: Duration,
}

impl QuotaExhausted {
    /// The error for `host`, whose quota resets after `wait`, above `max_wait`.
    pub fn new(host: impl Into<Box<str>>, wait: Duration, max_wait: Duration) -> Self {
        QuotaExhausted {
            host: host.into(),
            wait,
            max_wait,
        }
    }

    /// The host, as `scheme://host:port`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let e = tower_http_retry::pace::QuotaExhausted::new("http://a:80", Duration::from_secs(2), Duration::from_secs(1));
    /// assert_eq!(e.host(), "http://a:80");
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How long until the host's quota resets.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let e = tower_http_retry::pace::QuotaExhausted::new("http://a:80", Duration::from_secs(2), Duration::from_secs(1));
    /// assert_eq!(e.wait(), Duration::from_secs(2));
    /// ```
    pub fn wait(&self) -> Duration {
        self.wait
    }
}

impl fmt::Display for QuotaExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limit of {} spent for {:?}, above the pacing cap of {:?}",
            self.host, self.wait, self.max_wait
        )
    }
}

impl std::error::Error for QuotaExhausted {}
