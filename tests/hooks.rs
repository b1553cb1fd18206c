//! The hooks for metrics: `on_retry`, `on_give_up`, and (feature `metrics`)
//! counters through the `metrics` facade.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::retry::{GiveUpEvent, RetryEvent};
use tower_http_retry::RetryLayer;

#[tokio::test]
async fn on_retry_and_on_give_up_are_called() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (seen.clone(), seen.clone());
    let policy = fast_policy()
        .on_retry(move |e: &RetryEvent<'_>| {
            a.lock().unwrap().push(format!(
                "retry {} {:?} {} {} {} {}",
                e.attempt,
                e.delay,
                e.delay_from,
                e.reason,
                e.method,
                e.uri.path()
            ))
        })
        .on_give_up(move |e: &GiveUpEvent<'_>| {
            b.lock()
                .unwrap()
                .push(format!("give up {} {} {}", e.attempts, e.reason, e.why))
        });
    let server = TestServer::start(|_, _| status(502)).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client());
    svc.oneshot(request(Method::DELETE, &server.url("/thing")))
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            format!(
                "retry 1 {:?} backoff 502 DELETE /thing",
                Duration::from_millis(1)
            ),
            format!(
                "retry 2 {:?} backoff 502 DELETE /thing",
                Duration::from_millis(1)
            ),
            "give up 3 502 max attempts reached".to_string(),
        ]
    );
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_counters_are_recorded() {
    use metrics_util::debugging::DebuggingRecorder;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let server = TestServer::start(|_, _| status(503)).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    // The recorder is installed for this thread (current-thread runtime).
    let _guard = metrics::set_default_local_recorder(&recorder);
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();

    let counters = support::counters(&snapshotter);
    assert_eq!(counters["tower_http_retry_retries_total{reason=503}"], 2);
    assert_eq!(
        counters["tower_http_retry_give_ups_total{reason=503,why=max attempts reached}"],
        1
    );
}
