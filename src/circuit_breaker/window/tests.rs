//! The windows' tests.

use super::super::vocabulary::test_outcomes::{FAIL, OK, SLOW_OK};
use super::counters::slot_counts;
use super::*;
use crate::sync::atomic::Ordering;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn count_window_keeps_the_last_n_calls() {
    let w = Window::new(WindowKind::Count(4));
    for o in [FAIL, FAIL, OK, SLOW_OK] {
        w.record(o, Duration::ZERO);
    }
    let t = w.totals(Duration::ZERO);
    assert_eq!((t.calls, t.failures, t.slow), (4, 2, 1));
    assert_eq!(t.failure_rate(), 0.5);
    assert_eq!(t.slow_call_rate(), 0.25);
    // Two more successes push both failures out.
    w.record(OK, Duration::ZERO);
    let t = w
        .record(OK, Duration::ZERO)
        .expect("a failure was replaced");
    assert_eq!((t.calls, t.failures, t.slow), (4, 0, 1));
    // A success where a success was changes nothing; one where a slow
    // success was does.
    assert_eq!(w.record(OK, Duration::ZERO), None);
    let t = w.record(OK, Duration::ZERO).expect("the slow call left");
    assert_eq!((t.calls, t.failures, t.slow), (4, 0, 0));
}

#[test]
fn a_window_of_successes_leaves_its_cursor_alone() {
    let w = Window::new(WindowKind::Count(3));
    let Window::Count(c) = &w else { unreachable!() };
    for _ in 0..3 {
        w.record(OK, Duration::ZERO);
    }
    assert_eq!(c.next.load(Ordering::Relaxed), 3);
    assert_eq!(w.record(OK, Duration::ZERO), None);
    assert_eq!(c.next.load(Ordering::Relaxed), 3);
    // A failure still takes the next slot, and the successes after it
    // move the cursor until they have pushed it out.
    let t = w.record(FAIL, Duration::ZERO).expect("changed");
    assert_eq!((t.calls, t.failures), (3, 1));
    for _ in 0..3 {
        w.record(OK, Duration::ZERO);
    }
    assert_eq!(c.next.load(Ordering::Relaxed), 7);
    assert_eq!(w.totals(Duration::ZERO).failures, 0);
}

#[test]
fn count_window_clear_forgets_everything() {
    let w = Window::new(WindowKind::Count(3));
    w.record(FAIL, Duration::ZERO);
    w.record(FAIL, Duration::ZERO);
    w.clear();
    assert_eq!(w.totals(Duration::ZERO), Totals::default());
    let t = w.record(FAIL, Duration::ZERO).expect("changed");
    assert_eq!((t.calls, t.failures), (1, 1));
}

#[test]
fn count_window_totals_match_slots_under_contention() {
    let w = std::sync::Arc::new(Window::new(WindowKind::Count(7)));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    let outcome = CallOutcome {
                        failure: (i + t) % 3 == 0,
                        slow: i % 5 == 0,
                    };
                    w.record(outcome, Duration::ZERO);
                    if i % 1000 == 0 {
                        w.clear();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let Window::Count(c) = &*w else {
        unreachable!()
    };
    let mut expected = [0i64; 3];
    for slot in c.slots.iter() {
        let counts = slot_counts(slot.load(Ordering::Relaxed));
        for k in 0..3 {
            expected[k] += counts[k];
        }
    }
    let t = w.totals(Duration::ZERO);
    assert_eq!([t.calls as i64, t.failures as i64, t.slow as i64], expected);
}

#[test]
fn time_window_keeps_the_last_n_seconds() {
    let w = Window::new(WindowKind::Time(3));
    w.record(FAIL, secs(0));
    w.record(FAIL, secs(1));
    w.record(OK, secs(2));
    let t = w.totals(Duration::from_millis(2999));
    assert_eq!((t.calls, t.failures), (3, 2));
    // At 3 s, second 0 has left the window.
    let t = w.totals(secs(3));
    assert_eq!((t.calls, t.failures), (2, 1));
    let t = w.record(OK, secs(4)).expect("time windows always change");
    assert_eq!((t.calls, t.failures), (2, 0));
}

#[test]
fn time_window_forgets_all_after_a_long_pause() {
    let w = Window::new(WindowKind::Time(5));
    for s in 0..5 {
        w.record(FAIL, secs(s));
    }
    assert_eq!(w.totals(secs(4)).calls, 5);
    assert_eq!(w.totals(secs(1_000)), Totals::default());
    let t = w.record(OK, secs(1_001)).expect("changed");
    assert_eq!((t.calls, t.failures), (1, 0));
}

#[test]
fn time_window_drops_an_outcome_older_than_the_window() {
    let w = Window::new(WindowKind::Time(2));
    w.record(OK, secs(10));
    let t = w.record(FAIL, secs(3)).expect("changed");
    assert_eq!((t.calls, t.failures), (1, 0));
}

#[test]
fn time_window_clear() {
    let w = Window::new(WindowKind::Time(2));
    w.record(FAIL, secs(0));
    w.record(SLOW_OK, secs(1));
    w.clear();
    assert_eq!(w.totals(secs(1)), Totals::default());
}
