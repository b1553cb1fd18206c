//! The sliding windows over which the failure and slow-call rates are
//! computed: the last `n` calls, or the calls of the last `n` seconds.
//!
//! Both are lock-free. resilience4j takes a lock to record an outcome; we
//! don't, because recording is on every call's path. Each window keeps its
//! outcomes in slots (one per call, or one per second) and running totals.
//! A slot is only ever changed with an atomic `swap`, and the totals are
//! then adjusted by the difference between what the swap put in and what it
//! took out. Additions commute, so once every adjustment has landed the
//! totals equal the sum of the slots exactly, whatever the interleaving:
//! they never drift. A snapshot read while another thread is between its
//! swap and its adjustment may be off by that one call, which a rate over a
//! window can afford; negative transients are clamped.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::config::WindowKind;
use crate::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// The outcome of one call, as the window records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
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

/// Running totals, adjusted by signed deltas.
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl Counters {
    fn add(&self, delta: [i64; 3]) {
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

    fn totals(&self) -> Totals {
        let calls = self.calls.load(Ordering::Relaxed).max(0) as u64;
        let clamp = |v: i64| (v.max(0) as u64).min(calls);
        Totals {
            calls,
            failures: clamp(self.failures.load(Ordering::Relaxed)),
            slow: clamp(self.slow.load(Ordering::Relaxed)),
        }
    }
}

/// A window of either kind.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(kind: WindowKind) -> Self {
        match kind {
            WindowKind::Count(n) => Window::Count(CountWindow::new(n as usize)),
            WindowKind::Time(secs) => Window::Time(TimeWindow::new(secs as usize)),
        }
    }

    /// Whether [`record`](Self::record) and [`totals`](Self::totals) need
    /// the time.
    pub(crate) fn needs_time(&self) -> bool {
        matches!(self, Window::Time(_))
    }

    /// Records an outcome that ended at `now` (since the breaker was made;
    /// read only by a time window), and returns the totals after it, or
    /// `None` if recording it changed nothing (a count window's slot already
    /// held the same outcome): the rates are then those of the last change.
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, now: Duration) -> Option<Totals> {
        match self {
            Window::Count(w) => w.record(outcome),
            Window::Time(w) => Some(w.record(outcome, now)),
        }
    }

    /// The totals at `now`.
    pub(crate) fn totals(&self, now: Duration) -> Totals {
        match self {
            Window::Count(w) => w.counters.totals(),
            Window::Time(w) => {
                w.roll(now.as_secs());
                w.counters.totals()
            }
        }
    }

    /// Forgets every outcome.
    pub(crate) fn clear(&self) {
        match self {
            Window::Count(w) => w.clear(),
            Window::Time(w) => w.clear(),
        }
    }
}

/// The last `n` calls: a ring of one-byte slots.
#[derive(Debug)]
pub(crate) struct CountWindow {
    /// `0`: empty; else `RECORDED | FAILED? | SLOW?`.
    slots: Box<[AtomicU8]>,
    /// Written by every call while the window holds a failure or a slow
    /// call (not while it holds only successes): on a cache line of its
    /// own, so that the other core's reads of the breaker don't miss
    /// because of it.
    next: CachePadded<AtomicUsize>,
    /// Written only when an outcome changes a slot.
    counters: CachePadded<Counters>,
}

const RECORDED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

fn slot_value(outcome: Outcome) -> u8 {
    RECORDED | if outcome.failure { FAILED } else { 0 } | if outcome.slow { SLOW } else { 0 }
}

fn slot_counts(slot: u8) -> [i64; 3] {
    [
        i64::from(slot & RECORDED != 0),
        i64::from(slot & FAILED != 0),
        i64::from(slot & SLOW != 0),
    ]
}

impl CountWindow {
    fn new(size: usize) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: CachePadded::new(AtomicUsize::new(0)),
            counters: CachePadded::default(),
        }
    }

    fn record(&self, outcome: Outcome) -> Option<Totals> {
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

    fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::Relaxed);
            if old != 0 {
                self.counters.add(delta([0; 3], slot_counts(old)));
            }
        }
    }
}

fn delta(new: [i64; 3], old: [i64; 3]) -> [i64; 3] {
    [new[0] - old[0], new[1] - old[1], new[2] - old[2]]
}

