//! [`AdaptiveThrottleLayer`]: the settings, and the throttles its services
//! share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tower_layer::Layer;

use super::state::Throttle;
use super::AdaptiveThrottle;
use crate::authority_map::AuthorityMap;

/// Wraps services in an [`AdaptiveThrottle`]: Google SRE's client-side
/// throttling, which rejects locally the share of requests the server is
/// refusing anyway.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`k`](Self::k) | 2 | the SRE book's: the server sees at most twice the traffic it accepts |
/// | [`window`](Self::window) | 2 minutes, sliding by 12 s | the SRE book's history |
/// | [`per_host`](Self::per_host) | off: one throttle for every call | |
/// | [`max_hosts`](Self::max_hosts) | 1,024 | as the per-host breakers |
///
/// Every service the layer makes, and every clone of them, shares its
/// throttle (or throttles). The [module docs](crate::throttle) describe
/// the behaviour.
///
/// ```
/// use std::time::Duration;
/// use tower_http_retry::AdaptiveThrottleLayer;
///
/// let layer = AdaptiveThrottleLayer::new()
///     .k(1.5)
///     .window(Duration::from_secs(60))
///     .per_host()
///     .max_hosts(256);
/// assert_eq!(layer.rejection_probability(&"http://a.example/".parse().unwrap()), 0.0);
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveThrottleLayer {
    settings: Settings,
    throttles: Throttles,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    k: f64,
    window: Duration,
    per_host: bool,
    max_hosts: usize,
    seed: Option<u64>,
}

/// The throttles of a layer: one for every call, or one per host.
#[derive(Debug, Clone)]
pub(super) enum Throttles {
    One(Arc<Throttle>),
    PerHost(Arc<HostThrottles>),
}

#[derive(Debug)]
pub(super) struct HostThrottles {
    map: AuthorityMap<Throttle>,
    settings: Settings,
    /// Throttles made, so that each one's seed differs.
    made: AtomicU64,
}

impl Throttles {
    fn new(s: Settings) -> Self {
        if s.per_host {
            Throttles::PerHost(Arc::new(HostThrottles {
                // A throttle that is rejecting remembers the server is
                // shedding load: dropped last.
                map: AuthorityMap::new(s.max_hosts, Throttle::is_throttling),
                settings: s,
                made: AtomicU64::new(0),
            }))
        } else {
            Throttles::One(Arc::new(Throttle::new(s.k, s.window, s.seed, None)))
        }
    }

    /// The throttle a call to `uri` goes through.
    #[inline]
    pub(super) fn for_uri(&self, uri: &Uri) -> Arc<Throttle> {
        match self {
            Throttles::One(throttle) => throttle.clone(),
            Throttles::PerHost(hosts) => hosts.map.get_or_insert_with(uri, |host| {
                let s = hosts.settings;
                let n = hosts.made.fetch_add(1, Ordering::Relaxed);
                let seed = s.seed.map(|seed| seed.wrapping_add(n));
                Throttle::new(s.k, s.window, seed, Some(host))
            }),
        }
    }

    pub(super) fn is_per_host(&self) -> bool {
        matches!(self, Throttles::PerHost(_))
    }
}

impl Default for AdaptiveThrottleLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl AdaptiveThrottleLayer {
    /// A throttle with the defaults of the table above.
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new();
    /// ```
    pub fn new() -> Self {
        Self::with(Settings {
            k: 2.0,
            window: Duration::from_secs(120),
            per_host: false,
            max_hosts: 1024,
            seed: None,
        })
    }

    fn with(settings: Settings) -> Self {
        AdaptiveThrottleLayer {
            settings,
            throttles: Throttles::new(settings),
        }
    }

    /// The SRE rule's multiplier: requests are rejected once they exceed
    /// `k` times the accepted ones. Lower is more aggressive: `1` lets
    /// through no more than the server accepts (nothing is wasted, but
    /// recovery is seen only through what is let through); `2` lets the
    /// server see twice what it accepts. Default: 2.
    ///
    /// # Panics
    ///
    /// If `k` is not finite or below 1 (below 1, a healthy server that
    /// accepts everything would still be throttled).
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new().k(1.1);
    /// ```
    pub fn k(self, k: f64) -> Self {
        assert!(
            k.is_finite() && k >= 1.0,
            "AdaptiveThrottleLayer::k: `k` must be finite and at least 1, got {k}"
        );
        Self::with(Settings { k, ..self.settings })
    }

    /// How far back requests and accepts are counted; the window slides by
    /// a tenth of it. Default: 2 minutes.
    ///
    /// # Panics
    ///
    /// If `window` is outside 1 s..=1 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new().window(Duration::from_secs(30));
    /// ```
    pub fn window(self, window: Duration) -> Self {
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&window),
            "AdaptiveThrottleLayer::window: `window` must be within 1s..=1h, got {window:?}"
        );
        Self::with(Settings {
            window,
            ..self.settings
        })
    }

    /// One throttle per URI authority (scheme, host, port; the port
    /// defaulted from the scheme), so that a server shedding load is not
    /// spared requests to the others. Requests without an authority share
    /// one. Default: off.
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new().per_host();
    /// ```
    pub fn per_host(self) -> Self {
        Self::with(Settings {
            per_host: true,
            ..self.settings
        })
    }

    /// The most per-host throttles kept (with [`per_host`](Self::per_host)):
    /// one more drops the least recently used that is not rejecting, or the
    /// least recently used of all when every one is. Default: 1,024.
    ///
    /// # Panics
    ///
    /// If `max_hosts` is 0.
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new().per_host().max_hosts(64);
    /// ```
    pub fn max_hosts(self, max_hosts: usize) -> Self {
        assert!(
            max_hosts >= 1,
            "AdaptiveThrottleLayer::max_hosts: `max_hosts` must be at least 1, got {max_hosts}"
        );
        Self::with(Settings {
            max_hosts,
            ..self.settings
        })
    }

    /// Seeds the random draws, for tests that need the same rejections on
    /// every run. Default: a random seed.
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new().seed(7);
    /// ```
    pub fn seed(self, seed: u64) -> Self {
        Self::with(Settings {
            seed: Some(seed),
            ..self.settings
        })
    }

    /// The probability with which the next request to `uri` would be
    /// rejected (0 for a host without a throttle yet).
    ///
    /// ```
    /// let layer = tower_http_retry::AdaptiveThrottleLayer::new();
    /// assert_eq!(layer.rejection_probability(&http::Uri::from_static("http://a/")), 0.0);
    /// ```
    pub fn rejection_probability(&self, uri: &Uri) -> f64 {
        match &self.throttles {
            Throttles::One(throttle) => throttle.probability(),
            Throttles::PerHost(hosts) => hosts.map.get(uri).map_or(0.0, |t| t.probability()),
        }
    }

    /// Per-host throttles kept (0 for a shared throttle).
    ///
    /// ```
    /// assert_eq!(tower_http_retry::AdaptiveThrottleLayer::new().per_host().host_count(), 0);
    /// ```
    pub fn host_count(&self) -> usize {
        match &self.throttles {
            Throttles::One(_) => 0,
            Throttles::PerHost(hosts) => hosts.map.len(),
        }
    }
}

impl<S> Layer<S> for AdaptiveThrottleLayer {
    type Service = AdaptiveThrottle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveThrottle::shared(inner, self.throttles.clone())
    }
}
