use tower_layer::Layer;

use super::per_host::{Breakers, HostMap};
use super::state::Breaker;
use super::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle};

/// Wraps services in a [`CircuitBreaker`]; every service it makes, and
/// every clone of them, shares one breaker, or
/// [one breaker per host](Self::per_host).
///
/// Put it beneath [`RetryLayer`](crate::RetryLayer), so that it counts
/// every attempt and its [`CircuitOpen`](crate::CircuitOpen) ends the
/// retries at once. The [module docs](crate::circuit_breaker) describe the
/// behaviour.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
///
/// let breaker = CircuitBreakerLayer::new(
///     CircuitBreakerConfig::default()
///         .failure_rate_threshold(0.5)
///         .minimum_calls(10)
///         .consecutive_failures(5)
///         .open_duration(Duration::from_secs(30))
///         .half_open_calls(3),
/// );
/// let handle = breaker.handle();
/// assert_eq!(handle.state(), CircuitState::Closed);
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breakers: Breakers,
}

impl CircuitBreakerLayer {
    /// A layer whose services share one breaker configured by `config`.
    ///
    /// # Panics
    ///
    /// If the settings of `config` are inconsistent: `minimum_calls` above
    /// a count-based `window_size`, or `max_open_duration` below
    /// `open_duration`. The message names the parameters and their values.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
    /// ```
    pub fn new(config: CircuitBreakerConfig) -> Self {
        CircuitBreakerLayer {
            breakers: Breakers::One(Breaker::new(config)),
        }
    }

    /// A layer whose services keep one breaker per URI authority: scheme,
    /// host and port of the request's URI, the port defaulted from the
    /// scheme (`http://a` and `http://a:80` share a breaker; host names
    /// compare without regard to case, IP literals by address, so
    /// `[::1]` and `[0:0:0:0:0:0:0:1]` share one). Each breaker is configured by
    /// `config` and counts only the calls to its host, so one sick host
    /// never opens another's breaker. Requests without an authority (a URI
    /// that is only a path) share one breaker of their own.
    ///
    /// A host's breaker is made at its first call. At most
    /// [`max_hosts`](CircuitBreakerConfig::max_hosts) breakers are kept
    /// (1,024 by default): making one more drops the least recently used
    /// closed breaker, or the least recently used of all when none is
    /// closed (an open breaker remembers that its host is sick). The next
    /// call to a dropped host starts with a new, closed breaker.
    ///
    /// A call for a known host takes a shared (read) lock on the map and
    /// allocates nothing; a new host takes the exclusive lock. `poll_ready`
    /// can't know the host of the next call, so it always polls the inner
    /// service; `call` refuses with [`CircuitOpen`](crate::CircuitOpen) (whose
    /// [`host`](crate::CircuitOpen::host) names the host) when that host's
    /// breaker is open.
    ///
    /// The [handle](Self::handle) reports the state of each host.
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new), if the settings of `config` are inconsistent.
    ///
    /// ```
    /// use http::Uri;
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    ///
    /// let layer = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default().max_hosts(256));
    /// let handle = layer.handle();
    /// let uri = Uri::from_static("https://api.example.com/v1/items");
    /// assert_eq!(handle.state_for(&uri), CircuitState::Closed);
    /// assert_eq!(handle.host_count(), 0); // no call made yet
    /// ```
    pub fn per_host(config: CircuitBreakerConfig) -> Self {
        CircuitBreakerLayer {
            breakers: Breakers::PerHost(HostMap::new(config)),
        }
    }

    /// A handle on the breaker (or the per-host breakers): state, window,
    /// manual control.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
    /// assert_eq!(layer.handle().state(), CircuitState::Closed);
    /// ```
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.breakers.clone())
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::shared(inner, self.breakers.clone())
    }
}
