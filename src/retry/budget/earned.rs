//! The default retry budget: retries earned by requests that did not need
//! one, a small reserve, and the client's first request trusted.
//!
//! tower's `TpsBudget` (Finagle's) grants `ratio` of the requests of the
//! last `ttl`, plus a floor of `min_per_sec` retries every second. Each
//! client of a fleet has its own: 1,000 clients sending one request a
//! second each get 10 retries a second each from the floor, and a dead
//! downstream sees three times the load. Without a floor, a quiet client
//! never earns a whole retry inside `ttl`, and its one failure a minute is
//! never retried. So this budget:
//!
//! - **earns** `ratio` of a retry per request, and takes it back when the
//!   request fails (every withdrawal, granted or not, says a request
//!   failed): during an outage the clients earn nothing, whatever their
//!   number;
//! - **keeps** what it earned, up to `reserve` retries plus `ratio` of the
//!   requests of the last `ttl`: a quiet client saves its retries for the
//!   rare failure, a busy one has tower's room for a burst of failures;
//! - **trusts** the client's first request: until a second request starts,
//!   the first one retries as often as `max_attempts` allows (a client knows
//!   nothing of its downstream yet, and has spent nothing).
//!
//! During an outage a client therefore retries at most what it held when
//! the outage began: `reserve + ratio × (its requests of the last ttl)`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tower::retry::budget::Budget;

use super::stripe::Stripes;

/// Thousandths of a retry: the unit of the balance.
const MILLI: isize = 1000;

/// Slots of the window of recent requests, as in tower's `TpsBudget`.
const SLOTS: usize = 10;

/// A deposit reads the clock (to roll the window over) once in this many
/// deposits on its stripe: every request deposits, and a clock read costs
/// more than the rest of the deposit. Deposits not rolled over yet count in
/// the slot that was current at the last roll-over, so they may leave the
/// window early: the cap errs low, never high.
const CLOCK_EVERY: isize = 16;

/// Where the client is in its life, for the trust of the first request.
const FRESH: u8 = 0;
const FIRST_REQUEST: u8 = 1;
const SEASONED: u8 = 2;

/// The default retry budget of [`RetryPolicy`](crate::RetryPolicy).
#[derive(Debug)]
pub(crate) struct EarnedBudget {
    /// Deposits not yet counted in a slot of the window.
    pending: Stripes,
    /// The window and the balance: read and rewritten by withdrawals (rare)
    /// and roll-overs (one deposit in [`CLOCK_EVERY`]).
    account: Mutex<Account>,
    /// [`FRESH`], [`FIRST_REQUEST`] or [`SEASONED`].
    life: AtomicU8,
    /// What one request earns, in thousandths of a retry.
    earn: isize,
    /// Retries kept whatever the recent traffic, in thousandths.
    reserve: isize,
    /// The time of one slot: `ttl / SLOTS`.
    slot: Duration,
}

#[derive(Debug)]
struct Account {
    /// Deposits per slot (tower's window).
    slots: [isize; SLOTS],
    index: usize,
    /// When the current slot began.
    since: Instant,
    /// Deposits ever moved from `pending` into a slot.
    committed: isize,
    /// Deposits already earned into `balance`.
    credited: isize,
    /// Earned, not yet spent, in thousandths of a retry.
    balance: isize,
}

