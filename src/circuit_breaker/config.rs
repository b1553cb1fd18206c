//! The breaker's settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::classifier::{DefaultFailureClassifier, FailureClassifier};
use super::vocabulary::{AbandonedCalls, StateChange, WindowKind};
use crate::classify::Classifier;

/// The callback of [`CircuitBreakerConfig::on_state_change`].
pub(crate) type StateChangeHook = Arc<dyn Fn(&StateChange<'_>) + Send + Sync>;

/// The largest count window: its slots take one byte each.
const MAX_WINDOW_SIZE: u32 = 1_000_000;
/// The longest time window: one bucket per second.
const MAX_TIME_WINDOW: Duration = Duration::from_secs(3600);
/// Per-host breakers kept by default.
const DEFAULT_MAX_HOSTS: usize = 1024;
/// How long a half-open probe may be out by default: see
/// [`CircuitBreakerConfig::max_probe_duration`].
const DEFAULT_MAX_PROBE_DURATION: Duration = Duration::from_secs(60);
/// The most probes: they are counted in 15 bits of the state word.
pub(crate) const MAX_HALF_OPEN_CALLS: u32 = (1 << 15) - 1;

/// The settings of a circuit breaker; build the breaker with
/// [`CircuitBreakerLayer::new`](crate::CircuitBreakerLayer::new).
///
/// | setting | default |
/// |---|---|
/// | [`name`](Self::name) | none |
/// | [`failure_rate_threshold`](Self::failure_rate_threshold) | 0.5 |
/// | [`window_size`](Self::window_size) / [`time_window`](Self::time_window) | the last 100 calls |
/// | [`minimum_calls`](Self::minimum_calls) | 20 |
/// | [`consecutive_failures`](Self::consecutive_failures) | off |
/// | [`slow_calls`](Self::slow_calls) | off |
/// | [`open_duration`](Self::open_duration) | 30 s |
/// | [`max_open_duration`](Self::max_open_duration) | none: no growth |
/// | [`half_open_calls`](Self::half_open_calls) | 1 |
/// | [`max_probe_duration`](Self::max_probe_duration) | 60 s |
/// | [`abandoned_calls`](Self::abandoned_calls) | [`AbandonedCalls::SlowWhenLate`]: slow when abandoned after the slow-call duration, else nothing |
/// | [`classify`](Self::classify) | none: the failure classifier decides |
/// | [`classifier`](Self::classifier) | [`DefaultFailureClassifier`]: transport errors, 408, 429, 500, 502, 503, 504 |
/// | [`on_state_change`](Self::on_state_change) | none |
/// | [`max_hosts`](Self::max_hosts) | 1,024 (per-host breakers only) |
///
/// Each setter checks its own value and panics on an invalid one; the
/// checks across settings (`minimum_calls` within `window_size`,
/// `max_open_duration` not below `open_duration`) are made when the breaker
/// is built.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer};
///
/// let breaker = CircuitBreakerLayer::new(
///     CircuitBreakerConfig::default()
///         .name("payments")
///         .failure_rate_threshold(0.5)
///         .minimum_calls(10)
///         .consecutive_failures(5)
///         .open_duration(Duration::from_secs(30))
///         .half_open_calls(3),
/// );
/// ```
#[derive(Clone)]
pub struct CircuitBreakerConfig {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) failure_rate_threshold: f64,
    pub(crate) window: WindowKind,
    pub(crate) minimum_calls: u32,
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) slow_call_rate_threshold: f64,
    pub(crate) open_duration: Duration,
    pub(crate) max_open_duration: Option<Duration>,
    pub(crate) half_open_calls: u32,
    pub(crate) max_probe_duration: Duration,
    pub(crate) abandoned_calls: AbandonedCalls,
    pub(crate) classifier: Arc<dyn FailureClassifier>,
    /// The rule of [`classify`](Self::classify); `None` keeps the fast
    /// path free of it (no request fields kept, no `Outcome` built).
    pub(crate) rule: Option<Arc<dyn Classifier>>,
    pub(crate) on_state_change: Option<StateChangeHook>,
    pub(crate) max_hosts: usize,
}

