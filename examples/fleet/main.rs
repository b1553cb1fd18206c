//! What retries do to a fleet: N clients, each with its own client stack of
//! this crate, against one server that goes through an outage (by 503, or
//! by timeouts) and an overload (shed by 503, or with `Retry-After`).
//! Deterministic (seeded, tokio's paused clock, in-process).
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
mod table;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as WallClock};

use clients::{simulate, Scenario, Stack};
use server::{Kind, Script, Shed};

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

/// Each client's timeout per attempt where the server hangs: 20 times the
/// healthy server's p99 (50 ms), a common choice.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the server sends with a shed request in the third scenario.
const RETRY_AFTER_SECS: u32 = 2;

/// The longest a request waits in the server's queue in the fourth
/// scenario (a server that answers slowly rather than shed).
const SERVER_QUEUE: Duration = Duration::from_secs(10);

/// One scenario the example runs: its own table.
struct Experiment {
    title: &'static str,
    script: Script,
    shed: Shed,
    attempt_timeout: Option<Duration>,
}

/// Five minutes: a flaky start (5 % of requests fail at random), a
/// one-minute outage, recovery, an overload (the capacity drops to a
/// quarter: the offered load is twice what it serves), recovery. Then an
/// outage in which nothing answers (every client with a timeout per
/// attempt), an overload shed with `Retry-After`, and one answered slowly.
fn experiments() -> [Experiment; 4] {
    // A minute of overload: the capacity drops to a quarter.
    let overload = Script::of(&[
        ("healthy", 30, Kind::Healthy),
        ("overload", 60, Kind::Overload(0.25)),
        ("healthy", 60, Kind::Healthy),
    ]);
    [
        Experiment {
            title: "outage by 503, overload shed by 503",
            script: Script::of(&[
                ("flaky 5 %", 60, Kind::Flaky(0.05)),
                ("outage", 60, Kind::Outage),
                ("recovery", 60, Kind::Healthy),
                ("overload", 60, Kind::Overload(0.25)),
                ("healthy", 60, Kind::Healthy),
            ]),
            shed: Shed::Unavailable,
            attempt_timeout: None,
        },
        Experiment {
            title: "outage by timeouts (nothing answers; 1 s timeout per attempt)",
            script: Script::of(&[
                ("healthy", 30, Kind::Healthy),
                ("hung", 60, Kind::Hang),
                ("recovery", 60, Kind::Healthy),
            ]),
            shed: Shed::Unavailable,
            attempt_timeout: Some(ATTEMPT_TIMEOUT),
        },
        Experiment {
            title: "overload shed by 503 + Retry-After: 2",
            script: overload.clone(),
            shed: Shed::RetryAfter(RETRY_AFTER_SECS),
            attempt_timeout: None,
        },
        Experiment {
            title: "overload answered slowly (a queue of up to 10 s; 1 s timeout per attempt)",
            script: overload,
            shed: Shed::Queue(SERVER_QUEUE),
            attempt_timeout: Some(ATTEMPT_TIMEOUT),
        },
    ]
}

fn main() {
    let sizes: Vec<usize> = match std::env::args().nth(1) {
        Some(n) => vec![n.parse().expect("a fleet size")],
        None => vec![10, 100, 1_000, 10_000],
    };
    let offered = CAPACITY / 2.0;
    let mut charted = Vec::new();
    for (i, experiment) in experiments().into_iter().enumerate() {
        let script = &experiment.script;
        println!(
            "\n{}. {}\nserver: {CAPACITY} requests/s when healthy; fleet: {offered} requests/s \
             in all; phases: {}",
            i + 1,
            experiment.title,
            script
                .0
                .iter()
                .map(|p| format!("{} {} s", p.name, p.secs))
                .collect::<Vec<_>>()
                .join(", ")
        );
        table::header(script);
        for &clients in &sizes {
            let scenario = Scenario {
                clients,
                capacity: CAPACITY,
                offered,
                script: script.clone(),
                shed: experiment.shed,
                attempt_timeout: experiment.attempt_timeout,
                seed: 7,
            };
            let wall = WallClock::now();
            for stack in Stack::ALL {
                let (record, s) = simulate(&scenario, stack);
                table::row(clients, stack, &s, script);
                if i == 0 {
                    charted.push((clients, stack, record, s));
                }
            }
            println!(
                "{:>6} clients: {:.1} s of wall time for the {} stacks",
                clients,
                wall.elapsed().as_secs_f64(),
                Stack::ALL.len()
            );
        }
    }
    let script = experiments()[0].script.clone();
    let largest = *sizes.iter().max().expect("a size");
    let before = LIVE.load(Ordering::Relaxed);
    let server = server::Server::new(script.clone(), CAPACITY, Shed::Unavailable, 7);
    let stacks: Vec<_> = (0..largest)
        .map(|_| Stack::OursBreaker.client(server.clone(), None))
        .collect();
    let per_client = (LIVE.load(Ordering::Relaxed) - before) as f64 / largest as f64;
    drop(stacks);
    println!(
        "memory: {per_client:.0} bytes per client for its stack (ours + breaker); \
         peak of the whole run {:.1} MB, {:.0} bytes per client of the largest fleet",
        PEAK.load(Ordering::Relaxed) as f64 / 1e6,
        PEAK.load(Ordering::Relaxed) as f64 / largest as f64
    );
    match chart::draw(&charted, &script, offered) {
        Ok(dir) => println!("charts: {}", dir.display()),
        Err(e) => eprintln!("charts not drawn: {e}"),
    }
}