/// The calls of the last `n` seconds: one bucket per second, reused
/// round-robin, each counting calls, failures and slow calls in 21 bits.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[AtomicU64]>,
    /// The latest second whose bucket has been emptied for it; every
    /// bucket of an older second has been too.
    rolled_to: AtomicU64,
    counters: CachePadded<Counters>,
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
    fn new(seconds: usize) -> Self {
        TimeWindow {
            buckets: (0..seconds).map(|_| AtomicU64::new(0)).collect(),
            rolled_to: AtomicU64::new(0),
            counters: CachePadded::default(),
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    fn record(&self, outcome: Outcome, now: Duration) -> Totals {
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
    fn roll(&self, second: u64) {
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

    fn clear(&self) {
        for index in 0..self.buckets.len() {
            self.empty(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failure: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };
    const SLOW_OK: Outcome = Outcome {
        failure: false,
        slow: true,
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn count_window_keeps_the_last_n_calls() {
        let w = Window::new(WindowKind::Count(4));
        for o in [FAIL, FAIL, OK, SLOW_OK] {
            w.record(o, Duration::ZERO);
        }
        let t = w.totals(Duration::ZERO);
        assert_eq!((t.calls, t.failures, t.slow), (4, 2, 1));
        assert_eq!(t.failure_rate(), 0.5);
        assert_eq!(t.slow_call_rate(), 0.25);
        // Two more successes push both failures out.
        w.record(OK, Duration::ZERO);
        let t = w
            .record(OK, Duration::ZERO)
            .expect("a failure was replaced");
        assert_eq!((t.calls, t.failures, t.slow), (4, 0, 1));
        // A success where a success was changes nothing; one where a slow
        // success was does.
        assert_eq!(w.record(OK, Duration::ZERO), None);
        let t = w.record(OK, Duration::ZERO).expect("the slow call left");
        assert_eq!((t.calls, t.failures, t.slow), (4, 0, 0));
    }

    #[test]
    fn a_window_of_successes_leaves_its_cursor_alone() {
        let w = Window::new(WindowKind::Count(3));
        let Window::Count(c) = &w else { unreachable!() };
        for _ in 0..3 {
            w.record(OK, Duration::ZERO);
        }
        assert_eq!(c.next.load(Ordering::Relaxed), 3);
        assert_eq!(w.record(OK, Duration::ZERO), None);
        assert_eq!(c.next.load(Ordering::Relaxed), 3);
        // A failure still takes the next slot, and the successes after it
        // move the cursor until they have pushed it out.
        let t = w.record(FAIL, Duration::ZERO).expect("changed");
        assert_eq!((t.calls, t.failures), (3, 1));
        for _ in 0..3 {
            w.record(OK, Duration::ZERO);
        }
        assert_eq!(c.next.load(Ordering::Relaxed), 7);
        assert_eq!(w.totals(Duration::ZERO).failures, 0);
    }

    #[test]
    fn count_window_clear_forgets_everything() {
        let w = Window::new(WindowKind::Count(3));
        w.record(FAIL, Duration::ZERO);
        w.record(FAIL, Duration::ZERO);
        w.clear();
        assert_eq!(w.totals(Duration::ZERO), Totals::default());
        let t = w.record(FAIL, Duration::ZERO).expect("changed");
        assert_eq!((t.calls, t.failures), (1, 1));
    }

    #[test]
    fn count_window_totals_match_slots_under_contention() {
        let w = std::sync::Arc::new(Window::new(WindowKind::Count(7)));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        let outcome = Outcome {
                            failure: (i + t) % 3 == 0,
                            slow: i % 5 == 0,
                        };
                        w.record(outcome, Duration::ZERO);
                        if i % 1000 == 0 {
                            w.clear();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let Window::Count(c) = &*w else {
            unreachable!()
        };
        let mut expected = [0i64; 3];
        for slot in c.slots.iter() {
            let counts = slot_counts(slot.load(Ordering::Relaxed));
            for k in 0..3 {
                expected[k] += counts[k];
            }
        }
        let t = w.totals(Duration::ZERO);
        assert_eq!([t.calls as i64, t.failures as i64, t.slow as i64], expected);
    }

    #[test]
    fn time_window_keeps_the_last_n_seconds() {
        let w = Window::new(WindowKind::Time(3));
        w.record(FAIL, secs(0));
        w.record(FAIL, secs(1));
        w.record(OK, secs(2));
        let t = w.totals(Duration::from_millis(2999));
        assert_eq!((t.calls, t.failures), (3, 2));
        // At 3 s, second 0 has left the window.
        let t = w.totals(secs(3));
        assert_eq!((t.calls, t.failures), (2, 1));
        let t = w.record(OK, secs(4)).expect("time windows always change");
        assert_eq!((t.calls, t.failures), (2, 0));
    }

    #[test]
    fn time_window_forgets_all_after_a_long_pause() {
        let w = Window::new(WindowKind::Time(5));
        for s in 0..5 {
            w.record(FAIL, secs(s));
        }
        assert_eq!(w.totals(secs(4)).calls, 5);
        assert_eq!(w.totals(secs(1_000)), Totals::default());
        let t = w.record(OK, secs(1_001)).expect("changed");
        assert_eq!((t.calls, t.failures), (1, 0));
    }

    #[test]
    fn time_window_drops_an_outcome_older_than_the_window() {
        let w = Window::new(WindowKind::Time(2));
        w.record(OK, secs(10));
        let t = w.record(FAIL, secs(3)).expect("changed");
        assert_eq!((t.calls, t.failures), (1, 0));
    }

    #[test]
    fn time_window_clear() {
        let w = Window::new(WindowKind::Time(2));
        w.record(FAIL, secs(0));
        w.record(SLOW_OK, secs(1));
        w.clear();
        assert_eq!(w.totals(secs(1)), Totals::default());
    }

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
