//! What the hooks are told: [`RetryEvent`] before a retry, [`GiveUpEvent`]
//! when a retryable outcome goes back without one.

use std::fmt;
use std::time::Duration;

use http::{Method, Uri};

use super::RetryReason;

/// What [`RetryPolicy::on_retry`](crate::RetryPolicy::on_retry) is told,
/// before each retry.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tower_http_retry::RetryPolicy;
/// use tower_http_retry::retry::RetryEvent;
///
/// let retries = Arc::new(AtomicU64::new(0));
/// let counter = retries.clone();
/// let policy = RetryPolicy::default().on_retry(move |e: &RetryEvent<'_>| {
///     counter.fetch_add(1, Ordering::Relaxed);
///     println!(
///         "retry after attempt {} in {:?} ({}): {}",
///         e.attempt, e.delay, e.delay_from, e.reason
///     );
/// });
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryEvent<'a> {
    /// The attempt that failed (1 = the first).
    pub attempt: u32,
    /// The wait before the retry.
    pub delay: Duration,
    /// Whose word the wait is: the backoff's, the server's, the classifier's.
    pub delay_from: WaitSource,
    /// Why the attempt failed.
    pub reason: RetryReason,
    /// The request's method.
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
}

/// What [`RetryPolicy::on_give_up`](crate::RetryPolicy::on_give_up) is
/// told: an outcome that would have been retried goes back to the caller.
///
/// ```
/// use tower_http_retry::retry::GiveUpReason;
/// use tower_http_retry::RetryPolicy;
/// use tower_http_retry::retry::GiveUpEvent;
///
/// let policy = RetryPolicy::default().on_give_up(|e: &GiveUpEvent<'_>| {
///     if e.why == GiveUpReason::Budget {
///         eprintln!("retry budget exhausted for {}", e.uri);
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct GiveUpEvent<'a> {
    /// The attempts made, the first included.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub reason: RetryReason,
    /// Why it is not retried.
    pub why: GiveUpReason,
    /// The request's method.
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
}

/// Why an outcome that would have been retried was not: the `why` field of
/// the `giving up on request` tracing event and of the
/// `tower_http_retry_give_ups_total` metric, as [`as_str`](Self::as_str)
/// spells it.
///
/// ```
/// use tower_http_retry::retry::GiveUpReason;
///
/// assert_eq!(GiveUpReason::Attempts.as_str(), "max attempts reached");
/// assert_eq!(GiveUpReason::Budget.to_string(), "retry budget exhausted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The request is not safe to replay (not idempotent, no
    /// `Idempotency-Key`) and may have reached the server.
    NotReplayable,
    /// Its body outgrew the [`ReplayBodyLayer`](crate::ReplayBodyLayer)
    /// limit.
    BodyOverLimit,
    /// The response body was over the
    /// [`BufferResponseLayer`](crate::BufferResponseLayer) limit: part of it
    /// is read and the rest streams on, so the attempt is final.
    ResponseOverLimit,
    /// `max_attempts` were made.
    Attempts,
    /// The server's `Retry-After` asks for longer than `max_retry_after`.
    RetryAfterTooLong,
    /// A rate-limit header (`retry-after-ms`, `RateLimit`, a reset) asks
    /// for longer than `max_retry_after`.
    RateLimitTooLong,
    /// The server said `x-should-retry: false`.
    ServerSaidNo,
    /// The classifier's [`Verdict::RetryAfter`](crate::retry::Verdict::RetryAfter)
    /// asks for longer than `max_retry_after`.
    VerdictWaitTooLong,
    /// The wait would end past `max_elapsed`.
    Elapsed,
    /// The retry budget refused the retry.
    Budget,
}

impl GiveUpReason {
    /// A short, stable description, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::NotReplayable => "request is not safe to replay",
            GiveUpReason::BodyOverLimit => "request body exceeded the replay limit",
            GiveUpReason::ResponseOverLimit => "response body over the BufferResponseLayer limit",
            GiveUpReason::Attempts => "max attempts reached",
            GiveUpReason::RetryAfterTooLong => "Retry-After above max_retry_after",
            GiveUpReason::RateLimitTooLong => "rate-limit wait above max_retry_after",
            GiveUpReason::ServerSaidNo => "x-should-retry: false",
            GiveUpReason::VerdictWaitTooLong => "classifier wait above max_retry_after",
            GiveUpReason::Elapsed => "max elapsed time would be exceeded",
            GiveUpReason::Budget => "retry budget exhausted",
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the wait before a retry comes from: the `delay_from` field of the
/// `retrying request` tracing event, as [`as_str`](Self::as_str) spells it.
///
/// ```
/// use tower_http_retry::retry::WaitSource;
///
/// assert_eq!(WaitSource::RetryAfter.as_str(), "retry-after");
/// assert_eq!(WaitSource::Backoff.to_string(), "backoff");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitSource {
    /// The policy's backoff schedule.
    Backoff,
    /// The response's `Retry-After` header.
    RetryAfter,
    /// The response's `retry-after-ms` header (OpenAI, Anthropic).
    RetryAfterMs,
    /// The IETF `RateLimit` field: a policy with `r=0` and `t=N`.
    RateLimit,
    /// The response's `RateLimit-Reset` header, with its quota spent.
    RateLimitReset,
    /// The response's `X-RateLimit-Reset` header, with its quota spent.
    XRateLimitReset,
    /// The classifier's [`Verdict::RetryAfter`](crate::retry::Verdict::RetryAfter).
    Classifier,
}

impl WaitSource {
    /// A short, stable name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitSource::Backoff => "backoff",
            WaitSource::RetryAfter => "retry-after",
            WaitSource::RetryAfterMs => "retry-after-ms",
            WaitSource::RateLimit => "ratelimit",
            WaitSource::RateLimitReset => "ratelimit-reset",
            WaitSource::XRateLimitReset => "x-ratelimit-reset",
            WaitSource::Classifier => "classifier",
        }
    }
}

impl fmt::Display for WaitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
