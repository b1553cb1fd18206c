//! Backoff schedules: how long to wait before each retry.
//!
//! A schedule is anything that implements [`Backoff`]: the two provided here,
//! or a closure `Fn(u32) -> Duration` that maps the retry number (1 = the
//! first retry) to a delay.
//!
//! | schedule | delay before retry `n` |
//! |---|---|
//! | [`ConstantBackoff::new(d)`](ConstantBackoff::new) | `d` |
//! | [`ExponentialBackoff::new(base)`](ExponentialBackoff::new) | `min(base * 2^(n-1), max_delay)`, then [`Jitter`] |
//!
//! The default schedule of [`RetryPolicy`](crate::RetryPolicy) is
//! exponential from 100 ms, capped at 10 s, with full jitter (AWS's
//! "Exponential Backoff And Jitter": full jitter spreads a burst of clients
//! best for the least total work).
//!
//! The delay a schedule returns is the wait, whole: the policy's
//! [`max_retry_after`](crate::RetryPolicy::max_retry_after) caps what a
//! server asks for, not your schedule. Bound a custom schedule yourself
//! (as [`ExponentialBackoff::max_delay`] does), or bound the time a retry
//! may start with [`max_elapsed`](crate::RetryPolicy::max_elapsed). No
//! delay, not even `Duration::MAX`, overflows or wraps to a short wait.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tower_http_retry::backoff::{Backoff, ConstantBackoff, ExponentialBackoff, Jitter};
//!
//! let exp = ExponentialBackoff::new(Duration::from_millis(100))
//!     .max_delay(Duration::from_secs(1))
//!     .jitter(Jitter::None);
//! assert_eq!(exp.delay(1, Duration::ZERO), Duration::from_millis(100));
//! assert_eq!(exp.delay(3, Duration::ZERO), Duration::from_millis(400));
//! assert_eq!(exp.delay(10_000, Duration::ZERO), Duration::from_secs(1));
//!
//! let constant = ConstantBackoff::new(Duration::from_millis(250));
//! assert_eq!(constant.delay(7, Duration::ZERO), Duration::from_millis(250));
//!
//! // A closure is a schedule too.
//! let linear = |retry: u32| Duration::from_millis(50) * retry;
//! assert_eq!(linear.delay(3, Duration::ZERO), Duration::from_millis(150));
//! ```

mod constant;
mod exponential;
mod jitter;

pub use constant::ConstantBackoff;
pub use exponential::ExponentialBackoff;
pub use jitter::Jitter;

use std::time::Duration;

/// A backoff schedule: the wait before a retry.
///
/// Implemented by [`ConstantBackoff`], [`ExponentialBackoff`] and every
/// closure `Fn(u32) -> Duration`.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::backoff::Backoff;
///
/// /// Waits 1 s, then 2 s, then 3 s, …
/// struct Linear;
///
/// impl Backoff for Linear {
///     fn delay(&self, retry: u32, _previous: Duration) -> Duration {
///         Duration::from_secs(u64::from(retry))
///     }
/// }
///
/// assert_eq!(Linear.delay(2, Duration::from_secs(1)), Duration::from_secs(2));
/// ```
pub trait Backoff {
    /// The wait before retry number `retry` (1 = the first retry, made after
    /// the first attempt failed). `previous` is the wait chosen before the
    /// previous retry (zero before the first); decorrelated jitter builds on
    /// it.
    fn delay(&self, retry: u32, previous: Duration) -> Duration;
}

impl<F> Backoff for F
where
    F: Fn(u32) -> Duration,
{
    fn delay(&self, retry: u32, _previous: Duration) -> Duration {
        self(retry)
    }
}
