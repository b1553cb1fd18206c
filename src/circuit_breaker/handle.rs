use http::Uri;

use super::per_host::Breakers;
use super::vocabulary::{BreakerMode, CircuitState, StateChangeReason, Totals};

/// A handle on a circuit breaker, for operators: its state, a snapshot of
/// its window, and manual control. Cloning it is cheap; every clone sees
/// the same breaker.
///
/// On a [per-host](crate::CircuitBreakerLayer::per_host) layer it sees
/// every host's breaker: [`state_for`](Self::state_for) and
/// [`metrics_for`](Self::metrics_for) report one host,
/// [`hosts`](Self::hosts) lists them all, [`state`](Self::state) and
/// [`metrics`](Self::metrics) sum them up, and the manual controls apply to
/// every host, those met later included.
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
    breakers: Breakers,
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
    pub(crate) fn new(breakers: Breakers) -> Self {
        CircuitBreakerHandle { breakers }
    }

    /// The breaker's state. An open breaker stays `Open` after its open
    /// duration until a call arrives and becomes the first probe.
    ///
    /// Per host, the most severe state of any host: `Open` if one is open,
    /// else `HalfOpen` if one is half-open, else `Closed`.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// ```
    pub fn state(&self) -> CircuitState {
        match &self.breakers {
            Breakers::One(breaker) => breaker.state(),
            Breakers::PerHost(map) => map
                .breakers()
                .iter()
                .map(|b| b.state())
                .max_by_key(|s| severity(*s))
                .unwrap_or(CircuitState::Closed),
        }
    }

    /// The state of the breaker a call to `uri` would go through: per host,
    /// that of `uri`'s authority (`Closed` when it has no breaker yet);
    /// otherwise the one breaker's. Asking is not a use: it neither makes a
    /// breaker nor keeps one from being dropped.
    ///
    /// ```
    /// use http::Uri;
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    ///
    /// let handle = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default()).handle();
    /// let uri = Uri::from_static("http://inventory.internal:8080/items");
    /// assert_eq!(handle.state_for(&uri), CircuitState::Closed);
    /// ```
    pub fn state_for(&self, uri: &Uri) -> CircuitState {
        match &self.breakers {
            Breakers::One(breaker) => breaker.state(),
            Breakers::PerHost(map) => map.get(uri).map_or(CircuitState::Closed, |b| b.state()),
        }
    }

    /// Per host, each host that has a breaker, as `scheme://host:port` (the
    /// port defaulted from the scheme; empty for the breaker of requests
    /// without an authority), with its state, sorted by host. Empty for a
    /// single breaker.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// use tower::{service_fn, Layer, ServiceExt};
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default());
    /// let handle = layer.handle();
    /// let svc = layer.layer(service_fn(|_: Request<()>| async {
    ///     Ok::<_, Infallible>(Response::new(()))
    /// }));
    /// let req = Request::get("http://Example.com/").body(()).unwrap();
    /// svc.oneshot(req).await.unwrap();
    /// assert_eq!(
    ///     handle.hosts(),
    ///     [("http://example.com:80".to_string(), CircuitState::Closed)]
    /// );
    /// # }
    /// ```
    pub fn hosts(&self) -> Vec<(String, CircuitState)> {
        let Breakers::PerHost(map) = &self.breakers else {
            return Vec::new();
        };
        let mut hosts: Vec<(String, CircuitState)> = map
            .breakers()
            .iter()
            .map(|b| {
                let host = b.host().map_or_else(String::new, |h| h.to_string());
                (host, b.state())
            })
            .collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        hosts
    }

    /// Per host, how many breakers the map holds now (never more than
    /// [`max_hosts`](crate::CircuitBreakerConfig::max_hosts)); 0 for a
    /// single breaker.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let handle = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.host_count(), 0);
    /// ```
    pub fn host_count(&self) -> usize {
        match &self.breakers {
            Breakers::One(_) => 0,
            Breakers::PerHost(map) => map.len(),
        }
    }

    /// A snapshot of the window: the calls it holds, and its failure and
    /// slow-call rates. The window is emptied each time the breaker
    /// closes; while open, it still shows the calls that opened it.
    ///
    /// Per host, the sums over every host's window (see
    /// [`metrics_for`](Self::metrics_for) for one host).
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.metrics().calls, 0);
    /// ```
    pub fn metrics(&self) -> CircuitMetrics {
        let totals = match &self.breakers {
            Breakers::One(breaker) => breaker.totals(breaker.now()),
            Breakers::PerHost(map) => map.breakers().iter().fold(Totals::default(), |sum, b| {
                let t = b.totals(b.now());
                Totals {
                    calls: sum.calls + t.calls,
                    failures: sum.failures + t.failures,
                    slow: sum.slow + t.slow,
                }
            }),
        };
        snapshot(totals)
    }

    /// A snapshot of the window of the breaker a call to `uri` would go
    /// through (empty when its host has no breaker yet); the same as
    /// [`metrics`](Self::metrics) for a single breaker.
    ///
    /// ```
    /// use http::Uri;
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
    /// let handle = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default()).handle();
    /// assert_eq!(handle.metrics_for(&Uri::from_static("http://a.example/")).calls, 0);
    /// ```
    pub fn metrics_for(&self, uri: &Uri) -> CircuitMetrics {
        let breaker = match &self.breakers {
            Breakers::One(breaker) => Some(breaker.clone()),
            Breakers::PerHost(map) => map.get(uri),
        };
        snapshot(breaker.map_or_else(Totals::default, |b| b.totals(b.now())))
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
        match &self.breakers {
            Breakers::One(breaker) => breaker.is_forced(),
            Breakers::PerHost(map) => map.forced().is_some(),
        }
    }

    /// Holds the breaker open: every call fails fast with
    /// [`CircuitOpen`](crate::CircuitOpen) and no probe goes through, until
    /// [`reset`](Self::reset) or [`force_closed`](Self::force_closed). Per
    /// host, every host, those met later included.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_open();
    /// assert_eq!(handle.state(), CircuitState::Open);
    /// ```
    pub fn force_open(&self) {
        self.force(Some(BreakerMode::ForcedOpen), StateChangeReason::ForcedOpen);
    }

    /// Holds the breaker closed: every call goes through and is recorded
    /// in the window, but no rule opens it, until [`reset`](Self::reset) or
    /// [`force_open`](Self::force_open). The window starts empty. Per host,
    /// every host, those met later included.
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_closed();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// assert!(handle.is_forced());
    /// ```
    pub fn force_closed(&self) {
        self.force(
            Some(BreakerMode::ForcedClosed),
            StateChangeReason::ForcedClosed,
        );
    }

    /// Closes the breaker, empties its window, and gives control back to
    /// its rules. Calls in flight from before are not recorded. Per host,
    /// every host's breaker (they stay in the map).
    ///
    /// ```
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
    /// let handle = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).handle();
    /// handle.force_open();
    /// handle.reset();
    /// assert_eq!(handle.state(), CircuitState::Closed);
    /// ```
    pub fn reset(&self) {
        self.force(None, StateChangeReason::Reset);
    }

    /// To `mode`, or back to the rules (closed) for `None`.
    fn force(&self, mode: Option<BreakerMode>, why: StateChangeReason) {
        let to = mode.unwrap_or(BreakerMode::Closed);
        match &self.breakers {
            Breakers::One(breaker) => breaker.force(to, why, breaker.now()),
            Breakers::PerHost(map) => {
                // Each breaker tells its change outside the map's lock.
                for breaker in map.set_forced(mode) {
                    breaker.force(to, why, breaker.now());
                }
            }
        }
    }
}

/// How bad a state is, for the most severe of many.
fn severity(state: CircuitState) -> u8 {
    match state {
        CircuitState::Closed => 0,
        CircuitState::HalfOpen => 1,
        CircuitState::Open => 2,
    }
}

fn snapshot(totals: Totals) -> CircuitMetrics {
    CircuitMetrics {
        calls: totals.calls,
        failures: totals.failures,
        slow_calls: totals.slow,
        failure_rate: totals.failure_rate(),
        slow_call_rate: totals.slow_call_rate(),
    }
}
