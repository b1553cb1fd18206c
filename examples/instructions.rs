//! Runs exactly N calls of one benchmark stack, for instruction counts:
//! `scripts/instructions.sh` runs it under callgrind for two values of N
//! and prints the difference per call.
//!
//! ```text
//! cargo run --release --example instructions -- <stack> <N>
//! cargo run --release --example instructions -- list
//! DOWNSTREAM_INFO=1 cargo run --release --example instructions -- <stack> <N>
//! ```
//!
//! With `DOWNSTREAM_INFO=1` the downstream puts an extension in every
//! response, as hyper-util's client does (`HttpInfo`), so that adding
//! `Attempts` finds an extension map already there.
//!
//! The stacks are those of `benches/common/mod.rs`. Every call is
//! `ready().await` then `call(request()).await` on a current-thread
//! runtime, inside one `block_on`: the same work per call for every stack.

use std::hint::black_box;
use std::process::ExitCode;

use tower::{Service, ServiceExt};

#[path = "../benches/common/mod.rs"]
mod common;
use common::{request, with_stack, Downstream, Req, Res, Visit, STACKS};

struct Run {
    n: u64,
}

impl Visit for Run {
    type Out = ();
    fn visit<S>(self, mut svc: S)
    where
        S: Service<Req, Response = Res> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: std::fmt::Debug + Send + 'static,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            for _ in 0..self.n {
                let res = svc
                    .ready()
                    .await
                    .expect("ready")
                    .call(request())
                    .await
                    .expect("call");
                black_box(res);
            }
        });
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [list] if list == "list" => {
            for name in STACKS {
                println!("{name}\t{}", common::describe(name));
            }
            ExitCode::SUCCESS
        }
        [stack, n] => {
            let Ok(n) = n.parse() else {
                eprintln!("N must be a whole number, got {n:?}");
                return ExitCode::FAILURE;
            };
            let downstream = Downstream::ok_from_env();
            match with_stack(stack, downstream, Run { n }) {
                Some(()) => ExitCode::SUCCESS,
                None => {
                    eprintln!("unknown stack {stack:?}; known: {}", STACKS.join(", "));
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: instructions <stack> <N> | instructions list");
            ExitCode::FAILURE
        }
    }
}
