//! A hostile server: raw TCP that misbehaves in every way we know. For each,
//! the stack gives a clear error or a correct retry — never a panic or a
//! hang — and a POST without `Idempotency-Key` reaches the server at most
//! once.

mod support;

use std::future::Future;
use std::time::Duration;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ErrorClass, RetryLayer};

/// Closes with a TCP reset instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn write_then_reset(mut stream: TcpStream, bytes: &'static [u8]) {
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
    reset(stream);
}

async fn write_then_close(mut stream: TcpStream, bytes: Vec<u8>) {
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}

/// Sends a GET and a POST through the stack (3 attempts, per-attempt
/// timeout 300 ms) to a server misbehaving by `then`, and checks the
/// outcome: an ambiguous error, never a hang; the GET is replayed (3 request
/// heads reach the server), the POST is not (1).
async fn only_safe_requests_are_replayed<F, Fut>(then: F)
where
    F: Fn(TcpStream) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .timeout(Duration::from_millis(300))
        .service(client());
    let mut heads = [0; 2];
    let mut class = None;
    for (i, method) in [Method::GET, Method::POST].into_iter().enumerate() {
        let server = RawServer::start(then.clone()).await;
        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            svc.clone().oneshot(request(method, &server.url("/"))),
        )
        .await
        .expect("the stack never hangs");
        if i == 0 {
            class = outcome.as_ref().err().map(ErrorClass::of);
        }
        // Let a late head land before counting.
        tokio::time::sleep(Duration::from_millis(50)).await;
        heads[i] = server.heads();
    }
    assert_eq!(heads, [3, 1], "request heads of the GET and the POST");
    assert_eq!(class, Some(ErrorClass::Ambiguous));
}

#[tokio::test]
async fn reset_before_answering() {
    only_safe_requests_are_replayed(|s| async move { reset(s) }).await;
}

#[tokio::test]
async fn reset_mid_headers() {
    only_safe_requests_are_replayed(|s| write_then_reset(s, b"HTTP/1.1 200 OK\r\nContent-Le"))
        .await;
}

#[tokio::test]
async fn garbage_status_line() {
    only_safe_requests_are_replayed(|s| {
        write_then_close(s, b"HTTP/1.1 abc nonsense\r\n\r\n".to_vec())
    })
    .await;
}

#[tokio::test]
async fn not_http_at_all() {
    only_safe_requests_are_replayed(|s| write_then_close(s, vec![0xff; 4096])).await;
}

#[tokio::test]
async fn headers_larger_than_the_client_accepts() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..2000 {
        head.extend_from_slice(format!("x-h{i}: {}\r\n", "v".repeat(200)).as_bytes());
    }
    head.extend_from_slice(b"content-length: 0\r\n\r\n");
    only_safe_requests_are_replayed(move |s| write_then_close(s, head.clone())).await;
}

#[tokio::test]
async fn never_answers_with_a_timeout_beneath() {
    only_safe_requests_are_replayed(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
}

#[tokio::test]
async fn an_informational_response_then_close() {
    only_safe_requests_are_replayed(|s| {
        write_then_close(s, b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
    })
    .await;
}

#[tokio::test]
async fn a_503_with_a_hostile_retry_after_is_handed_back() {
    let head = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 99999999999999999999999999999999\r\ncontent-length: 0\r\n\r\n";
    let server = RawServer::start(move |s| write_then_close(s, head.to_vec())).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    let res = svc
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(server.heads(), 1);
}

#[tokio::test]
async fn a_truncated_body_is_an_error_of_the_body_not_a_retry() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort";
    let server = RawServer::start(move |s| write_then_close(s, head.to_vec())).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    let res = svc
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.into_body().collect().await.is_err());
    assert_eq!(server.heads(), 1);
}
