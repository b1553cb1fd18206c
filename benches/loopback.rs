//! Benchmark 3: loopback HTTP. A hyper 1 server on 127.0.0.1 (a thread and
//! runtime of its own) answers 200 with a small body; each client sends
//! requests one after another on a current-thread runtime, so all of its
//! work is on this thread, and reads every body to its end.
//!
//! `cargo bench --features reqwest --bench loopback`
//!
//! Clients run in interleaved rounds (A B C … A B C …) so that the noise of
//! a shared machine falls on all of them alike. Printed per client:
//! requests/s, client CPU per request (this thread's CPU time, from
//! `/proc/thread-self/schedstat`), p50 and p99 latency, each as a ratio
//! to its bare client, and the kernel's share of that CPU (socket calls;
//! `scripts/loopback-instructions.sh` counts the user-space rest exactly).
//! `LOOPBACK_REQUESTS` (per round, default 2,000) and `LOOPBACK_ROUNDS`
//! (default 7) change the size; `LOOPBACK_CLIENTS` (names, comma-separated)
//! runs some clients only, e.g. under callgrind:
//!
//! ```text
//! LOOPBACK_CLIENTS=hyper_ours LOOPBACK_ROUNDS=1 LOOPBACK_REQUESTS=1000 \
//!     valgrind --tool=callgrind target/release/deps/loopback-*
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::{
    CircuitBreakerConfig, CircuitBreakerLayer, ReqwestService, RetryLayer, RetryPolicy,
};

mod common;
use common::MinimalPolicy;

const BODY: &[u8] = b"{\"id\":7,\"name\":\"item\"}";

fn server() -> SocketAddr {
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
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
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

/// One request, sent and its body read to the end.
type Send1 = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()>>>>;

fn request(uri: &Uri) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = uri.clone();
    req.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    req
}

/// A `tower::Service` client whose response body is read to its end.
fn tower_client<S, B>(svc: S, uri: &Uri) -> Send1
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + 'static,
    S::Error: std::fmt::Debug,
    B: http_body::Body + 'static,
    B::Error: std::fmt::Debug,
{
    let uri = uri.clone();
    Box::new(move || {
        let svc = svc.clone();
        let req = request(&uri);
        Box::pin(async move {
            let res = svc.oneshot(req).await.unwrap();
            assert!(res.status().is_success());
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), BODY.len());
        })
    })
}

fn clients(addr: SocketAddr) -> Vec<(&'static str, &'static str, Send1)> {
    let uri: Uri = format!("http://{addr}/items?id=7").parse().unwrap();
    let url = uri.to_string();
    let hyper_client = || -> Client<HttpConnector, Full<Bytes>> {
        Client::builder(TokioExecutor::new()).build_http()
    };
    let ours = || {
        ServiceBuilder::new()
            .layer(RetryLayer::new(RetryPolicy::default()))
            .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
    };
    let reqwest_bare = {
        let client = reqwest::Client::new();
        let url = url.clone();
        Box::new(move || {
            let client = client.clone();
            let url = url.clone();
            Box::pin(async move {
                let res = client
                    .get(&url)
                    .header("accept", "application/json")
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
                assert_eq!(res.bytes().await.unwrap().len(), BODY.len());
            }) as Pin<Box<dyn Future<Output = ()>>>
        }) as Send1
    };
    let reqwest_retry = {
        use reqwest_retry::{policies::ExponentialBackoff, RetryTransientMiddleware};
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RetryTransientMiddleware::new_with_policy(
                ExponentialBackoff::builder().build_with_max_retries(2),
            ))
            .build();
        let url = url.clone();
        Box::new(move || {
            let client = client.clone();
            let url = url.clone();
            Box::pin(async move {
                let res = client
                    .get(&url)
                    .header("accept", "application/json")
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
                assert_eq!(res.bytes().await.unwrap().len(), BODY.len());
            }) as Pin<Box<dyn Future<Output = ()>>>
        }) as Send1
    };
    vec![
        (
            "hyper_bare",
            "hyper_bare",
            tower_client(hyper_client(), &uri),
        ),
        (
            "hyper_tower_retry",
            "hyper_bare",
            tower_client(
                tower::retry::Retry::new(MinimalPolicy::new(), hyper_client()),
                &uri,
            ),
        ),
        (
            "hyper_ours_retry",
            "hyper_bare",
            tower_client(
                RetryLayer::new(RetryPolicy::default()).layer(hyper_client()),
                &uri,
            ),
        ),
        (
            "hyper_ours",
            "hyper_bare",
            tower_client(ours().service(hyper_client()), &uri),
        ),
        ("reqwest_bare", "reqwest_bare", reqwest_bare),
        (
            "reqwest_service",
            "reqwest_bare",
            tower_client(ReqwestService::new(reqwest::Client::new()), &uri),
        ),
        (
            "reqwest_service_ours",
            "reqwest_bare",
            tower_client(
                ours().service(ReqwestService::new(reqwest::Client::new())),
                &uri,
            ),
        ),
        ("reqwest_middleware_retry", "reqwest_bare", reqwest_retry),
    ]
}

