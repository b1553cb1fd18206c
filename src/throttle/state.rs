//! One throttle: the window of one client (or of one host), its random
//! draws, and what it tells when throttling starts and stops.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::window::{rejection_probability, Counts, Window};

/// The gauge moves when the probability moved by this much (or crossed
/// zero): a metric per request would cost more than the decision.
#[cfg(feature = "metrics")]
const GAUGE_STEP: f64 = 0.01;

#[derive(Debug)]
pub(crate) struct Throttle {
    k: f64,
    /// `scheme://host:port` for a per-host throttle.
    host: Option<Arc<str>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window: Window,
    rng: fastrand::Rng,
    /// Whether the last decision had a probability above zero.
    throttling: bool,
    /// The probability the gauge shows; set at the first decision (not
    /// when built: a layer's builder makes throttles it then replaces).
    #[cfg(feature = "metrics")]
    reported: Option<f64>,
}

impl Throttle {
    pub(crate) fn new(k: f64, window: Duration, seed: Option<u64>, host: Option<Arc<str>>) -> Self {
        let rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Throttle {
            k,
            host,
            state: Mutex::new(State {
                window: Window::new(window, Instant::now()),
                rng,
                throttling: false,
                #[cfg(feature = "metrics")]
                reported: None,
            }),
        }
    }

    // Nothing under the lock can panic halfway (arithmetic on counts).
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.window.advance(Instant::now());
        state
    }

    /// Counts a request, and decides: `Err(p)` rejects it locally, `p`
    /// being the probability it was rejected with.
    pub(crate) fn admit(&self) -> Result<(), f64> {
        let mut state = self.lock();
        let p = rejection_probability(state.window.counts(), self.k);
        state.window.add_request();
        self.observe(&mut state, p);
        if p > 0.0 && state.rng.f64() < p {
            Err(p)
        } else {
            Ok(())
        }
    }

    /// The server accepted a request.
    pub(crate) fn accepted(&self) {
        self.lock().window.add_accept();
    }

    /// The probability the next request would be rejected with.
    pub(crate) fn probability(&self) -> f64 {
        rejection_probability(self.lock().window.counts(), self.k)
    }

    /// `scheme://host:port` of a per-host throttle.
    pub(crate) fn host(&self) -> Option<&Arc<str>> {
        self.host.as_ref()
    }

    /// Whether it is rejecting anything: kept when the map is full.
    pub(crate) fn is_throttling(&self) -> bool {
        self.lock().throttling
    }

    fn observe(&self, state: &mut State, p: f64) {
        let throttling = p > 0.0;
        if throttling != state.throttling {
            state.throttling = throttling;
            let Counts { requests, accepts } = state.window.counts();
            let host = self.host.as_deref().unwrap_or("");
            if throttling {
                tracing::info!(
                    host,
                    probability = p,
                    requests,
                    accepts,
                    "adaptive throttling started"
                );
            } else {
                tracing::info!(host, requests, accepts, "adaptive throttling stopped");
            }
        }
        #[cfg(feature = "metrics")]
        if state
            .reported
            .is_none_or(|r| (p - r).abs() >= GAUGE_STEP || (p == 0.0) != (r == 0.0))
        {
            state.reported = Some(p);
            crate::metrics::throttle_probability(self.host.as_deref(), p);
        }
    }
}
