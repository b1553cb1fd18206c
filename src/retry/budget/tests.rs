//! The crate's budgets against tower's `TpsBudget` on the same schedules.

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::runtime::{Builder, Runtime};
use tower::retry::budget::{Budget, TpsBudget};

use super::tps::{amounts, LeanTpsBudget};
use super::EarnedBudget;

/// A runtime whose clock moves only when told to.
fn paused() -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn advance(rt: &Runtime, by: Duration) {
    rt.block_on(tokio::time::advance(by));
}

/// Withdrawals granted until the first refusal (at most `limit`).
fn drain(budget: &dyn Budget, limit: usize) -> usize {
    (0..limit).take_while(|_| budget.withdraw()).count()
}

/// The schedule: a handler calls A then B every 10 ms for 15 s,
/// then A fails and retries until its budget refuses.
fn a_then_b_then_a_fails<B: Budget>(make: impl Fn() -> B) -> usize {
    let rt = paused();
    let _guard = rt.enter();
    let (a, b) = (make(), make());
    for _ in 0..1_500 {
        a.deposit();
        b.deposit();
        advance(&rt, Duration::from_millis(10));
    }
    drain(&a, 10_000)
}

#[test]
fn two_budgets_taking_turns_on_one_thread_keep_tower_s_bounds() {
    let tower = a_then_b_then_a_fails(TpsBudget::default);
    let lean = a_then_b_then_a_fails(LeanTpsBudget::default);
    eprintln!("A's retries after A, B for 15 s: TpsBudget {tower}, LeanTpsBudget {lean}");
    assert_eq!(lean, tower);
}

/// One step of a schedule: which budget, on which thread, does what, then
/// how long passes.
#[derive(Clone, Debug)]
struct Step {
    budget: usize,
    thread: usize,
    withdraw: bool,
    then: Duration,
}

fn steps(budgets: usize, threads: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = (0..budgets, 0..threads, prop::bool::weighted(0.3), 0u64..400).prop_map(
        |(budget, thread, withdraw, ms)| Step {
            budget,
            thread,
            withdraw,
            // Mostly no time at all: bursts on one instant, then pauses.
            then: Duration::from_millis(if ms < 300 { 0 } else { (ms - 300) * 40 }),
        },
    );
    prop::collection::vec(step, 1..400)
}

/// Ratios `TpsBudget` keeps exactly (its withdrawal is a whole number).
fn exact_ratio() -> impl Strategy<Value = f32> {
    prop::sample::select(vec![0.0, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 4.0])
}

/// Runs `steps` on fresh twins: the crate's budgets, each step on the
/// thread it names (thread 0 is this one), and tower's, on this thread.
/// Returns each withdrawal's answer from both.
fn run(steps: &[Step], params: &[(u64, u32, f32)], threads: usize) -> (Vec<bool>, Vec<bool>) {
    let rt = paused();
    let _guard = rt.enter();
    let make = |&(ttl, min, ratio): &(u64, u32, f32)| {
        (
            LeanTpsBudget::new(Duration::from_secs(ttl), min, ratio),
            TpsBudget::new(Duration::from_secs(ttl), min, ratio),
        )
    };
    let twins: Vec<_> = params.iter().map(make).collect();
    let (mut ours, mut towers) = (Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        // The other threads take their steps in the schedule's order: each
        // waits for its order and answers before the next step.
        let workers: Vec<_> = (1..threads)
            .map(|_| {
                let (to, from) = mpsc::channel::<&Step>();
                let (answer, answers) = mpsc::channel();
                let (twins, handle) = (&twins, rt.handle().clone());
                scope.spawn(move || {
                    let _guard = handle.enter();
                    for step in from {
                        let lean = &twins[step.budget].0;
                        let granted = if step.withdraw {
                            lean.withdraw()
                        } else {
                            lean.deposit();
                            false
                        };
                        answer.send(granted).expect("answer");
                    }
                });
                (to, answers)
            })
            .collect();
        for step in steps {
            let (lean, tower) = &twins[step.budget];
            let granted = match step.thread.checked_sub(1) {
                None if step.withdraw => lean.withdraw(),
                None => {
                    lean.deposit();
                    false
                }
                Some(worker) => {
                    let (to, answers) = &workers[worker];
                    to.send(step).expect("order");
                    answers.recv().expect("answer")
                }
            };
            if step.withdraw {
                ours.push(granted);
                towers.push(tower.withdraw());
            } else {
                tower.deposit();
            }
            advance(&rt, step.then);
        }
    });
    (ours, towers)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn interleaved_budgets_on_one_thread_grant_what_tps_budget_grants(
        steps in steps(3, 1),
        params in prop::collection::vec((1u64..=20, 0u32..3, exact_ratio()), 3),
    ) {
        let (ours, towers) = run(&steps, &params, 1);
        prop_assert_eq!(ours, towers);
    }

    #[test]
    fn interleaved_budgets_on_two_threads_grant_what_tps_budget_grants(
        steps in steps(3, 2),
        params in prop::collection::vec((1u64..=20, 0u32..3, exact_ratio()), 3),
    ) {
        let (ours, towers) = run(&steps, &params, 2);
        prop_assert_eq!(ours, towers);
    }
}

