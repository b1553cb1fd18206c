//! The breaker's state machine, without tower or a runtime: time comes in
//! as the [`Duration`] since the breaker was made.
//!
//! ```text
//!            trip rule fires               open duration elapsed,
//!   Closed ───────────────────► Open ───────────────────────────► HalfOpen
//!     ▲                          ▲             (next call)            │
//!     │                          └──────── a probe failed ────────────┤
//!     └──────────────────── every probe succeeded ────────────────────┘
//! ```
//!
//! Everything a call needs to be admitted is in one `AtomicU64`, the state
//! word: the state, the probes admitted and succeeded while half-open, and
//! an epoch that every transition increments. A call keeps the epoch it was
//! admitted in; its outcome is dropped if the epoch has moved on when it is
//! recorded, and a transition it asks for is refused under the lock if the
//! epoch has moved on since, so a call that started before a transition can
//! neither extend the open period nor cause a second transition. (A call
//! preempted between that check and its write to the window, for a whole
//! open period, can still add one stale outcome to the next window; loom
//! found the interleaving. It can't cause a transition by itself.)
//! Admission when closed is one atomic load.
//!
//! Transitions are rare: they take a mutex, which serialises them and lets
//! the deadline of the open period (a second atomic) be written before the
//! state word that publishes it. Nothing else takes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use self::packed::PackedState;
use super::config::CircuitBreakerConfig;
use super::error::CircuitOpen;
use super::observe;
use super::vocabulary::{BreakerMode, CallOutcome, CircuitState, StateChangeReason, Totals};
use super::window::Window;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::Mutex;

mod packed;
mod transitions;

#[cfg(test)]
mod tests;

#[cfg(all(test, tower_http_retry_loom))]
mod loom_tests;

/// A call let through: it keeps its epoch, and whether it is a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    epoch: u32,
    probe: bool,
}

/// `open_until` meaning "never by itself".
pub(super) const NEVER: u64 = u64::MAX;

