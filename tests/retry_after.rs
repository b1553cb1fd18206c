//! `Retry-After` from a real server: honoured exactly, never early, capped.

mod support;

use std::time::{Duration, Instant, SystemTime};

use http::{Method, StatusCode};
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::{RetryLayer, RetryPolicy};

/// 503 with `Retry-After: value` on the first request, then 200.
async fn server_with(value: &'static [u8]) -> TestServer {
    TestServer::start(move |n, _| {
        if n == 0 {
            status_with(503, "retry-after", value)
        } else {
            status(200)
        }
    })
    .await
}

async fn get(policy: RetryPolicy, server: &TestServer) -> (StatusCode, Option<u32>) {
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client());
    let res = svc
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    (res.status(), attempts(&res))
}

#[tokio::test]
async fn delay_seconds_replaces_the_backoff() {
    let server = server_with(b"1").await;
    let (status, attempts) = get(fast_policy(), &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(2)));
    let r = server.requests();
    let gap = r[1].at - r[0].at;
    assert!(gap >= Duration::from_secs(1), "sent early: {gap:?}");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
}

#[tokio::test]
async fn an_http_date_is_never_retried_early() {
    // A date 2 s ahead, in whole seconds as HTTP-dates are.
    let at = SystemTime::now() + Duration::from_secs(2);
    let value: &'static [u8] =
        Box::leak(httpdate::fmt_http_date(at).into_bytes().into_boxed_slice());
    let named = httpdate::parse_http_date(std::str::from_utf8(value).unwrap()).unwrap();
    let server = server_with(value).await;
    let (status, attempts) = get(fast_policy(), &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(2)));
    let second = server.requests()[1].at_system;
    assert!(
        second >= named,
        "retry sent {:?} before the named moment",
        named.duration_since(second)
    );
    assert!(second.duration_since(named).unwrap() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_date_in_the_past_retries_at_once() {
    let server = server_with(b"Sun, 06 Nov 1994 08:49:37 GMT").await;
    let policy = fast_policy().backoff(ConstantBackoff::new(Duration::from_secs(30)));
    let started = Instant::now();
    let (status, attempts) = get(policy, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(2)));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn above_the_cap_the_response_goes_back_without_sleeping() {
    for value in [
        &b"61"[..],
        b"86400",
        b"99999999999999999999999999999999999999",
        b"Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let value: &'static [u8] = Box::leak(value.to_vec().into_boxed_slice());
        let server = server_with(value).await;
        let policy = fast_policy().max_retry_after(Duration::from_secs(60));
        let started = Instant::now();
        let (status, attempts) = get(policy, &server).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(attempts, Some(1));
        assert_eq!(server.calls(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            std::str::from_utf8(value)
        );
    }
}

#[tokio::test]
async fn a_two_digit_year_is_read_ahead_per_rfc_9110() {
    // RFC 850 form, year `70`: 2070 (not more than 50 years ahead of now),
    // far above the cap: handed back at once, not retried after the
    // backoff as a 1970 date (or a rejected one) would be.
    let server = server_with(b"Wednesday, 01-Jan-70 00:00:00 GMT").await;
    let started = Instant::now();
    let (status, attempts) = get(fast_policy(), &server).await;
    assert_eq!(
        (status, attempts),
        (StatusCode::SERVICE_UNAVAILABLE, Some(1))
    );
    assert_eq!(server.calls(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn garbage_falls_back_to_the_backoff() {
    for value in [
        &b"-5"[..],
        b"soon",
        b"1.5",
        b"\xff\xfe",
        b"Sun, 32 Nov 1994 08:49:37 GMT",
        b"",
    ] {
        let value: &'static [u8] = Box::leak(value.to_vec().into_boxed_slice());
        let server = server_with(value).await;
        // The backoff (200 ms) applies instead.
        let policy = fast_policy().backoff(ConstantBackoff::new(Duration::from_millis(200)));
        let (status, attempts) = get(policy, &server).await;
        assert_eq!((status, attempts), (StatusCode::OK, Some(2)), "{value:?}");
        let r = server.requests();
        let gap = r[1].at - r[0].at;
        assert!(
            gap >= Duration::from_millis(200) && gap < Duration::from_secs(2),
            "{value:?}: {gap:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_too() {
    let server = TestServer::start(|n, _| {
        if n == 0 {
            status_with(429, "retry-after", b"1")
        } else {
            status(200)
        }
    })
    .await;
    let (status, attempts) = get(fast_policy(), &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(2)));
    let r = server.requests();
    assert!(r[1].at - r[0].at >= Duration::from_secs(1));
}
