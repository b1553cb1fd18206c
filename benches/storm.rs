//! Benchmark 4: a retry storm. A downstream that always answers 503;
//! 1,000 requests from 50 tasks at once, each stack at its defaults, with
//! paused time (every backoff is skipped, not slept). Prints downstream
//! calls per request: 1.0 means no retry at all, 3.0 means every request
//! used all three attempts.
//!
//! `cargo bench --bench storm`
//!
//! reqwest-retry needs a real reqwest client, so it calls a hyper server on
//! 127.0.0.1 that runs on a thread of its own with real time; the client's
//! runtime is still paused, so its backoff is skipped too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use tower::{Service, ServiceExt};

mod common;
use common::{request, with_stack, Downstream, Req, Res, Visit};

const REQUESTS: u64 = 1_000;
const TASKS: u64 = 50;

/// (stack, what it is at its defaults)
const STORM: &[(&str, &str)] = &[
    (
        "ours_retry",
        "RetryLayer(RetryPolicy::default()): 3 attempts, earned budget (reserve 2, 20 % of requests)",
    ),
    (
        "ours_retry_breaker",
        "the same over CircuitBreakerLayer(default): trips at 50 % of ≥ 20 calls",
    ),
    (
        "tower_retry_tps",
        "tower::retry + TpsBudget::default(), 3 attempts",
    ),
    (
        "tower_retry",
        "tower::retry, minimal policy, no budget, 3 attempts",
    ),
    (
        "tr_retry",
        "tower-resilience retry defaults: 3 attempts, no budget",
    ),
    (
        "tr_retry_breaker",
        "tower-resilience retry over its breaker (defaults)",
    ),
];

struct Storm;

impl Visit for Storm {
    type Out = Vec<tokio::task::JoinHandle<()>>;
    fn visit<S>(self, svc: S) -> Self::Out
    where
        S: Service<Req, Response = Res> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: std::fmt::Debug + Send + 'static,
    {
        (0..TASKS)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move {
                    for _ in 0..REQUESTS / TASKS {
                        // An error (an open breaker) is an answer too.
                        let _ = svc.ready().await.unwrap().call(request()).await;
                    }
                })
            })
            .collect()
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn in_memory(name: &str) -> f64 {
    let rt = paused_runtime();
    let (downstream, calls) = Downstream::counting(StatusCode::SERVICE_UNAVAILABLE);
    rt.block_on(async {
        for t in with_stack(name, downstream, Storm).expect("known stack") {
            t.await.unwrap();
        }
    });
    calls.load(Ordering::Relaxed) as f64 / REQUESTS as f64
}

/// A hyper server on 127.0.0.1 answering 503 to everything, on a thread
/// and runtime of its own (real time).
fn server_503(calls: Arc<AtomicU64>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let calls = calls.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        let mut res = http::Response::new(Full::new(Bytes::new()));
                        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        async move { Ok::<_, Infallible>(res) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    addr
}

fn reqwest_retry() -> f64 {
    use reqwest_retry::{policies::ExponentialBackoff, RetryTransientMiddleware};
    let calls = Arc::new(AtomicU64::new(0));
    let addr = server_503(calls.clone());
    let rt = paused_runtime();
    rt.block_on(async {
        // reqwest-retry's README default.
        let policy = ExponentialBackoff::builder().build_with_max_retries(3);
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RetryTransientMiddleware::new_with_policy(policy))
            .build();
        let url = format!("http://{addr}/items?id=7");
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    for _ in 0..REQUESTS / TASKS {
                        let res = client.get(&url).send().await.unwrap();
                        let _ = res.bytes().await;
                    }
                })
            })
            .collect();
        // No `timeout` here: with paused time it would fire whenever the
        // runtime waits on a socket. The loop is bounded by its count.
        for t in tasks {
            t.await.unwrap();
        }
    });
    calls.load(Ordering::Relaxed) as f64 / REQUESTS as f64
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` too: a storm is
    // cheap, run it either way.
    println!("storm: downstream always 503, {REQUESTS} requests from {TASKS} tasks, paused time");
    println!("| stack | downstream calls / request | at its defaults |");
    println!("|---|---:|---|");
    for (name, what) in STORM {
        println!("| {name} | {:.3} | {what} |", in_memory(name));
    }
    println!(
        "| reqwest_retry | {:.3} | reqwest-middleware + reqwest-retry, ExponentialBackoff::builder().build_with_max_retries(3) (its README), over loopback |",
        reqwest_retry()
    );
}
