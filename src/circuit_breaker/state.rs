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

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::config::CircuitBreakerConfig;
use super::error::CircuitOpen;
use super::event::{self, Transition};
use super::window::{Outcome, Totals, Window};
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The state of a circuit breaker, as a [handle](crate::CircuitBreakerHandle)
/// reports it.
///
/// ```
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
///
/// let breaker = CircuitBreakerLayer::new(CircuitBreakerConfig::default());
/// assert_eq!(breaker.handle().state(), CircuitState::Closed);
/// assert_eq!(CircuitState::HalfOpen.to_string(), "half_open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls go through, and their outcomes are recorded.
    Closed,
    /// Calls fail fast with [`CircuitOpen`]; the inner service is not
    /// called.
    Open,
    /// A few probes go through; every other call fails fast.
    HalfOpen,
}

impl CircuitState {
    /// A short, stable name for logs and metrics: `closed`, `open`,
    /// `half_open`.
    ///
    /// ```
    /// assert_eq!(tower_http_retry::CircuitState::Open.as_str(), "open");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

impl std::fmt::Display for CircuitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state word's state: the three of [`CircuitState`], and the two an
/// operator can force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
    ForcedOpen = 3,
    ForcedClosed = 4,
}

impl Kind {
    pub(super) fn public(self) -> CircuitState {
        match self {
            Kind::Closed | Kind::ForcedClosed => CircuitState::Closed,
            Kind::Open | Kind::ForcedOpen => CircuitState::Open,
            Kind::HalfOpen => CircuitState::HalfOpen,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Kind::Closed => "closed",
            Kind::Open => "open",
            Kind::HalfOpen => "half_open",
            Kind::ForcedOpen => "forced_open",
            Kind::ForcedClosed => "forced_closed",
        }
    }
}

/// The state word: `epoch: 31 | succeeded: 15 | admitted: 15 | kind: 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word(u64);

const KIND_BITS: u32 = 3;
const PROBE_BITS: u32 = 15;
const PROBE_MASK: u64 = (1 << PROBE_BITS) - 1;
const EPOCH_SHIFT: u32 = KIND_BITS + 2 * PROBE_BITS;
/// Epochs wrap after 2^31 transitions; a call would have to stay in flight
/// across all of them to be mistaken for a current one.
const EPOCH_MASK: u64 = (1 << (64 - EPOCH_SHIFT)) - 1;

impl Word {
    fn new(kind: Kind, epoch: u32) -> Word {
        Word((u64::from(epoch) & EPOCH_MASK) << EPOCH_SHIFT | kind as u64)
    }

    fn kind(self) -> Kind {
        match self.0 & ((1 << KIND_BITS) - 1) {
            0 => Kind::Closed,
            1 => Kind::Open,
            2 => Kind::HalfOpen,
            3 => Kind::ForcedOpen,
            _ => Kind::ForcedClosed,
        }
    }

    fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }

    fn admitted(self) -> u32 {
        ((self.0 >> KIND_BITS) & PROBE_MASK) as u32
    }

    fn succeeded(self) -> u32 {
        ((self.0 >> (KIND_BITS + PROBE_BITS)) & PROBE_MASK) as u32
    }

    fn with_admitted(self, n: u32) -> Word {
        Word(self.0 & !(PROBE_MASK << KIND_BITS) | u64::from(n) << KIND_BITS)
    }

    fn with_succeeded(self, n: u32) -> Word {
        let shift = KIND_BITS + PROBE_BITS;
        Word(self.0 & !(PROBE_MASK << shift) | u64::from(n) << shift)
    }

    fn next(self, kind: Kind) -> Word {
        Word::new(kind, self.epoch().wrapping_add(1))
    }
}

