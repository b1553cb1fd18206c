//! Counters and gauges through the `metrics` facade (feature `metrics`).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `tower_http_retry_retries_total` | counter | `reason` (status code or error class) |
//! | `tower_http_retry_give_ups_total` | counter | `reason`, `why` |
//! | `tower_http_retry_circuit_state` | gauge: 0 closed, 1 half-open, 2 open | `breaker` (its name, or empty); `host` for a per-host breaker |
//! | `tower_http_retry_circuit_transitions_total` | counter | `breaker`, `host` (per host), `from`, `to` |
//! | `tower_http_retry_circuit_rejected_total` | counter: calls refused with `CircuitOpen` | `breaker`, `host` (per host) |
//! | `tower_http_retry_hedges_total` | counter: hedges started, or refused by the budget | `outcome` (`started`, `refused`) |
//! | `tower_http_retry_throttle_probability` | gauge: the adaptive throttle's rejection probability | `host` (per host, or empty) |
//!
//! `from` and `to` are `closed`, `open`, `half_open`, `forced_open` or
//! `forced_closed`, as in the breaker's `tracing` events. The gauge is set
//! when a breaker is made and at each transition; when a per-host breaker
//! is dropped from its bounded map, its gauge goes back to 0 (the next call
//! for that host starts closed). A per-host layer labels at most
//! `max_hosts` hosts at once, but a recorder keeps the series of hosts it
//! has seen: with many short-lived hosts, let the exporter expire idle
//! series.
//!
//! Install any `metrics` recorder (Prometheus exporter, …) to collect them;
//! without one they cost a relaxed atomic load.

use crate::retry::RetryReason;
use crate::CircuitState;

pub(crate) fn retry(reason: RetryReason) {
    metrics::counter!("tower_http_retry_retries_total", "reason" => reason.to_string())
        .increment(1);
}

pub(crate) fn give_up(reason: RetryReason, why: &'static str) {
    metrics::counter!(
        "tower_http_retry_give_ups_total",
        "reason" => reason.to_string(),
        "why" => why
    )
    .increment(1);
}

/// The labels of a breaker: its name, and its host when it is per host.
fn breaker_labels(name: Option<&str>, host: Option<&str>) -> Vec<metrics::Label> {
    let mut labels = vec![metrics::Label::new(
        "breaker",
        name.unwrap_or("").to_owned(),
    )];
    if let Some(host) = host {
        labels.push(metrics::Label::new("host", host.to_owned()));
    }
    labels
}

pub(crate) fn circuit_state(name: Option<&str>, host: Option<&str>, state: CircuitState) {
    let value = match state {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    };
    metrics::gauge!("tower_http_retry_circuit_state", breaker_labels(name, host)).set(value);
}

pub(crate) fn circuit_transition(
    name: Option<&str>,
    host: Option<&str>,
    from: &'static str,
    to: &'static str,
) {
    let mut labels = breaker_labels(name, host);
    labels.push(metrics::Label::from_static_parts("from", from));
    labels.push(metrics::Label::from_static_parts("to", to));
    metrics::counter!("tower_http_retry_circuit_transitions_total", labels).increment(1);
}

pub(crate) fn circuit_rejected(name: Option<&str>, host: Option<&str>) {
    metrics::counter!(
        "tower_http_retry_circuit_rejected_total",
        breaker_labels(name, host)
    )
    .increment(1);
}

/// A hedge started, or refused by the budget (`outcome`).
pub(crate) fn hedge(outcome: &'static str) {
    metrics::counter!("tower_http_retry_hedges_total", "outcome" => outcome).increment(1);
}

/// The adaptive throttle's rejection probability, per host or not.
pub(crate) fn throttle_probability(host: Option<&str>, p: f64) {
    metrics::gauge!(
        "tower_http_retry_throttle_probability",
        "host" => host.unwrap_or("").to_owned()
    )
    .set(p);
}
