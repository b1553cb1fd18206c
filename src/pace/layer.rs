//! [`RateLimitPaceLayer`].

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::hosts::PacedHosts;
use super::RateLimitPace;

/// Paces requests to a host whose quota is spent, instead of spending a
/// request to earn a 429. See the [module docs](crate::pace).
///
/// | setting | default |
/// |---|---|
/// | [`max_wait`](Self::max_wait) | 60 s (as `RetryPolicy::max_retry_after`) |
/// | [`max_hosts`](Self::max_hosts) | 1,024 |
///
/// Every service the layer makes (and their clones) shares one map of
/// paced hosts.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::pace::RateLimitPaceLayer;
///
/// let layer = RateLimitPaceLayer::new()
///     .max_wait(Duration::from_secs(10))
///     .max_hosts(256);
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitPaceLayer {
    hosts: Arc<PacedHosts>,
    max_wait: Duration,
}

impl Default for RateLimitPaceLayer {
    fn default() -> Self {
        RateLimitPaceLayer {
            hosts: Arc::new(PacedHosts::new(1024)),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RateLimitPaceLayer {
    /// A layer with the defaults.
    ///
    /// ```
    /// let layer = tower_http_retry::pace::RateLimitPaceLayer::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest a request is held back: to a host whose quota resets
    /// later than this, a request fails at once with
    /// [`QuotaExhausted`](crate::pace::QuotaExhausted). Default: 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::pace::RateLimitPaceLayer::new().max_wait(Duration::from_secs(5));
    /// ```
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The paced hosts kept at most; past it, the least recently used is
    /// dropped (its next request is sent, and its answer paces it again).
    /// Default: 1,024.
    ///
    /// # Panics
    ///
    /// If `max_hosts` is 0.
    ///
    /// ```
    /// let layer = tower_http_retry::pace::RateLimitPaceLayer::new().max_hosts(16);
    /// ```
    pub fn max_hosts(mut self, max_hosts: usize) -> Self {
        assert!(
            max_hosts >= 1,
            "RateLimitPaceLayer::max_hosts: `max_hosts` must be at least 1, got {max_hosts}"
        );
        self.hosts = Arc::new(PacedHosts::new(max_hosts));
        self
    }
}

impl<S> Layer<S> for RateLimitPaceLayer {
    type Service = RateLimitPace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitPace::new(inner, self.hosts.clone(), self.max_wait)
    }
}