impl Default for CircuitBreakerConfig {
    /// The defaults of the table above.
    fn default() -> Self {
        CircuitBreakerConfig {
            name: None,
            failure_rate_threshold: 0.5,
            window: WindowKind::Count(100),
            minimum_calls: 20,
            consecutive_failures: None,
            slow_call_duration: None,
            slow_call_rate_threshold: 1.0,
            open_duration: Duration::from_secs(30),
            max_open_duration: None,
            half_open_calls: 1,
            max_probe_duration: DEFAULT_MAX_PROBE_DURATION,
            abandoned_calls: AbandonedCalls::SlowWhenLate,
            classifier: Arc::new(DefaultFailureClassifier),
            rule: None,
            on_state_change: None,
            max_hosts: DEFAULT_MAX_HOSTS,
        }
    }
}

fn check_rate(setter: &str, param: &str, value: f64) {
    assert!(
        value > 0.0 && value <= 1.0,
        "CircuitBreakerConfig::{setter}: `{param}` must be within (0, 1], got {value}"
    );
}

impl CircuitBreakerConfig {
    /// A configuration with the defaults.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The breaker's name, carried by its [`CircuitOpen`](crate::CircuitOpen)
    /// errors and its `tracing` events. Default: none.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().name("payments");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The breaker opens when at least this share of the calls in the
    /// window failed (`failures / calls ≥ threshold`), once
    /// [`minimum_calls`](Self::minimum_calls) were recorded. Default: 0.5.
    ///
    /// # Panics
    ///
    /// If `threshold` is not within (0, 1].
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().failure_rate_threshold(0.25);
    /// ```
    pub fn failure_rate_threshold(mut self, threshold: f64) -> Self {
        check_rate("failure_rate_threshold", "threshold", threshold);
        self.failure_rate_threshold = threshold;
        self
    }

    /// A count-based window: the rates are computed over the last `calls`
    /// calls. Replaces a [`time_window`](Self::time_window). Default: 100.
    ///
    /// # Panics
    ///
    /// If `calls` is 0 or above 1,000,000.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().window_size(50);
    /// ```
    pub fn window_size(mut self, calls: u32) -> Self {
        assert!(
            (1..=MAX_WINDOW_SIZE).contains(&calls),
            "CircuitBreakerConfig::window_size: `calls` must be within 1..={MAX_WINDOW_SIZE}, got {calls}"
        );
        self.window = WindowKind::Count(calls);
        self
    }

    /// A time-based window: the rates are computed over the calls that
    /// ended in the last `duration`, kept in one-second buckets (the
    /// current second counts in full). Replaces the count-based
    /// [`window_size`](Self::window_size). Default: a count-based window.
    ///
    /// # Panics
    ///
    /// If `duration` is not a whole number of seconds within 1 s..=3600 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .time_window(Duration::from_secs(60));
    /// ```
    pub fn time_window(mut self, duration: Duration) -> Self {
        assert!(
            duration.subsec_nanos() == 0
                && (Duration::from_secs(1)..=MAX_TIME_WINDOW).contains(&duration),
            "CircuitBreakerConfig::time_window: `duration` must be whole seconds within 1s..=3600s, got {duration:?}"
        );
        self.window = WindowKind::Time(duration.as_secs() as u32);
        self
    }

