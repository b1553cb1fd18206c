//! The fleet simulation of `examples/fleet`, small and short: the bounds a
//! user can count on at every fleet size (issue 13, point 5). The model is
//! the example's own files, included.

#[allow(dead_code)]
#[path = "../examples/fleet/clients.rs"]
mod clients;
#[allow(dead_code)]
#[path = "../examples/fleet/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../examples/fleet/server.rs"]
mod server;

use clients::{Scenario, Stack};
use measure::{Record, Summary};
use server::{Kind, Script};

/// Requests a second the whole fleet sends: 1,000 clients send one each.
const OFFERED: f64 = 1_000.0;

/// The phases' indices in [`script`].
const OUTAGE: usize = 1;

/// A healthy start, an outage of two open periods of the breaker (30 s),
/// a recovery, a flaky spell.
fn script() -> Script {
    Script::of(&[
        ("healthy", 10, Kind::Healthy),
        ("outage", 60, Kind::Outage),
        ("recovery", 20, Kind::Healthy),
        ("flaky", 20, Kind::Flaky(0.05)),
    ])
}

fn simulate(clients: usize, stack: Stack) -> (Record, Summary) {
    let scenario = Scenario {
        clients,
        capacity: 2.0 * OFFERED,
        offered: OFFERED,
        script: script(),
        seed: 7,
    };
    clients::simulate(&scenario, stack)
}

const SIZES: [usize; 3] = [10, 100, 1_000];

#[test]
fn the_default_budget_bounds_an_outage_at_every_fleet_size() {
    for clients in SIZES {
        let (_, s) = simulate(clients, Stack::Ours);
        let outage = s.amplification[OUTAGE];
        eprintln!(
            "ours, {clients} clients: outage amplification {outage:.3}, herd {:.2}",
            s.herd
        );
        assert!(outage <= 1.3, "{clients} clients: {outage:.3}× the load");
        assert!(
            s.herd <= 1.5,
            "{clients} clients: a herd of {:.2}× after recovery",
            s.herd
        );
        let flaky = s.flaky_success;
        assert!(
            flaky >= 0.995,
            "{clients} clients: {:.2} % succeeded at 5 % failures",
            100.0 * flaky
        );
    }
}

#[test]
fn the_breaker_sheds_an_outage_within_one_open_period() {
    let (start, end) = script().span(OUTAGE);
    for clients in SIZES {
        let (record, s) = simulate(clients, Stack::OursBreaker);
        // The default open period is 30 s.
        let late = record.amplification(start + 30, end);
        eprintln!("ours + breaker, {clients} clients: {late:.3} of the load late in the outage");
        assert!(
            late <= 0.1,
            "{clients} clients: {late:.3} of the offered load"
        );
        assert!(
            s.herd <= 1.5,
            "{clients} clients: a herd of {:.2}× after recovery",
            s.herd
        );
    }
}

#[test]
fn the_naive_loop_triples_the_load() {
    let (_, s) = simulate(1_000, Stack::Naive);
    let outage = s.amplification[OUTAGE];
    assert!(outage >= 2.9, "{outage:.3}× the load");
    assert!(s.flaky_success >= 0.995);
}
