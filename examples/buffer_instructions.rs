//! Runs exactly N calls that read a 16 KiB response body, for instruction
//! counts: `scripts/buffer-instructions.sh` runs it under callgrind for two
//! values of N and prints the difference per call.
//!
//! ```text
//! cargo run --release --example buffer_instructions -- <by_hand|buffered> <N>
//! ```
//!
//! `by_hand`: the body collected with `http_body_util::BodyExt::collect`;
//! `buffered`: read by `BufferResponseLayer`. `DOWNSTREAM_INFO=1` puts an
//! extension in every response first, as hyper-util's client does.

use std::hint::black_box;
use std::process::ExitCode;

#[path = "../benches/buffer_setup/mod.rs"]
mod setup;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, n] = args.as_slice() else {
        eprintln!("usage: buffer_instructions <by_hand|buffered> <N>");
        return ExitCode::FAILURE;
    };
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("N must be a whole number, got {n:?}");
        return ExitCode::FAILURE;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let downstream = setup::Downstream::from_env();
    match mode.as_str() {
        "by_hand" => rt.block_on(async {
            let mut svc = downstream;
            for _ in 0..n {
                black_box(setup::by_hand(&mut svc).await);
            }
        }),
        "buffered" => rt.block_on(async {
            let mut svc = setup::buffer_layer(downstream);
            for _ in 0..n {
                black_box(setup::buffered(&mut svc).await);
            }
        }),
        other => {
            eprintln!("unknown mode {other:?}: by_hand or buffered");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
