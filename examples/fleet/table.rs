//! The table on stdout: a row per fleet size and stack, a column per phase.

use crate::clients::Stack;
use crate::measure::Summary;
use crate::server::{Kind, Script};

/// The header: the phases' names (the load the server saw over the offered
/// load in each), then the figures of [`Summary`].
pub(crate) fn header(script: &Script) {
    let phases: String = script
        .0
        .iter()
        .map(|p| format!(" {:>8.8}", p.name))
        .collect();
    println!(
        "{:>6} {:<18}{phases} {:>9} {:>8} {:>5} {:>8} {:>8} {:>6} {:>7}",
        "N", "stack", "goodput/s", "recov s", "herd", "success", "flaky ok", "p50 ms", "p99 ms"
    );
}

/// One row: `clients` on `stack`; "-" for a figure of a phase `script`
/// lacks.
pub(crate) fn row(clients: usize, stack: Stack, s: &Summary, script: &Script) {
    let has = |kind: fn(Kind) -> bool| script.0.iter().any(|p| kind(p.kind));
    let shown = |has: bool, figure: String| if has { figure } else { "-".to_string() };
    let phases: String = s
        .amplification
        .iter()
        .map(|a| format!(" {a:>8.2}"))
        .collect();
    let outage = has(Kind::is_outage);
    let recovery = s.recovery.map_or("never".to_string(), |r| r.to_string());
    let goodput = format!("{:.0}", s.overload_goodput);
    let flaky = format!("{:.2}%", 100.0 * s.flaky_success);
    println!(
        "{:>6} {:<18}{phases} {:>9} {:>8} {:>5} {:>7.2}% {:>8} {:>6} {:>7}",
        clients,
        stack.name(),
        shown(has(|k| matches!(k, Kind::Overload(_))), goodput),
        shown(outage, recovery),
        shown(outage, format!("{:.2}", s.herd)),
        100.0 * s.success,
        shown(has(|k| matches!(k, Kind::Flaky(_))), flaky),
        s.p50_ms,
        s.p99_ms
    );
}
