//! The budget setters of [`RetryPolicy`].

use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::Budget;

use super::{amounts, EarnedBudget, HostBudgets, LeanTpsBudget};
use crate::RetryPolicy;

impl RetryPolicy {
    /// The retry budget, shared by every clone of this policy: every request
    /// deposits once, every retry withdraws, and a retry the budget refuses
    /// is not made. Takes any `tower::retry::budget::Budget`.
    /// Default: [`earned_budget`](Self::earned_budget)`(10 s, 2, 0.2)`,
    /// which bounds a retry storm for a fleet of clients of any size (see
    /// there; tower's `TpsBudget::default()` lets 1,000 quiet clients
    /// triple the load of a dead downstream).
    ///
    /// A budget is told of requests and retries, not of outcomes: the policy
    /// deposits once when a request starts, and withdraws before each
    /// retry (so a withdrawal, granted or not, says an attempt failed).
    ///
    /// `TpsBudget` rounds the ratio to one retry per *whole* number of
    /// requests (tower issue 857: `0.6` behaves as `1.0`); prefer
    /// [`tps_budget`](Self::tps_budget), which refuses such ratios.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::retry::budget::TpsBudget;
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .budget(TpsBudget::new(Duration::from_secs(10), 10, 0.2));
    /// ```
    pub fn budget<B>(mut self, budget: B) -> Self
    where
        B: Budget + Send + Sync + 'static,
    {
        let config = self.config();
        config.budget = Some(Arc::new(budget));
        config.host_budgets = None;
        self
    }

