use std::sync::Arc;

use super::state::{Breaker, CircuitState, Kind, Why};

/// A handle on a circuit breaker, for operators: its state, a snapshot of
/// its window, and manual control. Cloning it is cheap; every clone sees
/// the same breaker.
///
/// ```
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
///
/// let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
/// let handle = layer.handle();
///
/// handle.force_open(); // e.g. while the downstream is being deployed
/// assert_eq!(handle.state(), CircuitState::Open);
/// assert!(handle.is_forced());
/// handle.reset(); // closed, window emptied, automatic again
/// assert_eq!(handle.state(), CircuitState::Closed);
/// assert!(!handle.is_forced());
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerHandle {
    breaker: Arc<Breaker>,
}

/// A snapshot of a breaker's window: see [`CircuitBreakerHandle::metrics`].
///
/// ```
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
///
/// let metrics = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle().metrics();
/// assert_eq!(metrics.calls, 0);
/// assert_eq!(metrics.failure_rate, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CircuitMetrics {
    /// The calls in the window.
    pub calls: u64,
    /// The failed calls in the window.
    pub failures: u64,
    /// The slow calls in the window (always 0 unless slow-call detection
    /// is on).
    pub slow_calls: u64,
    /// `failures / calls`, or 0 when the window is empty.
    pub failure_rate: f64,
    /// `slow_calls / calls`, or 0 when the window is empty.
    pub slow_call_rate: f64,
}

impl CircuitBreakerHandle {
    pub(crate) fn new(breaker: Arc<Breaker>) -> Self {
        CircuitBreakerHandle { breaker }
    }

    /// The breaker's state. An open breaker stays `Open` after its open
    /// duration until a call arrives and becomes the first probe.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// ```
    pub fn state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// A snapshot of the window: the calls it holds, and its failure and
    /// slow-call rates. The window is emptied each time the breaker
    /// closes; while open, it still shows the calls that opened it.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.metrics().calls, 0);
    /// ```
    pub fn metrics(&self) -> CircuitMetrics {
        let totals = self.breaker.totals(self.breaker.now());
        CircuitMetrics {
            calls: totals.calls,
            failures: totals.failures,
            slow_calls: totals.slow,
            failure_rate: totals.failure_rate(),
            slow_call_rate: totals.slow_call_rate(),
        }
    }

    /// Whether an operator holds the breaker open or closed
    /// ([`force_open`](Self::force_open), [`force_closed`](Self::force_closed)).
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// assert!(!handle.is_forced());
    /// ```
    pub fn is_forced(&self) -> bool {
        self.breaker.is_forced()
    }

    /// Holds the breaker open: every call fails fast with
    /// [`CircuitOpen`](crate::CircuitOpen) and no probe goes through, until
    /// [`reset`](Self::reset) or [`force_closed`](Self::force_closed).
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_open();
    /// assert_eq!(handle.state(), CircuitState::Open);
    /// ```
    pub fn force_open(&self) {
        self.breaker
            .force(Kind::ForcedOpen, Why::ForcedOpen, self.breaker.now());
    }

    /// Holds the breaker closed: every call goes through and is recorded
    /// in the window, but no rule opens it, until [`reset`](Self::reset) or
    /// [`force_open`](Self::force_open). The window starts empty.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_closed();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// assert!(handle.is_forced());
    /// ```
    pub fn force_closed(&self) {
        self.breaker
            .force(Kind::ForcedClosed, Why::ForcedClosed, self.breaker.now());
    }

    /// Closes the breaker, empties its window, and gives control back to
    /// its rules. Calls in flight from before are not recorded.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_open();
    /// handle.reset();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// ```
    pub fn reset(&self) {
        self.breaker
            .force(Kind::Closed, Why::Reset, self.breaker.now());
    }
}
