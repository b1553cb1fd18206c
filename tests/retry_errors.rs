//! Transport errors: connect errors are retried for every method, ambiguous
//! ones only for requests that are safe to replay; classification works on
//! hyper-util's error, `tower::BoxError` and `std::io::Error`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ErrorClass, RetryLayer};

#[cfg(feature = "hyper-util")]
#[tokio::test]
async fn connect_errors_are_retried_for_every_method() {
    let addr = closed_port().await;
    for method in [Method::GET, Method::POST, Method::PATCH] {
        let (inner, calls) = counting(client());
        let svc = ServiceBuilder::new()
            .layer(RetryLayer::new(fast_policy()))
            .service(inner);
        let err = svc
            .oneshot(request(method.clone(), &format!("http://{addr}/")))
            .await
            .unwrap_err();
        // The error type is hyper-util's own, not boxed.
        let err: &hyper_util::client::legacy::Error = &err;
        assert!(err.is_connect(), "{method}: {err:?}");
        assert_eq!(ErrorClass::of(err), ErrorClass::NeverSent);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "{method}"
        );
    }
}

#[cfg(feature = "hyper-util")]
#[tokio::test]
async fn a_connect_error_that_heals_is_retried_to_success() {
    // The first attempt is refused; the server is up for the second.
    let server = TestServer::statuses(&[]).await;
    let refused = closed_port().await;
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let url = server.url("/");
    let inner = tower::service_fn(move |mut req: Request<Full<Bytes>>| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            *req.uri_mut() = format!("http://{refused}/").parse().unwrap();
        }
        client().oneshot(req)
    });
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let res = svc.oneshot(request(Method::POST, &url)).await.unwrap();
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(server.calls(), 1, "the POST reached the server once");
}

#[tokio::test]
async fn io_errors_are_classified() {
    // A tiny client whose error type is std::io::Error: it connects to a
    // closed port.
    let addr = closed_port().await;
    let (inner, calls) = counting(tower::service_fn(
        move |_req: Request<Full<Bytes>>| async move {
            tokio::net::TcpStream::connect(addr).await?;
            Ok::<_, std::io::Error>(Response::new(Full::<Bytes>::default()))
        },
    ));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let err = svc
        .oneshot(request(Method::POST, &format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// A server that reads the request and closes the connection without a word.
async fn closing_server() -> RawServer {
    RawServer::start(|stream| async move { drop(stream) }).await
}

#[tokio::test]
async fn a_reset_after_sending_is_retried_only_when_safe() {
    let server = closing_server().await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    let err = svc
        .clone()
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap_err();
    assert!(!err.is_connect());
    assert_eq!(ErrorClass::of(&err), ErrorClass::Ambiguous);
    assert_eq!(server.heads(), 3, "GET is replayed");

    let server = closing_server().await;
    svc.clone()
        .oneshot(request(Method::POST, &server.url("/")))
        .await
        .unwrap_err();
    assert_eq!(server.heads(), 1, "POST reached the server exactly once");

    let server = closing_server().await;
    let mut req = request(Method::POST, &server.url("/"));
    req.headers_mut()
        .insert("idempotency-key", "k-1".parse().unwrap());
    svc.oneshot(req).await.unwrap_err();
    assert_eq!(server.heads(), 3, "POST with Idempotency-Key is replayed");
}

#[tokio::test]
async fn a_timeout_beneath_is_transient_as_a_box_error() {
    // The server answers after 2 s; each attempt times out after 100 ms.
    let server = RawServer::start(|stream| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(stream);
    })
    .await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .timeout(Duration::from_millis(100))
        .service(client());

    let err: tower::BoxError = svc
        .clone()
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>());
    assert_eq!(ErrorClass::of(&err), ErrorClass::Ambiguous);
    // Poll until the server has seen the third head (each on a new connection).
    tokio::time::timeout(Duration::from_secs(5), async {
        while server.heads() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(server.heads(), 3);

    let before = server.heads();
    let err = svc
        .oneshot(request(Method::POST, &server.url("/")))
        .await
        .unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.heads() - before,
        1,
        "POST is not replayed after a timeout"
    );
}

#[tokio::test]
async fn a_boxed_connect_error_is_still_never_sent() {
    let addr = closed_port().await;
    let (inner, calls) = counting(client().map_err(tower::BoxError::from));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let err = svc
        .oneshot(request(Method::POST, &format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert_eq!(ErrorClass::of(&err), ErrorClass::NeverSent);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[cfg(feature = "hyper-util")]
#[tokio::test]
async fn a_relative_uri_is_fatal_and_tried_once() {
    // hyper-util refuses it before any connection: `UserAbsoluteUriRequired`.
    let (inner, calls) = counting(client());
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let err = svc
        .oneshot(request(Method::GET, "/relative"))
        .await
        .unwrap_err();
    assert!(!err.is_connect(), "{err:?}");
    assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
    let boxed: tower::BoxError = Box::new(err);
    assert_eq!(ErrorClass::of(&boxed), ErrorClass::Fatal, "boxed too");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
