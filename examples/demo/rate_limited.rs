//! The rate-limited API: a server whose quota runs out (429 with
//! `RateLimit` and `X-RateLimit-Reset`), and whose report body breaks
//! half-way once; the client reads bodies before deciding.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http::{HeaderName, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::ServiceBuilder;
use tower_http_retry::retry::AttemptHeaderLayer;
use tower_http_retry::{BufferResponseLayer, RetryLayer};

use crate::server::serve;
use crate::story::{run, Shared};
use crate::{policy, request};

/// The report: 16 KiB.
fn report() -> Bytes {
    (0..16 * 1024).map(|i| b'a' + (i % 26) as u8).collect()
}

type Body = BoxBody<Bytes, std::io::Error>;

/// The API's rules; `n` counts the earlier requests to the same path.
fn answer(path: &str, n: usize) -> (StatusCode, Vec<(&'static str, String)>, Body, String) {
    let whole = || Full::new(report()).map_err(|e| match e {}).boxed();
    match (path, n) {
        ("/api/search", 0) => {
            let headers = vec![
                ("ratelimit", "\"default\";r=0;t=1".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", "2".to_owned()),
            ];
            let body = Full::new(Bytes::new()).map_err(|e| match e {}).boxed();
            let said = "RateLimit: \"default\";r=0;t=1, X-RateLimit-Reset: 2".to_owned();
            (StatusCode::TOO_MANY_REQUESTS, headers, body, said)
        }
        ("/api/report", 0) => {
            // Half the body, a pause so it reaches the client, then a reset.
            let half = report().slice(..8 * 1024);
            let frames = stream::iter([Ok(Frame::data(half))]).chain(stream::once(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            }));
            let headers = vec![("content-length", (16 * 1024).to_string())];
            let said = "8 KiB of 16 KiB, then the connection is reset".to_owned();
            (
                StatusCode::OK,
                headers,
                BodyExt::boxed(StreamBody::new(frames)),
                said,
            )
        }
        _ => (StatusCode::OK, vec![], whole(), "16 KiB, whole".to_owned()),
    }
}

/// Answers one request by the rules of `answer`, and narrates it.
fn handle<B>(story: &Shared, req: &Request<B>) -> Response<Body> {
    let path = req.uri().path();
    let attempt = req.headers().get("x-attempt");
    let attempt = attempt.and_then(|v| v.to_str().ok()).unwrap_or("?");
    let mut story = story.lock();
    let seen = story.seen.entry(format!("api {path}")).or_insert(0);
    let (status, headers, body, said) = answer(path, *seen);
    *seen += 1;
    let at = story.start.elapsed();
    story.calls.push(at);
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Precedence: RateLimit before X-RateLimit-Reset.
        story.last_wait = Some(("ratelimit", 1000));
    }
    story.say(
        "server",
        format_args!("GET {path} (x-attempt: {attempt}) → {status}: {said}"),
    );
    let mut res = Response::new(body);
    *res.status_mut() = status;
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            res.headers_mut().insert(name, value);
        }
    }
    res
}

/// The server's word in other forms than `Retry-After`, and a body read
/// before the decision.
pub(crate) async fn rate_limit_section(story: &Shared) {
    let addr = serve(story.clone(), handle)
        .await
        .expect("bind 127.0.0.1:0");
    println!("\nA rate-limited API on {addr}; now the client reads each body (up to 64 KiB)");
    println!("before deciding, and numbers its attempts (x-attempt):");
    println!("RetryLayer → AttemptHeaderLayer → BufferResponseLayer → hyper-util's Client.");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .layer(AttemptHeaderLayer::new(HeaderName::from_static(
            "x-attempt",
        )))
        .layer(BufferResponseLayer::new(64 * 1024))
        .service(client);
    let url = |path: &str| format!("http://{addr}{path}");

    let title = "GET /api/search: 429, quota spent (RateLimit and X-RateLimit-Reset), then 200";
    let o = run(
        story,
        &svc,
        title,
        request("GET", &url("/api/search"), None),
    )
    .await;
    o.expect(200, 2, "one wait, from the RateLimit field");
    let waited = o.calls.get(1).zip(o.calls.first()).map(|(b, a)| *b - *a);
    o.check(
        waited >= Some(Duration::from_secs(1)),
        "RateLimit t=1 honoured (it wins over X-RateLimit-Reset), not one moment early",
    );

    let title = "GET /api/report: the body is reset half-way once, then whole";
    let o = run(
        story,
        &svc,
        title,
        request("GET", &url("/api/report"), None),
    )
    .await;
    o.expect(
        200,
        2,
        "the broken body failed the attempt, and it was retried",
    );
    o.check(
        o.body.as_ref() == Some(&report()),
        "the caller gets the whole 16 KiB body of the second attempt",
    );
}