/// The ratios of issue 12 point 12: `1/n` and `1000/n` for `n ≤ 5,000`.
fn ratios() -> impl Iterator<Item = f32> {
    (1..=5_000u16).flat_map(|n| [1.0 / f32::from(n), 1000.0 / f32::from(n)])
}

#[test]
fn every_ratio_the_setter_accepts_is_kept_exactly() {
    let mut accepted = 0;
    for ratio in ratios() {
        let ok = std::panic::catch_unwind(|| {
            crate::RetryPolicy::default().tps_budget(Duration::from_secs(10), 0, ratio)
        })
        .is_ok();
        if !ok {
            continue;
        }
        accepted += 1;
        let (deposit, withdraw) = amounts(ratio);
        // The budget's ratio, deposit / withdraw, is the one asked for, to
        // the precision of an f32.
        let kept = deposit as f64 / withdraw as f64;
        let asked = f64::from(ratio);
        assert!(
            (kept - asked).abs() <= asked * 1e-6,
            "{ratio} accepted but kept as {deposit}/{withdraw}"
        );
    }
    // Every 1/n, and 1000/n for the n dividing 1000 or below 1000.
    assert!(accepted >= 5_000, "{accepted} accepted");
}

#[test]
fn a_seventh_is_a_retry_every_seven_requests() {
    let rt = paused();
    let _guard = rt.enter();
    let b = LeanTpsBudget::new(Duration::from_secs(10), 0, 1.0 / 7.0);
    for _ in 0..6 {
        b.deposit();
    }
    assert!(!b.withdraw(), "a retry after 6 deposits");
    b.deposit();
    assert!(b.withdraw());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// An outage earns nothing: when every request fails (each deposit is
    /// followed by at least one withdrawal), the retries granted after the
    /// first request stay within what it held when the outage began (the
    /// reserve plus `ratio` of the last `ttl` of requests), whatever the pace, the
    /// parameters, or what the budget earned before.
    #[test]
    fn in_an_outage_the_earned_budget_grants_only_what_it_held(
        healthy in 0usize..500,
        outage in prop::collection::vec((1usize..4, 0u64..3_000), 1..300),
        reserve in 0u32..5,
        ratio in prop::sample::select(vec![0.05f32, 0.1, 0.2, 0.5, 1.0]),
        ttl in 1u64..=20,
    ) {
        let rt = paused();
        let _guard = rt.enter();
        let b = EarnedBudget::new(Duration::from_secs(ttl), reserve, ratio);
        // Healthy requests, 10 ms apart: what they earn is capped at the
        // reserve plus `ratio` of the last `ttl` of them.
        for _ in 0..healthy.max(2) {
            b.deposit();
            advance(&rt, Duration::from_millis(10));
        }
        let held = f64::from(reserve) + f64::from(ratio) * (healthy.max(2) as f64).min(ttl as f64 * 100.0);
        let mut granted = 0;
        for (withdrawals, ms) in outage {
            b.deposit();
            granted += (0..withdrawals).filter(|_| b.withdraw()).count();
            advance(&rt, Duration::from_millis(ms));
        }
        prop_assert!(granted as f64 <= held + 1.0, "{} granted, {} held", granted, held);
    }
}
