use std::time::Duration;

use super::jitter::{nanos, Rng};
use super::{Backoff, Jitter};

/// The cap used when [`ExponentialBackoff::max_delay`] is not set.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);

/// Exponential backoff: retry `n` (1-based) waits
/// `min(base * multiplier^(n-1), max_delay)`, then [`Jitter`].
///
/// Defaults: multiplier 2, `max_delay` 10 s (or `base`, if larger), full
/// jitter. No attempt number can overflow: the delay saturates at the cap
/// (attempt 10,000 with a 1 s base waits exactly `max_delay` before jitter).
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::backoff::{Backoff, ExponentialBackoff, Jitter};
///
/// let backoff = ExponentialBackoff::new(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(5))
///     .jitter(Jitter::Full)
///     .seed(7); // reproducible randomness, for tests
/// let d = backoff.delay(3, Duration::ZERO);
/// assert!(d <= Duration::from_millis(400));
/// ```
#[derive(Debug, Clone)]
pub struct ExponentialBackoff {
    base: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: Jitter,
    rng: Rng,
}

impl ExponentialBackoff {
    /// Starts at `base` and doubles for every retry.
    ///
    /// # Panics
    ///
    /// If `base` is zero.
    pub fn new(base: Duration) -> Self {
        assert!(
            !base.is_zero(),
            "ExponentialBackoff::new: `base` must be above zero, got {base:?}"
        );
        ExponentialBackoff {
            base,
            max_delay: DEFAULT_MAX_DELAY.max(base),
            multiplier: 2.0,
            jitter: Jitter::Full,
            rng: Rng::ThreadLocal,
        }
    }

    /// The longest wait, before jitter. Default: 10 s, or `base` if larger.
    ///
    /// # Panics
    ///
    /// If `max_delay` is below `base`.
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        assert!(
            max_delay >= self.base,
            "ExponentialBackoff::max_delay: `max_delay` ({max_delay:?}) must not be below `base` ({:?})",
            self.base
        );
        self.max_delay = max_delay;
        self
    }

    /// The growth factor between two retries. Default: 2.
    ///
    /// # Panics
    ///
    /// If `multiplier` is NaN, infinite or below 1.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        assert!(
            multiplier.is_finite() && multiplier >= 1.0,
            "ExponentialBackoff::multiplier: `multiplier` must be finite and at least 1, got {multiplier}"
        );
        self.multiplier = multiplier;
        self
    }

    /// How the delay is randomised. Default: [`Jitter::Full`].
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Draws jitter from a sequence seeded with `seed`, shared by the clones
    /// of this schedule: the same seed and the same order of retries give
    /// the same delays. Default: a thread-local generator seeded by the OS.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = Rng::seeded(seed);
        self
    }

    /// The delay before retry `retry`, without jitter.
    fn exponential(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1);
        let cap = nanos(self.max_delay) as f64;
        // In f64 nanoseconds: exact for every delay below 2^53 ns (104 days)
        // with an integer multiplier, and it saturates (to infinity, then the
        // cap) instead of overflowing.
        let exp = i32::try_from(exp).unwrap_or(i32::MAX);
        let d = nanos(self.base) as f64 * self.multiplier.powi(exp);
        if d >= cap || d.is_nan() {
            self.max_delay
        } else {
            Duration::from_nanos(d as u64)
        }
    }
}

impl Backoff for ExponentialBackoff {
    fn delay(&self, retry: u32, previous: Duration) -> Duration {
        let d = self.exponential(retry);
        self.jitter
            .apply(&self.rng, d, self.base, self.max_delay, previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap() {
        let b = ExponentialBackoff::new(100 * MS)
            .max_delay(Duration::from_secs(1))
            .jitter(Jitter::None);
        let got: Vec<_> = (1..=6).map(|n| b.delay(n, Duration::ZERO)).collect();
        assert_eq!(
            got,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
    }

    #[test]
    fn never_overflows() {
        let b = ExponentialBackoff::new(Duration::from_secs(1))
            .max_delay(Duration::from_secs(30))
            .jitter(Jitter::None);
        assert_eq!(b.delay(10_000, Duration::ZERO), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX, Duration::ZERO), Duration::from_secs(30));
        assert_eq!(b.delay(0, Duration::ZERO), Duration::from_secs(1));
        let huge = ExponentialBackoff::new(Duration::MAX).jitter(Jitter::Decorrelated);
        assert_eq!(huge.delay(u32::MAX, Duration::MAX), Duration::MAX);
    }

    #[test]
    fn jitter_kinds_stay_within_their_definitions() {
        for seed in 0..200 {
            let b = |j| {
                ExponentialBackoff::new(100 * MS)
                    .max_delay(Duration::from_secs(2))
                    .jitter(j)
                    .seed(seed)
            };
            for n in 1..8 {
                let d = (100 * MS * 2u32.pow(n - 1)).min(Duration::from_secs(2));
                let full = b(Jitter::Full).delay(n, Duration::ZERO);
                assert!(full <= d);
                let equal = b(Jitter::Equal).delay(n, Duration::ZERO);
                assert!(equal >= d / 2 && equal <= d, "{equal:?} vs {d:?}");
                let prev = 300 * MS;
                let dec = b(Jitter::Decorrelated).delay(n, prev);
                assert!(dec >= 100 * MS && dec <= 900 * MS, "{dec:?}");
            }
        }
    }

    #[test]
    fn seeded_jitter_is_reproducible() {
        let a = ExponentialBackoff::new(100 * MS).seed(42);
        let b = ExponentialBackoff::new(100 * MS).seed(42);
        let xs: Vec<_> = (1..10).map(|n| a.delay(n, Duration::ZERO)).collect();
        let ys: Vec<_> = (1..10).map(|n| b.delay(n, Duration::ZERO)).collect();
        assert_eq!(xs, ys);
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn fractional_multiplier() {
        let b = ExponentialBackoff::new(100 * MS)
            .multiplier(1.5)
            .jitter(Jitter::None);
        assert_eq!(b.delay(3, Duration::ZERO), 225 * MS);
    }

    #[test]
    #[should_panic(expected = "`multiplier` must be finite and at least 1, got NaN")]
    fn nan_multiplier_is_rejected() {
        let _ = ExponentialBackoff::new(MS).multiplier(f64::NAN);
    }

    #[test]
    #[should_panic(expected = "`max_delay` (1ms) must not be below `base` (2s)")]
    fn base_above_cap_is_rejected() {
        let _ = ExponentialBackoff::new(Duration::from_secs(2)).max_delay(MS);
    }
}
