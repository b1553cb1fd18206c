//! `BufferResponseLayer` on a 16 KiB body (four 4 KiB chunks) against
//! collecting the same body by hand with `BodyExt::collect`.
//!
//! `cargo bench --bench buffer_response`; instruction counts:
//! `scripts/buffer-instructions.sh`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "buffer_setup/mod.rs"]
mod setup;

fn buffer_response(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("buffer_response_16k");
    let mut by_hand = setup::Downstream::from_env();
    group.bench_function("collect_by_hand", |b| {
        b.iter(|| black_box(rt.block_on(setup::by_hand(&mut by_hand))))
    });
    let mut buffered = setup::buffer_layer(setup::Downstream::from_env());
    group.bench_function("buffer_response_layer", |b| {
        b.iter(|| black_box(rt.block_on(setup::buffered(&mut buffered))))
    });
    group.finish();
}

criterion_group!(benches, buffer_response);
criterion_main!(benches);
