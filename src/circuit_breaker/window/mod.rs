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

use self::count::CountWindow;
use self::time::TimeWindow;
use super::vocabulary::{CallOutcome, Totals, WindowKind};

mod count;
mod counters;
mod time;

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
    pub(crate) fn record(&self, outcome: CallOutcome, now: Duration) -> Option<Totals> {
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

#[cfg(test)]
mod tests;
