//! What RetryLayer tells `tracing`: one event per retry, one when giving up,
//! nothing on the success path.

mod support;

use http::Method;
use support::events::capture;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::RetryLayer;

#[tokio::test]
async fn one_event_per_retry_and_one_when_giving_up() {
    let (events, _guard) = capture();
    let server = TestServer::start(|_, _| status(503)).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();

    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3, "{events:#?}");
    for (i, e) in events[..2].iter().enumerate() {
        assert_eq!(e["message"], "retrying request");
        assert_eq!(e["level"], "DEBUG");
        assert_eq!(e["attempt"], (i + 1).to_string());
        assert_eq!(e["delay_ms"], "1");
        assert_eq!(e["delay_from"], "backoff");
        assert_eq!(e["reason"], "503");
        assert_eq!(e["method"], "GET");
        assert_eq!(e["host"], "127.0.0.1");
    }
    let last = &events[2];
    assert_eq!(last["message"], "giving up on request");
    assert_eq!(last["level"], "INFO");
    assert_eq!(last["attempts"], "3");
    assert_eq!(last["reason"], "503");
    assert_eq!(last["why"], "max attempts reached");
}

#[cfg(feature = "hyper-util")]
#[tokio::test]
async fn an_error_reason_names_its_class() {
    let (events, _guard) = capture();
    let addr = closed_port().await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy().max_attempts(2)))
        .service(client());
    svc.oneshot(request(Method::POST, &format!("http://{addr}/")))
        .await
        .unwrap_err();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["reason"], "never_sent");
    assert_eq!(events[0]["method"], "POST");
    assert_eq!(events[1]["why"], "max attempts reached");
}

#[tokio::test]
async fn the_success_path_is_silent() {
    let (events, _guard) = capture();
    let server = TestServer::statuses(&[404]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.clone()
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert!(events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_retry_after_wait_says_so() {
    let (events, _guard) = capture();
    let server = TestServer::start(|n, _| {
        if n == 0 {
            status_with(503, "retry-after", b"0")
        } else {
            status(200)
        }
    })
    .await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["delay_from"], "retry-after");
    assert_eq!(events[0]["delay_ms"], "0");
}
