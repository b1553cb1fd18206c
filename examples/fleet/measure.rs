//! What the simulation measures, per second, and the figures drawn from it.

use std::time::Duration;

use crate::server::{Kind, Script};

/// What one run saw, per second since the start.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// Requests that reached the server (attempts, retries included).
    pub(crate) server_arrivals: Vec<u32>,
    /// Logical requests the clients started.
    pub(crate) started: Vec<u32>,
    /// Of those, the ones that ended in a success (by the second they started).
    pub(crate) succeeded: Vec<u32>,
    /// Logical requests by how long they took, in whole milliseconds (the
    /// last bucket holds everything longer).
    latency_ms: Vec<u32>,
}

/// The longest latency told apart, in milliseconds.
const LATENCY_BUCKETS: usize = 120_000;

impl Record {
    pub(crate) fn new(seconds: usize) -> Self {
        Record {
            server_arrivals: vec![0; seconds],
            started: vec![0; seconds],
            succeeded: vec![0; seconds],
            latency_ms: vec![0; LATENCY_BUCKETS + 1],
        }
    }

    /// A logical request started `at` (from the start) took `took`.
    pub(crate) fn request(&mut self, at: Duration, took: Duration, ok: bool) {
        let second = at.as_secs() as usize;
        if let Some(n) = self.started.get_mut(second) {
            *n += 1;
        }
        if ok {
            if let Some(n) = self.succeeded.get_mut(second) {
                *n += 1;
            }
        }
        let ms = (took.as_millis() as usize).min(LATENCY_BUCKETS);
        self.latency_ms[ms] += 1;
    }

    /// The latency below which `share` of the requests finished, in ms.
    fn percentile(&self, share: f64) -> u32 {
        let total: u64 = self.latency_ms.iter().map(|&n| u64::from(n)).sum();
        let goal = (total as f64 * share).ceil() as u64;
        let mut seen = 0;
        for (ms, &n) in self.latency_ms.iter().enumerate() {
            seen += u64::from(n);
            if seen >= goal.max(1) {
                return ms as u32;
            }
        }
        LATENCY_BUCKETS as u32
    }

    /// The load the server saw over the load offered, from second `from`
    /// to second `to`.
    pub(crate) fn amplification(&self, from: u64, to: u64) -> f64 {
        Record::sum(&self.server_arrivals, from, to) / Record::sum(&self.started, from, to).max(1.0)
    }

    fn sum(series: &[u32], from: u64, to: u64) -> f64 {
        let (from, to) = (from as usize, (to as usize).min(series.len()));
        series[from.min(to)..to].iter().map(|&n| f64::from(n)).sum()
    }
}

/// The seconds after the outage in which a herd is looked for: one open
/// period of the default breaker, whose clients come back after it.
pub(crate) const HERD_SECS: u64 = 30;

/// The figures of one run.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    /// Per phase: the load the server saw over the load offered.
    pub(crate) amplification: Vec<f64>,
    /// Successes a second during the overload phase (0 if none).
    pub(crate) overload_goodput: f64,
    /// Seconds from the end of the outage until a second whose requests
    /// succeed at 99 % or more (None: not within the run).
    pub(crate) recovery: Option<u64>,
    /// The busiest second of the [`HERD_SECS`] after the outage, over the
    /// offered load a second (the herd).
    pub(crate) herd: f64,
    /// The share of every logical request that succeeded.
    pub(crate) success: f64,
    /// The share that succeeded during the flaky phase (1 if none).
    pub(crate) flaky_success: f64,
    pub(crate) p50_ms: u32,
    pub(crate) p99_ms: u32,
}

impl Summary {
    pub(crate) fn of(record: &Record, script: &Script, offered: f64) -> Self {
        let phases = &script.0;
        let amplification = (0..phases.len())
            .map(|i| {
                let (from, to) = script.span(i);
                record.amplification(from, to)
            })
            .collect();
        let find = |kind: fn(Kind) -> bool| phases.iter().position(|p| kind(p.kind));
        let overload_goodput = find(|k| matches!(k, Kind::Overload(_))).map_or(0.0, |i| {
            let (from, to) = script.span(i);
            Record::sum(&record.succeeded, from, to) / (to - from) as f64
        });
        let outage_end = find(Kind::is_outage).map(|i| script.span(i).1);
        let recovery = outage_end.and_then(|end| {
            (end..script.secs()).find_map(|s| {
                let (ok, all) = (record.succeeded[s as usize], record.started[s as usize]);
                (all > 0 && f64::from(ok) >= 0.99 * f64::from(all)).then_some(s - end)
            })
        });
        let herd = outage_end.map_or(0.0, |end| {
            let peak = (end..end + HERD_SECS)
                .map(|s| record.server_arrivals.get(s as usize).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            f64::from(peak) / offered
        });
        let all = Record::sum(&record.started, 0, script.secs());
        let success = Record::sum(&record.succeeded, 0, script.secs()) / all.max(1.0);
        let flaky_success = find(|k| matches!(k, Kind::Flaky(_))).map_or(1.0, |i| {
            let (from, to) = script.span(i);
            Record::sum(&record.succeeded, from, to)
                / Record::sum(&record.started, from, to).max(1.0)
        });
        Summary {
            amplification,
            overload_goodput,
            recovery,
            herd,
            success,
            flaky_success,
            p50_ms: record.percentile(0.5),
            p99_ms: record.percentile(0.99),
        }
    }
}
