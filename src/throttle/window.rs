//! The sliding window of the SRE rule: requests and accepts over the last
//! `window`, in time buckets, and the rejection probability they give.
//! Pure arithmetic: the caller passes the time.

use std::time::Duration;

use tokio::time::Instant;

/// Buckets of the window: it slides by a tenth of its length.
pub(crate) const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Requests the application made, those rejected locally included.
    pub(crate) requests: u64,
    /// Requests the server accepted.
    pub(crate) accepts: u64,
}

#[derive(Debug)]
pub(crate) struct Window {
    buckets: [Counts; BUCKETS],
    width: Duration,
    /// The bucket being written.
    current: usize,
    /// When the current bucket started.
    current_start: Instant,
    /// The sum of every bucket.
    total: Counts,
}

impl Window {
    /// `window` must be at least [`BUCKETS`] nanoseconds (callers check).
    pub(crate) fn new(window: Duration, now: Instant) -> Self {
        Window {
            buckets: [Counts::default(); BUCKETS],
            width: window / BUCKETS as u32,
            current: 0,
            current_start: now,
            total: Counts::default(),
        }
    }

    /// Moves the window to `now`: buckets that fell out of it are emptied.
    pub(crate) fn advance(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.current_start);
        if elapsed < self.width {
            return;
        }
        let steps = elapsed.as_nanos() / self.width.as_nanos();
        for _ in 0..steps.min(BUCKETS as u128) {
            self.current = (self.current + 1) % BUCKETS;
            let gone = std::mem::take(&mut self.buckets[self.current]);
            self.total.requests -= gone.requests;
            self.total.accepts -= gone.accepts;
        }
        // Whole buckets only, so their boundaries stay put (the step count
        // fits: `steps * width <= elapsed`).
        self.current_start += self.width * steps.min(u128::from(u32::MAX)) as u32;
    }

    pub(crate) fn add_request(&mut self) {
        self.buckets[self.current].requests += 1;
        self.total.requests += 1;
    }

    pub(crate) fn add_accept(&mut self) {
        self.buckets[self.current].accepts += 1;
        self.total.accepts += 1;
    }

    pub(crate) fn counts(&self) -> Counts {
        self.total
    }
}

/// Google SRE, "Handling Overload": `max(0, (requests − k·accepts) /
/// (requests + 1))`.
pub(crate) fn rejection_probability(counts: Counts, k: f64) -> f64 {
    let requests = counts.requests as f64;
    let accepts = counts.accepts as f64;
    ((requests - k * accepts) / (requests + 1.0)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_formula() {
        let c = |requests, accepts| Counts { requests, accepts };
        assert_eq!(rejection_probability(c(0, 0), 2.0), 0.0);
        assert_eq!(rejection_probability(c(10, 5), 2.0), 0.0);
        assert_eq!(rejection_probability(c(10, 0), 2.0), 10.0 / 11.0);
        assert_eq!(rejection_probability(c(100, 10), 2.0), 80.0 / 101.0);
        assert_eq!(rejection_probability(c(100, 10), 1.0), 90.0 / 101.0);
    }

    #[test]
    fn counts_leave_the_window_a_bucket_at_a_time() {
        let t0 = Instant::now();
        let mut w = Window::new(1000 * MS, t0);
        w.add_request();
        w.add_accept();
        w.advance(t0 + 500 * MS);
        w.add_request();
        assert_eq!(
            w.counts(),
            Counts {
                requests: 2,
                accepts: 1
            }
        );
        // The first bucket (0..100 ms) leaves at 1000 ms.
        w.advance(t0 + 999 * MS);
        assert_eq!(w.counts().requests, 2);
        w.advance(t0 + 1000 * MS);
        assert_eq!(
            w.counts(),
            Counts {
                requests: 1,
                accepts: 0
            }
        );
        w.advance(t0 + 1500 * MS);
        assert_eq!(w.counts(), Counts::default());
    }

    #[test]
    fn a_long_idle_period_empties_it() {
        let t0 = Instant::now();
        let mut w = Window::new(1000 * MS, t0);
        for _ in 0..100 {
            w.add_request();
        }
        w.advance(t0 + Duration::from_secs(86_400 * 365));
        assert_eq!(w.counts(), Counts::default());
        w.add_request();
        assert_eq!(w.counts().requests, 1);
    }
}
