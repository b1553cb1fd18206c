//! [`BufferResponse`]: the service of [`BufferResponseLayer`].

use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower::BoxError;
use tower_service::Service;

use super::future::ResponseFuture;
use super::BufferResponseLayer;

/// The service of [`BufferResponseLayer`]: calls the inner service, then
/// reads the response body up to the limit before answering.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{service_fn, ServiceExt};
/// use tower_http_retry::body::BufferResponse;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = BufferResponse::new(
///     service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("hi"))) }),
///     1024,
/// );
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(res.body().bytes().map(|b| &b[..]), Some(&b"hi"[..]));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BufferResponse<S> {
    inner: S,
    limit: usize,
}

impl<S> BufferResponse<S> {
    /// Wraps `inner`, reading up to `limit` bytes of each response body.
    ///
    /// ```
    /// # use tower_http_retry::body::BufferResponse;
    /// let svc = BufferResponse::new(tower::service_fn(|_: ()| async { Ok::<_, ()>(()) }), 1024);
    /// ```
    pub fn new(inner: S, limit: usize) -> Self {
        BufferResponse { inner, limit }
    }

    /// A [`BufferResponseLayer`] reading up to `limit` bytes.
    ///
    /// ```
    /// let layer = tower_http_retry::body::BufferResponse::<()>::layer(1024);
    /// ```
    pub fn layer(limit: usize) -> BufferResponseLayer {
        BufferResponseLayer::new(limit)
    }

    /// The inner service.
    ///
    /// ```
    /// # use tower_http_retry::body::BufferResponse;
    /// assert_eq!(*BufferResponse::new(7, 1024).get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use tower_http_retry::body::BufferResponse;
    /// let mut svc = BufferResponse::new(7, 1024);
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use tower_http_retry::body::BufferResponse;
    /// assert_eq!(BufferResponse::new(7, 1024).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for BufferResponse<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    ResB: Body + Unpin,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<super::BufferedBody<ResB>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.limit)
    }
}
