use std::time::Duration;

use super::Backoff;

/// The same wait before every retry.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::backoff::{Backoff, ConstantBackoff};
///
/// let backoff = ConstantBackoff::new(Duration::from_millis(200));
/// assert_eq!(backoff.delay(1, Duration::ZERO), Duration::from_millis(200));
/// assert_eq!(backoff.delay(u32::MAX, Duration::ZERO), Duration::from_millis(200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantBackoff {
    delay: Duration,
}

impl ConstantBackoff {
    /// Waits `delay` before every retry.
    pub const fn new(delay: Duration) -> Self {
        ConstantBackoff { delay }
    }
}

impl Backoff for ConstantBackoff {
    fn delay(&self, _retry: u32, _previous: Duration) -> Duration {
        self.delay
    }
}
