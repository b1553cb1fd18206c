use std::time::Duration;

use http::{Method, Uri};

use super::RetryReason;

/// What [`RetryPolicy::on_retry`](crate::RetryPolicy::on_retry) and
/// [`RetryPolicy::on_give_up`](crate::RetryPolicy::on_give_up) are told.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tower_http_retry::{RetryEvent, RetryPolicy};
///
/// let retries = Arc::new(AtomicU64::new(0));
/// let counter = retries.clone();
/// let policy = RetryPolicy::default().on_retry(move |e: &RetryEvent<'_>| {
///     counter.fetch_add(1, Ordering::Relaxed);
///     println!("retry after attempt {} in {:?}: {}", e.attempt, e.delay, e.reason);
/// });
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryEvent<'a> {
    /// The attempt that failed (1 = the first).
    pub attempt: u32,
    /// The wait before the retry (zero when giving up).
    pub delay: Duration,
    /// Why the attempt failed.
    pub reason: RetryReason,
    /// The wait is the server's (`Retry-After`, `retry-after-ms` or a
    /// rate-limit header), not the backoff's.
    pub from_retry_after: bool,
    /// Why there is no retry, when giving up: `"max attempts reached"`,
    /// `"retry budget exhausted"`, … (`None` for a retry).
    pub gave_up: Option<&'static str>,
    /// The request's method.
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
}
