//! ReqwestService under RetryLayer against a real loopback server.
#![cfg(feature = "reqwest")]

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ErrorClass, ReqwestService, RetryLayer};

fn reqwest_request(method: Method, url: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn retries_through_reqwest() {
    let server = TestServer::start(|n, _| {
        if n == 0 {
            status(503)
        } else {
            http::Response::new(Full::new(Bytes::from_static(b"hello")))
        }
    })
    .await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(ReqwestService::new(reqwest::Client::new()));
    let res = svc
        .oneshot(reqwest_request(Method::PUT, &server.url("/x"), "payload"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.as_ref(), b"hello");
    let r = server.requests();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].body, r[1].body);
    assert_eq!(r[1].body.as_ref(), b"payload");
}

#[tokio::test]
async fn a_post_is_not_replayed_after_a_503() {
    let server = TestServer::statuses(&[503]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(ReqwestService::new(reqwest::Client::new()));
    let res = svc
        .oneshot(reqwest_request(Method::POST, &server.url("/"), "order"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn reqwest_connect_errors_never_left() {
    let addr = closed_port().await;
    let (inner, calls) = counting(ReqwestService::new(reqwest::Client::new()));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let err = svc
        .oneshot(reqwest_request(
            Method::POST,
            &format!("http://{addr}/"),
            "x",
        ))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(ErrorClass::of(&err), ErrorClass::NeverSent);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_uri_reqwest_refuses_is_an_error_not_a_panic() {
    let svc = ReqwestService::new(reqwest::Client::new());
    let req = Request::builder()
        .uri("/relative-only")
        .body(Full::<Bytes>::default())
        .unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    assert!(err.is_builder(), "{err:?}");
    assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
}

#[tokio::test]
async fn a_discarded_error_body_is_drained_to_keep_the_connection() {
    // 503 with a 200 KB page, twice, then 200: hyper alone would close the
    // connection on each dropped, unread page.
    let server = TestServer::error_pages(200_000, 2).await;
    let policy = fast_policy().backoff(tower_http_retry::backoff::ConstantBackoff::new(
        std::time::Duration::from_millis(50),
    ));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(ReqwestService::new(reqwest::Client::new()));
    let res = svc
        .oneshot(reqwest_request(Method::GET, &server.url("/"), ""))
        .await
        .unwrap();
    assert_eq!(attempts(&res), Some(3));
    assert_eq!(server.connections(), 1);
}
