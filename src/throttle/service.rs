//! [`AdaptiveThrottle`]: the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use super::future::{Guard, ResponseFuture};
use super::layer::Throttles;
use super::{AdaptiveThrottleLayer, Throttled};

/// A service that rejects locally what its server is likely to refuse:
/// made by [`AdaptiveThrottleLayer`], whose docs list the settings; the
/// [module docs](crate::throttle) describe the behaviour.
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceExt};
/// use tower_http_retry::throttle::AdaptiveThrottle;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = AdaptiveThrottle::new(service_fn(|_req: Request<()>| async {
///     Ok::<_, Infallible>(Response::new(()))
/// }));
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveThrottle<S> {
    inner: S,
    throttles: Throttles,
}

impl<S> AdaptiveThrottle<S> {
    /// Throttles the calls to `inner` with the defaults of
    /// [`AdaptiveThrottleLayer::new`]; this service and its clones share
    /// one throttle.
    ///
    /// ```
    /// let svc = tower_http_retry::throttle::AdaptiveThrottle::new(tower::service_fn(
    ///     |_req: http::Request<()>| async move {
    ///         Ok::<_, std::convert::Infallible>(http::Response::new(()))
    ///     },
    /// ));
    /// ```
    pub fn new(inner: S) -> Self {
        tower_layer::Layer::layer(&AdaptiveThrottleLayer::new(), inner)
    }

    pub(super) fn shared(inner: S, throttles: Throttles) -> Self {
        AdaptiveThrottle { inner, throttles }
    }

    /// An [`AdaptiveThrottleLayer`] with the defaults.
    ///
    /// ```
    /// let layer = tower_http_retry::throttle::AdaptiveThrottle::<()>::layer();
    /// ```
    pub fn layer() -> AdaptiveThrottleLayer {
        AdaptiveThrottleLayer::new()
    }

    /// The inner service.
    ///
    /// ```
    /// use tower_http_retry::throttle::AdaptiveThrottle;
    /// let svc = AdaptiveThrottle::new(7);
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use tower_http_retry::throttle::AdaptiveThrottle;
    /// let mut svc = AdaptiveThrottle::new(7);
    /// *svc.get_mut() = 8;
    /// assert_eq!(svc.into_inner(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// use tower_http_retry::throttle::AdaptiveThrottle;
    /// let svc = AdaptiveThrottle::new(7);
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResB> Service<Request<B>> for AdaptiveThrottle<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A rejected call leaves the inner service ready for the next one.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let throttle = self.throttles.for_uri(req.uri());
        match throttle.admit() {
            Ok(()) => ResponseFuture::called(self.inner.call(req), Guard::new(throttle)),
            Err(probability) => {
                let host: Option<Arc<str>> = match throttle.host() {
                    Some(host) => Some(host.clone()),
                    None => req.uri().host().map(Arc::from),
                };
                tracing::trace!(
                    host = host.as_deref().unwrap_or(""),
                    probability,
                    per_host = self.throttles.is_per_host(),
                    "request throttled locally"
                );
                ResponseFuture::rejected(Throttled::with_host(host, probability))
            }
        }
    }
}
