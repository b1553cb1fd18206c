//! What a breaker tells the world when it changes state: a `tracing`
//! event, the [`on_state_change`](crate::CircuitBreakerConfig::on_state_change)
//! callback, and (feature `metrics`) a gauge and counters. All of it runs
//! after the breaker's transition lock (and the per-host map's lock) is
//! released.

use std::sync::Arc;
use std::time::Duration;

use super::config::CircuitBreakerConfig;
use super::state::{CircuitState, Kind, Why};

/// A change of state of a circuit breaker, as the
/// [`on_state_change`](crate::CircuitBreakerConfig::on_state_change)
/// callback is told it. It carries what the `tracing` event carries.
///
/// An operator's [`reset`](crate::CircuitBreakerHandle::reset) or
/// [`force_open`](crate::CircuitBreakerHandle::force_open) is a change too,
/// even when `from` and `to` are the same public state.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tower_http_retry::circuit_breaker::StateChange;
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default().name("search").on_state_change(
///     move |change: &StateChange<'_>| {
///         log.lock().unwrap().push((change.from, change.to, change.why, change.forced));
///     },
/// ));
/// layer.handle().force_open();
/// assert_eq!(
///     *seen.lock().unwrap(),
///     [(CircuitState::Closed, CircuitState::Open, "forced_open", true)]
/// );
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StateChange<'a> {
    /// The breaker's [name](crate::CircuitBreakerConfig::name), if it has
    /// one.
    pub name: Option<&'a str>,
    /// The downstream of a [per-host](crate::CircuitBreakerLayer::per_host)
    /// breaker, as `scheme://host:port` (empty for the breaker shared by
    /// requests without an authority); `None` for a single breaker.
    pub host: Option<&'a str>,
    /// The state before.
    pub from: CircuitState,
    /// The state after.
    pub to: CircuitState,
    /// Whether an operator holds the new state
    /// ([`force_open`](crate::CircuitBreakerHandle::force_open),
    /// [`force_closed`](crate::CircuitBreakerHandle::force_closed)).
    pub forced: bool,
    /// Why: `failure_rate`, `slow_call_rate`, `consecutive_failures`,
    /// `open_duration_elapsed`, `probe_failed`, `probe_timed_out`,
    /// `probes_succeeded`,
    /// `forced_open`, `forced_closed` or `reset` (the `why` of the
    /// `tracing` event).
    pub why: &'static str,
    /// The rate that opened the breaker, for the rate rules
    /// (`failure_rate`, `slow_call_rate`).
    pub rate: Option<f64>,
    /// How long the breaker stays open, when a rule opened it.
    pub open_for: Option<Duration>,
}

/// The target of the `tracing` events: the module that emitted them
/// before they moved here, kept for the filters written against it.
const TARGET: &str = "tower_http_retry::circuit_breaker::state";

/// The callback stored in the configuration.
pub(crate) type StateChangeHook = Arc<dyn Fn(&StateChange<'_>) + Send + Sync>;

/// A transition made, to be told.
#[derive(Debug, Clone, Copy)]
pub(super) struct Transition {
    pub(super) from: Kind,
    pub(super) to: Kind,
    pub(super) why: Why,
    /// How long it stays open, when it opened by a rule.
    pub(super) open_for: Option<Duration>,
}

/// Tells a transition of the breaker of `host` (`None` for a single
/// breaker): `tracing`, the callback, metrics. Called outside any lock.
pub(super) fn transition(config: &CircuitBreakerConfig, host: Option<&str>, t: Transition) {
    let breaker = config.name.as_deref().unwrap_or("");
    let (from, to) = (t.from.as_str(), t.to.as_str());
    let (rate, why) = (t.why.rate(), t.why.as_str());
    let open_ms = t
        .open_for
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if let Kind::Open | Kind::ForcedOpen = t.to {
        tracing::warn!(
            target: TARGET,
            breaker,
            host,
            from,
            to,
            why,
            rate,
            open_ms,
            "circuit breaker opened"
        );
    } else {
        tracing::info!(
            target: TARGET,
            breaker,
            host,
            from,
            to,
            why,
            "circuit breaker state changed"
        );
    }
    #[cfg(feature = "metrics")]
    {
        crate::metrics::circuit_transition(config.name.as_deref(), host, from, to);
        crate::metrics::circuit_state(config.name.as_deref(), host, t.to.public());
    }
    if let Some(hook) = &config.on_state_change {
        hook(&StateChange {
            name: config.name.as_deref(),
            host,
            from: t.from.public(),
            to: t.to.public(),
            forced: matches!(t.to, Kind::ForcedOpen | Kind::ForcedClosed),
            why,
            rate,
            open_for: t.open_for,
        });
    }
}

/// Tells that a breaker was made in `state` (feature `metrics`: sets its
/// gauge).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(super) fn created(config: &CircuitBreakerConfig, host: Option<&str>, state: CircuitState) {
    #[cfg(feature = "metrics")]
    crate::metrics::circuit_state(config.name.as_deref(), host, state);
}

/// Tells that a call was refused with `CircuitOpen` (feature `metrics`:
/// counts it).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(super) fn rejected(config: &CircuitBreakerConfig, host: Option<&str>) {
    #[cfg(feature = "metrics")]
    crate::metrics::circuit_rejected(config.name.as_deref(), host);
}

/// Tells that a per-host breaker was dropped from the map (feature
/// `metrics`: its gauge goes back to closed, the state the next call for
/// that host starts in).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(super) fn evicted(config: &CircuitBreakerConfig, host: &str) {
    #[cfg(feature = "metrics")]
    crate::metrics::circuit_state(config.name.as_deref(), Some(host), CircuitState::Closed);
}
