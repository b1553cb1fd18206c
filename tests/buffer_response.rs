//! `BufferResponseLayer` over loopback: a body that breaks half-way is a
//! failed attempt (retried when safe), a body over the limit streams on
//! intact, trailers and empty bodies come through.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::body::BufferedBody;
use tower_http_retry::{BufferResponseLayer, ErrorClass, RetryLayer, RetryPolicy};

use support::{attempts, client, fast_policy, request, RawServer, TestServer};

const LEN: usize = 1000;

/// The body every attempt that is not cut short answers with.
fn page() -> Vec<u8> {
    (0..LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

type Buffered = http::Response<BufferedBody<Incoming>>;

/// Sends one request to `url` through `BufferResponseLayer::new(limit)`
/// over hyper-util's client, with `RetryLayer` above it when a policy is
/// given.
async fn send(
    method: Method,
    url: &str,
    limit: usize,
    retry: Option<RetryPolicy>,
) -> Result<Buffered, tower::BoxError> {
    ServiceBuilder::new()
        .option_layer(retry.map(RetryLayer::new))
        .layer(BufferResponseLayer::new(limit))
        .service(client())
        .oneshot(request(method, url))
        .await
}

/// A server whose first connection sends the head and half the body, then
/// resets; every later one answers whole.
async fn resets_mid_body_once() -> RawServer {
    let served = Arc::new(AtomicUsize::new(0));
    RawServer::start(move |mut stream| {
        let first = served.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let body = page();
            if first {
                let _ = stream.write_all(&body[..LEN / 2]).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = stream.set_zero_linger();
                return; // dropped: RST
            }
            let _ = stream.write_all(&body).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
}

#[tokio::test]
async fn get_whose_body_resets_half_way_is_retried_and_whole() {
    let server = resets_mid_body_once().await;
    let res = send(
        Method::GET,
        &server.url("/"),
        64 * 1024,
        Some(fast_policy()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(server.heads(), 2);
    assert_eq!(res.body().bytes().map(|b| b.to_vec()), Some(page()));
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), page());
}

#[tokio::test]
async fn post_whose_body_resets_half_way_is_not_retried() {
    let server = resets_mid_body_once().await;
    let err = send(
        Method::POST,
        &server.url("/"),
        64 * 1024,
        Some(fast_policy()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        server.heads(),
        1,
        "a POST is not replayed after it was answered"
    );
    assert_eq!(ErrorClass::of(&err), ErrorClass::Ambiguous, "{err:?}");
}

#[tokio::test]
async fn body_over_the_limit_streams_on_intact() {
    let body = Bytes::from(page());
    let served = body.clone();
    let server =
        TestServer::start(move |_, _| http::Response::new(Full::new(served.clone()))).await;
    let res = send(Method::GET, &server.url("/"), 100, None)
        .await
        .unwrap();
    assert_eq!(res.body().bytes(), None);
    assert_eq!(res.body().size_hint().exact(), Some(LEN as u64));
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), body);
}

#[tokio::test]
async fn chunked_body_over_the_limit_streams_on_intact() {
    let server = RawServer::start(|mut stream| async move {
        let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for chunk in page().chunks(64) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        for piece in out.chunks(100) {
            let _ = stream.write_all(piece).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let res = send(Method::GET, &server.url("/"), 300, None)
        .await
        .unwrap();
    assert_eq!(res.body().bytes(), None);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), page());
}

#[tokio::test]
async fn chunked_body_keeps_its_trailers() {
    let server = RawServer::start(|mut stream| async move {
        let response =
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n\
                        6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: 42\r\n\r\n";
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.flush().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let res = send(Method::GET, &server.url("/"), 1024, None)
        .await
        .unwrap();
    assert_eq!(
        res.body().bytes().map(|b| &b[..]),
        Some(&b"hello world"[..])
    );
    assert_eq!(res.body().size_hint().exact(), Some(11));
    let collected = res.into_body().collect().await.unwrap();
    assert_eq!(
        collected.trailers().and_then(|t| t.get("x-checksum")),
        Some(&http::HeaderValue::from_static("42"))
    );
    assert_eq!(collected.to_bytes(), "hello world");
}

#[tokio::test]
async fn empty_body_is_whole_and_ended() {
    let server = TestServer::statuses(&[204]).await;
    let res = send(Method::GET, &server.url("/"), 1024, None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.body().bytes(), Some(&Bytes::new()));
    assert!(res.body().is_end_stream());
    assert_eq!(res.body().size_hint().exact(), Some(0));
}

#[tokio::test]
async fn retryable_status_with_a_body_over_the_limit_is_final_and_intact() {
    let server = TestServer::start(|_, _| {
        let mut res = http::Response::new(Full::new(Bytes::from(page())));
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res
    })
    .await;
    let res = send(Method::GET, &server.url("/"), 100, Some(fast_policy()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1), "a committed body is not retried");
    assert_eq!(server.calls(), 1);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), page());
}

#[tokio::test]
async fn the_classifier_sees_the_buffered_body() {
    use tower_http_retry::retry::{Outcome, Verdict};

    // Overloaded, said only in the body of a 200; then the answer.
    let server = TestServer::start(|n, _| {
        let body = if n == 0 {
            r#"{"error":"overloaded"}"#
        } else {
            "answer"
        };
        http::Response::new(Full::new(Bytes::from(body)))
    })
    .await;
    let policy = fast_policy().classify(|o: &Outcome<'_>| match o.body() {
        Some(body) if body.starts_with(b"{\"error\":\"overloaded\"") => Verdict::Retry,
        _ => Verdict::Default,
    });
    let res = send(Method::GET, &server.url("/"), 1024, Some(policy))
        .await
        .unwrap();
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(res.body().bytes().map(|b| &b[..]), Some(&b"answer"[..]));
}
