//! The caller's side of errors: `AttemptsHandle` counts the attempts of a
//! call that ends in an error, and the error keeps its type.

mod support;

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use support::*;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_http_retry::retry::AttemptsHandle;
use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, RetryLayer};

fn with_handle(mut req: Request<Full<Bytes>>) -> (Request<Full<Bytes>>, AttemptsHandle) {
    let handle = AttemptsHandle::new();
    req.extensions_mut().insert(handle.clone());
    (req, handle)
}

#[tokio::test]
async fn an_error_after_three_attempts_reports_three() {
    // A boxed inner error: it still downcasts to its own type.
    let svc = service_fn(|_req: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, BoxError>(Box::new(io::Error::from(
            io::ErrorKind::ConnectionReset,
        )))
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(svc);
    let (req, attempts) = with_handle(request(Method::GET, "http://downstream.test/"));
    assert_eq!(attempts.get(), 0);
    let err = client.oneshot(req).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<io::Error>().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionReset)
    );
    assert_eq!(attempts.get(), 3);
}

#[tokio::test]
async fn a_real_client_error_keeps_its_type() {
    let closed = closed_port().await;
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy().max_attempts(2)))
        .service(client());
    let (req, attempts) = with_handle(request(Method::GET, &format!("http://{closed}/")));
    let err: hyper_util::client::legacy::Error = client.oneshot(req).await.unwrap_err();
    assert!(err.is_connect());
    assert_eq!(attempts.get(), 2);
}

#[tokio::test]
async fn a_circuit_open_that_ended_the_loop_still_downcasts() {
    // The first attempt's 503 trips the breaker; the second attempt meets it
    // open and the loop ends there.
    let server = TestServer::statuses(&[503, 200]).await;
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .consecutive_failures(1)
            .open_duration(Duration::from_secs(60)),
    );
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy().max_attempts(3)))
        .layer(breaker)
        .service(client());
    let (req, attempts) = with_handle(request(Method::GET, &server.url("/")));
    let err = client.oneshot(req).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some(), "{err}");
    assert_eq!(attempts.get(), 2);
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn a_success_reports_its_attempts_too() {
    let server = TestServer::statuses(&[502, 200]).await;
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    let (req, handle) = with_handle(request(Method::GET, &server.url("/")));
    let res = client.oneshot(req).await.unwrap();
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(handle.get(), 2);
}
