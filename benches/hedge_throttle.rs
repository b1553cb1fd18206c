//! Benchmark 5: hedging and adaptive throttling, side by side in one run.
//!
//! 1. Success path (criterion, real time, in memory): a downstream that
//!    answers 200 at once, so no hedge ever fires: `HedgeLayer` (fixed
//!    delay, and from observed latency) against `tower::hedge` and against
//!    no hedging.
//! 2. Tail latency (paused time, so a run takes milliseconds and every
//!    figure is exact virtual time): a downstream whose latency is 1 ms with
//!    probability 0.95 and 100 ms otherwise (seeded), 10,000 requests from
//!    20 tasks; p50, p99, p99.9 and the extra load (downstream calls per
//!    request − 1), with and without hedging.
//! 3. Throttle storm (paused time): a downstream refusing 90 % of calls
//!    (503, seeded), 1,000 requests from 50 tasks: downstream calls per
//!    logical request with the retry budget alone and with
//!    `AdaptiveThrottleLayer` beneath `RetryLayer`.
//!
//! `cargo bench --bench hedge_throttle -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::Criterion;
use http::StatusCode;
use http_body_util::Full;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::{AdaptiveThrottleLayer, HedgeLayer, RetryLayer, RetryPolicy};

mod common;
use common::{bench_calls, request, Downstream, Req, Res};

/// `tower::hedge`'s policy for our requests: every request may be hedged.
#[derive(Clone)]
struct TowerHedgePolicy;

impl tower::hedge::Policy<Req> for TowerHedgePolicy {
    fn clone_request(&self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
    fn can_retry(&self, _req: &Req) -> bool {
        true
    }
}

/// p90 over a 100 ms window, once 10 latencies were seen: the p95 of a
/// downstream slow 5 % of the time sits on the edge between its two modes.
fn tower_hedge<S>(inner: S) -> tower::hedge::Hedge<S, TowerHedgePolicy>
where
    S: Service<Req> + Clone,
    S::Error: Into<tower::BoxError>,
{
    tower::hedge::Hedge::new(inner, TowerHedgePolicy, 10, 0.9, Duration::from_millis(100))
}

fn ours_fixed() -> HedgeLayer {
    HedgeLayer::new(Duration::from_millis(10))
}

fn ours_percentile() -> HedgeLayer {
    HedgeLayer::new(Duration::from_millis(10)).latency_percentile(
        0.9,
        Duration::from_millis(100),
        10,
    )
}

fn success_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("hedge_success_path");
    let down = Downstream::ok();
    bench_calls(&mut group, &rt, "bare", down.clone());
    bench_calls(
        &mut group,
        &rt,
        "ours_hedge_fixed",
        ours_fixed().layer(down.clone()),
    );
    bench_calls(
        &mut group,
        &rt,
        "ours_hedge_p90",
        ours_percentile().layer(down.clone()),
    );
    bench_calls(
        &mut group,
        &rt,
        "tower_hedge_p90",
        tower_hedge(down.clone()),
    );
    bench_calls(
        &mut group,
        &rt,
        "ours_throttle",
        AdaptiveThrottleLayer::new().layer(down.clone()),
    );
    group.finish();
}

/// A downstream answering 200 after 1 ms w.p. 0.95, 100 ms otherwise
/// (seeded), counting its calls.
#[derive(Clone)]
struct Bimodal {
    rng: Arc<Mutex<fastrand::Rng>>,
    calls: Arc<AtomicU64>,
}

impl Bimodal {
    fn new() -> Self {
        Bimodal {
            rng: Arc::new(Mutex::new(fastrand::Rng::with_seed(42))),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

struct After(Pin<Box<tokio::time::Sleep>>);

impl Future for After {
    type Output = Result<Res, Infallible>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0
            .as_mut()
            .poll(cx)
            .map(|()| Ok(http::Response::new(Full::default())))
    }
}

impl Service<Req> for Bimodal {
    type Response = Res;
    type Error = Infallible;
    type Future = After;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _req: Req) -> After {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let slow = self.rng.lock().unwrap().f64() >= 0.95;
        let d = Duration::from_millis(if slow { 100 } else { 1 });
        After(Box::pin(tokio::time::sleep(d)))
    }
}

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

const TAIL_REQUESTS: usize = 10_000;
const TAIL_TASKS: usize = 20;

/// Latencies of every request through `svc`, in virtual time.
async fn latencies<S>(svc: S) -> Vec<Duration>
where
    S: Service<Req, Response = Res> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
{
    let all = Arc::new(Mutex::new(Vec::with_capacity(TAIL_REQUESTS)));
    let tasks: Vec<_> = (0..TAIL_TASKS)
        .map(|_| {
            let (mut svc, all) = (svc.clone(), all.clone());
            async move {
                for _ in 0..TAIL_REQUESTS / TAIL_TASKS {
                    let start = Instant::now();
                    svc.ready().await.unwrap().call(request()).await.unwrap();
                    all.lock().unwrap().push(start.elapsed());
                }
            }
        })
        .collect();
    // Joined on this task: `tower::hedge` is not `Sync` enough to spawn.
    futures_util::future::join_all(tasks).await;
    let mut v = std::mem::take(&mut *all.lock().unwrap());
    v.sort();
    v
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn tail_row(name: &str, what: &str, run: impl FnOnce(Bimodal) -> Vec<Duration>) {
    let down = Bimodal::new();
    let calls = down.calls.clone();
    let l = run(down);
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} | {:.1} % | {what} |",
        pct(&l, 0.50),
        pct(&l, 0.99),
        pct(&l, 0.999),
        (calls.load(Ordering::Relaxed) as f64 / TAIL_REQUESTS as f64 - 1.0) * 100.0
    );
}

