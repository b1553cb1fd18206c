//! The count window: the last `n` calls.

use crossbeam_utils::CachePadded;

use super::super::vocabulary::{CallOutcome, Totals};
use super::counters::{delta, slot_counts, slot_value, Counters, RECORDED};
use crate::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The last `n` calls: a ring of one-byte slots.
#[derive(Debug)]
pub(crate) struct CountWindow {
    /// `0`: empty; else `RECORDED | FAILED? | SLOW?`.
    pub(super) slots: Box<[AtomicU8]>,
    /// Written by every call while the window holds a failure or a slow
    /// call (not while it holds only successes): on a cache line of its
    /// own, so that the other core's reads of the breaker don't miss
    /// because of it.
    pub(super) next: CachePadded<AtomicUsize>,
    /// Written only when an outcome changes a slot.
    pub(super) counters: CachePadded<Counters>,
}

impl CountWindow {
    pub(super) fn new(size: usize) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: CachePadded::new(AtomicUsize::new(0)),
            counters: CachePadded::default(),
        }
    }

    pub(super) fn record(&self, outcome: CallOutcome) -> Option<Totals> {
        let new = slot_value(outcome);
        if new == RECORDED && self.is_all_successes() {
            // A success in a window of successes: whichever slot it took, it
            // would find a success there. Leaving the cursor where it is
            // spares every call a write to the line all the cores share
            // (a failure recorded concurrently still advances it).
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[index];
        // Most calls succeed where a success was: a load leaves the slot's
        // cache line shared between cores, where a swap would take it away
        // from the others. If another call's swap lands in this slot in
        // between (one a whole window later), its outcome is the newer one.
        if slot.load(Ordering::Relaxed) == new {
            return None;
        }
        let old = slot.swap(new, Ordering::Relaxed);
        self.counters.add(delta(slot_counts(new), slot_counts(old)));
        Some(self.counters.totals())
    }

    /// Whether every slot holds a success that was not slow, by the totals
    /// (which lag a concurrent change by at most that one call).
    fn is_all_successes(&self) -> bool {
        // The raw counters, unclamped: a transient off by one reads as
        // "not all successes", and the slow path is taken.
        let c = &self.counters;
        c.failures.load(Ordering::Relaxed) == 0
            && c.slow.load(Ordering::Relaxed) == 0
            && c.calls.load(Ordering::Relaxed) == self.slots.len() as i64
    }

    pub(super) fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::Relaxed);
            if old != 0 {
                self.counters.add(delta([0; 3], slot_counts(old)));
            }
        }
    }
}
