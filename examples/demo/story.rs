//! What happened in a scenario, told as it happens: the shared story, the
//! tracing layer that narrates the crate's events, and the run of one call.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::Full;
use tower::{Service, ServiceExt};
use tower_http_retry::{Attempts, CircuitOpen};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// What happened in the current scenario, shared by the server, the tracing
/// layer and the scenarios.
pub(crate) struct Story {
    pub(crate) start: Instant,
    /// When the server received each request, since `start`.
    pub(crate) calls: Vec<Duration>,
    /// The wait the server's last answer asked for: the header that said
    /// it (as the policy's `delay_from` names it) and milliseconds.
    pub(crate) last_wait: Option<(&'static str, u64)>,
    pub(crate) retries: usize,
    pub(crate) problems: Vec<String>,
    /// The server's count of requests by method, path and `Idempotency-Key`.
    pub(crate) seen: HashMap<String, usize>,
    /// An outage: `/inventory` answers 503 while it lasts.
    pub(crate) down: bool,
}

#[derive(Clone)]
pub(crate) struct Shared(pub(crate) Arc<Mutex<Story>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Story> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Story {
    pub(crate) fn new() -> Self {
        Story {
            start: Instant::now(),
            calls: Vec::new(),
            last_wait: None,
            retries: 0,
            problems: Vec::new(),
            seen: HashMap::new(),
            down: false,
        }
    }

    pub(crate) fn say(&self, who: &str, text: impl Display) {
        println!(
            "  +{:.3}s  {who:<6} {text}",
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// A tracing layer that narrates the retry policy's events.
pub(crate) struct Narrate(pub(crate) Shared);

#[derive(Default)]
pub(crate) struct Fields(HashMap<&'static str, String>);

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
                let from = get("delay_from");
                let why = match story.last_wait.take() {
                    Some((header, ms)) if from == header && delay == ms.to_string() => {
                        format!("the server's wait, from {header}")
                    }
                    None if from == "backoff" => "backoff: exponential, full jitter".to_owned(),
                    _ => {
                        story
                            .problems
                            .push(format!("the server's wait ignored ({from})"));
                        format!("not the server's wait: {from}!")
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
pub(crate) struct Outcome {
    pub(crate) story: Shared,
    pub(crate) status: Option<StatusCode>,
    pub(crate) attempts: Option<u32>,
    pub(crate) calls: Vec<Duration>,
    pub(crate) retries: usize,
    pub(crate) elapsed: Duration,
    /// The call failed fast with `CircuitOpen`.
    pub(crate) circuit_open: bool,
    /// The response body, read to its end.
    pub(crate) body: Option<Bytes>,
}

impl Outcome {
    /// Prints a check of the story; a failed one makes the demo exit non-zero.
    pub(crate) fn check(&self, ok: bool, what: &str) {
        println!("    {} {what}", if ok { "✓" } else { "✗" });
        if !ok {
            self.story.lock().problems.push(what.to_owned());
        }
    }

    /// Checks the status and the `Attempts` of the response, and that the
    /// server saw each attempt.
    pub(crate) fn expect(&self, status: u16, attempts: u32, why: &str) {
        let ok = self.status.map(|s| s.as_u16()) == Some(status)
            && self.attempts == Some(attempts)
            && self.calls.len() == attempts as usize;
        self.check(ok, &format!("{status} after {attempts} attempt(s): {why}"));
    }
}

/// Sends `req` through `svc` and narrates it.
pub(crate) async fn run<S, B>(
    story: &Shared,
    svc: &S,
    title: &str,
    req: Request<Full<Bytes>>,
) -> Outcome
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: Display + 'static,
    B: Body,
{
    println!("\n▶ {title}");
    {
        let mut s = story.lock();
        (s.start, s.calls, s.last_wait, s.retries) = (Instant::now(), vec![], None, 0);
    }
    let result = svc.clone().oneshot(req).await;
    let (result, body) = match result {
        Ok(res) => {
            let (parts, body) = res.into_parts();
            let body = body.collect().await.ok().map(|c| c.to_bytes());
            (Ok(Response::from_parts(parts, ())), body)
        }
        Err(e) => (Err(e), None),
    };
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
        (Ok(res), Some(n)) => format!(
            "{} · Attempts: {n} · body: {} bytes",
            res.status(),
            body.as_ref().map_or(0, Bytes::len)
        ),
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
        body,
    }
}
