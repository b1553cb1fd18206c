//! Any bytes as `Retry-After` on a 503: never a panic, never a wait the
//! server named above the cap (the backoff's own wait is not capped by it).
#![no_main]

use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower_http_retry::RetryPolicy;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let cap = Duration::from_secs(u64::from(cap));
    let policy = RetryPolicy::default()
        .without_budget()
        .backoff(|_| Duration::from_millis(5))
        .max_retry_after(cap);
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(http::header::RETRY_AFTER, value);
    if let Some((delay, from_retry_after)) = common::decide(policy, Request::new(()), Ok(res)) {
        if from_retry_after {
            assert!(delay <= cap, "{delay:?} above the cap {cap:?}");
        } else {
            assert_eq!(delay, Duration::from_millis(5), "the backoff's wait, whole");
        }
    }
});