/// This thread's CPU time so far (Linux).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// This thread's (user, kernel) CPU time so far in clock ticks
/// (`/proc/thread-self/stat`, fields 14 and 15): coarse, but over a whole
/// run it shows how much of a request's CPU is the kernel's.
fn thread_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    (next(), next())
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    wall: Duration,
    cpu: Duration,
    user_ticks: u64,
    kernel_ticks: u64,
    requests: u64,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let per_round = env("LOOPBACK_REQUESTS", 2_000);
    let rounds = env("LOOPBACK_ROUNDS", 7);
    let addr = server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut clients = clients(addr);
    if let Ok(only) = std::env::var("LOOPBACK_CLIENTS") {
        let only: Vec<&str> = only.split(',').collect();
        clients.retain(|(name, _, _)| only.contains(name));
    }
    let mut stats: Vec<Stats> = clients.iter().map(|_| Stats::default()).collect();
    rt.block_on(async {
        // Warm up: connections, pools, lazy statics.
        for (_, _, send) in clients.iter_mut() {
            for _ in 0..500 {
                send().await;
            }
        }
        for _ in 0..rounds {
            for ((_, _, send), stats) in clients.iter_mut().zip(stats.iter_mut()) {
                let cpu = thread_cpu();
                let ticks = thread_ticks();
                let start = Instant::now();
                for _ in 0..per_round {
                    let t = Instant::now();
                    send().await;
                    stats.latencies.push(t.elapsed());
                }
                stats.wall += start.elapsed();
                stats.cpu += thread_cpu() - cpu;
                let (user, kernel) = thread_ticks();
                stats.user_ticks += user - ticks.0;
                stats.kernel_ticks += kernel - ticks.1;
                stats.requests += per_round;
            }
        }
    });
    println!(
        "loopback HTTP: {rounds} interleaved rounds of {per_round} sequential requests per client"
    );
    println!(
        "| client | req/s | CPU µs/req | × bare | p50 µs | × bare | p99 µs | × bare | kernel % of CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for ((name, bare, _), s) in clients.iter().zip(stats.iter_mut()) {
        s.latencies.sort();
        let cpu = s.cpu.as_secs_f64() * 1e6 / s.requests as f64;
        let p50 = percentile(&s.latencies, 0.5).as_secs_f64() * 1e6;
        let p99 = percentile(&s.latencies, 0.99).as_secs_f64() * 1e6;
        let rps = s.requests as f64 / s.wall.as_secs_f64();
        let ticks = (s.user_ticks + s.kernel_ticks).max(1) as f64;
        let kernel = 100.0 * s.kernel_ticks as f64 / ticks;
        rows.push((*name, *bare, rps, cpu, p50, p99, kernel));
    }
    for (name, bare, rps, cpu, p50, p99, kernel) in &rows {
        // The bare client is left out when `LOOPBACK_CLIENTS` names only
        // its wrapped one: ratios to itself, then.
        let (bcpu, bp50, bp99) = rows
            .iter()
            .find(|r| r.0 == *bare)
            .map_or((*cpu, *p50, *p99), |r| (r.3, r.4, r.5));
        println!(
            "| {name} | {rps:.0} | {cpu:.2} | {:.3} | {p50:.1} | {:.3} | {p99:.1} | {:.3} | {kernel:.0} |",
            cpu / bcpu,
            p50 / bp50,
            p99 / bp99
        );
    }
}