/// One circuit breaker: what every service made by one layer shares.
///
/// Calls on other cores write the `Arc`'s counts (every call clones it),
/// and, once the window holds a failure, the window's cursor: both sit on
/// cache lines of their own (the window's `CachePadded` fields align this
/// struct past the counts), so the state word and the configuration that
/// every call reads stay shared in every core's cache.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreakerConfig,
    word: AtomicU64,
    /// When the open period ends, in nanoseconds since the breaker was made
    /// ([`NEVER`] when it doesn't). Written before the word that opens.
    open_until: AtomicU64,
    /// When the latest half-open probe was let through, in nanoseconds
    /// since the breaker was made: written (by `fetch_max`) before the
    /// admission that it dates is published, so a caller that finds every
    /// probe taken reads a time no earlier than the latest probe's.
    probe_admitted_at: AtomicU64,
    /// Failures in a row while closed, when that rule is on.
    consecutive: AtomicU32,
    /// Failed half-open periods in a row; guarded by `transitions`.
    reopens: AtomicU32,
    window: Window,
    transitions: Mutex<()>,
    /// The origin of the breaker's time.
    base: Instant,
    /// The downstream of a per-host breaker, as `scheme://host:port`.
    host: Option<Arc<str>>,
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Breaker {
    /// # Panics
    ///
    /// If the settings are inconsistent with one another.
    pub(crate) fn new(config: CircuitBreakerConfig) -> Arc<Breaker> {
        let breaker = Breaker::for_host(config, None, BreakerMode::Closed);
        breaker.announce_created();
        breaker
    }

    /// A breaker for `host` (`None`: a single breaker), made in `mode`:
    /// closed, or held open or closed by an operator. The caller tells
    /// that it was made ([`announce_created`](Self::announce_created)) once out of
    /// its locks.
    ///
    /// # Panics
    ///
    /// If the settings are inconsistent with one another.
    pub(crate) fn for_host(
        config: CircuitBreakerConfig,
        host: Option<Arc<str>>,
        mode: BreakerMode,
    ) -> Arc<Breaker> {
        config.validate();
        let open_until = if mode == BreakerMode::ForcedOpen {
            NEVER
        } else {
            0
        };
        Arc::new(Breaker {
            window: Window::new(config.window),
            config,
            word: AtomicU64::new(PackedState::new(mode, 0).0),
            open_until: AtomicU64::new(open_until),
            probe_admitted_at: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            reopens: AtomicU32::new(0),
            transitions: Mutex::new(()),
            base: Instant::now(),
            host,
        })
    }

    /// Tells that the breaker was made (feature `metrics`: sets its gauge);
    /// called outside any lock.
    pub(crate) fn announce_created(&self) {
        observe::created(&self.config, self.host.as_deref(), self.state());
    }

    /// The downstream of a per-host breaker, as `scheme://host:port`.
    pub(crate) fn host(&self) -> Option<&Arc<str>> {
        self.host.as_ref()
    }

    /// The time since the breaker was made, by `tokio::time` (which paused
    /// tests drive).
    pub(crate) fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.base)
    }

    pub(crate) fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    fn load(&self) -> PackedState {
        PackedState(self.word.load(Ordering::Acquire))
    }

    pub(crate) fn state(&self) -> CircuitState {
        self.load().mode().public()
    }

    pub(crate) fn is_forced(&self) -> bool {
        self.load().mode().is_forced()
    }

    pub(crate) fn totals(&self, now: Duration) -> Totals {
        self.window.totals(now)
    }

    /// Whether a call would be refused at `now`: `poll_ready` is then ready
    /// at once, without polling the inner service.
    pub(crate) fn is_rejecting(&self, now: impl FnOnce() -> Duration) -> bool {
        let word = self.load();
        match word.mode() {
            BreakerMode::Closed | BreakerMode::ForcedClosed => false,
            BreakerMode::ForcedOpen => true,
            BreakerMode::Open => {
                let until = self.open_until.load(Ordering::Acquire);
                until == NEVER || nanos(now()) < until
            }
            BreakerMode::HalfOpen => word.admitted() >= self.config.half_open_calls,
        }
    }

    /// Lets a call through, or refuses it. `now` is read only when not
    /// closed.
    #[inline]
    pub(crate) fn try_acquire(&self, now: impl Fn() -> Duration) -> Result<Permit, CircuitOpen> {
        let word = self.load();
        if let BreakerMode::Closed | BreakerMode::ForcedClosed = word.mode() {
            return Ok(Permit {
                epoch: word.epoch(),
                probe: false,
            });
        }
        self.try_acquire_slow(word, now)
    }

    /// [`try_acquire`](Self::try_acquire) when the breaker is not closed.
    #[cold]
    #[inline(never)]
    fn try_acquire_slow(
        &self,
        mut word: PackedState,
        now: impl Fn() -> Duration,
    ) -> Result<Permit, CircuitOpen> {
        let mut read = None;
        let mut now_nanos = || *read.get_or_insert_with(|| nanos(now()));
        loop {
            match word.mode() {
                BreakerMode::Closed | BreakerMode::ForcedClosed => {
                    return Ok(Permit {
                        epoch: word.epoch(),
                        probe: false,
                    })
                }
                BreakerMode::ForcedOpen => return Err(self.rejection(None)),
                BreakerMode::Open => {
                    let now = now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if until == NEVER || now < until {
                        let wait = (until != NEVER).then(|| Duration::from_nanos(until - now));
                        return Err(self.rejection(wait));
                    }
                    self.transition(
                        word,
                        BreakerMode::HalfOpen,
                        StateChangeReason::OpenDurationElapsed,
                        None,
                        now,
                    );
                }
                BreakerMode::HalfOpen => {
                    let admitted = word.admitted();
                    if admitted >= self.config.half_open_calls {
                        let now = now_nanos();
                        match self.overdue_probe(now) {
                            // Opens again; the loop then refuses this call
                            // with the new open period's wait.
                            Some(why) => self.transition(word, BreakerMode::Open, why, None, now),
                            None => return Err(self.rejection(None)),
                        }
                    } else {
                        // Dated before it is published (see the field).
                        self.probe_admitted_at
                            .fetch_max(now_nanos(), Ordering::Relaxed);
                        match self.word.compare_exchange_weak(
                            word.0,
                            word.with_admitted(admitted + 1).0,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => {
                                return Ok(Permit {
                                    epoch: word.epoch(),
                                    probe: true,
                                })
                            }
                            Err(actual) => {
                                word = PackedState(actual);
                                continue;
                            }
                        }
                    }
                }
            }
            word = self.load();
        }
    }

    /// With every probe taken: whether they have been out too long for the
    /// breaker to keep waiting, and why. The latest probe has been out at
    /// least `now - probe_admitted_at`, and every other one longer.
    fn overdue_probe(&self, now: u64) -> Option<StateChangeReason> {
        let out = now.saturating_sub(self.probe_admitted_at.load(Ordering::Relaxed));
        match self.config.slow_call_duration {
            // Slow (as `Guard::complete` judges a call that ended): failed.
            Some(slow) if out > nanos(slow) => Some(StateChangeReason::ProbeFailed),
            _ if out >= nanos(self.config.max_probe_duration) => {
                Some(StateChangeReason::ProbeTimedOut)
            }
            _ => None,
        }
    }

    /// The error of a refused call (counted, with feature `metrics`).
    pub(crate) fn rejection(&self, retry_after: Option<Duration>) -> CircuitOpen {
        observe::rejected(&self.config, self.host.as_deref());
        CircuitOpen::open(self.config.name.clone(), self.host.clone(), retry_after)
    }

    /// Records the outcome of a call let through by `permit`; `now` is when
    /// it ended.
    #[inline]
    pub(crate) fn record(&self, permit: Permit, outcome: CallOutcome, now: impl Fn() -> Duration) {
        if permit.probe {
            self.record_probe(permit, outcome, now);
            return;
        }
        let word = self.load();
        if word.epoch() != permit.epoch {
            return;
        }
        let ended = if self.window.needs_time() {
            now()
        } else {
            Duration::ZERO
        };
        match word.mode() {
            BreakerMode::Closed => {}
            BreakerMode::ForcedClosed => {
                self.window.record(outcome, ended);
                return;
            }
            _ => return,
        }
        let changed = self.window.record(outcome, ended);
        if changed.is_none() && !outcome.failure && self.config.consecutive_failures.is_none() {
            // A success that changed nothing: the common case, kept short.
            return;
        }
        self.check_trip_rules(word, outcome, changed, ended, now);
    }
}