/// Why the breaker changed state: the `why` of its `tracing` event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Why {
    FailureRate(f64),
    SlowCallRate(f64),
    ConsecutiveFailures(u32),
    OpenDurationElapsed,
    ProbeFailed,
    ProbeTimedOut,
    ProbesSucceeded,
    ForcedOpen,
    ForcedClosed,
    Reset,
}

impl Why {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Why::FailureRate(_) => "failure_rate",
            Why::SlowCallRate(_) => "slow_call_rate",
            Why::ConsecutiveFailures(_) => "consecutive_failures",
            Why::OpenDurationElapsed => "open_duration_elapsed",
            Why::ProbeFailed => "probe_failed",
            Why::ProbeTimedOut => "probe_timed_out",
            Why::ProbesSucceeded => "probes_succeeded",
            Why::ForcedOpen => "forced_open",
            Why::ForcedClosed => "forced_closed",
            Why::Reset => "reset",
        }
    }

    pub(super) fn rate(self) -> Option<f64> {
        match self {
            Why::FailureRate(r) | Why::SlowCallRate(r) => Some(r),
            _ => None,
        }
    }
}

/// A call let through: it keeps its epoch, and whether it is a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    epoch: u32,
    probe: bool,
}

/// `open_until` meaning "never by itself".
const NEVER: u64 = u64::MAX;

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

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Breaker {
    /// # Panics
    ///
    /// If the settings are inconsistent with one another.
    pub(crate) fn new(config: CircuitBreakerConfig) -> Arc<Breaker> {
        let breaker = Breaker::for_host(config, None, Kind::Closed);
        breaker.tell_created();
        breaker
    }

    /// A breaker for `host` (`None`: a single breaker), made in `kind`:
    /// closed, or held open or closed by an operator. The caller tells
    /// that it was made ([`tell_created`](Self::tell_created)) once out of
    /// its locks.
    ///
    /// # Panics
    ///
    /// If the settings are inconsistent with one another.
    pub(crate) fn for_host(
        config: CircuitBreakerConfig,
        host: Option<Arc<str>>,
        kind: Kind,
    ) -> Arc<Breaker> {
        config.validate();
        let open_until = if kind == Kind::ForcedOpen { NEVER } else { 0 };
        Arc::new(Breaker {
            window: Window::new(config.window),
            config,
            word: AtomicU64::new(Word::new(kind, 0).0),
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
    pub(crate) fn tell_created(&self) {
        event::created(&self.config, self.host.as_deref(), self.state());
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

    fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    pub(crate) fn state(&self) -> CircuitState {
        self.load().kind().public()
    }

    pub(crate) fn is_forced(&self) -> bool {
        matches!(self.load().kind(), Kind::ForcedOpen | Kind::ForcedClosed)
    }

    pub(crate) fn totals(&self, now: Duration) -> Totals {
        self.window.totals(now)
    }

    /// Whether a call would be refused at `now`: `poll_ready` is then ready
    /// at once, without polling the inner service.
    pub(crate) fn is_rejecting(&self, now: impl FnOnce() -> Duration) -> bool {
        let word = self.load();
        match word.kind() {
            Kind::Closed | Kind::ForcedClosed => false,
            Kind::ForcedOpen => true,
            Kind::Open => {
                let until = self.open_until.load(Ordering::Acquire);
                until == NEVER || nanos(now()) < until
            }
            Kind::HalfOpen => word.admitted() >= self.config.half_open_calls,
        }
    }

    /// Lets a call through, or refuses it. `now` is read only when not
    /// closed.
    #[inline]
    pub(crate) fn try_acquire(&self, now: impl Fn() -> Duration) -> Result<Permit, CircuitOpen> {
        let word = self.load();
        if let Kind::Closed | Kind::ForcedClosed = word.kind() {
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
        mut word: Word,
        now: impl Fn() -> Duration,
    ) -> Result<Permit, CircuitOpen> {
        let mut read = None;
        let mut now_nanos = || *read.get_or_insert_with(|| nanos(now()));
        loop {
            match word.kind() {
                Kind::Closed | Kind::ForcedClosed => {
                    return Ok(Permit {
                        epoch: word.epoch(),
                        probe: false,
                    })
                }
                Kind::ForcedOpen => return Err(self.rejection(None)),
                Kind::Open => {
                    let now = now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if until == NEVER || now < until {
                        let wait = (until != NEVER).then(|| Duration::from_nanos(until - now));
                        return Err(self.rejection(wait));
                    }
                    self.transition(word, Kind::HalfOpen, Why::OpenDurationElapsed, now);
                }
                Kind::HalfOpen => {
                    let admitted = word.admitted();
                    if admitted >= self.config.half_open_calls {
                        let now = now_nanos();
                        match self.overdue_probe(now) {
                            // Opens again; the loop then refuses this call
                            // with the new open period's wait.
                            Some(why) => self.transition(word, Kind::Open, why, now),
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
                                word = Word(actual);
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
    fn overdue_probe(&self, now: u64) -> Option<Why> {
        let out = now.saturating_sub(self.probe_admitted_at.load(Ordering::Relaxed));
        match self.config.slow_call_duration {
            // Slow (as `Guard::complete` judges a call that ended): failed.
            Some(slow) if out > nanos(slow) => Some(Why::ProbeFailed),
            _ if out >= nanos(self.config.max_probe_duration) => Some(Why::ProbeTimedOut),
            _ => None,
        }
    }

    /// The error of a refused call (counted, with feature `metrics`).
    pub(crate) fn rejection(&self, retry_after: Option<Duration>) -> CircuitOpen {
        event::rejected(&self.config, self.host.as_deref());
        CircuitOpen::open(self.config.name.clone(), self.host.clone(), retry_after)
    }

    /// Records the outcome of a call let through by `permit`; `now` is when
    /// it ended.
    #[inline]
    pub(crate) fn record(&self, permit: Permit, outcome: Outcome, now: impl Fn() -> Duration) {
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
        match word.kind() {
            Kind::Closed => {}
            Kind::ForcedClosed => {
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
        self.judge(word, outcome, changed, ended, now);
    }

    /// After an outcome that may move the breaker: counts it in a row, and
    /// opens the breaker if a rule says so. Out of line, so that the common
    /// case above stays small.
    #[inline(never)]
    fn judge(
        &self,
        word: Word,
        outcome: Outcome,
        changed: Option<Totals>,
        ended: Duration,
        now: impl Fn() -> Duration,
    ) {
        let mut why = None;
        if let Some(limit) = self.config.consecutive_failures {
            let in_a_row = if outcome.failure {
                self.consecutive
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1)
            } else {
                // Written only when it changes, like the window's slots.
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
                0
            };
            if in_a_row >= limit {
                why = Some(Why::ConsecutiveFailures(in_a_row));
            }
        }
        // An outcome that changed nothing leaves the rates where the last
        // change left them, and that change was checked; a failure is
        // checked all the same (it is rare, and cheap to be sure of).
        let totals = match changed {
            Some(totals) => Some(totals),
            None if outcome.failure => Some(self.window.totals(ended)),
            None => None,
        };
        if let Some(totals) = totals.filter(|t| t.calls >= u64::from(self.config.minimum_calls)) {
            let failure_rate = totals.failure_rate();
            let slow_call_rate = totals.slow_call_rate();
            // Checked after every outcome, as resilience4j does: a success
            // can bring the window to `minimum_calls`, and a time window's
            // rates move as seconds leave it.
            if failure_rate >= self.config.failure_rate_threshold {
                why = Some(Why::FailureRate(failure_rate));
            } else if self.config.slow_call_duration.is_some()
                && slow_call_rate >= self.config.slow_call_rate_threshold
            {
                why = Some(Why::SlowCallRate(slow_call_rate));
            }
        }
        if let Some(why) = why {
            self.transition(word, Kind::Open, why, nanos(now()));
        }
    }

    #[cold]
    fn record_probe(&self, permit: Permit, outcome: Outcome, now: impl FnOnce() -> Duration) {
        let mut word = self.load();
        loop {
            if word.kind() != Kind::HalfOpen || word.epoch() != permit.epoch {
                return;
            }
            if outcome.failure || outcome.slow {
                self.transition(word, Kind::Open, Why::ProbeFailed, nanos(now()));
                return;
            }
            let succeeded = word.succeeded() + 1;
            if succeeded >= self.config.half_open_calls {
                self.transition(word, Kind::Closed, Why::ProbesSucceeded, 0);
                return;
            }
            match self.word.compare_exchange_weak(
                word.0,
                word.with_succeeded(succeeded).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => word = Word(actual),
            }
        }
    }

    /// Gives back the permit of a probe that ended without an outcome (its
    /// future was dropped, or the inner service panicked).
    pub(crate) fn release(&self, permit: Permit) {
        if !permit.probe {
            return;
        }
        let mut word = self.load();
        while word.kind() == Kind::HalfOpen && word.epoch() == permit.epoch && word.admitted() > 0 {
            match self.word.compare_exchange_weak(
                word.0,
                word.with_admitted(word.admitted() - 1).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => word = Word(actual),
            }
        }
    }

    /// An operator's transition: to `kind` from whatever the state is.
    pub(crate) fn force(&self, kind: Kind, why: Why, now: Duration) {
        let guard = self.lock();
        let from = self.load();
        let done = self.transition_locked(from, kind, why, nanos(now), true);
        drop(guard);
        self.tell(done);
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // Nothing guarded can be left half-written by a panic.
        self.transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves from `from` (state and epoch) to `to`, unless another
    /// transition got there first.
    fn transition(&self, from: Word, to: Kind, why: Why, now: u64) {
        let guard = self.lock();
        let done = self.transition_locked(from, to, why, now, false);
        // The event is emitted outside the lock.
        drop(guard);
        self.tell(done);
    }

    fn transition_locked(
        &self,
        from: Word,
        to: Kind,
        why: Why,
        now: u64,
        forced: bool,
    ) -> Option<Transition> {
        let mut current = self.load();
        // Every change of state or epoch is made under the lock: past this
        // check, only the probe counts of the word can still change.
        if !forced && (current.kind() != from.kind() || current.epoch() != from.epoch()) {
            return None;
        }
        let mut open_for = None;
        match to {
            Kind::Open => {
                let reopens = if current.kind() == Kind::HalfOpen {
                    self.reopens.load(Ordering::Relaxed).saturating_add(1)
                } else {
                    0
                };
                self.reopens.store(reopens, Ordering::Relaxed);
                let duration = self.config.open_duration_after(reopens);
                self.open_until
                    .store(now.saturating_add(nanos(duration)), Ordering::Release);
                open_for = Some(duration);
            }
            Kind::ForcedOpen => self.open_until.store(NEVER, Ordering::Release),
            Kind::Closed | Kind::ForcedClosed => {
                self.window.clear();
                self.consecutive.store(0, Ordering::Relaxed);
                self.reopens.store(0, Ordering::Relaxed);
            }
            Kind::HalfOpen => {}
        }
        while let Err(actual) = self.word.compare_exchange(
            current.0,
            current.next(to).0,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            current = Word(actual);
        }
        Some(Transition {
            from: current.kind(),
            to,
            why,
            open_for,
        })
    }

    /// Tells a transition made (`tracing`, callback, metrics), outside
    /// the lock.
    fn tell(&self, transition: Option<Transition>) {
        if let Some(transition) = transition {
            event::transition(&self.config, self.host.as_deref(), transition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failure: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };

    fn at(secs: u64) -> impl Fn() -> Duration {
        move || Duration::from_secs(secs)
    }

    fn breaker(config: CircuitBreakerConfig) -> Arc<Breaker> {
        Breaker::new(config)
    }

    fn call(b: &Breaker, outcome: Outcome, secs: u64) {
        let permit = b.try_acquire(at(secs)).expect("admitted");
        b.record(permit, outcome, at(secs));
    }

    fn small() -> CircuitBreakerConfig {
        CircuitBreakerConfig::default()
            .window_size(4)
            .minimum_calls(4)
            .open_duration(Duration::from_secs(10))
    }

    #[test]
    fn word_packs_its_fields() {
        let w = Word::new(Kind::HalfOpen, 7)
            .with_admitted(PROBE_MASK as u32)
            .with_succeeded(3);
        assert_eq!(w.kind(), Kind::HalfOpen);
        assert_eq!(w.epoch(), 7);
        assert_eq!(w.admitted(), PROBE_MASK as u32);
        assert_eq!(w.succeeded(), 3);
        let last = Word::new(Kind::Open, EPOCH_MASK as u32);
        assert_eq!(last.next(Kind::HalfOpen).epoch(), 0);
    }

    #[test]
    fn closed_open_half_open_closed() {
        let b = breaker(small());
        for o in [OK, FAIL, OK, FAIL] {
            call(&b, o, 5);
        }
        assert_eq!(b.state(), CircuitState::Open);
        let err = b.try_acquire(at(14)).expect_err("open");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        let probe = b.try_acquire(at(15)).expect("probe");
        assert!(probe.probe);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.record(probe, OK, at(10));
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.totals(Duration::ZERO), Totals::default());
    }

    #[test]
    fn closed_fast_path_takes_no_lock() {
        let b = breaker(small());
        // Holding the transition lock: a closed call that locked would
        // deadlock here.
        let _guard = b.lock();
        for _ in 0..10 {
            call(&b, OK, 0);
        }
        assert_eq!(b.totals(Duration::ZERO).calls, 4);
    }

    #[test]
    fn stale_outcomes_are_ignored() {
        let b = breaker(small());
        let early: Vec<Permit> = (0..4)
            .map(|_| b.try_acquire(at(0)).expect("closed"))
            .collect();
        for _ in 0..4 {
            call(&b, FAIL, 0);
        }
        assert_eq!(b.state(), CircuitState::Open);
        let until = b.open_until.load(Ordering::Relaxed);
        for p in early {
            b.record(p, FAIL, at(5));
        }
        assert_eq!(b.open_until.load(Ordering::Relaxed), until);
        assert_eq!(b.load().epoch(), 1);
    }

    #[test]
    fn probes_are_counted_and_released() {
        let b = breaker(small().half_open_calls(2));
        for _ in 0..4 {
            call(&b, FAIL, 0);
        }
        let p1 = b.try_acquire(at(10)).expect("probe 1");
        let p2 = b.try_acquire(at(10)).expect("probe 2");
        assert!(b.try_acquire(at(10)).is_err());
        assert!(b.is_rejecting(at(10)));
        b.release(p2);
        let p3 = b.try_acquire(at(10)).expect("released permit");
        b.record(p1, OK, at(11));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.record(p3, OK, at(11));
        assert_eq!(b.state(), CircuitState::Closed);
        // A permit of a finished half-open period gives nothing back.
        b.release(p2);
        assert_eq!(b.load().admitted(), 0);
    }

    #[test]
    fn failed_probe_reopens_for_longer() {
        let b = breaker(small().max_open_duration(Duration::from_secs(25)));
        for _ in 0..4 {
            call(&b, FAIL, 0);
        }
        let mut opened = 0;
        for expected in [20, 25, 25] {
            let t = opened
                + b.config
                    .open_duration_after(b.reopens.load(Ordering::Relaxed))
                    .as_secs();
            let probe = b.try_acquire(at(t)).expect("probe");
            b.record(probe, FAIL, at(t));
            assert_eq!(b.state(), CircuitState::Open);
            let err = b.try_acquire(at(t)).expect_err("open again");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(expected)));
            opened = t;
        }
    }

    #[test]
    fn forced_states() {
        let b = breaker(small());
        b.force(Kind::ForcedOpen, Why::ForcedOpen, Duration::ZERO);
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.is_forced());
        assert_eq!(
            b.try_acquire(at(u64::MAX))
                .expect_err("forced")
                .retry_after(),
            None
        );
        b.force(Kind::ForcedClosed, Why::ForcedClosed, Duration::ZERO);
        for _ in 0..10 {
            call(&b, FAIL, 0);
        }
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.totals(Duration::ZERO).failures, 4);
        b.force(Kind::Closed, Why::Reset, Duration::ZERO);
        assert!(!b.is_forced());
        assert_eq!(b.totals(Duration::ZERO), Totals::default());
    }

    #[test]
    fn duration_max_never_overflows() {
        let b = breaker(small().open_duration(Duration::MAX));
        for _ in 0..4 {
            call(&b, FAIL, 1);
        }
        let err = b.try_acquire(at(u64::MAX)).expect_err("still open");
        assert_eq!(err.retry_after(), None);
        assert!(b.is_rejecting(at(u64::MAX)));
    }
}

/// Models of the state machine under every interleaving loom can find, with
/// loom's atomics and mutex in place of std's (see `crate::sync`). Run with
///
/// ```text
/// RUSTFLAGS="--cfg tower_http_retry_loom" CARGO_TARGET_DIR=target/loom \
///     cargo test --release --lib loom
/// ```
///
/// Time is fixed: every call is at a given second, through the `now`
/// closure, so the models explore the interleavings and nothing else.
#[cfg(all(test, tower_http_retry_loom))]
mod loom_tests {
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    use super::super::event::StateChange;
    use super::super::future::Guard;
    use super::*;

    const OK: Outcome = Outcome {
        failure: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };

    fn at(secs: u64) -> impl Fn() -> Duration {
        move || Duration::from_secs(secs)
    }

    /// Runs `f` under loom with a bound on preemptions (2 unless
    /// `LOOM_MAX_PREEMPTIONS` says otherwise), which keeps each model to
    /// seconds: the bugs of a state machine like this one need few.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        builder.check(f);
    }

    /// A breaker that opened at 0 s for 10 s, with `probes` half-open
    /// calls: at 10 s the next call moves it to half-open.
    fn opened(probes: u32) -> Arc<Breaker> {
        opened_with(probes, |_: &StateChange<'_>| {})
    }

    /// [`opened`], telling its changes to `hook`.
    fn opened_with(
        probes: u32,
        hook: impl Fn(&StateChange<'_>) + Send + Sync + 'static,
    ) -> Arc<Breaker> {
        let b = Breaker::new(
            CircuitBreakerConfig::default()
                .window_size(2)
                .minimum_calls(2)
                .open_duration(Duration::from_secs(10))
                .half_open_calls(probes)
                .on_state_change(hook),
        );
        for _ in 0..2 {
            let permit = b.try_acquire(at(0)).expect("closed");
            b.record(permit, FAIL, at(0));
        }
        assert_eq!(b.state(), CircuitState::Open);
        b
    }

    /// `threads` calls race at 10 s; each admitted one ends with `outcome`.
    /// Checks that no more than `probes` probes are ever in flight at once,
    /// and returns the breaker and the number of probes admitted.
    fn race(probes: u32, threads: usize, outcome: Outcome) -> (Arc<Breaker>, usize) {
        let b = opened(probes);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, in_flight, admitted) = (b.clone(), in_flight.clone(), admitted.clone());
                thread::spawn(move || {
                    let Ok(permit) = b.try_acquire(at(10)) else {
                        return;
                    };
                    if permit.probe {
                        admitted.fetch_add(1, Ordering::Relaxed);
                        let now = in_flight.fetch_add(1, Ordering::AcqRel) + 1;
                        assert!(now <= probes as usize, "{now} probes in flight");
                        in_flight.fetch_sub(1, Ordering::AcqRel);
                    }
                    b.record(permit, outcome, at(10));
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let admitted = admitted.load(Ordering::Relaxed);
        (b, admitted)
    }

    /// One probe permitted, three calls race the open-to-half-open
    /// transition: exactly one probe, and its success closes the breaker.
    #[test]
    fn loom_one_probe_success_closes() {
        model(|| {
            let (b, probes) = race(1, 3, OK);
            assert_eq!(probes, 1);
            assert_eq!(b.state(), CircuitState::Closed);
            assert!(b.try_acquire(at(10)).is_ok());
        });
    }

    /// The same race, the probe fails: the breaker opens again, and the
    /// other calls were refused.
    #[test]
    fn loom_one_probe_failure_reopens() {
        model(|| {
            let (b, probes) = race(1, 3, FAIL);
            assert_eq!(probes, 1);
            assert_eq!(b.state(), CircuitState::Open);
            assert_eq!(b.load().epoch(), 3, "open, half-open, open again");
            assert!(b.try_acquire(at(10)).is_err());
        });
    }

    /// Two probes permitted, three calls: never more than two in flight,
    /// never more than two admitted, and their successes close it.
    #[test]
    fn loom_two_probes_of_three_calls() {
        model(|| {
            let (b, probes) = race(2, 3, OK);
            assert_eq!(probes, 2);
            assert_eq!(b.state(), CircuitState::Closed);
        });
    }

    /// Once every call has ended, a half-open breaker has no permit out:
    /// each admitted probe succeeded or was given back (a failed one would
    /// have reopened it). Then new probes that succeed close it.
    fn assert_not_stuck(b: &Breaker) {
        if b.state() == CircuitState::HalfOpen {
            let word = b.load();
            assert_eq!(word.admitted(), word.succeeded(), "a permit was lost");
            while b.state() == CircuitState::HalfOpen {
                let permit = b.try_acquire(at(10)).expect("a permit is free");
                assert!(permit.probe);
                b.record(permit, OK, at(10));
            }
        }
        assert_eq!(b.state(), CircuitState::Closed);
    }

    /// A call at 10 s: its future is dropped (its `Guard` gives a probe's
    /// permit back), or it succeeds.
    fn call(b: &Arc<Breaker>, dropped: bool) -> thread::JoinHandle<()> {
        let b = b.clone();
        thread::spawn(move || {
            if let Ok(permit) = b.try_acquire(at(10)) {
                if dropped {
                    drop(Guard::new(b.clone(), permit));
                } else {
                    b.record(permit, OK, at(10));
                }
            }
        })
    }

    /// A probe whose future is dropped races another call: the permit is
    /// not lost, and the breaker does not stay half-open.
    #[test]
    fn loom_dropped_probe_gives_its_permit_back() {
        model(|| {
            let b = opened(1);
            let calls = [call(&b, true), call(&b, false)];
            for h in calls {
                h.join().expect("thread");
            }
            assert_not_stuck(&b);
        });
    }

    /// Two probes permitted, one of three calls dropped: the same.
    #[test]
    fn loom_dropped_probe_among_two() {
        model(|| {
            let b = opened(2);
            let calls = [call(&b, true), call(&b, false), call(&b, false)];
            for h in calls {
                h.join().expect("thread");
            }
            assert_not_stuck(&b);
        });
    }

    /// A probe let through at 10 s never ends (its permit is kept, never
    /// recorded nor given back). Two calls race at 70 s, past the default
    /// `max_probe_duration` of 60 s: both are refused, and exactly one
    /// transition opens the breaker again; 10 s later a probe closes it.
    #[test]
    fn loom_a_probe_that_never_ends_is_given_up() {
        model(|| {
            let reopened = Arc::new(AtomicUsize::new(0));
            let seen = reopened.clone();
            let b = opened_with(1, move |change: &StateChange<'_>| {
                if change.from == CircuitState::HalfOpen {
                    assert_eq!(change.why, "probe_timed_out");
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            });
            let hung = b.try_acquire(at(10)).expect("the probe");
            assert!(hung.probe);
            let late: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    thread::spawn(move || assert!(b.try_acquire(at(70)).is_err()))
                })
                .collect();
            for h in late {
                h.join().expect("thread");
            }
            assert_eq!(reopened.load(Ordering::Relaxed), 1);
            assert_eq!(b.state(), CircuitState::Open);
            assert_eq!(b.load().epoch(), 3, "open, half-open, open again");
            let probe = b.try_acquire(at(80)).expect("another round");
            b.record(probe, OK, at(80));
            assert_eq!(b.state(), CircuitState::Closed);
        });
    }

    /// Two probes, one let through at 10 s that never ends. At 70 s one
    /// call takes the second permit while another finds both taken: the
    /// latter must see the new probe's time, not only the hung one's, and
    /// refuse without opening the breaker (the new probe is not overdue).
    #[test]
    fn loom_a_new_probe_is_not_taken_for_the_hung_one() {
        model(|| {
            let b = opened_with(2, |_: &StateChange<'_>| {});
            let hung = b.try_acquire(at(10)).expect("the first probe");
            assert!(hung.probe);
            let calls: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    thread::spawn(move || b.try_acquire(at(70)).is_ok())
                })
                .collect();
            let admitted = calls
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .filter(|ok| *ok)
                .count();
            assert_eq!(admitted, 1);
            assert_eq!(b.state(), CircuitState::HalfOpen);
            assert_eq!(b.load().epoch(), 2, "not opened again");
        });
    }

    /// A closed breaker one failure from each trip rule's threshold: two
    /// failures recorded at once while a third call is admitted (or
    /// refused) make exactly one transition to open.
    fn one_trip(config: CircuitBreakerConfig) {
        model(move || {
            let transitions = Arc::new(AtomicUsize::new(0));
            let seen = transitions.clone();
            let b = Breaker::new(config.clone().on_state_change(
                move |change: &StateChange<'_>| {
                    assert_eq!(
                        (change.from, change.to),
                        (CircuitState::Closed, CircuitState::Open)
                    );
                    seen.fetch_add(1, Ordering::Relaxed);
                },
            ));
            let failing: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    thread::spawn(move || {
                        let permit = b.try_acquire(at(0)).expect("closed until both failed");
                        b.record(permit, FAIL, at(0));
                    })
                })
                .collect();
            let other = {
                let b = b.clone();
                thread::spawn(move || {
                    // Admitted before the trip, or refused after it; its
                    // future is dropped either way.
                    if let Ok(permit) = b.try_acquire(at(0)) {
                        assert!(!permit.probe);
                        drop(Guard::new(b.clone(), permit));
                    }
                })
            };
            for h in failing {
                h.join().expect("thread");
            }
            other.join().expect("thread");
            assert_eq!(transitions.load(Ordering::Relaxed), 1);
            assert_eq!(b.state(), CircuitState::Open);
            assert_eq!(b.load().epoch(), 1);
        });
    }

    #[test]
    fn loom_one_trip_by_failure_rate() {
        one_trip(
            CircuitBreakerConfig::default()
                .window_size(2)
                .minimum_calls(2)
                .open_duration(Duration::from_secs(10)),
        );
    }

    #[test]
    fn loom_one_trip_by_consecutive_failures() {
        one_trip(
            CircuitBreakerConfig::default()
                .window_size(4)
                .minimum_calls(4)
                .consecutive_failures(2)
                .open_duration(Duration::from_secs(10)),
        );
    }
}
