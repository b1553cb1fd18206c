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
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tower::retry::budget::Budget;

use super::stripe::Stripes;
use super::LeanTpsBudget;

/// Thousandths of a retry: the unit of the balance.
const MILLI: isize = 1000;

/// Where the client is in its life, for the trust of the first request.
const FRESH: u8 = 0;
const FIRST_REQUEST: u8 = 1;
const SEASONED: u8 = 2;

/// The default retry budget of [`RetryPolicy`](crate::RetryPolicy).
#[derive(Debug)]
pub(crate) struct EarnedBudget {
    /// Requests over the last `ttl` (a ratio of 1, no floor).
    recent: LeanTpsBudget,
    /// Earned, not yet spent, in thousandths of a retry; above the cap
    /// until a withdrawal cuts it down (deposits add without looking).
    balance: Stripes,
    /// Serialises withdrawals, which read and rewrite the balance.
    spend: Mutex<()>,
    /// [`FRESH`], [`FIRST_REQUEST`] or [`SEASONED`].
    life: AtomicU8,
    /// What one request earns, in thousandths of a retry.
    earn: isize,
    /// Retries kept whatever the recent traffic, in thousandths.
    reserve: isize,
}

impl EarnedBudget {
    /// Callers check the parameters first: see `RetryPolicy::earned_budget`.
    pub(crate) fn new(ttl: Duration, reserve: u32, retry_ratio: f32) -> Self {
        EarnedBudget {
            recent: LeanTpsBudget::new(ttl, 0, 1.0),
            balance: Stripes::default(),
            spend: Mutex::new(()),
            life: AtomicU8::new(FRESH),
            earn: (f64::from(retry_ratio) * MILLI as f64).round() as isize,
            reserve: (reserve as isize).saturating_mul(MILLI),
        }
        .with_reserve()
    }

    /// The reserve is there from the start.
    fn with_reserve(self) -> Self {
        self.balance.add(self.reserve);
        self
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
        self.recent.deposit();
        self.balance.add(self.earn);
    }

    fn withdraw(&self) -> bool {
        if self.life.load(Ordering::SeqCst) == FIRST_REQUEST {
            return true;
        }
        let _spend = self.spend.lock().unwrap_or_else(PoisonError::into_inner);
        let cap = self
            .reserve
            .saturating_add(self.recent.windowed().saturating_mul(self.earn));
        // The request that failed earned nothing: take its share back.
        let mut balance = self.balance.take().min(cap) - self.earn;
        let granted = balance >= MILLI;
        if granted {
            balance -= MILLI;
        }
        self.balance.add(balance.max(0));
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
