//! The state machine, without a runtime: time is given.

use super::super::vocabulary::test_outcomes::{FAIL, OK};
use super::packed::{EPOCH_MASK, PROBE_MASK};
use super::*;

/// A clock stopped at `secs`.
pub(super) fn at(secs: u64) -> impl Fn() -> Duration {
    move || Duration::from_secs(secs)
}

fn breaker(config: CircuitBreakerConfig) -> Arc<Breaker> {
    Breaker::new(config)
}

fn call(b: &Breaker, outcome: CallOutcome, secs: u64) {
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
    let w = PackedState::new(BreakerMode::HalfOpen, 7)
        .with_admitted(PROBE_MASK as u32)
        .with_succeeded(3);
    assert_eq!(w.mode(), BreakerMode::HalfOpen);
    assert_eq!(w.epoch(), 7);
    assert_eq!(w.admitted(), PROBE_MASK as u32);
    assert_eq!(w.succeeded(), 3);
    let last = PackedState::new(BreakerMode::Open, EPOCH_MASK as u32);
    assert_eq!(last.next(BreakerMode::HalfOpen).epoch(), 0);
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
    b.force(
        BreakerMode::ForcedOpen,
        StateChangeReason::ForcedOpen,
        Duration::ZERO,
    );
    assert_eq!(b.state(), CircuitState::Open);
    assert!(b.is_forced());
    assert_eq!(
        b.try_acquire(at(u64::MAX))
            .expect_err("forced")
            .retry_after(),
        None
    );
    b.force(
        BreakerMode::ForcedClosed,
        StateChangeReason::ForcedClosed,
        Duration::ZERO,
    );
    for _ in 0..10 {
        call(&b, FAIL, 0);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.totals(Duration::ZERO).failures, 4);
    b.force(
        BreakerMode::Closed,
        StateChangeReason::Reset,
        Duration::ZERO,
    );
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