    /// A budget with `TpsBudget`'s bounds and its parameters checked, with a
    /// deposit that takes no lock: retries may make up `retry_ratio` of the
    /// requests seen over `ttl`, plus `min_per_sec` retries per second. On
    /// one thread it grants exactly what `TpsBudget` grants on the same
    /// schedule, whatever other budgets run on the thread. The ratio is
    /// kept exactly: `1.0 / 7.0` is a retry every 7 requests (`TpsBudget`
    /// makes it every 6).
    ///
    /// # Panics
    ///
    /// With a message naming the parameter, if `ttl` is outside 1 s..=60 s,
    /// `min_per_sec` is `i32::MAX` or more, or `retry_ratio` is not finite,
    /// is negative, above 1000, or one that cannot be kept exactly (a ratio
    /// `r ≤ 1` must make `1 / r` a whole number: 1, 0.5, 0.25, 0.2, 1/7, …;
    /// a ratio above 1 must make `1000 / r` one), checked with the
    /// arithmetic the budget itself uses.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .tps_budget(Duration::from_secs(10), 10, 0.25);
    /// ```
    pub fn tps_budget(self, ttl: Duration, min_per_sec: u32, retry_ratio: f32) -> Self {
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl),
            "RetryPolicy::tps_budget: `ttl` must be within 1s..=60s, got {ttl:?}"
        );
        assert!(
            min_per_sec < i32::MAX as u32,
            "RetryPolicy::tps_budget: `min_per_sec` must be below i32::MAX, got {min_per_sec}"
        );
        assert!(
            retry_ratio.is_finite() && (0.0..=1000.0).contains(&retry_ratio),
            "RetryPolicy::tps_budget: `retry_ratio` must be within 0..=1000, got {retry_ratio}"
        );
        // The arithmetic the budget uses: `deposit / withdraw` must be the
        // ratio asked for, to the precision of an f32.
        let (deposit, withdraw) = amounts(retry_ratio);
        let kept = deposit as f64 / withdraw as f64;
        let asked = f64::from(retry_ratio);
        if retry_ratio != 0.0 && (kept - asked).abs() > asked * 1e-6 {
            // What `TpsBudget` itself would keep: it truncates.
            let per = deposit as f32;
            let tower = per / ((per / retry_ratio) as isize).max(1) as f32;
            panic!(
                "RetryPolicy::tps_budget: `retry_ratio` {retry_ratio} would be rounded by TpsBudget \
                 (tower issue 857) to {tower}; use a ratio r for which {per}/r is a whole number"
            );
        }
        self.budget(LeanTpsBudget::new(ttl, min_per_sec, retry_ratio))
    }

    /// The default budget, with its parameters: retries are earned by
    /// requests that did not need one, kept up to a small reserve, and the
    /// client's first request is trusted. Default: `(10 s, 2, 0.2)`.
    ///
    /// - Each request earns `retry_ratio` of a retry; a failure takes back
    ///   what its request earned (every withdrawal says an attempt failed),
    ///   and a retry costs one. During an outage nothing is earned.
    /// - The budget keeps at most `reserve` retries plus `retry_ratio` of
    ///   the requests of the last `ttl`: a quiet client keeps its reserve for
    ///   its rare failure (a request a minute, one in ten failing: every
    ///   failure retried), a busy one has `TpsBudget`'s room for a burst.
    ///   It starts with the reserve.
    /// - Until a second request starts, the first one is not limited by the
    ///   budget: a client whose very first request fails retries it as often
    ///   as [`max_attempts`](Self::max_attempts) allows.
    ///
    /// So in an outage each client retries at most what it held when the
    /// outage began, `reserve + retry_ratio × (its requests of the last
    /// ttl)`, however many clients there are: over an outage of `T` seconds,
    /// a client sending `λ` requests a second adds at most
    /// `(reserve + retry_ratio·λ·ttl) / (λ·T)` to the load (README, "What
    /// retries do to a fleet"). Outside outages, retries stay below
    /// `retry_ratio` of the requests, as with `TpsBudget`.
    ///
    /// # Panics
    ///
    /// With a message naming the parameter, if `ttl` is outside 1 s..=60 s,
    /// `reserve` is above 1,000,000, or `retry_ratio` is not finite, is
    /// negative or above 1000.
    ///
    /// ```
    /// use std::time::Duration;
    /// // A larger reserve for a client that sends little and fails often.
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .earned_budget(Duration::from_secs(10), 5, 0.2);
    /// ```
    pub fn earned_budget(self, ttl: Duration, reserve: u32, retry_ratio: f32) -> Self {
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl),
            "RetryPolicy::earned_budget: `ttl` must be within 1s..=60s, got {ttl:?}"
        );
        assert!(
            reserve <= 1_000_000,
            "RetryPolicy::earned_budget: `reserve` must be at most 1000000, got {reserve}"
        );
        assert!(
            retry_ratio.is_finite() && (0.0..=1000.0).contains(&retry_ratio),
            "RetryPolicy::earned_budget: `retry_ratio` must be within 0..=1000, got {retry_ratio}"
        );
        self.budget(EarnedBudget::new(ttl, reserve, retry_ratio))
    }

    /// No retry budget: [`max_attempts`](Self::max_attempts) is the only
    /// bound on retries.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::default().without_budget();
    /// ```
    pub fn without_budget(mut self) -> Self {
        let config = self.config();
        config.budget = None;
        config.host_budgets = None;
        self
    }

    /// One default budget ([`earned_budget`](Self::earned_budget)`(10 s, 2,
    /// 0.2)`) per host instead of one for every host, so that a sick host
    /// never spends the retries of the healthy ones. A host is the scheme,
    /// host and port of the request's URI (lower case, the default port
    /// filled in); requests without one share a budget. At most
    /// `max_hosts` are kept, the least recently used dropped first; a host
    /// seen again after that starts afresh, with a full reserve and its
    /// first request trusted. Default: one budget for every host.
    ///
    /// A fleet's bound then holds per host: in an outage of every host at
    /// once, each host's budget spends at most its own reserve.
    /// A hedge of [`HedgeLayer::budget_of`](crate::HedgeLayer::budget_of)
    /// this policy spends the budget of its request's host, as a retry does.
    ///
    /// # Panics
    ///
    /// If `max_hosts` is 0.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::default().budget_per_host(1024);
    /// ```
    pub fn budget_per_host(self, max_hosts: usize) -> Self {
        self.budget_per_host_with(max_hosts, EarnedBudget::default)
    }

    /// One budget per host, as [`budget_per_host`](Self::budget_per_host),
    /// each made by `make` when its host is first seen.
    ///
    /// # Panics
    ///
    /// If `max_hosts` is 0.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::retry::budget::TpsBudget;
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .budget_per_host_with(256, || TpsBudget::new(Duration::from_secs(10), 1, 0.2));
    /// ```
    pub fn budget_per_host_with<B, F>(mut self, max_hosts: usize, make: F) -> Self
    where
        B: Budget + Send + Sync + 'static,
        F: Fn() -> B + Send + Sync + 'static,
    {
        assert!(
            max_hosts >= 1,
            "RetryPolicy::budget_per_host: `max_hosts` must be at least 1, got {max_hosts}"
        );
        let make = Arc::new(move || -> Box<dyn Budget + Send + Sync> { Box::new(make()) });
        let config = self.config();
        config.budget = None;
        config.host_budgets = Some(Arc::new(HostBudgets::new(max_hosts, make)));
        self
    }
}
