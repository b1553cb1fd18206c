//! A running count split over a few stripes, each on a cache line of its
//! own, a thread adding to its own (Java's `LongAdder`): with one atomic,
//! every request on one core would take the line away from the other.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU8, Ordering};

use crossbeam_utils::CachePadded;

/// Stripes of a count: a few more than the cores that usually run a
/// client's requests.
pub(crate) const STRIPES: usize = 4;

/// The stripe the next thread to add takes (round robin).
static NEXT_STRIPE: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// This thread's stripe, plus one (0: none taken yet). Only an index:
    /// every count on the thread uses it, and none keeps state here.
    static STRIPE: Cell<u8> = const { Cell::new(0) };
}

/// This thread's stripe.
fn stripe() -> usize {
    STRIPE.with(|cell| {
        let mut stripe = cell.get();
        if stripe == 0 {
            stripe = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES as u8 + 1;
            cell.set(stripe);
        }
        usize::from(stripe - 1)
    })
}

/// A count whose additions take no lock and share no cache line between
/// threads on different stripes.
#[derive(Debug, Default)]
pub(crate) struct Stripes([CachePadded<AtomicIsize>; STRIPES]);

impl Stripes {
    /// Adds `amount` on this thread's stripe.
    pub(crate) fn add(&self, amount: isize) {
        self.0[stripe()].fetch_add(amount, Ordering::SeqCst);
    }

    /// Adds `amount` on this thread's stripe, and returns that stripe's
    /// count after it (a count of this thread's stripe only).
    pub(crate) fn add_get(&self, amount: isize) -> isize {
        self.0[stripe()].fetch_add(amount, Ordering::SeqCst) + amount
    }

    /// The count, read stripe by stripe.
    pub(crate) fn sum(&self) -> isize {
        self.0
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .fold(0, isize::saturating_add)
    }

    /// The count, every stripe set back to zero: no addition is lost, one
    /// made meanwhile lands in this count or in the next.
    pub(crate) fn take(&self) -> isize {
        self.0
            .iter()
            .map(|s| s.swap(0, Ordering::SeqCst))
            .fold(0, isize::saturating_add)
    }
}
