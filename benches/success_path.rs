//! Benchmark 1: the success path, in memory. Every stack over a downstream
//! that answers 200 at once; one `ready().call()` per iteration on a
//! current-thread runtime.
//!
//! `cargo bench --bench success_path`

use criterion::{criterion_group, criterion_main, Criterion};
use tower::Service;

mod common;
use common::{bench_calls, with_stack, Downstream, Req, Res, Visit, STACKS};

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
        bench_calls(self.c, self.rt, self.name, svc);
    }
}

fn success_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("success_path");
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

criterion_group!(benches, success_path);
criterion_main!(benches);
