use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;
use tower::retry::budget::Budget;

use super::budget::{BudgetRef, EarnedBudget, HostBudgets};
use super::hooks::{GiveUpHook, RetryHook};
use crate::backoff::{Backoff, ExponentialBackoff, Jitter};
use crate::classify::{Classifier, ErrorTypes, StatusSet};

/// When and how to retry: the `tower::retry::Policy` used by
/// [`RetryLayer`](crate::RetryLayer).
///
/// | setting | default |
/// |---|---|
/// | [`max_attempts`](Self::max_attempts) | 3 |
/// | [`backoff`](Self::backoff) | exponential from 100 ms, capped at 10 s, full jitter |
/// | [`retry_statuses`](Self::retry_statuses) | 408, 429, 500, 502, 503, 504 |
/// | [`max_retry_after`](Self::max_retry_after) | 60 s |
/// | [`max_elapsed`](Self::max_elapsed) | none |
/// | [`budget`](Self::budget) | [`earned_budget`](Self::earned_budget)`(10 s, 2, 0.2)`: 20 % of requests, a reserve of 2, bounded for a fleet of any size |
///
/// Cloning is cheap (one reference count): the configuration and the budget
/// are shared by every clone.
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use tower_http_retry::RetryPolicy;
/// use tower_http_retry::backoff::{ExponentialBackoff, Jitter};
///
/// let policy = RetryPolicy::default()
///     .max_attempts(4)
///     .backoff(ExponentialBackoff::new(Duration::from_millis(100))
///         .max_delay(Duration::from_secs(5))
///         .jitter(Jitter::Full))
///     .retry_statuses([StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE])
///     .max_retry_after(Duration::from_secs(30))
///     .max_elapsed(Duration::from_secs(20));
/// assert_eq!(policy.get_max_attempts(), 4);
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    pub(super) config: Arc<Config>,
    /// Attempts made so far by the request this clone belongs to.
    pub(super) attempt: u32,
    /// The wait before the previous retry (decorrelated jitter needs it).
    pub(super) previous: Duration,
    /// When the first attempt started; read only when `max_elapsed` is set.
    pub(super) start: Option<Instant>,
}

/// Every call clones the `Arc` (tower's `Retry` clones the policy into its
/// future), writing its counts from every core: aligned past them, the
/// settings that every call reads stay shared in every core's cache.
#[derive(Clone)]
#[repr(align(128))]
pub(super) struct Config {
    pub(super) max_attempts: u32,
    pub(super) backoff: Arc<dyn Backoff + Send + Sync>,
    pub(super) statuses: StatusSet,
    pub(super) max_retry_after: Duration,
    pub(super) max_elapsed: Option<Duration>,
    pub(super) budget: Option<Arc<dyn Budget + Send + Sync>>,
    /// One budget per host instead of `budget`, when set.
    pub(super) host_budgets: Option<Arc<HostBudgets>>,
    /// The user's rule, run before the built-in ones; `None` keeps the
    /// fast path for statuses that are not retried.
    pub(super) classifier: Option<Arc<dyn Classifier>>,
    pub(super) on_retry: Option<RetryHook>,
    pub(super) on_give_up: Option<GiveUpHook>,
    pub(super) error_types: ErrorTypes,
}

impl Config {
    /// The budget a request to `uri` deposits in and withdraws from: its
    /// host's when budgets are per host, else the shared one.
    pub(super) fn budget_for(&self, uri: &http::Uri) -> Option<BudgetRef<'_>> {
        match &self.host_budgets {
            Some(hosts) => Some(BudgetRef::Host(hosts.for_uri(uri))),
            None => self.budget.as_deref().map(BudgetRef::Shared),
        }
    }
}

impl Default for RetryPolicy {
    /// The defaults of the table above.
    fn default() -> Self {
        RetryPolicy {
            config: Arc::new(Config {
                max_attempts: 3,
                backoff: Arc::new(
                    ExponentialBackoff::new(Duration::from_millis(100))
                        .max_delay(Duration::from_secs(10))
                        .jitter(Jitter::Full),
                ),
                statuses: StatusSet::default(),
                max_retry_after: Duration::from_secs(60),
                max_elapsed: None,
                budget: Some(Arc::new(EarnedBudget::default())),
                host_budgets: None,
                classifier: None,
                on_retry: None,
                on_give_up: None,
                error_types: ErrorTypes::default(),
            }),
            attempt: 1,
            previous: Duration::ZERO,
            start: None,
        }
    }
}

