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

use std::time::Duration;

use clients::{Scenario, Stack};
use measure::{Record, Summary};
use server::{Kind, Script, Shed};

/// Requests a second the whole fleet sends: 1,000 clients send one each.
const OFFERED: f64 = 1_000.0;

/// Every script's outage is its second phase.
const OUTAGE: usize = 1;

/// Phases as `(name, seconds, kind)`.
type Phases = [(&'static str, u64, Kind)];

/// For the default budget: a healthy start, an outage, a recovery as long
/// as the herd is looked for, a flaky spell. The outage lasts 30 s, not a
/// minute: what a client holds when it begins is a larger share of a
/// shorter outage, so the bound is harder to keep.
const FOR_BUDGET: &Phases = &[
    ("healthy", 10, Kind::Healthy),
    ("outage", 30, Kind::Outage),
    ("recovery", 20, Kind::Healthy),
    ("flaky", 20, Kind::Flaky(0.05)),
];

/// For the breaker: an outage of two open periods (30 s each), then a
/// recovery of one, in which breakers that opened late close.
const FOR_BREAKER: &Phases = &[
    ("healthy", 10, Kind::Healthy),
    ("outage", 60, Kind::Outage),
    ("recovery", 30, Kind::Healthy),
];

/// For the naive loop, whose 3× does not depend on how long things last.
const FOR_NAIVE: &Phases = &[
    ("healthy", 10, Kind::Healthy),
    ("outage", 10, Kind::Outage),
    ("flaky", 10, Kind::Flaky(0.05)),
];

/// For the outage by timeouts: nothing answered for 30 s.
const FOR_HANG: &Phases = &[
    ("healthy", 10, Kind::Healthy),
    ("hung", 30, Kind::Hang),
    ("recovery", 10, Kind::Healthy),
];

/// `clients` on `stack` through `phases`, sending [`OFFERED`] in all to a
/// server that serves twice that, each attempt bounded by `attempt_timeout`.
fn simulate(
    clients: usize,
    stack: Stack,
    phases: &Phases,
    attempt_timeout: Option<Duration>,
) -> (Record, Summary) {
    let scenario = Scenario {
        clients,
        capacity: 2.0 * OFFERED,
        offered: OFFERED,
        script: Script::of(phases),
        shed: Shed::Unavailable,
        attempt_timeout,
        seed: 7,
    };
    clients::simulate(&scenario, stack)
}

const SIZES: [usize; 3] = [10, 100, 1_000];

#[test]
fn the_default_budget_bounds_an_outage_at_every_fleet_size() {
    for clients in SIZES {
        let (_, s) = simulate(clients, Stack::Ours, FOR_BUDGET, None);
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
    let (start, end) = Script::of(FOR_BREAKER).span(OUTAGE);
    for clients in SIZES {
        let (record, s) = simulate(clients, Stack::OursBreaker, FOR_BREAKER, None);
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
    let (_, s) = simulate(1_000, Stack::Naive, FOR_NAIVE, None);
    let outage = s.amplification[OUTAGE];
    assert!(outage >= 2.9, "{outage:.3}× the load");
    assert!(s.flaky_success >= 0.995);
}

#[test]
fn the_default_budget_bounds_an_outage_by_timeouts() {
    // The quietest fleet (1,000 clients, a request a second each), each
    // attempt bounded by a 1 s timeout beneath the retries.
    let (_, s) = simulate(1_000, Stack::Ours, FOR_HANG, Some(Duration::from_secs(1)));
    let hung = s.amplification[OUTAGE];
    eprintln!("ours, 1,000 clients, 1 s timeouts: amplification {hung:.3} while hung");
    assert!(hung <= 1.3, "{hung:.3}× the load");
}
