//! The budget behind [`RetryPolicy::tps_budget`](crate::RetryPolicy::tps_budget):
//! tower's `TpsBudget` arithmetic, with a cheaper deposit.
//!
//! Every request deposits, so the deposit is on the success path. tower's
//! `TpsBudget` takes a mutex on every deposit, to roll its window over.
//! This one reads the clock and compares it with the end of the current
//! slot (one atomic load): only a deposit past it takes the lock (a
//! `try_lock`) and rolls the window over; a withdrawal, which is rare,
//! always does, as tower's does. The slots, the reserve, the deposit and
//! withdrawal amounts and the expiry are tower's, so on one thread the
//! budget allows exactly the retries `TpsBudget` allows, whatever other
//! budgets run on that thread (Finagle's bounds: `retry_ratio` of the
//! requests seen over `ttl`, plus `min_per_sec` retries a second).
//!
//! The running count tower keeps in one atomic is split here over a few
//! stripes, each on a cache line of its own, a thread adding to its own
//! (Java's `LongAdder`): with one atomic, every request on one core would
//! take the line away from the other. The sums are the same; the rare
//! reads (a withdrawal, a roll-over) add the stripes up.

use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use tokio::time::Instant;
use tower::retry::budget::Budget;

use super::stripe::Stripes;

/// Slots of the window, as in tower.
const SLOTS: usize = 10;

/// `TpsBudget`'s bounds with a lock-free deposit.
#[derive(Debug)]
pub(crate) struct LeanTpsBudget {
    generation: Mutex<Generation>,
    /// When the budget was made: the origin of `next_roll`.
    origin: Instant,
    /// Nanoseconds from `origin` at which the current slot ends: a deposit
    /// before it has nothing to roll over.
    next_roll: CachePadded<AtomicU64>,
    reserve: isize,
    slots: [AtomicIsize; SLOTS],
    window: Duration,
    /// tower's `writer`: the deposits and withdrawals of the current slot.
    writer: Stripes,
    deposit_amount: isize,
    withdraw_amount: isize,
}

#[derive(Debug)]
struct Generation {
    index: usize,
    time: Instant,
}

/// The amounts a deposit adds and a withdrawal takes for `retry_ratio`:
/// tower's, except that the withdrawal is the *nearest* whole number, not
/// the one below (tower issue 857: `1.0 / (1.0 / 7.0)` is 6.9999995 in
/// `f32`, which tower truncates to 6). `RetryPolicy::tps_budget` accepts
/// only ratios this makes exact.
pub(crate) fn amounts(retry_ratio: f32) -> (isize, isize) {
    let ratio = f64::from(retry_ratio);
    if ratio == 0.0 {
        (0, 1)
    } else if ratio <= 1.0 {
        (1, (1.0 / ratio).round() as isize)
    } else {
        (1000, (1000.0 / ratio).round() as isize)
    }
}

impl LeanTpsBudget {
    /// tower's `TpsBudget::new` arithmetic, the withdrawal rounded to the
    /// nearest (callers check the parameters first: see
    /// `RetryPolicy::tps_budget`).
    pub(crate) fn new(ttl: Duration, min_per_sec: u32, retry_ratio: f32) -> Self {
        let (deposit_amount, withdraw_amount) = amounts(retry_ratio);
        let reserve = (min_per_sec as isize)
            .saturating_mul(ttl.as_secs() as isize)
            .saturating_mul(withdraw_amount);
        let window = ttl / SLOTS as u32;
        let origin = Instant::now();
        LeanTpsBudget {
            generation: Mutex::new(Generation {
                index: 0,
                time: origin,
            }),
            origin,
            next_roll: CachePadded::new(AtomicU64::new(nanos(window))),
            reserve,
            slots: Default::default(),
            window,
            writer: Stripes::default(),
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
        let to_commit = self.writer.take();
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
        let ends = now.saturating_duration_since(self.origin) + self.window;
        self.next_roll.store(nanos(ends), Ordering::SeqCst);
    }

    fn sum(&self) -> isize {
        self.slots
            .iter()
            .map(|slot| slot.load(Ordering::SeqCst))
            .fold(self.writer.sum(), isize::saturating_add)
            .saturating_add(self.reserve)
    }

    /// Rolls the window over, waiting for the lock.
    fn roll(&self) {
        let mut gen = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.expire(&mut gen);
    }
}

/// A duration in nanoseconds, saturated (585 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Default for LeanTpsBudget {
    /// `TpsBudget::default()`'s parameters: 10 s, 10 retries/s, 20 %.
    fn default() -> Self {
        LeanTpsBudget::new(Duration::from_secs(10), 10, 0.2)
    }
}

impl Budget for LeanTpsBudget {
    fn deposit(&self) {
        let now = nanos(Instant::now().saturating_duration_since(self.origin));
        if now >= self.next_roll.load(Ordering::Relaxed) {
            match self.generation.try_lock() {
                Ok(mut gen) => self.expire(&mut gen),
                Err(TryLockError::Poisoned(e)) => self.expire(&mut e.into_inner()),
                // Another thread is rolling it over.
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.writer.add(self.deposit_amount);
    }

    fn withdraw(&self) -> bool {
        self.roll();
        if self.sum() >= self.withdraw_amount {
            self.writer.add(-self.withdraw_amount);
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
