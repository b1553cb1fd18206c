//! The words every part of the breaker speaks: its states, why it changes
//! state, what a call's outcome is and what a window holds. A leaf: it
//! imports nothing else of the crate, so the state machine, the windows,
//! the settings and the observers can all use it without importing one
//! another.

use std::fmt;
use std::time::Duration;

/// The state of a circuit breaker, as a [handle](crate::circuit_breaker::CircuitBreakerHandle)
/// reports it.
///
/// ```
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
///
/// let breaker = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
/// assert_eq!(breaker.handle().state(), CircuitState::Closed);
/// assert_eq!(CircuitState::HalfOpen.to_string(), "half_open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls go through, and their outcomes are recorded.
    Closed,
    /// Calls fail fast with [`CircuitOpen`](crate::CircuitOpen); the inner
    /// service is not called.
    Open,
    /// A few probes go through; every other call fails fast.
    HalfOpen,
}

impl CircuitState {
    /// A short, stable name for logs and metrics: `closed`, `open`,
    /// `half_open`.
    ///
    /// ```
    /// assert_eq!(tower_http_retry::CircuitState::Open.as_str(), "open");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a circuit breaker changed state: the `why` of its `tracing` event
/// and of [`StateChange`].
///
/// ```
/// use tower_http_retry::circuit_breaker::StateChangeReason;
///
/// assert_eq!(StateChangeReason::ProbeFailed.as_str(), "probe_failed");
/// assert_eq!(StateChangeReason::FailureRate.to_string(), "failure_rate");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateChangeReason {
    /// The failure rate of the window reached its threshold.
    FailureRate,
    /// The slow-call rate of the window reached its threshold.
    SlowCallRate,
    /// [`consecutive_failures`](crate::CircuitBreakerConfig::consecutive_failures)
    /// calls failed in a row.
    ConsecutiveFailures,
    /// The open duration elapsed: the next call is a probe.
    OpenDurationElapsed,
    /// A half-open probe failed, or was slow (ended, or still out, past
    /// the slow-call duration).
    ProbeFailed,
    /// A half-open probe was out longer than
    /// [`max_probe_duration`](crate::CircuitBreakerConfig::max_probe_duration).
    ProbeTimedOut,
    /// Every half-open probe succeeded.
    ProbesSucceeded,
    /// An operator held the breaker open
    /// ([`force_open`](crate::circuit_breaker::CircuitBreakerHandle::force_open)).
    ForcedOpen,
    /// An operator held the breaker closed
    /// ([`force_closed`](crate::circuit_breaker::CircuitBreakerHandle::force_closed)).
    ForcedClosed,
    /// An operator gave control back to the rules
    /// ([`reset`](crate::circuit_breaker::CircuitBreakerHandle::reset)).
    Reset,
}

impl StateChangeReason {
    /// A short, stable name for logs and metrics: `failure_rate`,
    /// `slow_call_rate`, `consecutive_failures`, `open_duration_elapsed`,
    /// `probe_failed`, `probe_timed_out`, `probes_succeeded`,
    /// `forced_open`, `forced_closed`, `reset`.
    ///
    /// ```
    /// use tower_http_retry::circuit_breaker::StateChangeReason;
    /// assert_eq!(StateChangeReason::Reset.as_str(), "reset");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            StateChangeReason::FailureRate => "failure_rate",
            StateChangeReason::SlowCallRate => "slow_call_rate",
            StateChangeReason::ConsecutiveFailures => "consecutive_failures",
            StateChangeReason::OpenDurationElapsed => "open_duration_elapsed",
            StateChangeReason::ProbeFailed => "probe_failed",
            StateChangeReason::ProbeTimedOut => "probe_timed_out",
            StateChangeReason::ProbesSucceeded => "probes_succeeded",
            StateChangeReason::ForcedOpen => "forced_open",
            StateChangeReason::ForcedClosed => "forced_closed",
            StateChangeReason::Reset => "reset",
        }
    }
}

impl fmt::Display for StateChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state of a circuit breaker, as the
/// [`on_state_change`](crate::CircuitBreakerConfig::on_state_change)
/// callback is told it. It carries what the `tracing` event carries.
///
/// An operator's [`reset`](crate::circuit_breaker::CircuitBreakerHandle::reset) or
/// [`force_open`](crate::circuit_breaker::CircuitBreakerHandle::force_open) is a change too,
/// even when `from` and `to` are the same public state.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tower_http_retry::circuit_breaker::{StateChange, StateChangeReason};
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
///     [(CircuitState::Closed, CircuitState::Open, StateChangeReason::ForcedOpen, true)]
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
    /// ([`force_open`](crate::circuit_breaker::CircuitBreakerHandle::force_open),
    /// [`force_closed`](crate::circuit_breaker::CircuitBreakerHandle::force_closed)).
    pub forced: bool,
    /// Why; its [`as_str`](StateChangeReason::as_str) is the `why` of the
    /// `tracing` event.
    pub why: StateChangeReason,
    /// The rate that opened the breaker, for the rate rules
    /// ([`FailureRate`](StateChangeReason::FailureRate),
    /// [`SlowCallRate`](StateChangeReason::SlowCallRate)).
    pub rate: Option<f64>,
    /// How long the breaker stays open, when a rule opened it.
    pub open_for: Option<Duration>,
}

