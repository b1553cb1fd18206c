//! The retry budget that [`RetryPolicy`](super::RetryPolicy) uses unless
//! told otherwise: tower's `TpsBudget` arithmetic, with a cheaper deposit.
//!
//! Every request deposits, so the deposit is on the success path. tower's
//! `TpsBudget` takes a mutex and reads the clock on every deposit, to roll
//! its window over. This one adds to an atomic, and a thread rolls the
//! window over (reading the clock, under a `try_lock`) only on every 16th
//! deposit it makes; a withdrawal, which is rare, always does, as tower's
//! does. The slots, the reserve, the deposit and withdrawal amounts and the
//! expiry are tower's, so the bounds are the same (Finagle's: `retry_ratio`
//! of the requests seen over `ttl`, plus `min_per_sec` retries a second).
//!
//! The one difference: the deposits a thread made since its last roll-over
//! (at most 15 of them) are counted in the slot that was current then, so
//! they expire up to one slot early. That errs on the side of fewer retries.
//!
//! The running count tower keeps in one atomic is split here over a few
//! stripes, each on a cache line of its own, a thread adding to its own
//! (Java's `LongAdder`): with one atomic, every request on one core would
//! take the line away from the other. The sums are the same; the rare
//! reads (a withdrawal, a roll-over) add the stripes up.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use tokio::time::Instant;
use tower::retry::budget::Budget;

/// Slots of the window, as in tower.
const SLOTS: usize = 10;
/// A thread reads the clock on one deposit in this many.
const CLOCK_EVERY: u32 = 16;

/// Stripes of the running count: a few more than the cores that usually
/// run a client's requests.
const STRIPES: usize = 4;

/// The stripe the next thread to deposit takes (round robin).
static NEXT_STRIPE: AtomicU8 = AtomicU8::new(0);

/// What a thread keeps for every budget: one thread-local, read once per
/// deposit.
#[derive(Clone, Copy)]
struct Local {
    /// Deposits made, to read the clock on one in [`CLOCK_EVERY`].
    deposits: u32,
    /// The stripe this thread adds to, plus one (0: none taken yet).
    stripe: u8,
}

thread_local! {
    static LOCAL: Cell<Local> = const { Cell::new(Local { deposits: 0, stripe: 0 }) };
}

impl Local {
    /// This thread's state after `change`, its stripe taken if it had none.
    fn update(change: impl FnOnce(&mut Local)) -> Local {
        LOCAL.with(|cell| {
            let mut local = cell.get();
            if local.stripe == 0 {
                local.stripe = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES as u8 + 1;
            }
            change(&mut local);
            cell.set(local);
            local
        })
    }

    fn stripe(self) -> usize {
        usize::from(self.stripe - 1)
    }
}

/// `TpsBudget`'s bounds with a lock-free deposit.
#[derive(Debug)]
pub(crate) struct LeanTpsBudget {
    generation: Mutex<Generation>,
    reserve: isize,
    slots: [AtomicIsize; SLOTS],
    window: Duration,
    /// tower's `writer`: the deposits and withdrawals of the current slot.
    writer: [CachePadded<AtomicIsize>; STRIPES],
    deposit_amount: isize,
    withdraw_amount: isize,
}

#[derive(Debug)]
struct Generation {
    index: usize,
    time: Instant,
}

