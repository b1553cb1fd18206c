//! Benchmark 2: contention. Every stack on a 2-worker multi-thread runtime,
//! 64 tasks calling clones of one service at once (so shared state — the
//! breaker, the retry budget — is hit from both workers). Criterion's time
//! is per call; throughput = 1 / time.
//!
//! `cargo bench --bench contention`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tower::{Service, ServiceExt};

mod common;
use common::{request, with_stack, Downstream, Req, Res, Visit, STACKS};

const TASKS: u64 = 64;

/// The stacks of the contention table (the in-memory table has more).
const CONTENTION: &[&str] = &[
    "bare",
    "tower_retry",
    "ours_retry",
    "ours_retry_nobudget",
    "ours_breaker",
    "ours_retry_breaker",
    "ours_replay_retry_breaker",
    "tr_retry",
    "tr_breaker",
    "tr_retry_breaker",
    "failsafe_breaker",
    "tower_retry_failsafe",
];

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("contention");
    group.throughput(Throughput::Elements(1));
    for name in CONTENTION {
        assert!(STACKS.contains(name));
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

criterion_group!(benches, contention);
criterion_main!(benches);