/// What a call counts as when its future is dropped before it ends: a
/// hedge that lost, a caller that gave up, a timeout above the breaker.
/// Set with
/// [`CircuitBreakerConfig::abandoned_calls`](crate::CircuitBreakerConfig::abandoned_calls).
///
/// "Late" means abandoned after at least the
/// [slow-call duration](crate::CircuitBreakerConfig::slow_calls); without
/// slow-call detection no abandonment is late. An abandonment that counts
/// as nothing gives a half-open probe's permit back; one that counts as
/// slow or failed fails the probe. A future unwound by a panic always
/// counts as nothing.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::circuit_breaker::AbandonedCalls;
/// use tower_http_retry::CircuitBreakerConfig;
///
/// // A host that hangs while callers time out at 2 s trips the breaker.
/// let config = CircuitBreakerConfig::default()
///     .slow_calls(Duration::from_secs(1), 0.5)
///     .abandoned_calls(AbandonedCalls::SlowWhenLate); // the default
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AbandonedCalls {
    /// Nothing, however late: the call is as if never made.
    Ignored,
    /// The default. A late abandonment is a slow call (not a failure);
    /// an earlier one counts as nothing. An early give-up says nothing of
    /// the downstream: every hedge has a loser, usually within
    /// milliseconds of a healthy answer, and callers cancel for their own
    /// reasons; counting those as failures would let hedging or impatient
    /// callers open the breaker on a healthy host, and counting them as
    /// successes would dilute a real failure rate with calls that never
    /// answered. A call out past the slow-call duration, though, was slow
    /// whatever became of it.
    #[default]
    SlowWhenLate,
    /// A failure, whenever it was abandoned (and slow as well when late):
    /// for a stack whose only deadline is a timeout above the breaker, and
    /// whose callers never give up for reasons of their own.
    Failed,
}

impl AbandonedCalls {
    /// What a call abandoned `late` (or not) counts as; `None`: nothing.
    pub(crate) fn outcome(self, late: bool) -> Option<CallOutcome> {
        match self {
            AbandonedCalls::Ignored => None,
            AbandonedCalls::SlowWhenLate => late.then_some(CallOutcome {
                failure: false,
                slow: true,
            }),
            AbandonedCalls::Failed => Some(CallOutcome {
                failure: true,
                slow: late,
            }),
        }
    }
}

/// The breaker's own state: the three of [`CircuitState`], and the two an
/// operator can hold it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerMode {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
    ForcedOpen = 3,
    ForcedClosed = 4,
}

impl BreakerMode {
    /// The state a handle reports.
    pub(crate) fn public(self) -> CircuitState {
        match self {
            BreakerMode::Closed | BreakerMode::ForcedClosed => CircuitState::Closed,
            BreakerMode::Open | BreakerMode::ForcedOpen => CircuitState::Open,
            BreakerMode::HalfOpen => CircuitState::HalfOpen,
        }
    }

    /// The `from` and `to` of the `tracing` events and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BreakerMode::Closed => "closed",
            BreakerMode::Open => "open",
            BreakerMode::HalfOpen => "half_open",
            BreakerMode::ForcedOpen => "forced_open",
            BreakerMode::ForcedClosed => "forced_closed",
        }
    }

    pub(crate) fn is_forced(self) -> bool {
        matches!(self, BreakerMode::ForcedOpen | BreakerMode::ForcedClosed)
    }
}

/// The outcome of one call, as a window records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallOutcome {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

/// Over which calls the failure and slow-call rates are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowKind {
    /// The last `n` calls.
    Count(u32),
    /// The calls that ended in the last `n` whole seconds.
    Time(u32),
}

/// The totals of a window at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Totals {
    pub(crate) fn failure_rate(&self) -> f64 {
        rate(self.failures, self.calls)
    }

    pub(crate) fn slow_call_rate(&self) -> f64 {
        rate(self.slow, self.calls)
    }
}

fn rate(part: u64, calls: u64) -> f64 {
    if calls == 0 {
        0.0
    } else {
        // A division, not `part >= threshold * calls`: the quotient of two
        // exact integers rounds to the same double as the threshold's
        // decimal when they are equal (3 / 10 == 0.3, 0.3 * 10 != 3).
        part as f64 / calls as f64
    }
}

/// The outcomes the tests of the state machine and the windows record.
#[cfg(test)]
pub(crate) mod test_outcomes {
    use super::CallOutcome;

    pub(crate) const OK: CallOutcome = CallOutcome {
        failure: false,
        slow: false,
    };
    pub(crate) const FAIL: CallOutcome = CallOutcome {
        failure: true,
        slow: false,
    };
    pub(crate) const SLOW_OK: CallOutcome = CallOutcome {
        failure: false,
        slow: true,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let t = Totals {
            calls: 10,
            failures: 3,
            slow: 0,
        };
        assert_eq!(t.failure_rate(), 0.3);
        assert_eq!(Totals::default().failure_rate(), 0.0);
    }
}
