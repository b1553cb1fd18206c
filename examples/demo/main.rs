//! A narrated tour of `RetryLayer`, `CircuitBreakerLayer` and
//! `BufferResponseLayer` over hyper-util's client, against a flaky server
//! and a rate-limited API on loopback:
//! `cargo run --example demo`.
//!
//! Every scenario prints a timeline (each attempt as the server saw it, each
//! decision the retry policy logged through `tracing`) and a summary, then
//! checks the story it told: the demo exits non-zero if the crate misbehaves.
//! Sections are async functions run in turn by `main`; a new one reuses
//! `run` and the checks of `Outcome`.

mod rate_limited;
mod server;
mod story;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http_retry::backoff::{ExponentialBackoff, Jitter};
use tower_http_retry::{
    CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, RetryLayer, RetryPolicy,
};
use tracing_subscriber::layer::SubscriberExt;

use server::serve;
use story::{run, Narrate, Shared, Story};

pub(crate) fn request(method: &str, url: &str, key: Option<&str>) -> Request<Full<Bytes>> {
    let mut req = Request::builder().method(method).uri(url);
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let body = Full::from(r#"{"sku":"tea"}"#);
    req.body(body).expect("a valid request")
}

/// The demo's policy: seeded jitter, so the delays are the same on every run.
/// No retry budget: the default one (earned from requests that needed no
/// retry) would refuse retries after the demo's run of failures, and each
/// scenario here shows another rule.
pub(crate) fn policy() -> RetryPolicy {
    let backoff = ExponentialBackoff::new(Duration::from_millis(50))
        .max_delay(Duration::from_secs(1))
        .jitter(Jitter::Full)
        .seed(7);
    RetryPolicy::default()
        .max_attempts(4)
        .backoff(backoff)
        .max_retry_after(Duration::from_secs(5))
        .without_budget()
}

/// RetryLayer: backoff, Retry-After, and which requests may be replayed.
async fn retry_section(story: &Shared, addr: SocketAddr) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .service(client);
    let url = |path: &str| format!("http://{addr}{path}");
    let second = Duration::from_secs(1);

    let title = "GET /flaky: 503, 503, 429 with Retry-After: 1, then 200";
    let o = run(story, &svc, title, request("GET", &url("/flaky"), None)).await;
    o.expect(200, 4, "two backoffs, then the server's wait");
    let waited = o.calls.get(3).zip(o.calls.get(2)).map(|(b, a)| *b - *a);
    o.check(
        waited >= Some(second),
        "Retry-After: 1 honoured, not one moment early",
    );

    let title = "POST /orders without Idempotency-Key: 503";
    let o = run(story, &svc, title, request("POST", &url("/orders"), None)).await;
    o.expect(503, 1, "a POST without a key is never replayed");

    let title = "POST /orders with Idempotency-Key: 503, then 201";
    let req = request("POST", &url("/orders"), Some("order-42"));
    let o = run(story, &svc, title, req).await;
    o.expect(201, 2, "the key makes it safe to replay");

    let title = "GET /maintenance: 503 with Retry-After: 120, above max_retry_after (5 s)";
    let o = run(
        story,
        &svc,
        title,
        request("GET", &url("/maintenance"), None),
    )
    .await;
    o.expect(503, 1, "handed back");
    o.check(o.elapsed < second, "at once, without sleeping");

    let closed = TcpListener::bind("127.0.0.1:0").await;
    let closed = closed.and_then(|l| l.local_addr()).expect("a free port");
    let title = "POST to a port where nothing listens: connection refused";
    let req = request("POST", &format!("http://{closed}/orders"), None);
    let o = run(story, &svc, title, req).await;
    let ok = o.status.is_none() && o.retries == 3;
    o.check(
        ok,
        "4 attempts although it is a POST: it never left the client",
    );
}

/// CircuitBreakerLayer beneath the retries: an outage opens it, calls fail
/// fast while the server gets no traffic, and a probe closes it again.
async fn breaker_section(story: &Shared, addr: SocketAddr) {
    println!("\nNow with CircuitBreakerLayer beneath RetryLayer: it counts every attempt;");
    println!("it opens at a 50 % failure rate over at least 4 calls, for 1 s.");
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .name("inventory")
            .minimum_calls(4)
            .window_size(10)
            .open_duration(Duration::from_secs(1)),
    );
    let handle = breaker.handle();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .layer(breaker)
        .service(client);
    let url = format!("http://{addr}/inventory");
    let get = || request("GET", &url, None);

    let o = run(story, &svc, "GET /inventory: healthy", get()).await;
    o.expect(200, 1, "the breaker is closed");

    story.lock().down = true;
    let o = run(story, &svc, "GET /inventory: an outage begins", get()).await;
    o.check(
        o.circuit_open && o.calls.len() == 3 && handle.state() == CircuitState::Open,
        "3 of the last 4 calls failed: the breaker opens, and the 4th attempt fails fast",
    );
    for _ in 0..2 {
        let o = run(story, &svc, "GET /inventory: during the outage", get()).await;
        o.check(
            o.circuit_open && o.calls.is_empty() && o.retries == 0,
            "fails fast with CircuitOpen, not retried; the server sees no traffic",
        );
    }

    story.lock().down = false;
    println!("\n  (the server recovers; the open period ends after 1 s)");
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let o = run(story, &svc, "GET /inventory: after recovery", get()).await;
    o.expect(200, 1, "a probe goes through");
    o.check(
        handle.state() == CircuitState::Closed,
        "the probe succeeded: the breaker is closed",
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let story = Shared(Arc::new(Mutex::new(Story::new())));
    let subscriber = tracing_subscriber::registry().with(Narrate(story.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    let addr = serve(story.clone(), server::handle)
        .await
        .expect("bind 127.0.0.1:0");
    println!("A flaky server on {addr}; a client: RetryLayer over hyper-util's Client.");
    println!("Policy: 4 attempts; exponential backoff from 50 ms, full jitter (seeded);");
    println!("        the server's wait honoured up to 5 s; no retry budget.");

    retry_section(&story, addr).await;
    breaker_section(&story, addr).await;
    rate_limited::rate_limit_section(&story).await;

    let problems = std::mem::take(&mut story.lock().problems);
    if problems.is_empty() {
        println!("\nEvery check passed.");
        return ExitCode::SUCCESS;
    }
    println!("\nFailed: {}", problems.join("; "));
    ExitCode::FAILURE
}
