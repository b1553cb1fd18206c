//! Soak: one million requests through the full stack (retries over per-host
//! breakers) against an in-memory downstream failing at random (seeded),
//! spread over 100,000 authorities. Memory stays bounded, the per-host map
//! never exceeds its bound, and every request ends with a response or an
//! error.
//!
//! Ignored by `cargo test` (it takes a while in a debug build); CI runs it:
//! `cargo test --release --test soak -- --ignored --nocapture`.

// A counting global allocator needs `unsafe impl GlobalAlloc`; the crate
// itself forbids unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::retry::ResendCount;
use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, RetryLayer, RetryPolicy};

struct Live;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static PEAK_BYTES: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now =
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed) + layout.size() as i64;
        PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Live = Live;

const REQUESTS: u64 = 1_000_000;
const AUTHORITIES: u64 = 100_000;
const TASKS: u64 = 8;
const MAX_HOSTS: usize = 1_024;

#[test]
#[ignore = "a soak: run with --release -- --ignored"]
fn a_million_requests_over_a_hundred_thousand_hosts() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(soak());
}

async fn soak() {
    // 30 % of calls fail: 503, reset, or 500; the rest answer 200. Which
    // ones is seeded by the request's number and its resend count, so the
    // run is the same whatever the scheduling.
    let downstream = service_fn(|req: Request<Full<Bytes>>| async move {
        let n: u64 = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap();
        let resends = req
            .extensions()
            .get::<ResendCount>()
            .map_or(0, ResendCount::get);
        let mut rng =
            fastrand::Rng::with_seed(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(resends));
        match rng.u8(0..100) {
            0..=9 => Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            10..=24 => Ok(status(503)),
            25..=29 => Ok(status(500)),
            _ => Ok(status(200)),
        }
    });
    let breaker = CircuitBreakerLayer::per_host(
        CircuitBreakerConfig::default()
            .minimum_calls(5)
            .window_size(10)
            .open_duration(Duration::from_millis(50)),
    );
    let handle = breaker.handle();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::default().backoff(ConstantBackoff::new(Duration::ZERO)),
        ))
        .layer(breaker)
        .service(downstream);

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut warm = 0i64;
    let per_task = REQUESTS / TASKS;
    for round in 0..10u64 {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (mut svc, ok, failed) = (svc.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    for i in 0..per_task / 10 {
                        let n = (round * per_task / 10 + i) * TASKS + t;
                        let uri = format!("http://host-{}.example/item/{n}", n % AUTHORITIES);
                        let req = Request::get(uri).body(Full::default()).unwrap();
                        match svc.ready().await.unwrap().call(req).await {
                            Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(handle.host_count() <= MAX_HOSTS, "map over its bound");
        let live = LIVE_BYTES.load(Ordering::Relaxed);
        if round == 0 {
            warm = live;
        }
        eprintln!(
            "after {:>9} requests: {:>6} hosts kept, {:>6.1} MiB live",
            (round + 1) * per_task * TASKS / 10,
            handle.host_count(),
            live as f64 / (1024.0 * 1024.0)
        );
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let live = LIVE_BYTES.load(Ordering::Relaxed);
    let peak = PEAK_BYTES.load(Ordering::Relaxed);
    eprintln!(
        "{REQUESTS} requests: {ok} responses, {failed} errors; peak {:.1} MiB, growth after warm-up {:.1} KiB",
        peak as f64 / (1024.0 * 1024.0),
        (live - warm) as f64 / 1024.0
    );
    assert_eq!(ok + failed, REQUESTS, "every request ended");
    assert_eq!(handle.host_count(), MAX_HOSTS);
    // Bounded: after the first 100,000 requests filled the map, ten times
    // as many add less than 1 MiB.
    assert!(live - warm < 1024 * 1024, "grew by {} bytes", live - warm);
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}
