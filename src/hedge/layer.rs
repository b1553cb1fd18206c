//! [`HedgeLayer`]: the settings of hedging.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::Budget;
use tower_layer::Layer;

use super::latency::LatencyWindow;
use super::Hedge;
use crate::RetryPolicy;

/// Wraps services in a [`Hedge`]: when an attempt has not answered after
/// a delay, another is started, and the first answer wins.
///
/// | setting | default |
/// |---|---|
/// | delay | the one given to [`new`](Self::new) |
/// | [`max_hedges`](Self::max_hedges) | 1 extra attempt |
/// | [`latency_percentile`](Self::latency_percentile) | off: the delay is fixed |
/// | [`budget`](Self::budget) | a budget of its own, with the bounds of `RetryPolicy::default()`'s |
///
/// The [module docs](crate::hedge) describe the behaviour.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::HedgeLayer;
///
/// let layer = HedgeLayer::new(Duration::from_millis(50)).max_hedges(2);
/// assert_eq!(layer.get_max_hedges(), 2);
/// ```
#[derive(Clone)]
pub struct HedgeLayer {
    pub(super) config: Config,
}

/// What every service of a layer shares.
#[derive(Clone)]
pub(super) struct Config {
    pub(super) delay: Duration,
    pub(super) max_hedges: u32,
    pub(super) latency: Option<Arc<LatencyWindow>>,
    pub(super) budget: Option<Arc<dyn Budget + Send + Sync>>,
    /// The retry policy whose budget hedges spend
    /// ([`budget_of`](HedgeLayer::budget_of)): its shared budget, or the
    /// budget of the request's host when it keeps one per host.
    pub(super) policy: Option<RetryPolicy>,
    /// Whether this layer deposits once per request: not when the budget
    /// is a retry policy's, which its `RetryLayer` fills.
    pub(super) deposit: bool,
}

impl Config {
    /// Once per request the layer sees, into a budget of its own.
    pub(super) fn deposit(&self) {
        if self.deposit {
            if let Some(budget) = &self.budget {
                budget.deposit();
            }
        }
    }

    /// Whether the budget lets a hedge of a request to `uri` start.
    pub(super) fn withdraw(&self, uri: &http::Uri) -> bool {
        match (&self.policy, &self.budget) {
            (Some(policy), _) => policy.withdraw_for(uri),
            (None, Some(budget)) => budget.withdraw(),
            (None, None) => true,
        }
    }

    /// The wait before the next hedge: the observed percentile once there
    /// is one, the configured delay until then.
    pub(super) fn delay(&self) -> Duration {
        self.latency
            .as_ref()
            .and_then(|l| l.delay())
            .unwrap_or(self.delay)
    }
}

impl HedgeLayer {
    /// Hedges after `delay` without an answer: one extra attempt, at most.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::HedgeLayer::new(Duration::from_millis(50));
    /// ```
    pub fn new(delay: Duration) -> Self {
        HedgeLayer {
            config: Config {
                delay,
                max_hedges: 1,
                latency: None,
                budget: RetryPolicy::default().shared_budget(),
                policy: None,
                deposit: true,
            },
        }
    }

    /// The most extra attempts per request; the next one starts `delay`
    /// after the previous one (or at once, when an attempt fails with a
    /// transient error). `0` turns hedging off. Default: 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::HedgeLayer::new(Duration::from_millis(50)).max_hedges(2);
    /// ```
    pub fn max_hedges(mut self, max_hedges: u32) -> Self {
        self.config.max_hedges = max_hedges;
        self
    }

    /// The configured extra attempts per request.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(tower_http_retry::HedgeLayer::new(Duration::from_millis(5)).get_max_hedges(), 1);
    /// ```
    pub fn get_max_hedges(&self) -> u32 {
        self.config.max_hedges
    }

    /// Takes the delay from observed latency: the `percentile` (0.95 is
    /// p95) of the latencies of the attempts that answered over the last
    /// full `window`, as `tower::hedge` does. Until `min_samples`
    /// latencies were seen in that window, the delay given to
    /// [`new`](Self::new) applies. Default: off.
    ///
    /// # Panics
    ///
    /// If `percentile` is not within (0, 1], or `window` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::HedgeLayer::new(Duration::from_millis(100))
    ///     .latency_percentile(0.95, Duration::from_secs(10), 100);
    /// ```
    pub fn latency_percentile(
        mut self,
        percentile: f64,
        window: Duration,
        min_samples: u64,
    ) -> Self {
        assert!(
            percentile > 0.0 && percentile <= 1.0,
            "HedgeLayer::latency_percentile: `percentile` must be within (0, 1], got {percentile}"
        );
        assert!(
            !window.is_zero(),
            "HedgeLayer::latency_percentile: `window` must be above zero, got {window:?}"
        );
        self.config.latency = Some(Arc::new(LatencyWindow::new(
            percentile,
            window,
            min_samples,
        )));
        self
    }

    /// The budget hedges withdraw from: every request the layer sees
    /// deposits once, every hedge withdraws, and a hedge the budget
    /// refuses is not made. Takes any `tower::retry::budget::Budget`.
    /// Default: a budget of the layer's own, with the bounds of
    /// [`RetryPolicy::default()`]'s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::retry::budget::TpsBudget;
    /// let layer = tower_http_retry::HedgeLayer::new(Duration::from_millis(50))
    ///     .budget(TpsBudget::new(Duration::from_secs(10), 1, 0.1));
    /// ```
    pub fn budget<B>(mut self, budget: B) -> Self
    where
        B: Budget + Send + Sync + 'static,
    {
        self.config.budget = Some(Arc::new(budget));
        self.config.policy = None;
        self.config.deposit = true;
        self
    }

    /// Hedges spend `policy`'s retry budget: retries and hedges together
    /// stay within its bounds. The layer does not deposit (the
    /// [`RetryLayer`](crate::RetryLayer) of that policy does, once per
    /// request): use it with that `RetryLayer` in the same stack. A policy
    /// [`without_budget`](RetryPolicy::without_budget) leaves hedges
    /// unbounded by any budget; with
    /// [`budget_per_host`](RetryPolicy::budget_per_host), a hedge spends
    /// the budget of its request's host.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::ServiceBuilder;
    /// use tower_http_retry::{HedgeLayer, RetryLayer, RetryPolicy};
    ///
    /// let policy = RetryPolicy::default();
    /// let layers = ServiceBuilder::new()
    ///     .layer(RetryLayer::new(policy.clone()))
    ///     .layer(HedgeLayer::new(Duration::from_millis(50)).budget_of(&policy));
    /// # let _ = layers;
    /// ```
    pub fn budget_of(mut self, policy: &RetryPolicy) -> Self {
        self.config.budget = None;
        self.config.policy = Some(policy.clone());
        self.config.deposit = false;
        self
    }

    /// No budget: [`max_hedges`](Self::max_hedges) is the only bound, and
    /// a slow downstream receives up to `1 + max_hedges` times the load.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::HedgeLayer::new(Duration::from_millis(50)).without_budget();
    /// ```
    pub fn without_budget(mut self) -> Self {
        self.config.budget = None;
        self.config.policy = None;
        self
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = Hedge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge::from_config(inner, Arc::new(self.config.clone()))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeLayer")
            .field("delay", &self.delay)
            .field("max_hedges", &self.max_hedges)
            .field(
                "latency_percentile",
                &self.latency.as_ref().map(|l| l.percentile()),
            )
            .field("budget", &(self.budget.is_some() || self.policy.is_some()))
            .finish()
    }
}

impl fmt::Debug for HedgeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}
