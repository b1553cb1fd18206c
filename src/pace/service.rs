//! [`RateLimitPace`]: the service of [`RateLimitPaceLayer`](super::RateLimitPaceLayer).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::future::{Pacing, ResponseFuture};
use super::hosts::PacedHosts;

/// The service of [`RateLimitPaceLayer`](crate::pace::RateLimitPaceLayer): holds
/// back requests to a host whose quota is spent until it resets.
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use tower::{service_fn, Layer, ServiceExt};
/// use tower_http_retry::pace::RateLimitPaceLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = RateLimitPaceLayer::new()
///     .layer(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// # let _ = res;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitPace<S> {
    inner: S,
    hosts: Arc<PacedHosts>,
    max_wait: Duration,
}

impl<S> RateLimitPace<S> {
    pub(super) fn new(inner: S, hosts: Arc<PacedHosts>, max_wait: Duration) -> Self {
        RateLimitPace {
            inner,
            hosts,
            max_wait,
        }
    }

    /// The inner service.
    ///
    /// ```
    /// use tower::Layer;
    /// let svc = tower_http_retry::pace::RateLimitPaceLayer::new().layer(7);
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use tower::Layer;
    /// let mut svc = tower_http_retry::pace::RateLimitPaceLayer::new().layer(7);
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// use tower::Layer;
    /// assert_eq!(tower_http_retry::pace::RateLimitPaceLayer::new().layer(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResB> Service<Request<B>> for RateLimitPace<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let paced = Pacing {
            hosts: self.hosts.clone(),
            uri: req.uri().clone(),
            max_wait: self.max_wait,
        };
        match self.hosts.wait(req.uri(), Instant::now()) {
            None => ResponseFuture::called(self.inner.call(req), paced),
            Some(wait) => {
                // The readied service goes with the request; a clone stays
                // (tower's `filter` does the same).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::paced(wait, inner, req, paced)
            }
        }
    }
}
