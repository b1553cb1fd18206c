//! What both windows share: running totals adjusted by signed deltas, and
//! the counts of one outcome.

use super::super::vocabulary::{CallOutcome, Totals};
use crate::sync::atomic::{AtomicI64, Ordering};

/// Running totals, adjusted by signed deltas.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicI64,
    pub(super) failures: AtomicI64,
    pub(super) slow: AtomicI64,
}

impl Counters {
    pub(super) fn add(&self, delta: [i64; 3]) {
        // Relaxed: the totals are statistics; the state transitions they
        // lead to are ordered by the state word.
        if delta[0] != 0 {
            self.calls.fetch_add(delta[0], Ordering::Relaxed);
        }
        if delta[1] != 0 {
            self.failures.fetch_add(delta[1], Ordering::Relaxed);
        }
        if delta[2] != 0 {
            self.slow.fetch_add(delta[2], Ordering::Relaxed);
        }
    }

    pub(super) fn totals(&self) -> Totals {
        let calls = self.calls.load(Ordering::Relaxed).max(0) as u64;
        let clamp = |v: i64| (v.max(0) as u64).min(calls);
        Totals {
            calls,
            failures: clamp(self.failures.load(Ordering::Relaxed)),
            slow: clamp(self.slow.load(Ordering::Relaxed)),
        }
    }
}

pub(super) const RECORDED: u8 = 1;
pub(super) const FAILED: u8 = 2;
pub(super) const SLOW: u8 = 4;

pub(super) fn slot_value(outcome: CallOutcome) -> u8 {
    RECORDED | if outcome.failure { FAILED } else { 0 } | if outcome.slow { SLOW } else { 0 }
}

pub(super) fn slot_counts(slot: u8) -> [i64; 3] {
    [
        i64::from(slot & RECORDED != 0),
        i64::from(slot & FAILED != 0),
        i64::from(slot & SLOW != 0),
    ]
}

/// The change of the totals when a slot or bucket goes from `old` to `new`.
pub(super) fn delta(new: [i64; 3], old: [i64; 3]) -> [i64; 3] {
    [new[0] - old[0], new[1] - old[1], new[2] - old[2]]
}
