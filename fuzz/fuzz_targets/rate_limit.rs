//! Any bytes in the rate-limit headers (`retry-after-ms`, `RateLimit`,
//! `RateLimit-Reset`, `X-RateLimit-Reset` with their `-Remaining`,
//! `x-should-retry`) on an error response: never a panic, never a wait
//! above the cap when the server named it, never a replay of a POST,
//! never a retry of a 200.
#![no_main]

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower_http_retry::RetryPolicy;

mod common;

const NAMES: [&str; 8] = [
    "retry-after-ms",
    "ratelimit",
    "ratelimit-reset",
    "x-ratelimit-reset",
    "ratelimit-remaining",
    "x-ratelimit-remaining",
    "x-should-retry",
    "retry-after",
];
const STATUSES: [u16; 6] = [429, 503, 500, 409, 400, 200];

fuzz_target!(|data: &[u8]| {
    let [status, cap, rest @ ..] = data else {
        return;
    };
    let status = STATUSES[usize::from(*status) % STATUSES.len()];
    // A cap of 0 to 63.75 s, in quarter seconds: fractions matter here.
    let cap = Duration::from_millis(u64::from(*cap) * 250);
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::from_u16(status).expect("a status");
    // The rest: lines, each a name index byte and a value.
    for line in rest.split(|b| *b == b'\n') {
        let Some((&which, value)) = line.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(NAMES[usize::from(which) % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            res.headers_mut().append(name, value);
        }
    }
    for method in [Method::GET, Method::POST] {
        let policy = RetryPolicy::default()
            .without_budget()
            .backoff(|_| Duration::from_millis(5))
            .max_retry_after(cap);
        let mut copy = Response::new(());
        *copy.status_mut() = res.status();
        *copy.headers_mut() = res.headers().clone();
        let req = Request::builder().method(method.clone()).body(()).expect("a request");
        if let Some((delay, named)) = common::decide(policy, req, Ok(copy)) {
            if named {
                assert!(delay <= cap, "{delay:?} above the cap {cap:?}");
            } else {
                assert_eq!(delay, Duration::from_millis(5), "the backoff's wait, whole");
            }
            assert_eq!(method, Method::GET, "a POST replayed");
            assert!(status >= 400, "a {status} retried");
        }
    }
});
