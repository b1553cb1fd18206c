//! The server's word in every form, over loopback: one wiremock server per
//! dialect (`Retry-After`'s own tests are in `retry_after.rs`). Real time,
//! with waits short enough to keep the suite quick and bounds generous.

mod support;

use std::time::{Duration, Instant, SystemTime};

use http::{Method, StatusCode};
use support::events::{capture, Events};
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{RetryLayer, RetryPolicy};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server answering its first request with `status` and `headers`, and
/// 200 after.
async fn dialect(status: u16, headers: &[(&str, String)]) -> MockServer {
    let server = MockServer::start().await;
    let mut first = ResponseTemplate::new(status);
    for (name, value) in headers {
        first = first.insert_header(*name, value.as_str());
    }
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

/// Sends one request through `policy`: the status, the attempts, the time
/// it took.
async fn send(
    policy: RetryPolicy,
    method: Method,
    server: &MockServer,
) -> (StatusCode, u32, Duration) {
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client());
    let start = Instant::now();
    let res = svc.oneshot(request(method, &server.uri())).await.unwrap();
    (res.status(), attempts(&res).unwrap(), start.elapsed())
}

fn retry_event(events: &Events) -> (String, u64) {
    let events = events.lock().unwrap();
    let retry = events
        .iter()
        .find(|e| e["message"] == "retrying request")
        .unwrap_or_else(|| panic!("no retry in {events:#?}"));
    (
        retry["delay_from"].clone(),
        retry["delay_ms"].parse().unwrap(),
    )
}

#[tokio::test]
async fn retry_after_ms_sets_the_wait() {
    let (events, _guard) = capture();
    let server = dialect(429, &[("retry-after-ms", "300".into())]).await;
    let (status, attempts, took) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    assert!(took >= Duration::from_millis(300), "{took:?}: early");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(retry_event(&events), ("retry-after-ms".into(), 300));
}

#[tokio::test]
async fn ratelimit_field_with_a_spent_policy_sets_the_wait() {
    let (events, _guard) = capture();
    let server = dialect(
        503,
        &[(
            "ratelimit",
            r#""default";r=0;t=1, "day";r=10;t=50000"#.into(),
        )],
    )
    .await;
    let (status, attempts, took) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    assert!(took >= Duration::from_secs(1), "{took:?}: early");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(retry_event(&events), ("ratelimit".into(), 1000));
}

#[tokio::test]
async fn ratelimit_reset_delta_seconds_sets_the_wait() {
    let (events, _guard) = capture();
    let server = dialect(429, &[("ratelimit-reset", "1".into())]).await;
    let (status, attempts, took) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    assert!(took >= Duration::from_secs(1), "{took:?}: early");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(retry_event(&events), ("ratelimit-reset".into(), 1000));
}

#[tokio::test]
async fn x_ratelimit_reset_unix_time_is_never_early() {
    let (events, _guard) = capture();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let reset = now.as_secs() + 2;
    let server = dialect(
        429,
        &[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
    )
    .await;
    let (status, attempts, took) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    let after = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    assert!(
        after.as_secs() >= reset,
        "retried before the reset: {after:?} < {reset}"
    );
    assert!(took < Duration::from_secs(7), "{took:?}");
    let (from, ms) = retry_event(&events);
    assert_eq!(from, "x-ratelimit-reset");
    assert!((1000..=2000).contains(&ms), "{ms}");
}

#[tokio::test]
async fn a_wait_above_max_retry_after_hands_the_response_back_at_once() {
    let server = dialect(429, &[("retry-after-ms", "5000".into())]).await;
    let policy = fast_policy().max_retry_after(Duration::from_secs(1));
    let (status, attempts, took) = send(policy, Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::TOO_MANY_REQUESTS, 1));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn malformed_values_leave_the_backoff() {
    let (events, _guard) = capture();
    let server = dialect(
        503,
        &[
            ("retry-after-ms", "-5".into()),
            ("ratelimit", "\"p\";r=0;t=1.5".into()),
        ],
    )
    .await;
    let (status, attempts, _) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    assert_eq!(retry_event(&events), ("backoff".into(), 1));
}

#[tokio::test]
async fn x_should_retry_false_is_not_retried() {
    let server = dialect(503, &[("x-should-retry", "false".into())]).await;
    let (status, attempts, _) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::SERVICE_UNAVAILABLE, 1));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn x_should_retry_true_retries_a_status_that_is_not_retried_when_safe() {
    let server = dialect(409, &[("x-should-retry", "true".into())]).await;
    let (status, attempts, _) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!((status, attempts), (StatusCode::OK, 2));

    let server = dialect(409, &[("x-should-retry", "true".into())]).await;
    let (status, attempts, _) = send(fast_policy(), Method::POST, &server).await;
    assert_eq!(
        (status, attempts),
        (StatusCode::CONFLICT, 1),
        "a POST is not safe to replay"
    );
    assert_eq!(requests(&server).await, 1);

    let server = dialect(409, &[]).await;
    let (status, attempts, _) = send(fast_policy(), Method::GET, &server).await;
    assert_eq!(
        (status, attempts),
        (StatusCode::CONFLICT, 1),
        "409 alone is final"
    );
}
