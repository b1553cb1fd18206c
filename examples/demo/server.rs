//! The flaky server: its rules, and the hyper server that applies them and
//! narrates every request it gets.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::story::Shared;

/// The flaky server's rules; `n` counts the earlier requests with the same
/// method, path and `Idempotency-Key`.
pub(crate) fn answer(
    method: &Method,
    path: &str,
    n: usize,
    down: bool,
) -> (StatusCode, Option<u64>) {
    match (method.as_str(), path, n) {
        ("GET", "/inventory", _) if down => (StatusCode::SERVICE_UNAVAILABLE, None),
        ("GET", "/inventory", _) => (StatusCode::OK, None),
        ("GET", "/flaky", 0 | 1) => (StatusCode::SERVICE_UNAVAILABLE, None),
        ("GET", "/flaky", 2) => (StatusCode::TOO_MANY_REQUESTS, Some(1)),
        ("GET", "/flaky", _) => (StatusCode::OK, None),
        ("GET", "/maintenance", _) => (StatusCode::SERVICE_UNAVAILABLE, Some(120)),
        ("POST", "/orders", 0) => (StatusCode::SERVICE_UNAVAILABLE, None),
        ("POST", "/orders", _) => (StatusCode::CREATED, None),
        _ => (StatusCode::NOT_FOUND, None),
    }
}

/// Starts a server on 127.0.0.1:0 answering every request with `handle`,
/// and returns its address.
pub(crate) async fn serve<F, B>(story: Shared, handle: F) -> std::io::Result<SocketAddr>
where
    F: Fn(&Shared, &Request<Incoming>) -> Response<B> + Copy + Send + Sync + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let story = story.clone();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let res = handle(&story, &req);
                async move { Ok::<_, Infallible>(res) }
            });
            let conn = hyper::server::conn::http1::Builder::new();
            tokio::spawn(conn.serve_connection(TokioIo::new(stream), svc));
        }
    });
    Ok(addr)
}

/// Answers one request by the rules of `answer`, and narrates it.
pub(crate) fn handle<B>(story: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    let key = req.headers().get("idempotency-key");
    let key = key.and_then(|k| k.to_str().ok()).unwrap_or("");
    let (method, path) = (req.method(), req.uri().path());
    let mut story = story.lock();
    let down = story.down;
    let seen = story
        .seen
        .entry(format!("{method} {path} {key}"))
        .or_insert(0);
    let (status, retry_after) = answer(method, path, *seen, down);
    *seen += 1;

    let at = story.start.elapsed();
    story.calls.push(at);
    story.last_wait = retry_after.map(|s| ("retry-after", s * 1000));
    let key = match key {
        "" => String::new(),
        key => format!(" (Idempotency-Key: {key})"),
    };
    let ra = retry_after.map(|s| format!(", Retry-After: {s}"));
    let ra = ra.unwrap_or_default();
    story.say(
        "server",
        format_args!("{method} {path}{key} → {status}{ra}"),
    );

    let mut res = Response::new(Full::default());
    *res.status_mut() = status;
    if let Some(s) = retry_after {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, s.into());
    }
    res
}
