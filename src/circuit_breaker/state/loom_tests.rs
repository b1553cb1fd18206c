//! Models of the state machine under every interleaving loom can find, with
//! loom's atomics and mutex in place of std's (see `crate::sync`). Run with
//!
//! ```text
//! RUSTFLAGS="--cfg tower_http_retry_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --lib loom
//! ```
//!
//! Time is fixed: every call is at a given second, through the `now`
//! closure, so the models explore the interleavings and nothing else.

use loom::sync::atomic::AtomicUsize;
use loom::thread;

use super::super::future::Guard;
use super::super::vocabulary::test_outcomes::{FAIL, OK};
use super::super::vocabulary::StateChange;
use super::tests::at;
use super::*;

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
fn race(probes: u32, threads: usize, outcome: CallOutcome) -> (Arc<Breaker>, usize) {
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
            if (change.from, change.to) == (CircuitState::HalfOpen, CircuitState::Open) {
                assert_eq!(change.why, StateChangeReason::ProbeTimedOut);
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
        let b = Breaker::new(
            config
                .clone()
                .on_state_change(move |change: &StateChange<'_>| {
                    assert_eq!(
                        (change.from, change.to),
                        (CircuitState::Closed, CircuitState::Open)
                    );
                    seen.fetch_add(1, Ordering::Relaxed);
                }),
        );
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