    /// The calls the window must hold before a rate can open the breaker.
    /// Default: 20.
    ///
    /// # Panics
    ///
    /// If `calls` is 0. When the breaker is built, if it is above a
    /// count-based window's size.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().minimum_calls(10);
    /// ```
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        assert!(
            calls >= 1,
            "CircuitBreakerConfig::minimum_calls: `calls` must be at least 1, got {calls}"
        );
        self.minimum_calls = calls;
        self
    }

    /// Also open the breaker after `failures` failed calls in a row,
    /// whatever the window holds. Default: off.
    ///
    /// # Panics
    ///
    /// If `failures` is 0.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().consecutive_failures(5);
    /// ```
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        assert!(
            failures >= 1,
            "CircuitBreakerConfig::consecutive_failures: `failures` must be at least 1, got {failures}"
        );
        self.consecutive_failures = Some(failures);
        self
    }

    /// Slow-call detection, as resilience4j does it: a call that takes
    /// longer than `duration` (from `call` to its response or error) is
    /// slow, and the breaker opens when at least `rate_threshold` of the
    /// calls in the window were slow, once
    /// [`minimum_calls`](Self::minimum_calls) were recorded. A slow call may
    /// also be a failure; a slow half-open probe counts as a failed probe.
    /// Default: off (resilience4j's default, 60 s at 100 %, rarely fires;
    /// turning it on costs a clock read per call).
    ///
    /// # Panics
    ///
    /// If `duration` is zero or `rate_threshold` is not within (0, 1].
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .slow_calls(Duration::from_secs(2), 0.8);
    /// ```
    pub fn slow_calls(mut self, duration: Duration, rate_threshold: f64) -> Self {
        assert!(
            !duration.is_zero(),
            "CircuitBreakerConfig::slow_calls: `duration` must be above zero, got {duration:?}"
        );
        check_rate("slow_calls", "rate_threshold", rate_threshold);
        self.slow_call_duration = Some(duration);
        self.slow_call_rate_threshold = rate_threshold;
        self
    }

    /// How long the breaker stays open before it lets probes through.
    /// `Duration::MAX` keeps it open until a [handle](crate::circuit_breaker::CircuitBreakerHandle)
    /// closes it. Default: 30 s.
    ///
    /// # Panics
    ///
    /// If `duration` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .open_duration(Duration::from_secs(10));
    /// ```
    pub fn open_duration(mut self, duration: Duration) -> Self {
        assert!(
            !duration.is_zero(),
            "CircuitBreakerConfig::open_duration: `duration` must be above zero, got {duration:?}"
        );
        self.open_duration = duration;
        self
    }

    /// Lets the open duration grow: each time a failed probe opens the
    /// breaker again, the open duration doubles, up to `max`. It is back to
    /// [`open_duration`](Self::open_duration) once the breaker closes.
    /// Default: no growth.
    ///
    /// # Panics
    ///
    /// When the breaker is built, if `max` is below `open_duration`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .open_duration(Duration::from_secs(5))
    ///     .max_open_duration(Duration::from_secs(300));
    /// ```
    pub fn max_open_duration(mut self, max: Duration) -> Self {
        self.max_open_duration = Some(max);
        self
    }

    /// The probes let through when half-open: all must succeed to close the
    /// breaker, one failure opens it again, and every other call fails fast
    /// meanwhile. Default: 1.
    ///
    /// # Panics
    ///
    /// If `calls` is 0 or above 32,767.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().half_open_calls(3);
    /// ```
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        assert!(
            (1..=MAX_HALF_OPEN_CALLS).contains(&calls),
            "CircuitBreakerConfig::half_open_calls: `calls` must be within 1..={MAX_HALF_OPEN_CALLS}, got {calls}"
        );
        self.half_open_calls = calls;
        self
    }

    /// How long a half-open probe may be out before the breaker stops
    /// waiting for it: once every probe is taken and the latest was let
    /// through at least `duration` ago, the next call opens the breaker
    /// again for another round (reason `probe_timed_out`), and the probes
    /// still out count for nothing when they end. A probe that never ends
    /// (a hung downstream with no timeout beneath the breaker) or whose
    /// future was leaked would otherwise keep every caller on
    /// [`CircuitOpen`](crate::CircuitOpen) for good. resilience4j's
    /// `maxWaitDurationInHalfOpenState` is this bound, off by default there.
    ///
    /// With [`slow_calls`](Self::slow_calls) on, a probe out longer than
    /// the slow-call duration is already slow, and the next call fails it
    /// the same way (reason `probe_failed`) without waiting for this bound.
    ///
    /// Default: 60 s, resilience4j's slow-call duration: a probe out that
    /// long is no answer worth waiting for, and the breaker is wedged for at
    /// most a minute beyond its open duration. Raise it for calls that
    /// legitimately take longer (large uploads).
    ///
    /// # Panics
    ///
    /// If `duration` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .max_probe_duration(Duration::from_secs(10));
    /// ```
    pub fn max_probe_duration(mut self, duration: Duration) -> Self {
        assert!(
            !duration.is_zero(),
            "CircuitBreakerConfig::max_probe_duration: `duration` must be above zero, got {duration:?}"
        );
        self.max_probe_duration = duration;
        self
    }

    /// What a call counts as when its future is dropped before it ends (a
    /// hedge that lost, a caller that gave up, a timeout above the
    /// breaker): see [`AbandonedCalls`]. Default:
    /// [`AbandonedCalls::SlowWhenLate`]: a call abandoned after at least
    /// the [slow-call duration](Self::slow_calls) is slow, an earlier one
    /// counts as nothing. So with slow-call detection on, a host that
    /// hangs while its callers give up trips the slow-call rule.
    ///
    /// ```
    /// use tower_http_retry::circuit_breaker::AbandonedCalls;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .abandoned_calls(AbandonedCalls::Failed);
    /// ```
    pub fn abandoned_calls(mut self, abandoned: AbandonedCalls) -> Self {
        self.abandoned_calls = abandoned;
        self
    }

    /// Replaces the rule deciding which outcomes are failures. Default:
    /// [`DefaultFailureClassifier`] (transport errors, 408, 429, 500, 502,
    /// 503, 504). It is never shown an error classed
    /// [`Fatal`](crate::ErrorClass::Fatal): that is never recorded.
    ///
    /// ```
    /// use std::error::Error;
    /// use http::StatusCode;
    /// let config = tower_http_retry::CircuitBreakerConfig::default()
    ///     .classifier(|outcome: Result<StatusCode, &(dyn Error + 'static)>| {
    ///         outcome.map_or(true, |status| status.is_server_error())
    ///     });
    /// ```
    pub fn classifier<C: FailureClassifier>(mut self, classifier: C) -> Self {
        self.classifier = Arc::new(classifier);
        self
    }

    /// Reads the outcome of every call with `rule`, the retry layer's own
    /// vocabulary ([`Outcome`](crate::retry::Outcome) in,
    /// [`Verdict`](crate::retry::Verdict) out), so that one rule given to
    /// [`RetryPolicy::classify`](crate::RetryPolicy::classify) and here
    /// means the same to both layers: what the retry layer retries, the
    /// breaker counts as a failure. Default: none.
    ///
    /// | verdict | the breaker records |
    /// |---|---|
    /// | `Retry`, `RetryAfter(_)`, `NotProcessed` | a failure (transient) |
    /// | `Final` on a response | a success: the downstream answered, and its answer stands |
    /// | `Final` on an error | nothing (a probe's permit goes back), as for an error classed [`Fatal`](crate::ErrorClass::Fatal) |
    /// | `Default` | what the [`classifier`](Self::classifier) says (by default: transport errors, 408, 429, 500, 502, 503, 504) |
    ///
    /// The rule is never shown an error classed `Fatal` (nothing is
    /// recorded for it). Its [`Outcome`](crate::retry::Outcome) has the
    /// request's method, URI and headers (copied in `call`, which costs a
    /// header-map clone per call: without a rule nothing is copied), the
    /// attempt number (from the [`ResendCount`](crate::retry::ResendCount)
    /// the retry layer puts on each replay), the response's status,
    /// headers and buffered body, or the error.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_http_retry::retry::{Outcome, Verdict};
    /// use tower_http_retry::{CircuitBreakerConfig, RetryPolicy};
    ///
    /// // This API's 409 is a lock held by another writer: transient.
    /// fn conflicts_are_transient(outcome: &Outcome<'_>) -> Verdict {
    ///     match outcome.status() {
    ///         Some(StatusCode::CONFLICT) => Verdict::Retry,
    ///         _ => Verdict::Default,
    ///     }
    /// }
    ///
    /// let policy = RetryPolicy::default().classify(conflicts_are_transient);
    /// let config = CircuitBreakerConfig::default().classify(conflicts_are_transient);
    /// ```
    pub fn classify<C: Classifier>(mut self, rule: C) -> Self {
        self.rule = Some(Arc::new(rule));
        self
    }

    /// Calls `callback` after every change of state, outside the breaker's
    /// locks, with what the `tracing` event carries (see [`StateChange`]).
    /// With [per-host](crate::CircuitBreakerLayer::per_host) breakers it
    /// is called for every host, and names it. A panic in it reaches the
    /// caller whose call made the change. Default: none.
    ///
    /// ```
    /// use tower_http_retry::circuit_breaker::StateChange;
    /// use tower_http_retry::CircuitBreakerConfig;
    ///
    /// let config = CircuitBreakerConfig::default().on_state_change(|c: &StateChange<'_>| {
    ///     eprintln!("{:?} {:?}: {} -> {} ({})", c.name, c.host, c.from, c.to, c.why);
    /// });
    /// ```
    pub fn on_state_change<F>(mut self, callback: F) -> Self
    where
        F: Fn(&StateChange<'_>) + Send + Sync + 'static,
    {
        self.on_state_change = Some(Arc::new(callback));
        self
    }

    /// The most breakers a [per-host](crate::CircuitBreakerLayer::per_host)
    /// layer keeps: past it, making the breaker of a new host drops the
    /// least recently used closed one (see
    /// [`per_host`](crate::CircuitBreakerLayer::per_host)). A single
    /// breaker ignores it. Default: 1,024.
    ///
    /// # Panics
    ///
    /// If `hosts` is 0.
    ///
    /// ```
    /// let config = tower_http_retry::CircuitBreakerConfig::default().max_hosts(100);
    /// ```
    pub fn max_hosts(mut self, hosts: usize) -> Self {
        assert!(
            hosts >= 1,
            "CircuitBreakerConfig::max_hosts: `hosts` must be at least 1, got {hosts}"
        );
        self.max_hosts = hosts;
        self
    }

    /// The checks across settings, made when the breaker is built.
    pub(crate) fn validate(&self) {
        if let WindowKind::Count(size) = self.window {
            assert!(
                self.minimum_calls <= size,
                "CircuitBreakerConfig: `minimum_calls` ({}) must not be above `window_size` ({size})",
                self.minimum_calls
            );
        }
        if let Some(max) = self.max_open_duration {
            assert!(
                max >= self.open_duration,
                "CircuitBreakerConfig: `max_open_duration` ({max:?}) must not be below `open_duration` ({:?})",
                self.open_duration
            );
        }
    }

    /// The open duration after `reopens` failed half-open periods in a row.
    pub(crate) fn open_duration_after(&self, reopens: u32) -> Duration {
        let max = match self.max_open_duration {
            Some(max) => max,
            None => return self.open_duration,
        };
        let factor = 1u32.checked_shl(reopens.min(31)).unwrap_or(u32::MAX);
        self.open_duration
            .checked_mul(factor)
            .map_or(max, |d| d.min(max))
    }
}

