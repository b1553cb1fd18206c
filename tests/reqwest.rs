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

/// A wiremock server: `GET /from` answers 302 to `/to`, `GET /to` answers
/// 200 with the body it received.
async fn redirecting_server() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request as Received, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/from"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/to"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/to"))
        .respond_with(|req: &Received| ResponseTemplate::new(200).set_body_bytes(req.body.clone()))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_request_with_a_body_follows_a_redirect_as_plain_reqwest_does() {
    let server = redirecting_server().await;
    let url = format!("{}/from", server.uri());

    // Plain reqwest replays a body it holds as bytes through the redirect.
    let plain = reqwest::Client::new()
        .get(&url)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.bytes().await.unwrap(), "hello");

    // So does the adapter, for every body that is whole when sent.
    let svc = ReqwestService::new(reqwest::Client::new());
    let full = reqwest_request(Method::GET, &url, "hello");
    let text = Request::get(&url).body(String::from("hello")).unwrap();
    let parts = Request::get(&url)
        .body(http_body_util::StreamBody::new(futures_util::stream::iter(
            ["he", "llo"]
                .map(|s| Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(s)))),
        )))
        .unwrap();
    let replayed = ServiceBuilder::new()
        .layer(tower_http_retry::ReplayBodyLayer::new(1024))
        .service(svc.clone())
        .oneshot(reqwest_request(Method::GET, &url, "hello"));
    let responses = [
        svc.clone().oneshot(full).await.unwrap(),
        svc.clone().oneshot(text).await.unwrap(),
        svc.clone().oneshot(parts).await.unwrap(),
        replayed.await.unwrap(),
    ];
    for res in responses {
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello");
    }
}

#[tokio::test]
async fn a_body_still_streaming_is_streamed_whole() {
    // Its first frame is ready, the rest comes later: what was read when
    // the request was made is sent first, then the rest, in order.
    let server = redirecting_server().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::io::Error>>(4);
    tx.send(Ok(http_body::Frame::data(Bytes::from("first "))))
        .await
        .unwrap();
    let body = http_body_util::StreamBody::new(tokio_stream_from(rx));
    let req = Request::post(format!("{}/to", server.uri()))
        .body(body)
        .unwrap();
    let sending = tokio::spawn(ReqwestService::new(reqwest::Client::new()).oneshot(req));
    tx.send(Ok(http_body::Frame::data(Bytes::from("then the rest"))))
        .await
        .unwrap();
    drop(tx);
    let res = sending.await.unwrap().unwrap();
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(received.body, b"first then the rest");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no mock for POST /to");
}

/// A `Stream` of what `rx` receives.
fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
