//! The clients: each its own stack of this crate, sending a steady stream.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{Request, Response};
use http_body_util::Empty;
use tokio::time::Instant;
use tower::retry::budget::TpsBudget;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::{
    AdaptiveThrottleLayer, CircuitBreakerConfig, CircuitBreakerLayer, HedgeLayer, RetryLayer,
    RetryPolicy,
};

use crate::measure::{Record, Summary};
use crate::server::{Script, Server, Shed};

/// One client's stack, as the simulation calls it.
pub(crate) type Client = BoxCloneService<Request<()>, Response<Empty<Bytes>>, BoxError>;

/// The client stacks compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stack {
    /// Every request sent once.
    NoRetry,
    /// A hand-written loop: 3 attempts, 100 ms apart, no jitter, no budget,
    /// `Retry-After` unread.
    Naive,
    /// `tower::retry` with `TpsBudget::default()` (10 s, 10/s, 20 %), the
    /// rest as ours.
    TowerBudget,
    /// `RetryPolicy::default()`.
    Ours,
    /// `RetryPolicy::default()` above `CircuitBreakerConfig::default()`.
    OursBreaker,
    /// `RetryPolicy::default()` above `AdaptiveThrottleLayer::new()`.
    OursThrottle,
    /// `RetryPolicy::default()` above `HedgeLayer::new(50 ms)` spending the
    /// policy's budget.
    OursHedge,
    // A new row: a variant here, in `ALL`, its name, and its stack in
    // `client` below.
}

impl Stack {
    /// Every stack, in the table's order.
    pub(crate) const ALL: [Stack; 7] = [
        Stack::NoRetry,
        Stack::Naive,
        Stack::TowerBudget,
        Stack::Ours,
        Stack::OursBreaker,
        Stack::OursThrottle,
        Stack::OursHedge,
    ];

    /// The name in the table and the charts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stack::NoRetry => "no retry",
            Stack::Naive => "naive 3 × 100 ms",
            Stack::TowerBudget => "tower TpsBudget",
            Stack::Ours => "ours (default)",
            Stack::OursBreaker => "ours + breaker",
            Stack::OursThrottle => "ours + throttle",
            Stack::OursHedge => "ours + hedge 50 ms",
        }
    }

    /// A client of `server` with this stack: its own policy, budget and
    /// breaker, as a separate process has; with `attempt_timeout`, a
    /// `TimeoutLayer` on each attempt, beneath the breaker and the retries.
    pub(crate) fn client(self, server: Server, attempt_timeout: Option<Duration>) -> Client {
        let server = ServiceBuilder::new()
            .option_layer(attempt_timeout.map(TimeoutLayer::new))
            .map_err(BoxError::from)
            .service(server);
        match self {
            Stack::NoRetry => BoxCloneService::new(server),
            Stack::Naive => retrying(
                RetryPolicy::default()
                    .without_budget()
                    .backoff(ConstantBackoff::new(Duration::from_millis(100))),
                server.map_response(unread_retry_after),
            ),
            Stack::TowerBudget => {
                retrying(RetryPolicy::default().budget(TpsBudget::default()), server)
            }
            Stack::Ours => retrying(RetryPolicy::default(), server),
            Stack::OursBreaker => retrying(
                RetryPolicy::default(),
                CircuitBreakerLayer::new(CircuitBreakerConfig::default()).layer(server),
            ),
            Stack::OursThrottle => retrying(
                RetryPolicy::default(),
                AdaptiveThrottleLayer::new().layer(server),
            ),
            Stack::OursHedge => {
                let policy = RetryPolicy::default();
                let hedge = HedgeLayer::new(Duration::from_millis(50)).budget_of(&policy);
                retrying(policy, hedge.layer(server))
            }
        }
    }
}

/// What a hand-written loop sees: it never reads `Retry-After`.
fn unread_retry_after(mut res: Response<Empty<Bytes>>) -> Response<Empty<Bytes>> {
    res.headers_mut().remove(RETRY_AFTER);
    res
}

fn retrying<S>(policy: RetryPolicy, inner: S) -> Client
where
    S: tower::Service<Request<()>, Response = Response<Empty<Bytes>>, Error = BoxError>,
    S: Clone + Send + 'static,
    S::Future: Send + 'static,
{
    BoxCloneService::new(RetryLayer::new(policy).layer(inner))
}

/// A fleet of `clients` sending `offered` requests a second in all, each
/// its share at a steady pace from a seeded phase, against one server.
#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub(crate) clients: usize,
    /// Requests a second the server serves when healthy.
    pub(crate) capacity: f64,
    /// Requests a second the whole fleet sends.
    pub(crate) offered: f64,
    pub(crate) script: Script,
    /// How the server sheds above its capacity.
    pub(crate) shed: Shed,
    /// Each client's timeout per attempt, if any.
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) seed: u64,
}

/// Runs `scenario` with every client on `stack` on a runtime of its own
/// whose clock is paused, and returns what was seen and its figures.
pub(crate) fn simulate(scenario: &Scenario, stack: Stack) -> (Record, Summary) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let record = runtime.block_on(run(scenario, stack));
    let summary = Summary::of(&record, &scenario.script, scenario.offered);
    (record, summary)
}

/// Runs `scenario` with every client on `stack`, on the current (paused)
/// runtime, and returns what was seen.
pub(crate) async fn run(scenario: &Scenario, stack: Stack) -> Record {
    fastrand::seed(scenario.seed);
    let server = Server::new(
        scenario.script.clone(),
        scenario.capacity,
        scenario.shed,
        scenario.seed,
    );
    let secs = scenario.script.secs();
    let record = Arc::new(Mutex::new(Record::new(secs as usize + 120)));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let interval = Duration::from_secs_f64(scenario.clients as f64 / scenario.offered);
    let mut phases = fastrand::Rng::with_seed(scenario.seed ^ 0x5eed);
    for _ in 0..scenario.clients {
        let client = stack.client(server.clone(), scenario.attempt_timeout);
        let record = record.clone();
        let first = start + interval.mul_f64(phases.f64());
        tokio::spawn(send(client, first, interval, end, start, record));
    }
    // Every request has started by `end`; the longest retry ends well
    // within a minute after.
    tokio::time::sleep_until(end + Duration::from_secs(60)).await;
    let mut record = Arc::try_unwrap(record)
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .unwrap_or_else(|shared| {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
    record.server_arrivals = server.arrivals();
    record
}

/// One client: a request every `interval` from `first` until `end`, each
/// on a task of its own (a slow one does not hold back the next).
async fn send(
    client: Client,
    first: Instant,
    interval: Duration,
    end: Instant,
    start: Instant,
    record: Arc<Mutex<Record>>,
) {
    let mut next = first;
    while next < end {
        tokio::time::sleep_until(next).await;
        let (client, record) = (client.clone(), record.clone());
        tokio::spawn(async move {
            let sent = Instant::now();
            let ok = matches!(
                client.oneshot(Request::new(())).await,
                Ok(res) if res.status().is_success()
            );
            let took = sent.elapsed();
            let mut record = record.lock().unwrap_or_else(PoisonError::into_inner);
            record.request(sent.duration_since(start), took, ok);
        });
        next += interval;
    }
}
