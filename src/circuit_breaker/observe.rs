//! What a breaker tells the world when it changes state: a `tracing`
//! event, the [`on_state_change`](crate::CircuitBreakerConfig::on_state_change)
//! callback, and (feature `metrics`) a gauge and counters. All of it runs
//! after the breaker's transition lock (and the per-host map's lock) is
//! released.

use std::time::Duration;

use super::config::CircuitBreakerConfig;
use super::vocabulary::{BreakerMode, CircuitState, StateChange, StateChangeReason};

/// The target of the `tracing` events: the module that emitted them
/// before they moved here, kept for the filters written against it.
const TARGET: &str = "tower_http_retry::circuit_breaker::state";

/// A transition made, to be told.
#[derive(Debug, Clone, Copy)]
pub(super) struct Transition {
    pub(super) from: BreakerMode,
    pub(super) to: BreakerMode,
    pub(super) why: StateChangeReason,
    /// The rate that tripped the breaker, for the rate rules.
    pub(super) rate: Option<f64>,
    /// How long it stays open, when it opened by a rule.
    pub(super) open_for: Option<Duration>,
}

/// Tells a transition of the breaker of `host` (`None` for a single
/// breaker): `tracing`, the callback, metrics. Called outside any lock.
pub(super) fn transition(config: &CircuitBreakerConfig, host: Option<&str>, t: Transition) {
    let breaker = config.name.as_deref().unwrap_or("");
    let (from, to) = (t.from.as_str(), t.to.as_str());
    let (rate, why) = (t.rate, t.why.as_str());
    let open_ms = t
        .open_for
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if let BreakerMode::Open | BreakerMode::ForcedOpen = t.to {
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
            forced: t.to.is_forced(),
            why: t.why,
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
