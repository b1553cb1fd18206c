//! Counters and gauges through the `metrics` facade (feature `metrics`).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `tower_http_retry_retries_total` | counter | `reason` (status code or error class) |
//! | `tower_http_retry_give_ups_total` | counter | `reason`, `why` |
//!
//! Install any `metrics` recorder (Prometheus exporter, …) to collect them;
//! without one they cost a relaxed atomic load.

use crate::RetryReason;

pub(crate) fn retry(reason: RetryReason) {
    metrics::counter!("tower_http_retry_retries_total", "reason" => reason.to_string())
        .increment(1);
}

pub(crate) fn give_up(reason: RetryReason, why: &'static str) {
    metrics::counter!(
        "tower_http_retry_give_ups_total",
        "reason" => reason.to_string(),
        "why" => why
    )
    .increment(1);
}
