//! A narrated tour of `RetryLayer` and `CircuitBreakerLayer` over
//! hyper-util's client, against a flaky server on loopback:
//! `cargo run --example demo`.
//!
//! Every scenario prints a timeline (each attempt as the server saw it, each
//! decision the retry policy logged through `tracing`) and a summary, then
//! checks the story it told: the demo exits non-zero if the crate misbehaves.
//! Sections are async functions run in turn by `main`; a new one reuses
//! `run` and the checks of `Outcome`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Display;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::{ExponentialBackoff, Jitter};
use tower_http_retry::{
    Attempts, CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState, RetryLayer,
    RetryPolicy,
};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// What happened in the current scenario, shared by the server, the tracing
/// layer and the scenarios.
struct Story {
    start: Instant,
    /// When the server received each request, since `start`.
    calls: Vec<Duration>,
    /// The `Retry-After` (seconds) of the server's last answer.
    last_retry_after: Option<u64>,
    retries: usize,
    problems: Vec<String>,
    /// The server's count of requests by method, path and `Idempotency-Key`.
    seen: HashMap<String, usize>,
    /// An outage: `/inventory` answers 503 while it lasts.
    down: bool,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Story>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Story> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Story {
    fn new() -> Self {
        Story {
            start: Instant::now(),
            calls: Vec::new(),
            last_retry_after: None,
            retries: 0,
            problems: Vec::new(),
            seen: HashMap::new(),
            down: false,
        }
    }

    fn say(&self, who: &str, text: impl Display) {
        println!(
            "  +{:.3}s  {who:<6} {text}",
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// The flaky server's rules; `n` counts the earlier requests with the same
/// method, path and `Idempotency-Key`.
fn answer(method: &Method, path: &str, n: usize, down: bool) -> (StatusCode, Option<u64>) {
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

/// Starts the flaky server on 127.0.0.1:0 and returns its address.
async fn serve(story: Shared) -> std::io::Result<SocketAddr> {
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
fn handle<B>(story: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
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
    story.last_retry_after = retry_after;
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

/// A tracing layer that narrates the retry policy's events.
struct Narrate(Shared);

#[derive(Default)]
struct Fields(HashMap<&'static str, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Narrate {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !event.metadata().target().starts_with("tower_http_retry") {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let get = |name| f.0.get(name).map_or("?", String::as_str);
        let reason = get("reason");
        let mut story = self.0.lock();
        let (who, text) = match get("message") {
            "retrying request" => {
                story.retries += 1;
                let (attempt, delay) = (get("attempt"), get("delay_ms"));
                let named = story.last_retry_after.take();
                let why = match (get("delay_from"), named) {
                    ("retry-after", Some(s)) if delay == format!("{}", s * 1000) => {
                        "the server's Retry-After"
                    }
                    ("backoff", None) => "backoff: exponential, full jitter",
                    _ => {
                        story.problems.push("Retry-After ignored".to_owned());
                        "not the server's Retry-After!"
                    }
                };
                let text = format!("attempt {attempt} got {reason}: retry in {delay} ms ({why})");
                ("policy", text)
            }
            "giving up on request" => {
                let (attempts, why) = (get("attempts"), get("why"));
                (
                    "policy",
                    format!("attempt {attempts} got {reason}: give up, {why}"),
                )
            }
            "circuit breaker opened" | "circuit breaker state changed" => {
                let rate = match f.0.get("rate") {
                    Some(r) => format!(" (failure rate {r})"),
                    None => String::new(),
                };
                let (from, to, why) = (get("from"), get("to"), get("why"));
                ("breaker", format!("{from} → {to}: {why}{rate}"))
            }
            other => ("event", other.to_owned()),
        };
        story.say(who, text);
    }
}

/// How one call ended.
struct Outcome {
    story: Shared,
    status: Option<StatusCode>,
    attempts: Option<u32>,
    calls: Vec<Duration>,
    retries: usize,
    elapsed: Duration,
    /// The call failed fast with `CircuitOpen`.
    circuit_open: bool,
}

impl Outcome {
    /// Prints a check of the story; a failed one makes the demo exit non-zero.
    fn check(&self, ok: bool, what: &str) {
        println!("    {} {what}", if ok { "✓" } else { "✗" });
        if !ok {
            self.story.lock().problems.push(what.to_owned());
        }
    }

    /// Checks the status and the `Attempts` of the response, and that the
    /// server saw each attempt.
    fn expect(&self, status: u16, attempts: u32, why: &str) {
        let ok = self.status.map(|s| s.as_u16()) == Some(status)
            && self.attempts == Some(attempts)
            && self.calls.len() == attempts as usize;
        self.check(ok, &format!("{status} after {attempts} attempt(s): {why}"));
    }
}

/// Sends `req` through `svc` and narrates it.
async fn run<S>(story: &Shared, svc: &S, title: &str, req: Request<Full<Bytes>>) -> Outcome
where
    S: Service<Request<Full<Bytes>>, Response = Response<Incoming>> + Clone,
    S::Error: Display + 'static,
{
    println!("\n▶ {title}");
    {
        let mut s = story.lock();
        (s.start, s.calls, s.last_retry_after, s.retries) = (Instant::now(), vec![], None, 0);
    }
    let result = svc.clone().oneshot(req).await;
    let s = story.lock();
    let elapsed = s.start.elapsed();
    let (status, attempts) = match &result {
        Ok(res) => (Some(res.status()), res.extensions().get::<Attempts>()),
        Err(_) => (None, None),
    };
    let attempts = attempts.map(Attempts::get);
    let circuit_open = result.as_ref().err().is_some_and(|e| {
        let e: &dyn std::any::Any = e;
        e.downcast_ref::<tower::BoxError>()
            .is_some_and(|e| e.is::<CircuitOpen>())
    });
    let end = match (&result, attempts) {
        (Ok(res), Some(n)) => format!("{} · Attempts: {n}", res.status()),
        (Ok(res), None) => format!("{} · no Attempts extension", res.status()),
        (Err(e), _) => format!("error \"{e}\""),
    };
    let (calls, secs) = (s.calls.len(), elapsed.as_secs_f64());
    println!("  = {end} · server calls: {calls} · {secs:.3}s");
    let (story, calls, retries) = (story.clone(), s.calls.clone(), s.retries);
    Outcome {
        story,
        status,
        attempts,
        calls,
        retries,
        elapsed,
        circuit_open,
    }
}

fn request(method: &str, url: &str, key: Option<&str>) -> Request<Full<Bytes>> {
    let mut req = Request::builder().method(method).uri(url);
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let body = Full::from(r#"{"sku":"tea"}"#);
    req.body(body).expect("a valid request")
}

/// The demo's policy: seeded jitter, so the delays are the same on every run.
fn policy() -> RetryPolicy {
    let backoff = ExponentialBackoff::new(Duration::from_millis(50))
        .max_delay(Duration::from_secs(1))
        .jitter(Jitter::Full)
        .seed(7);
    RetryPolicy::default()
        .max_attempts(4)
        .backoff(backoff)
        .max_retry_after(Duration::from_secs(5))
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
    let addr = serve(story.clone()).await.expect("bind 127.0.0.1:0");
    println!("A flaky server on {addr}; a client: RetryLayer over hyper-util's Client.");
    println!("Policy: 4 attempts; exponential backoff from 50 ms, full jitter (seeded);");
    println!("        Retry-After honoured up to 5 s.");

    retry_section(&story, addr).await;
    breaker_section(&story, addr).await;

    let problems = std::mem::take(&mut story.lock().problems);
    if problems.is_empty() {
        println!("\nEvery check passed.");
        return ExitCode::SUCCESS;
    }
    println!("\nFailed: {}", problems.join("; "));
    ExitCode::FAILURE
}
