//! [`Hedge`]: the service.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Config;
use super::HedgeLayer;
use crate::classify::is_replayable;

/// A service that hedges slow requests: made by [`HedgeLayer`], whose
/// docs list the settings; the [module docs](crate::hedge) describe the
/// behaviour.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceExt};
/// use tower_http_retry::{hedge::Hedge, Attempts};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = Hedge::new(
///     service_fn(|_req: Request<String>| async { Ok::<_, Infallible>(Response::new(())) }),
///     Duration::from_millis(50),
/// );
/// let res = svc.oneshot(Request::new(String::new())).await.unwrap();
/// assert_eq!(res.extensions().get::<Attempts>().map(Attempts::get), Some(1));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Hedge<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Hedge<S> {
    /// Hedges the calls to `inner` after `delay`, with the other settings
    /// of [`HedgeLayer::new`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_http_retry::hedge::Hedge;
    /// let svc = Hedge::new(tower::service_fn(|_req: http::Request<()>| async move {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// }), Duration::from_millis(50));
    /// ```
    pub fn new(inner: S, delay: Duration) -> Self {
        Hedge::from_config(inner, Arc::new(HedgeLayer::new(delay).config))
    }

    pub(super) fn from_config(inner: S, config: Arc<Config>) -> Self {
        Hedge { inner, config }
    }

    /// A [`HedgeLayer`] with this `delay`: [`HedgeLayer::new`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = tower_http_retry::hedge::Hedge::<()>::layer(Duration::from_millis(50));
    /// ```
    pub fn layer(delay: Duration) -> HedgeLayer {
        HedgeLayer::new(delay)
    }

    /// The inner service.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_http_retry::hedge::Hedge;
    /// let svc = Hedge::new(7, Duration::from_millis(5));
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_http_retry::hedge::Hedge;
    /// let mut svc = Hedge::new(7, Duration::from_millis(5));
    /// *svc.get_mut() = 8;
    /// assert_eq!(svc.into_inner(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_http_retry::hedge::Hedge;
    /// let svc = Hedge::new(7, Duration::from_millis(5));
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResB> Service<Request<B>> for Hedge<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: 'static,
    B: Clone,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let config = &self.config;
        config.deposit();
        if config.max_hedges == 0 || !is_replayable(&req) {
            return ResponseFuture::single(self.inner.call(req), config);
        }
        let template = req.clone();
        // The readied service takes the first attempt; hedges poll a clone
        // ready when their time comes (tower's `Oneshot`).
        let hedges = self.inner.clone();
        let first = self.inner.call(req);
        ResponseFuture::racing(first, hedges, template, config.clone())
    }
}