fn tail_latency() {
    println!(
        "\ntail latency: downstream 1 ms w.p. 0.95 else 100 ms, {TAIL_REQUESTS} requests from {TAIL_TASKS} tasks, paused time"
    );
    println!("| stack | p50 ms | p99 ms | p99.9 ms | extra load | |");
    println!("|---|---:|---:|---:|---:|---|");
    tail_row("none", "no hedging", |d| paused().block_on(latencies(d)));
    tail_row(
        "ours_hedge_fixed",
        "HedgeLayer::new(10 ms), default budget",
        |d| paused().block_on(latencies(ours_fixed().layer(d))),
    );
    tail_row(
        "ours_hedge_p90",
        "HedgeLayer p90 over 100 ms (10 ms until 10 samples), default budget",
        |d| paused().block_on(latencies(ours_percentile().layer(d))),
    );
    tail_row(
        "ours_hedge_fixed_2",
        "HedgeLayer::new(10 ms).max_hedges(2)",
        |d| paused().block_on(latencies(ours_fixed().max_hedges(2).layer(d))),
    );
    tail_row(
        "tower_hedge_p90",
        "tower::hedge p90 over 100 ms, min 10 samples, no budget",
        |d| paused().block_on(latencies(SharedHedge::new(tower_hedge(d)))),
    );
}

/// `tower::hedge::Hedge` is not `Clone`: shared behind a lock for the
/// tasks (each call is made under it, and the future awaited outside).
struct SharedHedge<S>(Arc<Mutex<S>>);

impl<S> Clone for SharedHedge<S> {
    fn clone(&self) -> Self {
        SharedHedge(self.0.clone())
    }
}

impl<S> SharedHedge<S> {
    fn new(s: S) -> Self {
        SharedHedge(Arc::new(Mutex::new(s)))
    }
}

impl<S: Service<Req>> Service<Req> for SharedHedge<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.lock().unwrap().poll_ready(cx)
    }
    fn call(&mut self, req: Req) -> S::Future {
        self.0.lock().unwrap().call(req)
    }
}

/// A downstream refusing 90 % of calls with 503 (seeded).
#[derive(Clone)]
struct Refusing {
    rng: Arc<Mutex<fastrand::Rng>>,
    calls: Arc<AtomicU64>,
}

impl Service<Req> for Refusing {
    type Response = Res;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Res, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _req: Req) -> Self::Future {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut res = http::Response::new(Full::default());
        if self.rng.lock().unwrap().f64() < 0.9 {
            *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        std::future::ready(Ok(res))
    }
}

const STORM_REQUESTS: u64 = 1_000;
const STORM_TASKS: u64 = 50;

fn storm_row<S, F>(name: &str, what: &str, build: F)
where
    F: FnOnce(Refusing) -> S,
    S: Service<Req, Response = Res> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug + Send,
{
    let down = Refusing {
        rng: Arc::new(Mutex::new(fastrand::Rng::with_seed(7))),
        calls: Arc::new(AtomicU64::new(0)),
    };
    let calls = down.calls.clone();
    let svc = build(down);
    let local_rejections = Arc::new(AtomicU64::new(0));
    paused().block_on(async {
        let tasks: Vec<_> = (0..STORM_TASKS)
            .map(|_| {
                let (mut svc, rejected) = (svc.clone(), local_rejections.clone());
                async move {
                    for _ in 0..STORM_REQUESTS / STORM_TASKS {
                        if svc.ready().await.unwrap().call(request()).await.is_err() {
                            rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
            .collect();
        futures_util::future::join_all(tasks).await;
    });
    println!(
        "| {name} | {:.3} | {:.1} % | {what} |",
        calls.load(Ordering::Relaxed) as f64 / STORM_REQUESTS as f64,
        local_rejections.load(Ordering::Relaxed) as f64 / STORM_REQUESTS as f64 * 100.0
    );
}

fn throttle_storm() {
    println!(
        "\nthrottle storm: downstream refuses 90 % (503), {STORM_REQUESTS} requests from {STORM_TASKS} tasks, paused time"
    );
    println!("| stack | downstream calls / request | requests failed locally | |");
    println!("|---|---:|---:|---|");
    storm_row(
        "ours_retry",
        "RetryLayer(RetryPolicy::default()): 3 attempts, retry budget",
        |d| RetryLayer::new(RetryPolicy::default()).layer(d),
    );
    storm_row(
        "ours_retry_throttle",
        "RetryLayer(default) over AdaptiveThrottleLayer::new() (K = 2, 2 min)",
        |d| {
            ServiceBuilder::new()
                .layer(RetryLayer::new(RetryPolicy::default()))
                .layer(AdaptiveThrottleLayer::new().seed(1))
                .service(d)
        },
    );
    storm_row("ours_retry_throttle_k1.5", "the same with K = 1.5", |d| {
        ServiceBuilder::new()
            .layer(RetryLayer::new(RetryPolicy::default()))
            .layer(AdaptiveThrottleLayer::new().k(1.5).seed(1))
            .service(d)
    });
    storm_row(
        "ours_throttle",
        "AdaptiveThrottleLayer::new() alone, no retry",
        |d| AdaptiveThrottleLayer::new().seed(1).layer(d),
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    success_path(&mut c);
    c.final_summary();
    tail_latency();
    throttle_storm();
}
