//! The axum example's app, driven over loopback while its downstream flaps:
//! retries hide a blip, the breaker fails fast through an outage (the
//! downstream sees no traffic), and a probe closes it after recovery.

mod support;

// The example's app and stack, so the test drives exactly what it shows.
#[allow(dead_code)]
#[path = "../examples/axum_outbound.rs"]
mod example;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use support::*;
use tower::ServiceExt;
use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};

async fn get(base: &str) -> (StatusCode, String) {
    let res = client()
        .oneshot(request(Method::GET, &format!("{base}/quote")))
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_rides_out_a_flapping_downstream() {
    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    // Fails once (a blip), then follows `healthy`.
    let downstream = TestServer::start(move |n, _| {
        if n == 1 || !h.load(Ordering::SeqCst) {
            status(503)
        } else {
            http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"42")))
        }
    })
    .await;
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .name("prices")
            .minimum_calls(6)
            .window_size(10)
            .open_duration(Duration::from_millis(400)),
    );
    let handle = breaker.handle();
    let base = example::serve(example::app(
        example::downstream_client(breaker),
        format!("http://{}", downstream.addr),
    ))
    .await
    .unwrap();

    // Healthy, then a blip that a retry hides.
    assert_eq!(
        get(&base).await,
        (StatusCode::OK, "price 42 (attempts: 1)".into())
    );
    assert_eq!(
        get(&base).await,
        (StatusCode::OK, "price 42 (attempts: 2)".into())
    );

    // An outage: 20 concurrent callers. The breaker opens and the rest fail
    // fast with 503 from the app.
    healthy.store(false, Ordering::SeqCst);
    let calls: Vec<_> = (0..20)
        .map(|_| tokio::spawn(get_owned(base.clone())))
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        statuses.push(c.await.unwrap().0);
    }
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::BAD_GATEWAY || *s == StatusCode::SERVICE_UNAVAILABLE));
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert_eq!(handle.state(), CircuitState::Open);

    // While open, the downstream sees no traffic.
    let seen = downstream.calls();
    let (status, body) = get(&base).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("circuit breaker `prices` is open"), "{body}");
    assert_eq!(downstream.calls(), seen);

    // Recovery: after the open period a probe goes through and closes it.
    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get(&base).await,
        (StatusCode::OK, "price 42 (attempts: 1)".into())
    );
    assert_eq!(handle.state(), CircuitState::Closed);
    assert_eq!(downstream.calls(), seen + 1);
}

async fn get_owned(base: String) -> (StatusCode, String) {
    get(&base).await
}