impl fmt::Debug for CircuitBreakerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerConfig")
            .field("name", &self.name)
            .field("failure_rate_threshold", &self.failure_rate_threshold)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("slow_call_rate_threshold", &self.slow_call_rate_threshold)
            .field("open_duration", &self.open_duration)
            .field("max_open_duration", &self.max_open_duration)
            .field("half_open_calls", &self.half_open_calls)
            .field("max_probe_duration", &self.max_probe_duration)
            .field("abandoned_calls", &self.abandoned_calls)
            .field("classify", &self.rule.is_some())
            .field("on_state_change", &self.on_state_change.is_some())
            .field("max_hosts", &self.max_hosts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_resilience4j() {
        let c = CircuitBreakerConfig::default();
        assert_eq!(c.failure_rate_threshold, 0.5);
        assert_eq!(c.window, WindowKind::Count(100));
        assert_eq!(c.minimum_calls, 20);
        assert_eq!(c.consecutive_failures, None);
        assert_eq!(c.open_duration, Duration::from_secs(30));
        assert_eq!(c.half_open_calls, 1);
        assert_eq!(c.max_probe_duration, Duration::from_secs(60));
        assert_eq!(c.abandoned_calls, AbandonedCalls::SlowWhenLate);
        assert_eq!(c.max_hosts, 1024);
        c.validate();
    }

    #[test]
    #[should_panic(expected = "max_hosts: `hosts` must be at least 1, got 0")]
    fn zero_max_hosts_panics() {
        let _ = CircuitBreakerConfig::default().max_hosts(0);
    }

    #[test]
    fn threshold_boundaries() {
        let _ = CircuitBreakerConfig::default().failure_rate_threshold(1.0);
        let _ = CircuitBreakerConfig::default().failure_rate_threshold(f64::MIN_POSITIVE);
    }

    #[test]
    #[should_panic(expected = "`threshold` must be within (0, 1], got 0")]
    fn zero_threshold_panics() {
        let _ = CircuitBreakerConfig::default().failure_rate_threshold(0.0);
    }

    #[test]
    #[should_panic(expected = "`threshold` must be within (0, 1], got 1.01")]
    fn threshold_above_one_panics() {
        let _ = CircuitBreakerConfig::default().failure_rate_threshold(1.01);
    }

    #[test]
    #[should_panic(expected = "`threshold` must be within (0, 1], got NaN")]
    fn nan_threshold_panics() {
        let _ = CircuitBreakerConfig::default().failure_rate_threshold(f64::NAN);
    }

    #[test]
    #[should_panic(expected = "window_size: `calls` must be within 1..=1000000, got 0")]
    fn zero_window_panics() {
        let _ = CircuitBreakerConfig::default().window_size(0);
    }

    #[test]
    #[should_panic(
        expected = "time_window: `duration` must be whole seconds within 1s..=3600s, got 1.5s"
    )]
    fn fractional_time_window_panics() {
        let _ = CircuitBreakerConfig::default().time_window(Duration::from_millis(1500));
    }

    #[test]
    #[should_panic(expected = "half_open_calls: `calls` must be within 1..=32767, got 0")]
    fn zero_probes_panics() {
        let _ = CircuitBreakerConfig::default().half_open_calls(0);
    }

    #[test]
    #[should_panic(expected = "minimum_calls: `calls` must be at least 1, got 0")]
    fn zero_minimum_calls_panics() {
        let _ = CircuitBreakerConfig::default().minimum_calls(0);
    }

    #[test]
    #[should_panic(expected = "consecutive_failures: `failures` must be at least 1, got 0")]
    fn zero_consecutive_failures_panics() {
        let _ = CircuitBreakerConfig::default().consecutive_failures(0);
    }

    #[test]
    #[should_panic(expected = "open_duration: `duration` must be above zero, got 0ns")]
    fn zero_open_duration_panics() {
        let _ = CircuitBreakerConfig::default().open_duration(Duration::ZERO);
    }

    #[test]
    #[should_panic(expected = "max_probe_duration: `duration` must be above zero, got 0ns")]
    fn zero_max_probe_duration_panics() {
        let _ = CircuitBreakerConfig::default().max_probe_duration(Duration::ZERO);
    }

    #[test]
    #[should_panic(expected = "slow_calls: `rate_threshold` must be within (0, 1], got 2")]
    fn slow_rate_above_one_panics() {
        let _ = CircuitBreakerConfig::default().slow_calls(Duration::from_secs(1), 2.0);
    }

    #[test]
    #[should_panic(expected = "`minimum_calls` (101) must not be above `window_size` (100)")]
    fn minimum_calls_above_window_panics_when_built() {
        CircuitBreakerConfig::default()
            .minimum_calls(101)
            .validate();
    }

    #[test]
    fn minimum_calls_may_exceed_a_time_window_in_seconds() {
        CircuitBreakerConfig::default()
            .time_window(Duration::from_secs(10))
            .minimum_calls(500)
            .validate();
    }

    #[test]
    #[should_panic(expected = "`max_open_duration` (1s) must not be below `open_duration` (30s)")]
    fn max_open_below_open_panics_when_built() {
        CircuitBreakerConfig::default()
            .max_open_duration(Duration::from_secs(1))
            .validate();
    }

    #[test]
    fn open_duration_doubles_up_to_the_cap() {
        let c = CircuitBreakerConfig::default()
            .open_duration(Duration::from_secs(1))
            .max_open_duration(Duration::from_secs(5));
        let d: Vec<u64> = (0..5).map(|n| c.open_duration_after(n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 5, 5]);
        assert_eq!(c.open_duration_after(u32::MAX), Duration::from_secs(5));
        let fixed = CircuitBreakerConfig::default();
        assert_eq!(fixed.open_duration_after(3), Duration::from_secs(30));
        let huge = CircuitBreakerConfig::default()
            .open_duration(Duration::MAX)
            .max_open_duration(Duration::MAX);
        assert_eq!(huge.open_duration_after(4), Duration::MAX);
    }
}
