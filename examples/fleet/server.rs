//! The server model: a capacity, scripted phases, a seeded latency.
//!
//! Above its capacity (a token bucket refilled at `capacity` requests a
//! second, holding a tenth of a second of them) the server sheds with 503,
//! with `Retry-After` or without, or queues and answers slowly ([`Shed`]). The script says what each
//! phase does: healthy, an outage (every request answered 503, or none
//! answered in time), an overload (the capacity drops to a fraction), a
//! flaky spell (a share of requests answered 503 at random).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Empty;
use tokio::time::Instant;

/// What the server does during a phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Serves up to its capacity.
    Healthy,
    /// Answers 503 to everything.
    Outage,
    /// Answers nothing in time: every request hangs for [`HANG`], then gets
    /// a 504 (what a proxy in front of a wedged server says).
    Hang,
    /// Its capacity drops to this fraction.
    Overload(f64),
    /// Answers 503 to this share of requests, at random.
    Flaky(f64),
}

impl Kind {
    /// An outage: every request fails, by status or by time.
    pub(crate) fn is_outage(self) -> bool {
        matches!(self, Kind::Outage | Kind::Hang)
    }
}

/// How long a request to a hung server waits for its 504.
pub(crate) const HANG: Duration = Duration::from_secs(60);

/// How the server sheds what it cannot serve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shed {
    /// 503 alone.
    Unavailable,
    /// 503 with `Retry-After: N` seconds.
    RetryAfter(u32),
    /// Answers slowly: queues what it cannot serve yet, up to this wait,
    /// and sheds with 503 beyond it.
    Queue(Duration),
}

/// One scripted phase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) secs: u64,
    pub(crate) kind: Kind,
}

/// The phases, one after another; the last goes on for ever.
#[derive(Clone, Debug)]
pub(crate) struct Script(pub(crate) Vec<Phase>);

impl Script {
    /// The phases named, each `(name, seconds, kind)`.
    pub(crate) fn of(phases: &[(&'static str, u64, Kind)]) -> Self {
        let phase = |&(name, secs, kind): &(&'static str, u64, Kind)| Phase { name, secs, kind };
        Script(phases.iter().map(phase).collect())
    }

    /// The phase at `secs` from the start, and its index.
    pub(crate) fn at(&self, secs: f64) -> (usize, Phase) {
        let mut end = 0.0;
        for (i, phase) in self.0.iter().enumerate() {
            end += phase.secs as f64;
            if secs < end {
                return (i, *phase);
            }
        }
        let last = self.0.len() - 1;
        (last, self.0[last])
    }

    /// The start and end, in seconds, of phase `index`.
    pub(crate) fn span(&self, index: usize) -> (u64, u64) {
        let start = self.0[..index].iter().map(|p| p.secs).sum();
        (start, start + self.0[index].secs)
    }

    /// The length of the whole script, in seconds.
    pub(crate) fn secs(&self) -> u64 {
        self.0.iter().map(|p| p.secs).sum()
    }
}

/// The server's state, shared by every connection to it.
#[derive(Debug)]
struct State {
    script: Script,
    capacity: f64,
    start: Instant,
    tokens: f64,
    refilled: Instant,
    rng: fastrand::Rng,
    shed: Shed,
    /// Requests that arrived, per second since the start.
    arrivals: Vec<u32>,
}

/// The server, as a `tower::Service`: a clone is another connection to it.
#[derive(Clone, Debug)]
pub(crate) struct Server(Arc<Mutex<State>>);

impl Server {
    /// A server serving `capacity` requests a second when healthy, shedding
    /// the rest as `shed` says.
    pub(crate) fn new(script: Script, capacity: f64, shed: Shed, seed: u64) -> Self {
        let now = Instant::now();
        let seconds = script.secs() as usize + 120;
        Server(Arc::new(Mutex::new(State {
            script,
            capacity,
            start: now,
            tokens: capacity / 10.0,
            refilled: now,
            rng: fastrand::Rng::with_seed(seed),
            shed,
            arrivals: vec![0; seconds],
        })))
    }

    /// Requests that arrived, per second.
    pub(crate) fn arrivals(&self) -> Vec<u32> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .arrivals
            .clone()
    }

    /// The status of a request arriving now, how long it takes, and the
    /// `Retry-After` of a shed one.
    fn arrive(&self) -> (StatusCode, Duration, Option<u32>) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let secs = now.duration_since(s.start).as_secs_f64();
        if let Some(count) = s.arrivals.get_mut(secs as usize) {
            *count += 1;
        }
        let (_, phase) = s.script.at(secs);
        let capacity = match phase.kind {
            Kind::Overload(fraction) => s.capacity * fraction,
            _ => s.capacity,
        };
        let refill = now.duration_since(s.refilled).as_secs_f64() * capacity;
        s.tokens = (s.tokens + refill).min(capacity / 10.0);
        s.refilled = now;
        let fast = Duration::from_millis(1);
        let refused = match phase.kind {
            Kind::Hang => return (StatusCode::GATEWAY_TIMEOUT, HANG, None),
            Kind::Outage => true,
            Kind::Flaky(share) => s.rng.f64() < share,
            Kind::Healthy | Kind::Overload(_) => false,
        };
        if refused {
            return (StatusCode::SERVICE_UNAVAILABLE, fast, None);
        }
        // A queued request waits for the tokens of those before it.
        let queued = ((1.0 - s.tokens) / capacity).max(0.0);
        let shed = match s.shed {
            _ if s.tokens >= 1.0 => None,
            Shed::Queue(max_wait) if queued <= max_wait.as_secs_f64() => None,
            Shed::Unavailable | Shed::Queue(_) => Some(None),
            Shed::RetryAfter(secs) => Some(Some(secs)),
        };
        if let Some(retry_after) = shed {
            return (StatusCode::SERVICE_UNAVAILABLE, fast, retry_after);
        }
        s.tokens -= 1.0;
        // 5 ms, plus an exponential tail of mean 10 ms.
        let tail = -10.0 * (1.0 - s.rng.f64()).ln();
        (
            StatusCode::OK,
            Duration::from_secs_f64(queued + (5.0 + tail) / 1000.0),
            None,
        )
    }
}

impl tower::Service<Request<()>> for Server {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let (status, latency, retry_after) = self.arrive();
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            let mut res = Response::new(Empty::new());
            *res.status_mut() = status;
            if let Some(secs) = retry_after {
                res.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(res)
        })
    }
}
