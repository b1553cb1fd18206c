//! reqwest through the same stack: `cargo run --example reqwest --features reqwest`.
//!
//! Starts a local server that answers 503 once, then 200, and calls it
//! through `RetryLayer` over `ReqwestService`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{Attempts, ReqwestService, RetryLayer, RetryPolicy};

#[tokio::main]
async fn main() -> Result<(), tower::BoxError> {
    let addr = flaky_server().await?;

    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .service(ReqwestService::new(reqwest::Client::new()));

    let req = Request::get(format!("http://{addr}/")).body(Full::<Bytes>::default())?;
    let res = client.oneshot(req).await?;
    let attempts = res.extensions().get::<Attempts>().map_or(0, Attempts::get);
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    println!(
        "{status} after {attempts} attempts: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!((status, attempts), (StatusCode::OK, 2));
    Ok(())
}

/// A server on 127.0.0.1 that answers 503 to its first request, then 200.
async fn flaky_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let calls = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let calls = calls.clone();
            let svc = hyper::service::service_fn(move |_req| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    let mut res = Response::new(Full::new(Bytes::from_static(b"hello")));
                    if n == 0 {
                        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    }
                    Ok::<_, Infallible>(res)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    Ok(addr)
}
