//! The time window: the calls of the last `n` seconds.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::super::vocabulary::{CallOutcome, Totals};
use super::counters::{delta, slot_counts, slot_value, Counters};
use crate::sync::atomic::{AtomicU64, Ordering};

/// The calls of the last `n` seconds: one bucket per second, reused
/// round-robin, each counting calls, failures and slow calls in 21 bits.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[AtomicU64]>,
    /// The latest second whose bucket has been emptied for it; every
    /// bucket of an older second has been too.
    rolled_to: AtomicU64,
    pub(super) counters: CachePadded<Counters>,
}

/// The width of one count in a bucket: 2,097,151 calls a second.
const FIELD: u32 = 21;
const MASK: u64 = (1 << FIELD) - 1;

fn pack(counts: [i64; 3]) -> u64 {
    ((counts[0] as u64) << (2 * FIELD)) | ((counts[1] as u64) << FIELD) | counts[2] as u64
}

fn unpack(bucket: u64) -> [i64; 3] {
    [
        ((bucket >> (2 * FIELD)) & MASK) as i64,
        ((bucket >> FIELD) & MASK) as i64,
        (bucket & MASK) as i64,
    ]
}

impl TimeWindow {
    pub(super) fn new(seconds: usize) -> Self {
        TimeWindow {
            buckets: (0..seconds).map(|_| AtomicU64::new(0)).collect(),
            rolled_to: AtomicU64::new(0),
            counters: CachePadded::default(),
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    pub(super) fn record(&self, outcome: CallOutcome, now: Duration) -> Totals {
        let second = now.as_secs();
        self.roll(second);
        if second + self.len() > self.rolled_to.load(Ordering::Acquire) {
            // Not older than the window (a call that ended long ago but is
            // recorded late is dropped).
            let counts = slot_counts(slot_value(outcome));
            let index = (second % self.len()) as usize;
            self.buckets[index].fetch_add(pack(counts), Ordering::Relaxed);
            self.counters.add(counts);
        }
        self.counters.totals()
    }

    /// Empties the buckets of the seconds that left the window by `second`.
    /// One thread does it per second (the one that moves `rolled_to`); an
    /// outcome recorded into a bucket in the instant it is emptied is lost
    /// from the bucket and the totals alike, so they stay equal.
    pub(super) fn roll(&self, second: u64) {
        let from = self.rolled_to.load(Ordering::Acquire);
        if second <= from {
            return;
        }
        if self
            .rolled_to
            .compare_exchange(from, second, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let first = (from + 1).max((second + 1).saturating_sub(self.len()));
        for s in first..=second {
            self.empty((s % self.len()) as usize);
        }
    }

    fn empty(&self, index: usize) {
        let old = self.buckets[index].swap(0, Ordering::Relaxed);
        if old != 0 {
            self.counters.add(delta([0; 3], unpack(old)));
        }
    }

    pub(super) fn clear(&self) {
        for index in 0..self.buckets.len() {
            self.empty(index);
        }
    }
}
