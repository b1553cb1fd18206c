//! A hedged stack and a throttled stack end to end, over loopback to real
//! servers with hyper-util's client. Real time, generous bounds.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http_retry::{
    AdaptiveThrottleLayer, CircuitBreakerConfig, CircuitBreakerLayer, HedgeLayer, RetryLayer,
    Throttled,
};

#[tokio::test]
async fn a_slow_first_attempt_is_hedged_and_the_loser_connection_closed() {
    let connections = Arc::new(AtomicUsize::new(0));
    let loser_closed = Arc::new(AtomicBool::new(false));
    let server = {
        let (connections, loser_closed) = (connections.clone(), loser_closed.clone());
        RawServer::start(move |mut stream| {
            let n = connections.fetch_add(1, Ordering::SeqCst);
            let loser_closed = loser_closed.clone();
            async move {
                if n == 0 {
                    // Never answers: waits for the client to hang up.
                    let mut buf = [0u8; 64];
                    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf));
                    if let Ok(Ok(0)) = read.await {
                        loser_closed.store(true, Ordering::SeqCst);
                    }
                    return;
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nhedged")
                    .await;
                // Keep the connection until the client is done with it.
                let mut buf = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await;
            }
        })
        .await
    };
    let mut svc = ServiceBuilder::new()
        .layer(HedgeLayer::new(Duration::from_millis(100)))
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
        .service(client());
    let start = Instant::now();
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(request(Method::GET, &server.url("/slow")))
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(attempts(&res), Some(2));
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap();
    assert_eq!(body.to_bytes(), "hedged");
    assert_eq!(server.heads(), 2);
    // The first attempt's future was dropped: hyper closed its connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !loser_closed.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the losing connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_throttled_stack_sends_less_than_one_call_per_request_to_a_refusing_server() {
    let server = TestServer::start(|_, _| status(503)).await;
    let throttle = AdaptiveThrottleLayer::new().seed(4);
    let mut svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .layer(throttle.clone())
        .service(client());
    let url = server.url("/shed");
    let mut throttled = 0;
    const REQUESTS: usize = 300;
    for _ in 0..REQUESTS {
        let call = svc.ready().await.unwrap().call(request(Method::GET, &url));
        match call.await {
            Ok(res) => assert_eq!(res.status(), 503),
            Err(e) => {
                assert!(e.is::<Throttled>(), "{e}");
                throttled += 1;
            }
        }
    }
    let per_request = server.calls() as f64 / REQUESTS as f64;
    // Three attempts per request without the throttle.
    assert!(per_request < 1.0, "{per_request}");
    assert!(throttled > REQUESTS / 2, "{throttled}");
    assert!(throttle.rejection_probability(&url.parse().unwrap()) > 0.9);
}
