//! [`BoxResponseBodyLayer`]: response bodies boxed into a type that
//! [`RetryLayer`](crate::RetryLayer) can drain.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::Body;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

/// Boxes every response body into `BoxBody<Bytes, BoxError>`, so that
/// [`RetryLayer`](crate::RetryLayer) above it can read a discarded body and
/// keep its connection.
///
/// The response of an attempt that is retried is thrown away; reading its
/// body to the end keeps its pooled connection. tower's `Retry` hands the
/// policy the response by reference, so the policy can take the body out
/// only when its type has an empty value to leave in its place. hyper's
/// `Incoming` has none. Beneath `RetryLayer`, this layer boxes every
/// response body into `BoxBody<Bytes, BoxError>`, which the policy can take;
/// unlike a `map_response` closure, its service type can be named (to keep
/// the client in axum's `State`, say).
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::{combinators::BoxBody, Full};
/// use hyper_util::client::legacy::{connect::HttpConnector, Client};
/// use hyper_util::rt::TokioExecutor;
/// use tower::retry::Retry;
/// use tower::{BoxError, ServiceBuilder};
/// use tower_http_retry::retry::{BoxResponseBody, BoxResponseBodyLayer};
/// use tower_http_retry::{RetryLayer, RetryPolicy};
///
/// type Downstream = Retry<RetryPolicy, BoxResponseBody<Client<HttpConnector, Full<Bytes>>>>;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client: Downstream = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .layer(BoxResponseBodyLayer::new())
///     .service(Client::builder(TokioExecutor::new()).build_http());
/// # fn responds_boxed<S: tower::Service<http::Request<Full<Bytes>>, Response = http::Response<BoxBody<Bytes, BoxError>>>>(_: &S) {}
/// # responds_boxed(&client);
/// # }
/// ```
///
/// Over any client:
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_http_retry::retry::BoxResponseBodyLayer;
/// use tower_http_retry::{RetryLayer, RetryPolicy};
/// # let client = tower::service_fn(|_: http::Request<String>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// # });
///
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .layer(BoxResponseBodyLayer::new())
///     .service(client);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BoxResponseBodyLayer {
    _priv: (),
}

impl BoxResponseBodyLayer {
    /// The layer.
    pub fn new() -> Self {
        BoxResponseBodyLayer { _priv: () }
    }
}

impl<S> Layer<S> for BoxResponseBodyLayer {
    type Service = BoxResponseBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BoxResponseBody::new(inner)
    }
}

/// A service whose response bodies are boxed into `BoxBody<Bytes,
/// BoxError>`: made by [`BoxResponseBodyLayer`].
///
/// ```
/// use tower_http_retry::retry::BoxResponseBody;
/// # let client = tower::service_fn(|_: http::Request<String>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// # });
///
/// let boxed = BoxResponseBody::new(client);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BoxResponseBody<S> {
    inner: S,
}

impl<S> BoxResponseBody<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        BoxResponseBody { inner }
    }

    /// The layer making this service.
    pub fn layer() -> BoxResponseBodyLayer {
        BoxResponseBodyLayer::new()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, B> Service<Req> for BoxResponseBody<S>
where
    S: Service<Req, Response = Response<B>>,
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<BoxBody<Bytes, BoxError>>;
    type Error = S::Error;
    type Future = BoxResponseBodyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        BoxResponseBodyFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// The response future of [`BoxResponseBody`].
    #[derive(Debug)]
    pub struct BoxResponseBodyFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B, E> Future for BoxResponseBodyFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<BoxBody<Bytes, BoxError>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map_ok(|res| res.map(|body| body.map_err(Into::into).boxed()))
    }
}