impl EarnedBudget {
    /// Callers check the parameters first: see `RetryPolicy::earned_budget`.
    pub(crate) fn new(ttl: Duration, reserve: u32, retry_ratio: f32) -> Self {
        let reserve = (reserve as isize).saturating_mul(MILLI);
        EarnedBudget {
            pending: Stripes::default(),
            account: Mutex::new(Account {
                slots: [0; SLOTS],
                index: 0,
                since: Instant::now(),
                committed: 0,
                credited: 0,
                balance: reserve,
            }),
            life: AtomicU8::new(FRESH),
            earn: (f64::from(retry_ratio) * MILLI as f64).round() as isize,
            reserve,
            slot: ttl / SLOTS as u32,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the pending deposits into the window if a slot's time has
    /// passed, clearing the slots that have expired (tower's `expire`).
    fn roll(&self, account: &mut Account) {
        let now = Instant::now();
        let mut elapsed = now.saturating_duration_since(account.since);
        if elapsed < self.slot {
            return;
        }
        let moved = self.pending.take();
        account.committed = account.committed.saturating_add(moved);
        account.slots[account.index] = moved;
        let mut index = (account.index + 1) % SLOTS;
        let mut cleared = 0;
        while elapsed > self.slot && cleared < SLOTS {
            account.slots[index] = 0;
            elapsed -= self.slot;
            index = (index + 1) % SLOTS;
            cleared += 1;
        }
        account.index = index;
        account.since = now;
    }
}

impl Default for EarnedBudget {
    /// 10 s, a reserve of 2 retries, 20 % of requests.
    fn default() -> Self {
        EarnedBudget::new(Duration::from_secs(10), 2, 0.2)
    }
}

impl Budget for EarnedBudget {
    fn deposit(&self) {
        // One relaxed load once the client is seasoned: the usual case.
        if self.life.load(Ordering::Relaxed) != SEASONED {
            let _ = self
                .life
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |life| {
                    Some((life + 1).min(SEASONED))
                });
        }
        if self.pending.add_get(1) % CLOCK_EVERY == 0 {
            if let Ok(mut account) = self.account.try_lock() {
                self.roll(&mut account);
            }
        }
    }

    fn withdraw(&self) -> bool {
        if self.life.load(Ordering::SeqCst) == FIRST_REQUEST {
            return true;
        }
        let mut account = self.lock();
        self.roll(&mut account);
        let pending = self.pending.sum();
        let deposits = account.committed.saturating_add(pending);
        let earned = (deposits - account.credited).saturating_mul(self.earn);
        account.credited = deposits;
        let recent = account
            .slots
            .iter()
            .fold(pending, |sum, &n| sum.saturating_add(n));
        let cap = self
            .reserve
            .saturating_add(recent.saturating_mul(self.earn));
        // The request that failed earned nothing: take its share back.
        let mut balance = account.balance.saturating_add(earned).min(cap) - self.earn;
        let granted = balance >= MILLI;
        if granted {
            balance -= MILLI;
        }
        account.balance = balance.max(0);
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasoned(b: &EarnedBudget) {
        b.deposit();
        b.deposit();
    }

    #[test]
    fn the_first_request_is_trusted_until_a_second_starts() {
        let b = EarnedBudget::default();
        b.deposit();
        assert!((0..100).all(|_| b.withdraw()));
        b.deposit();
        // The reserve of 2, plus 2 × 0.2 earned, less 0.2 taken back per
        // failure: 2 retries.
        assert_eq!((0..100).filter(|_| b.withdraw()).count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_client_keeps_its_reserve_for_a_failure() {
        let b = EarnedBudget::default();
        seasoned(&b);
        // A request a minute for ten hours; one in ten fails, and is
        // retried every time.
        for minute in 0..600 {
            tokio::time::advance(Duration::from_secs(60)).await;
            b.deposit();
            if minute % 10 == 9 {
                assert!(b.withdraw(), "the failure of minute {minute} is retried");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_earns_nothing() {
        let b = EarnedBudget::default();
        seasoned(&b);
        // Every request fails and asks for a retry.
        let granted = (0..1_000)
            .filter(|_| {
                b.deposit();
                b.withdraw()
            })
            .count();
        assert!(granted <= 3, "{granted} retries for 1,000 failed requests");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_client_has_room_for_a_burst() {
        let b = EarnedBudget::default();
        // 1,000 healthy requests over 5 s: 20 % of them, plus the reserve.
        for _ in 0..1_000 {
            b.deposit();
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        let granted = (0..1_000).filter(|_| b.withdraw()).count();
        assert!((150..=202).contains(&granted), "{granted} retries");
    }

    #[tokio::test(start_paused = true)]
    async fn what_was_earned_long_ago_is_capped_at_the_reserve() {
        let b = EarnedBudget::default();
        for _ in 0..10_000 {
            b.deposit();
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!((0..100).filter(|_| b.withdraw()).count(), 1);
    }
}
