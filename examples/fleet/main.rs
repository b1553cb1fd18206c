//! What retries do to a fleet: N clients, each with its own client stack of
//! this crate, against one server that goes through an outage and an
//! overload. Deterministic (seeded, tokio's paused clock, in-process).
//!
//! ```text
//! cargo run --release --example fleet            # the table, and charts in target/fleet/
//! cargo run --release --example fleet -- 10000   # one fleet size
//! ```

// The counting global allocator (memory per client) needs `unsafe impl
// GlobalAlloc`; the crate itself forbids unsafe code.
#![allow(unsafe_code)]

mod chart;
mod clients;
mod measure;
mod server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant as WallClock;

use clients::{simulate, Scenario, Stack};
use server::{Kind, Script};

/// Counts the bytes allocated, to report the memory per client.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout goes to the system allocator as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Requests a second the server serves when healthy.
const CAPACITY: f64 = 4_000.0;

/// Five minutes: a flaky start (5 % of requests fail at random), a
/// one-minute outage, recovery, an overload (the capacity drops to a
/// quarter: the offered load is twice what it serves), recovery.
fn script() -> Script {
    Script::of(&[
        ("flaky 5 %", 60, Kind::Flaky(0.05)),
        ("outage", 60, Kind::Outage),
        ("recovery", 60, Kind::Healthy),
        ("overload", 60, Kind::Overload(0.25)),
        ("healthy", 60, Kind::Healthy),
    ])
}

fn main() {
    let sizes: Vec<usize> = match std::env::args().nth(1) {
        Some(n) => vec![n.parse().expect("a fleet size")],
        None => vec![10, 100, 1_000, 10_000],
    };
    let script = script();
    let offered = CAPACITY / 2.0;
    println!(
        "server: {CAPACITY} requests/s when healthy; fleet: {offered} requests/s in all; \
         phases: {}",
        script
            .0
            .iter()
            .map(|p| format!("{} {} s", p.name, p.secs))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:>6} {:<18} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8} {:>5} {:>8} {:>8} {:>6} {:>7}",
        "N",
        "stack",
        "flaky",
        "outage",
        "recover",
        "overld",
        "healthy",
        "goodput/s",
        "recov s",
        "herd",
        "success",
        "flaky ok",
        "p50 ms",
        "p99 ms"
    );
    let mut results = Vec::new();
    for &clients in &sizes {
        let scenario = Scenario {
            clients,
            capacity: CAPACITY,
            offered,
            script: script.clone(),
            seed: 7,
        };
        let wall = WallClock::now();
        for stack in Stack::ALL {
            let (record, s) = simulate(&scenario, stack);
            let amp = |i: usize| s.amplification[i];
            println!(
                "{:>6} {:<18} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>9.0} {:>8} {:>5.2} {:>7.2}% {:>7.2}% {:>6} {:>7}",
                clients, stack.name(), amp(0), amp(1), amp(2), amp(3), amp(4), s.overload_goodput,
                s.recovery.map_or("never".to_string(), |r| r.to_string()), s.herd,
                100.0 * s.success, 100.0 * s.flaky_success, s.p50_ms, s.p99_ms
            );
            results.push((clients, stack, record, s));
        }
        println!(
            "{:>6} clients: {:.1} s of wall time for the {} stacks",
            clients,
            wall.elapsed().as_secs_f64(),
            Stack::ALL.len()
        );
    }
    let largest = *sizes.iter().max().expect("a size");
    let before = LIVE.load(Ordering::Relaxed);
    let server = server::Server::new(script.clone(), CAPACITY, 7);
    let stacks: Vec<_> = (0..largest)
        .map(|_| Stack::OursBreaker.client(server.clone()))
        .collect();
    let per_client = (LIVE.load(Ordering::Relaxed) - before) as f64 / largest as f64;
    drop(stacks);
    println!(
        "memory: {per_client:.0} bytes per client for its stack (ours + breaker); \
         peak of the whole run {:.1} MB, {:.0} bytes per client of the largest fleet",
        PEAK.load(Ordering::Relaxed) as f64 / 1e6,
        PEAK.load(Ordering::Relaxed) as f64 / largest as f64
    );
    match chart::draw(&results, &script, offered) {
        Ok(dir) => println!("charts: {}", dir.display()),
        Err(e) => eprintln!("charts not drawn: {e}"),
    }
}
