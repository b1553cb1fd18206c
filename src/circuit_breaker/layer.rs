use std::sync::Arc;

use tower_layer::Layer;

use super::state::Breaker;
use super::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle};

/// Wraps services in a [`CircuitBreaker`]; every service it makes, and
/// every clone of them, shares one breaker.
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
    breaker: Arc<Breaker>,
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
            breaker: Breaker::new(config),
        }
    }

    /// A handle on the breaker: its state, its window, manual control.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
    /// assert_eq!(layer.handle().state(), CircuitState::Closed);
    /// ```
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.breaker.clone())
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::shared(inner, self.breaker.clone())
    }
}
