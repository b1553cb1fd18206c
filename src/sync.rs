//! The atomics and the mutex of the breaker's state machine and windows:
//! std's, or loom's when built with `--cfg tower_http_retry_loom`, so that
//! the models in `circuit_breaker/state/loom_tests.rs` explore every
//! interleaving of them. The cfg is the crate's own, not `loom`: tokio compiles its `net`
//! module out under `cfg(loom)`, and hyper-util needs it.
//!
//! `Arc` stays std's: it only shares the breaker, and the services, handles
//! and per-host map that hold one are outside the models.

#[cfg(tower_http_retry_loom)]
pub(crate) use loom::sync::{atomic, Mutex, MutexGuard};
#[cfg(not(tower_http_retry_loom))]
pub(crate) use std::sync::{atomic, Mutex, MutexGuard};
