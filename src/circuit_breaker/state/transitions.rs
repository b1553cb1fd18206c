//! The breaker's transitions: the trip rules, the probes' verdict, the
//! operator's hand, and the one locked path every change of state takes.

use std::sync::PoisonError;
use std::time::Duration;

use super::super::observe::{self, Transition};
use super::super::vocabulary::{BreakerMode, CallOutcome, StateChangeReason, Totals};
use super::packed::PackedState;
use super::{nanos, Breaker, Permit, NEVER};
use crate::sync::atomic::Ordering;
use crate::sync::MutexGuard;

impl Breaker {
    /// After an outcome that may move the breaker: counts it in a row, and
    /// opens the breaker if a rule says so. Out of line, so that the common
    /// case above stays small.
    #[inline(never)]
    pub(super) fn check_trip_rules(
        &self,
        word: PackedState,
        outcome: CallOutcome,
        changed: Option<Totals>,
        ended: Duration,
        now: impl Fn() -> Duration,
    ) {
        let mut cause = None;
        if let Some(limit) = self.config.consecutive_failures {
            let in_a_row = if outcome.failure {
                self.consecutive
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1)
            } else {
                // Written only when it changes, like the window's slots.
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
                0
            };
            if in_a_row >= limit {
                cause = Some((StateChangeReason::ConsecutiveFailures, None));
            }
        }
        // An outcome that changed nothing leaves the rates where the last
        // change left them, and that change was checked; a failure is
        // checked all the same (it is rare, and cheap to be sure of).
        let totals = match changed {
            Some(totals) => Some(totals),
            None if outcome.failure => Some(self.window.totals(ended)),
            None => None,
        };
        if let Some(totals) = totals.filter(|t| t.calls >= u64::from(self.config.minimum_calls)) {
            let failure_rate = totals.failure_rate();
            let slow_call_rate = totals.slow_call_rate();
            // Checked after every outcome, as resilience4j does: a success
            // can bring the window to `minimum_calls`, and a time window's
            // rates move as seconds leave it.
            if failure_rate >= self.config.failure_rate_threshold {
                cause = Some((StateChangeReason::FailureRate, Some(failure_rate)));
            } else if self.config.slow_call_duration.is_some()
                && slow_call_rate >= self.config.slow_call_rate_threshold
            {
                cause = Some((StateChangeReason::SlowCallRate, Some(slow_call_rate)));
            }
        }
        if let Some((why, rate)) = cause {
            self.transition(word, BreakerMode::Open, why, rate, nanos(now()));
        }
    }

    #[cold]
    pub(super) fn record_probe(
        &self,
        permit: Permit,
        outcome: CallOutcome,
        now: impl FnOnce() -> Duration,
    ) {
        let mut word = self.load();
        loop {
            if word.mode() != BreakerMode::HalfOpen || word.epoch() != permit.epoch {
                return;
            }
            if outcome.failure || outcome.slow {
                self.transition(
                    word,
                    BreakerMode::Open,
                    StateChangeReason::ProbeFailed,
                    None,
                    nanos(now()),
                );
                return;
            }
            let succeeded = word.succeeded() + 1;
            if succeeded >= self.config.half_open_calls {
                self.transition(
                    word,
                    BreakerMode::Closed,
                    StateChangeReason::ProbesSucceeded,
                    None,
                    0,
                );
                return;
            }
            match self.word.compare_exchange_weak(
                word.0,
                word.with_succeeded(succeeded).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => word = PackedState(actual),
            }
        }
    }

    /// Gives back the permit of a probe that ended without an outcome (its
    /// future was dropped, or the inner service panicked).
    pub(crate) fn release(&self, permit: Permit) {
        if !permit.probe {
            return;
        }
        let mut word = self.load();
        while word.mode() == BreakerMode::HalfOpen
            && word.epoch() == permit.epoch
            && word.admitted() > 0
        {
            match self.word.compare_exchange_weak(
                word.0,
                word.with_admitted(word.admitted() - 1).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => word = PackedState(actual),
            }
        }
    }

    /// An operator's transition: to `mode` from whatever the state is.
    pub(crate) fn force(&self, mode: BreakerMode, why: StateChangeReason, now: Duration) {
        let guard = self.lock();
        let from = self.load();
        let done = self.transition_locked(from, mode, (why, None), nanos(now), true);
        drop(guard);
        self.announce(done);
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ()> {
        // Nothing guarded can be left half-written by a panic.
        self.transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves from `from` (state and epoch) to `to`, unless another
    /// transition got there first.
    /// `rate` is the rate that tripped it, for the rate rules.
    pub(super) fn transition(
        &self,
        from: PackedState,
        to: BreakerMode,
        why: StateChangeReason,
        rate: Option<f64>,
        now: u64,
    ) {
        let guard = self.lock();
        let done = self.transition_locked(from, to, (why, rate), now, false);
        // The event is emitted outside the lock.
        drop(guard);
        self.announce(done);
    }

    fn transition_locked(
        &self,
        from: PackedState,
        to: BreakerMode,
        (why, rate): (StateChangeReason, Option<f64>),
        now: u64,
        forced: bool,
    ) -> Option<Transition> {
        let mut current = self.load();
        // Every change of state or epoch is made under the lock: past this
        // check, only the probe counts of the word can still change.
        if !forced && (current.mode() != from.mode() || current.epoch() != from.epoch()) {
            return None;
        }
        let mut open_for = None;
        match to {
            BreakerMode::Open => {
                let reopens = if current.mode() == BreakerMode::HalfOpen {
                    self.reopens.load(Ordering::Relaxed).saturating_add(1)
                } else {
                    0
                };
                self.reopens.store(reopens, Ordering::Relaxed);
                let duration = self.config.open_duration_after(reopens);
                self.open_until
                    .store(now.saturating_add(nanos(duration)), Ordering::Release);
                open_for = Some(duration);
            }
            BreakerMode::ForcedOpen => self.open_until.store(NEVER, Ordering::Release),
            BreakerMode::Closed | BreakerMode::ForcedClosed => {
                self.window.clear();
                self.consecutive.store(0, Ordering::Relaxed);
                self.reopens.store(0, Ordering::Relaxed);
            }
            BreakerMode::HalfOpen => {}
        }
        while let Err(actual) = self.word.compare_exchange(
            current.0,
            current.next(to).0,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            current = PackedState(actual);
        }
        Some(Transition {
            from: current.mode(),
            to,
            why,
            rate,
            open_for,
        })
    }

    /// Tells a transition made (`tracing`, callback, metrics), outside
    /// the lock.
    fn announce(&self, transition: Option<Transition>) {
        if let Some(transition) = transition {
            observe::transition(&self.config, self.host.as_deref(), transition);
        }
    }
}
