//! The policy's decision on arbitrary outcomes: any method, status, headers
//! or transport error. Never a panic; a request that is not safe to replay
//! is never replayed after an ambiguous outcome; no wait above the cap.
#![no_main]

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower_http_retry::RetryPolicy;

mod common;

const KINDS: [std::io::ErrorKind; 6] = [
    std::io::ErrorKind::ConnectionRefused,
    std::io::ErrorKind::ConnectionReset,
    std::io::ErrorKind::UnexpectedEof,
    std::io::ErrorKind::TimedOut,
    std::io::ErrorKind::BrokenPipe,
    std::io::ErrorKind::Other,
];

fuzz_target!(|data: &[u8]| {
    let [m, s0, s1, kind, cap, rest @ ..] = data else {
        return;
    };
    let method = match m % 10 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::OPTIONS,
        3 => Method::TRACE,
        4 => Method::PUT,
        5 => Method::DELETE,
        6 => Method::POST,
        7 => Method::PATCH,
        8 => Method::CONNECT,
        _ => Method::from_bytes(b"PURGE").expect("a valid method"),
    };
    let mut req = Request::builder()
        .method(method.clone())
        .body(())
        .expect("a request");
    // The rest: header lines `name:value`, separated by newlines.
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let keyed = headers.contains_key("idempotency-key");
    if keyed {
        req.headers_mut()
            .insert("idempotency-key", HeaderValue::from_static("k"));
    }
    let result = if kind % 2 == 0 {
        let code = 100 + u16::from_be_bytes([*s0, *s1]) % 900;
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::from_u16(code).expect("100..=999");
        *res.headers_mut() = headers;
        Ok(res)
    } else {
        Err(std::io::Error::from(
            KINDS[usize::from(kind / 2) % KINDS.len()],
        ))
    };
    let never_sent = matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
    let cap = Duration::from_secs(u64::from(*cap));
    let policy = RetryPolicy::default()
        .without_budget()
        .backoff(|_| Duration::from_millis(5))
        .max_retry_after(cap);
    let safe = keyed
        || matches!(
            method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
    if let Some((delay, from_retry_after)) = common::decide(policy, req, result) {
        assert!(safe || never_sent, "{method} replayed");
        if from_retry_after {
            assert!(delay <= cap);
        } else {
            assert_eq!(delay, Duration::from_millis(5), "the backoff's wait, whole");
        }
    }
});
