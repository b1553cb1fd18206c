use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a computed delay is randomised, by the definitions of AWS's
/// "Exponential Backoff And Jitter" (with `d = min(max_delay, base * 2^(n-1))`).
///
/// Jitter keeps a fleet of clients that failed together from retrying
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Exactly `d`: no randomness.
    None,
    /// Uniform in `[0, d]`. The default: the least contention for the least
    /// total work.
    #[default]
    Full,
    /// `d / 2` plus uniform in `[0, d / 2]`: never less than half the delay.
    Equal,
    /// Uniform in `[base, previous * 3]`, capped at `max_delay`; `previous`
    /// is the last delay chosen (`base` before the first retry).
    Decorrelated,
}

/// Where random numbers come from: the thread-local generator of `fastrand`,
/// or a seeded sequence shared by the clones of one schedule, for
/// reproducible tests.
#[derive(Debug, Clone, Default)]
pub(crate) enum Rng {
    #[default]
    ThreadLocal,
    Seeded(Arc<AtomicU64>),
}

impl Rng {
    pub(crate) fn seeded(seed: u64) -> Self {
        Rng::Seeded(Arc::new(AtomicU64::new(seed)))
    }

    /// A uniform duration in `[low, high]` (`low` when `high < low`).
    pub(crate) fn between(&self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let lo = nanos(low);
        let hi = nanos(high);
        let n = match self {
            Rng::ThreadLocal => fastrand::u64(lo..=hi),
            // SplitMix64 over a shared counter: lock-free, and the same seed
            // gives the same sequence of delays.
            Rng::Seeded(state) => {
                let x = state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
                fastrand::Rng::with_seed(splitmix64(x)).u64(lo..=hi)
            }
        };
        Duration::from_nanos(n)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Nanoseconds, saturated to `u64` (584 years: far above any cap).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Jitter {
    /// Applies the jitter to the un-jittered delay `d`.
    pub(crate) fn apply(
        self,
        rng: &Rng,
        d: Duration,
        base: Duration,
        cap: Duration,
        previous: Duration,
    ) -> Duration {
        match self {
            Jitter::None => d,
            Jitter::Full => rng.between(Duration::ZERO, d),
            Jitter::Equal => {
                let half = d / 2;
                half + rng.between(Duration::ZERO, d - half)
            }
            Jitter::Decorrelated => {
                let previous = if previous.is_zero() { base } else { previous };
                let high = previous.saturating_mul(3).min(cap);
                rng.between(base, high).min(cap)
            }
        }
    }
}