impl LeanTpsBudget {
    /// tower's `TpsBudget::new` arithmetic, rounding included (callers
    /// check the parameters first: see `RetryPolicy::tps_budget`).
    pub(crate) fn new(ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Self {
        let (deposit_amount, withdraw_amount) = if retry_percent == 0.0 {
            (0, 1)
        } else if retry_percent <= 1.0 {
            (1, (1.0 / retry_percent) as isize)
        } else {
            (1000, (1000.0 / retry_percent) as isize)
        };
        let reserve = (min_per_sec as isize)
            .saturating_mul(ttl.as_secs() as isize)
            .saturating_mul(withdraw_amount);
        LeanTpsBudget {
            generation: Mutex::new(Generation {
                index: 0,
                time: Instant::now(),
            }),
            reserve,
            slots: Default::default(),
            window: ttl / SLOTS as u32,
            writer: Default::default(),
            deposit_amount,
            withdraw_amount,
        }
    }

    /// Rolls the window over if a slot's time has passed (tower's `expire`).
    fn expire(&self, gen: &mut Generation) {
        let now = Instant::now();
        let mut diff = now.saturating_duration_since(gen.time);
        if diff < self.window {
            return;
        }
        let to_commit = self
            .writer
            .iter()
            .map(|stripe| stripe.swap(0, Ordering::SeqCst))
            .fold(0, isize::saturating_add);
        self.slots[gen.index].store(to_commit, Ordering::SeqCst);
        let mut idx = (gen.index + 1) % SLOTS;
        // At most one turn of the slots: past that, every slot is stale.
        let mut cleared = 0;
        while diff > self.window && cleared < SLOTS {
            self.slots[idx].store(0, Ordering::SeqCst);
            diff -= self.window;
            idx = (idx + 1) % SLOTS;
            cleared += 1;
        }
        gen.index = idx;
        gen.time = now;
    }

    fn sum(&self) -> isize {
        let windowed = self
            .slots
            .iter()
            .map(|slot| slot.load(Ordering::SeqCst))
            .fold(0, isize::saturating_add);
        self.writer
            .iter()
            .map(|stripe| stripe.load(Ordering::SeqCst))
            .fold(windowed, isize::saturating_add)
            .saturating_add(self.reserve)
    }
}

impl Default for LeanTpsBudget {
    /// `TpsBudget::default()`'s parameters: 10 s, 10 retries/s, 20 %.
    fn default() -> Self {
        LeanTpsBudget::new(Duration::from_secs(10), 10, 0.2)
    }
}

impl Budget for LeanTpsBudget {
    fn deposit(&self) {
        let local = Local::update(|l| l.deposits = l.deposits.wrapping_add(1));
        if local.deposits % CLOCK_EVERY == 0 {
            match self.generation.try_lock() {
                Ok(mut gen) => self.expire(&mut gen),
                Err(TryLockError::Poisoned(e)) => self.expire(&mut e.into_inner()),
                // Another thread is rolling it over.
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.writer[local.stripe()].fetch_add(self.deposit_amount, Ordering::SeqCst);
    }

    fn withdraw(&self) -> bool {
        let mut gen = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.expire(&mut gen);
        drop(gen);
        if self.sum() >= self.withdraw_amount {
            self.writer[Local::update(|_| {}).stripe()]
                .fetch_add(-self.withdraw_amount, Ordering::SeqCst);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time;

    #[test]
    fn empty() {
        let b = LeanTpsBudget::new(Duration::from_secs(1), 0, 1.0);
        assert!(!b.withdraw());
    }

    #[test]
    fn reserve_then_ratio() {
        // 10 s × 1/s reserve = 10 retries; then one per 5 deposits.
        let b = LeanTpsBudget::new(Duration::from_secs(10), 1, 0.2);
        for _ in 0..10 {
            assert!(b.withdraw());
        }
        assert!(!b.withdraw());
        for _ in 0..5 {
            b.deposit();
        }
        assert!(b.withdraw());
        assert!(!b.withdraw());
    }

    #[test]
    fn deposits_of_many_threads_all_count() {
        // No reserve; one retry per deposit: 8 threads × 100 deposits
        // (over the stripes) allow exactly 800 retries.
        let b = std::sync::Arc::new(LeanTpsBudget::new(Duration::from_secs(60), 0, 1.0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || (0..100).for_each(|_| b.deposit()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("thread"));
        assert_eq!((0..1_000).filter(|_| b.withdraw()).count(), 800);
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire() {
        let b = LeanTpsBudget::new(Duration::from_secs(1), 0, 1.0);
        b.deposit();
        time::advance(Duration::from_secs(3)).await;
        assert!(!b.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_count_within_the_ttl() {
        let b = LeanTpsBudget::new(Duration::from_secs(1), 0, 0.5);
        b.deposit();
        b.deposit();
        time::advance(Duration::from_millis(901)).await;
        assert!(b.withdraw());
        assert!(!b.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_idle_period_clears_every_slot() {
        let b = LeanTpsBudget::new(Duration::from_secs(1), 0, 1.0);
        for _ in 0..100 {
            b.deposit();
        }
        time::advance(Duration::from_secs(3600)).await;
        assert!(!b.withdraw());
    }
}
