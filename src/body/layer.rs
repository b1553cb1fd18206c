//! [`ReplayBodyLayer`] and its service.

use std::task::{Context, Poll};

use http::Request;
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::ReplayBody;

/// Makes request bodies replayable: turns `Request<B>` into
/// `Request<ReplayBody<B>>`, keeping up to `limit` bytes of each body.
///
/// Put it above [`RetryLayer`](crate::RetryLayer), so that every attempt
/// sends a clone of the same [`ReplayBody`]. A request whose body outgrew
/// the limit is not retried: the first outcome goes back to the caller.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::{connect::HttpConnector, Client};
/// use hyper_util::rt::TokioExecutor;
/// use tower::ServiceBuilder;
/// use tower_http_retry::{ReplayBody, ReplayBodyLayer, RetryLayer, RetryPolicy};
///
/// let http_client: Client<HttpConnector, ReplayBody<Full<Bytes>>> =
///     Client::builder(TokioExecutor::new()).build_http();
/// let client = ServiceBuilder::new()
///     .layer(ReplayBodyLayer::new(64 * 1024))
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .service(http_client);
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReplayBodyLayer {
    limit: usize,
}

impl ReplayBodyLayer {
    /// A layer keeping up to `limit` bytes of each request body for replays.
    /// A body that sends more is sent once, intact, and never replayed; a
    /// limit of 0 replays only empty bodies.
    ///
    /// ```
    /// let layer = tower_http_retry::ReplayBodyLayer::new(64 * 1024);
    /// assert_eq!(layer.limit(), 65536);
    /// ```
    pub fn new(limit: usize) -> Self {
        ReplayBodyLayer { limit }
    }

    /// The bytes kept per request body.
    ///
    /// ```
    /// assert_eq!(tower_http_retry::ReplayBodyLayer::new(10).limit(), 10);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<S> Layer<S> for ReplayBodyLayer {
    type Service = ReplayBodyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReplayBodyService::new(inner, self.limit)
    }
}

/// The service of [`ReplayBodyLayer`]: wraps each request body in a
/// [`ReplayBody`] and passes the request on.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{service_fn, ServiceExt};
/// use tower_http_retry::{body::ReplayBodyService, ReplayBody};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = ReplayBodyService::new(
///     service_fn(|req: Request<ReplayBody<Full<Bytes>>>| async move {
///         Ok::<_, Infallible>(Response::new(req.into_body()))
///     }),
///     1024,
/// );
/// let res = svc.oneshot(Request::new(Full::from("hi"))).await.unwrap();
/// # let _ = res;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReplayBodyService<S> {
    inner: S,
    limit: usize,
}

impl<S> ReplayBodyService<S> {
    /// Wraps `inner`, keeping up to `limit` bytes of each request body.
    ///
    /// ```
    /// # use tower_http_retry::body::ReplayBodyService;
    /// let svc = ReplayBodyService::new(tower::service_fn(|_: ()| async { Ok::<_, ()>(()) }), 1024);
    /// ```
    pub fn new(inner: S, limit: usize) -> Self {
        ReplayBodyService { inner, limit }
    }

    /// A [`ReplayBodyLayer`] keeping up to `limit` bytes.
    ///
    /// ```
    /// let layer = tower_http_retry::body::ReplayBodyService::<()>::layer(1024);
    /// ```
    pub fn layer(limit: usize) -> ReplayBodyLayer {
        ReplayBodyLayer::new(limit)
    }

    /// The inner service.
    ///
    /// ```
    /// # use tower_http_retry::body::ReplayBodyService;
    /// let svc = ReplayBodyService::new(7, 1024);
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use tower_http_retry::body::ReplayBodyService;
    /// let mut svc = ReplayBodyService::new(7, 1024);
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use tower_http_retry::body::ReplayBodyService;
    /// assert_eq!(ReplayBodyService::new(7, 1024).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for ReplayBodyService<S>
where
    S: Service<Request<ReplayBody<B>>>,
    B: Body,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let body = ReplayBody::new(body, self.limit);
        // Lets the retry policy see when the body outgrew the limit.
        parts.extensions.insert(body.handle());
        self.inner.call(Request::from_parts(parts, body))
    }
}
