//! The hedge delay taken from observed latency: a percentile over a
//! rotating window.
//!
//! tower's `hedge` module keeps the same thing (`RotatingHistogram`: two
//! histograms, one read while the other is written, swapped every period),
//! but privately, and its `Hedge` does not fit this crate (see the module
//! docs), so the idea is rebuilt here on the same histogram crate. One
//! difference: tower's histogram grows without bound; this one has fixed
//! bounds (1 µs to 60 s, larger values counted as 60 s), so its memory is
//! bounded whatever latencies a server produces.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

/// The highest latency the histogram tells apart, in microseconds.
const MAX_MICROS: u64 = 60_000_000;

/// Latencies of the last full window, and of the current one.
#[derive(Debug)]
pub(crate) struct LatencyWindow {
    percentile: f64,
    min_samples: u64,
    period: Duration,
    histograms: Mutex<Rotating>,
}

#[derive(Debug)]
struct Rotating {
    /// The last full period: what the percentile is read from.
    read: Histogram<u64>,
    /// The current period.
    write: Histogram<u64>,
    last_rotation: Instant,
    /// The percentile of `read`, once it holds enough samples: `read`
    /// changes only when it rotates, so it is computed then, not per call.
    delay: Option<Duration>,
}

fn histogram() -> Histogram<u64> {
    // Two significant digits: a delay within 1 % of the percentile.
    match Histogram::new_with_bounds(1, MAX_MICROS, 2) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

impl LatencyWindow {
    /// # Panics
    ///
    /// If `percentile` is outside (0, 1] or `period` is zero; callers
    /// check first, naming their own parameters.
    pub(crate) fn new(percentile: f64, period: Duration, min_samples: u64) -> Self {
        debug_assert!(percentile > 0.0 && percentile <= 1.0 && !period.is_zero());
        LatencyWindow {
            percentile,
            min_samples,
            period,
            histograms: Mutex::new(Rotating {
                read: histogram(),
                write: histogram(),
                last_rotation: Instant::now(),
                delay: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rotating> {
        let mut h = self
            .histograms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if h.rotate(self.period) {
            h.delay = self.percentile_of(&h.read);
        }
        h
    }

    fn percentile_of(&self, read: &Histogram<u64>) -> Option<Duration> {
        if read.len() < self.min_samples.max(1) {
            return None;
        }
        // The lowest value of its bucket: rather a hedge a little early
        // than one timer tick late.
        let value = read.value_at_quantile(self.percentile);
        Some(Duration::from_micros(read.lowest_equivalent(value)))
    }

    /// Records the latency of an attempt that answered.
    pub(crate) fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.lock()
            .write
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// The percentile of the last full window, once it holds `min_samples`
    /// latencies.
    pub(crate) fn delay(&self) -> Option<Duration> {
        self.lock().delay
    }

    pub(crate) fn percentile(&self) -> f64 {
        self.percentile
    }
}

impl Rotating {
    /// tower's `maybe_rotate`: one period past, the written histogram
    /// becomes the read one; two or more, both are stale. Whether it
    /// rotated.
    fn rotate(&mut self, period: Duration) -> bool {
        let since = Instant::now().saturating_duration_since(self.last_rotation);
        let rotations = since.as_nanos() / period.as_nanos();
        match rotations {
            0 => return false,
            1 => {
                std::mem::swap(&mut self.read, &mut self.write);
                self.write.reset();
            }
            _ => {
                self.read.reset();
                self.write.reset();
            }
        }
        // Whole periods only, so the boundaries stay where they were; past
        // two periods, restart from now.
        self.last_rotation = match rotations {
            1 => self.last_rotation + period,
            _ => Instant::now(),
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_percentile_of_the_last_full_window() {
        let w = LatencyWindow::new(0.9, Duration::from_secs(1), 10);
        for ms in 1..=100 {
            w.record(Duration::from_millis(ms));
        }
        // Still the current window: nothing to read yet.
        assert_eq!(w.delay(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let d = w.delay().unwrap();
        assert!(
            (Duration::from_millis(89)..=Duration::from_millis(91)).contains(&d),
            "{d:?}"
        );
        // Two periods later, stale.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(w.delay(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_samples_give_no_delay_and_huge_latencies_are_capped() {
        let w = LatencyWindow::new(0.5, Duration::from_secs(1), 3);
        w.record(Duration::from_secs(3600));
        w.record(Duration::from_secs(3600));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(w.delay(), None);
        w.record(Duration::from_secs(3600));
        w.record(Duration::from_secs(3600));
        w.record(Duration::from_secs(3600));
        tokio::time::advance(Duration::from_secs(1)).await;
        let d = w.delay().unwrap();
        assert!(d <= Duration::from_secs(61), "{d:?}");
    }
}
