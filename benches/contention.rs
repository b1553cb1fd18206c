//! Benchmark 2: contention. Every stack on a 2-worker multi-thread runtime,
//! 64 tasks calling clones of one service at once (so shared state — the
//! breaker, the retry budget — is hit from both workers). Criterion's time
//! is per call; throughput = 1 / time.
//!
//! `cargo bench --bench contention`
//!
//! On a shared machine, criterion's runs of one stack after another pick
//! up whatever else the machine did meanwhile. `CONTENTION_TABLE=1 cargo
//! bench --bench contention` instead runs every stack in interleaved rounds
//! (A B C … A B C …) and prints the median of the rounds as a table, with
//! each stack's throughput as a ratio to `tower_retry`'s, and measures the
//! same on one worker to show what the second worker brings each stack.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use tower::{Service, ServiceExt};

mod common;
use common::{request, with_stack, Downstream, Req, Res, Visit, STACKS};

const TASKS: u64 = 64;

/// Runs `calls` calls (rounded up to a multiple of [`TASKS`]) split over
/// the tasks; the wall time they took, scaled to `calls`.
async fn run_tasks<S>(svc: &S, calls: u64) -> Duration
where
    S: tower::Service<Req, Response = Res> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::fmt::Debug + Send + 'static,
{
    let per_task = calls.div_ceil(TASKS);
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut svc = svc.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
                    black_box(res);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    start
        .elapsed()
        .mul_f64(calls as f64 / (per_task * TASKS) as f64)
}

struct Bench<'a, 'c> {
    c: &'a mut criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>,
    rt: &'a tokio::runtime::Runtime,
    name: &'a str,
}

impl Visit for Bench<'_, '_> {
    type Out = ();
    fn visit<S>(self, svc: S)
    where
        S: Service<Req, Response = Res> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: std::fmt::Debug + Send + 'static,
    {
        let rt = self.rt;
        self.c.bench_function(self.name, |b| {
            b.iter_custom(|iters| rt.block_on(run_tasks(&svc, iters)))
        });
    }
}

fn contention(c: &mut Criterion) {
    let rt = runtime(2);
    let mut group = c.benchmark_group("contention");
    group.throughput(Throughput::Elements(1));
    for name in STACKS {
        with_stack(
            name,
            Downstream::ok(),
            Bench {
                c: &mut group,
                rt: &rt,
                name,
            },
        );
    }
    group.finish();
}

/// A stack, its type erased: runs `calls` calls on `rt`, returns the time.
type Runner = Box<dyn Fn(&tokio::runtime::Runtime, u64) -> Duration>;

struct Erase;

impl Visit for Erase {
    type Out = Runner;
    fn visit<S>(self, svc: S) -> Runner
    where
        S: Service<Req, Response = Res> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: std::fmt::Debug + Send + 'static,
    {
        Box::new(move |rt, calls| rt.block_on(run_tasks(&svc, calls)))
    }
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// Every stack on 2 workers and on 1, in interleaved rounds: the 2-worker
/// throughput as a ratio to `tower_retry`'s, and how much each stack gains
/// from the second worker (its scaling) as a ratio to `tower_retry`'s.
fn table() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env("CONTENTION_ROUNDS", 15);
    let calls = env("CONTENTION_CALLS", 64 * 2_000);
    let (two, one) = (runtime(2), runtime(1));
    let runners: Vec<(&str, Runner)> = STACKS
        .iter()
        .map(|name| {
            (
                *name,
                with_stack(name, Downstream::ok_from_env(), Erase).unwrap(),
            )
        })
        .collect();
    for (_, run) in &runners {
        run(&two, calls / 4); // warm up
        run(&one, calls / 4);
    }
    let mut times: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; runners.len()];
    for _ in 0..rounds {
        for ((_, run), t) in runners.iter().zip(times.iter_mut()) {
            for (rt, t) in [&two, &one].into_iter().zip(t.iter_mut()) {
                t.push(run(rt, calls).as_secs_f64() * 1e9 / calls as f64);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<[f64; 2]> = times
        .iter_mut()
        .map(|[a, b]| [median(a), median(b)])
        .collect();
    let [base2, base1] = runners
        .iter()
        .position(|(n, _)| *n == "tower_retry")
        .map(|i| medians[i])
        .unwrap();
    let info = std::env::var("DOWNSTREAM_INFO").unwrap_or_else(|_| "0".into());
    println!(
        "contention: {TASKS} tasks, {calls} calls per round, median of {rounds} interleaved rounds, DOWNSTREAM_INFO={info}"
    );
    println!("| stack | 2 workers ns/call | calls/s | × tower_retry | 1 worker ns/call | scaling 2w/1w | × tower_retry's scaling |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for ((name, _), [ns2, ns1]) in runners.iter().zip(medians) {
        println!(
            "| {name} | {ns2:.0} | {:.2} M | {:.2} | {ns1:.0} | {:.2} | {:.2} |",
            1e3 / ns2,
            base2 / ns2,
            ns1 / ns2,
            (ns1 / ns2) / (base1 / base2),
        );
    }
}

criterion_group!(benches, contention);

fn main() {
    if std::env::var_os("CONTENTION_TABLE").is_some() {
        table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