impl RetryPolicy {
    /// A policy with the defaults.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::new();
    /// assert_eq!(policy.get_max_attempts(), 3);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Total attempts per request, the first included: `1` never retries.
    /// Default: 3.
    ///
    /// # Panics
    ///
    /// If `max_attempts` is 0.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::default().max_attempts(1); // never retry
    /// # assert_eq!(policy.get_max_attempts(), 1);
    /// ```
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        assert!(
            max_attempts >= 1,
            "RetryPolicy::max_attempts: `max_attempts` counts the first attempt and must be at least 1, got {max_attempts}"
        );
        self.config().max_attempts = max_attempts;
        self
    }

    /// The configured total attempts.
    pub fn get_max_attempts(&self) -> u32 {
        self.config.max_attempts
    }

    /// The wait before each retry, when the response names none
    /// (`Retry-After`, `retry-after-ms`, a rate-limit header). Default: exponential from 100 ms, capped at 10 s, full
    /// jitter. The delay it returns is the wait, whole: the schedule's own
    /// cap ([`ExponentialBackoff::max_delay`]) bounds it, not
    /// [`max_retry_after`](Self::max_retry_after), which bounds what a
    /// server asks for. A delay too long for the clock (`Duration::MAX`)
    /// waits as long as tokio's timer can (about 30 years), never less.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_http_retry::{RetryPolicy, backoff::ConstantBackoff};
    ///
    /// let fixed = RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(50)));
    /// let custom = RetryPolicy::default().backoff(|retry: u32| Duration::from_millis(10) * retry);
    /// ```
    pub fn backoff<B>(mut self, backoff: B) -> Self
    where
        B: Backoff + Send + Sync + 'static,
    {
        self.config().backoff = Arc::new(backoff);
        self
    }

    /// The response statuses that are retried; replaces the default set
    /// (408, 429, 500, 502, 503, 504). Every other status goes back to the
    /// caller at once.
    ///
    /// ```
    /// use http::StatusCode;
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .retry_statuses([StatusCode::SERVICE_UNAVAILABLE]);
    /// assert!(policy.is_retry_status(StatusCode::SERVICE_UNAVAILABLE));
    /// assert!(!policy.is_retry_status(StatusCode::BAD_GATEWAY));
    /// ```
    pub fn retry_statuses<I>(mut self, statuses: I) -> Self
    where
        I: IntoIterator<Item = StatusCode>,
    {
        self.config().statuses = statuses.into_iter().collect();
        self
    }

    /// Whether a response with `status` is retried.
    pub fn is_retry_status(&self, status: StatusCode) -> bool {
        self.config.statuses.contains(status)
    }

    /// The longest wait a server may ask for. A server's wait asking for
    /// longer (`Retry-After`, `retry-after-ms`, a rate-limit header) is not slept: the response goes back to the caller at once.
    /// It does not cap the [`backoff`](Self::backoff), whose delays are
    /// yours: its own `max_delay` does. Default: 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = tower_http_retry::RetryPolicy::default().max_retry_after(Duration::from_secs(5));
    /// ```
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.config().max_retry_after = max;
        self
    }

    /// When the last retry may start, measured from the start of the first
    /// attempt: a retry whose wait would end past `max_elapsed` is not made,
    /// and the last outcome goes back to the caller. It does not bound the
    /// whole call: an attempt that starts in time runs as long as it takes
    /// (attempts of 8 s, a 1 s backoff and `max_elapsed(20 s)`: retries
    /// start at 9 s and 18 s, and the call ends at 26 s). To bound the
    /// whole call, put a timeout above the retries, as in the example.
    /// Default: none.
    ///
    /// # Panics
    ///
    /// If `max_elapsed` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::ServiceBuilder;
    /// use tower_http_retry::{RetryLayer, RetryPolicy};
    /// # let client = tower::service_fn(|_: http::Request<String>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// # });
    ///
    /// let client = ServiceBuilder::new()
    ///     .timeout(Duration::from_secs(25)) // the whole call, retries included
    ///     .layer(RetryLayer::new(
    ///         RetryPolicy::default().max_elapsed(Duration::from_secs(20)), // no retry starts after 20 s
    ///     ))
    ///     .service(client);
    /// ```
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        assert!(
            !max_elapsed.is_zero(),
            "RetryPolicy::max_elapsed: `max_elapsed` must be above zero, got {max_elapsed:?}"
        );
        self.config().max_elapsed = Some(max_elapsed);
        self
    }

    /// The budget this policy withdraws from, shared: hedging spends it too
    /// (`HedgeLayer::budget_of`), and takes its default from here.
    pub(crate) fn shared_budget(&self) -> Option<Arc<dyn Budget + Send + Sync>> {
        self.config.budget.clone()
    }

    /// Whether the budget of a request to `uri` (the shared one, or its
    /// host's) lets one more attempt start: a hedge spends it as a retry does.
    pub(crate) fn withdraw_for(&self, uri: &http::Uri) -> bool {
        self.config
            .budget_for(uri)
            .is_none_or(|budget| budget.withdraw())
    }

    /// Teaches the policy an error type of your own, so that its
    /// `source()` chain is walked like that of a known error
    /// ([`ErrorClass::from_error`](crate::ErrorClass::from_error)). Default:
    /// none.
    ///
    /// The policy is generic over the error type of the service it retries,
    /// and Rust cannot ask a value of a generic type whether it is an error:
    /// the policy sees as errors the boxed ones (`tower::BoxError`, as every
    /// layer that adds errors returns, the circuit breaker included), the
    /// types of [`ErrorClass`](crate::ErrorClass)'s table, and the types
    /// registered here. An error of any other type is
    /// [`Ambiguous`](crate::ErrorClass::Ambiguous): a POST that failed with
    /// it is never replayed, even when a refused connection is beneath it.
    ///
    /// ```
    /// use std::{error::Error, fmt, io};
    ///
    /// /// The error of a client of your own, with the I/O error beneath it.
    /// #[derive(Debug)]
    /// struct MyClientError(io::Error);
    /// impl fmt::Display for MyClientError {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    ///         f.write_str("my client failed")
    ///     }
    /// }
    /// impl Error for MyClientError {
    ///     fn source(&self) -> Option<&(dyn Error + 'static)> {
    ///         Some(&self.0)
    ///     }
    /// }
    ///
    /// // A refused connection beneath `MyClientError` now proves that the
    /// // request never left: it is retried whatever its method.
    /// let policy = tower_http_retry::RetryPolicy::default().error_type::<MyClientError>();
    /// ```
    pub fn error_type<E: std::error::Error + 'static>(mut self) -> Self {
        self.config().error_types.register::<E>();
        self
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &c.max_attempts)
            .field("retry_statuses", &c.statuses)
            .field("max_retry_after", &c.max_retry_after)
            .field("max_elapsed", &c.max_elapsed)
            .field("budget", &c.budget.is_some())
            .field("budget_per_host", &c.host_budgets.is_some())
            .field("classifier", &c.classifier.is_some())
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
