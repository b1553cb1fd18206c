//! [`AttemptHeaderLayer`]: tells the server which attempt a request is.

use std::task::{Context, Poll};

use http::header::HeaderName;
use http::{HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use super::ResendCount;

/// Sets a header of your choice on every attempt to the attempt's number:
/// `1` on the first, `2` on the first retry, … (as Envoy's
/// `x-envoy-attempt-count` and gRPC's `grpc-previous-rpc-attempts` tell a
/// server). Opt-in.
///
/// Put it **beneath** [`RetryLayer`](crate::RetryLayer): it reads the
/// [`ResendCount`] the retry policy puts on each replay, so above the retry
/// layer every attempt would say `1`. A header of the same name the caller
/// set is replaced.
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use http::{HeaderName, Request, Response, StatusCode};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_http_retry::{backoff::ConstantBackoff, retry::AttemptHeaderLayer, RetryLayer, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let downstream = service_fn(move |req: Request<()>| {
///     let mut seen = log.lock().unwrap();
///     seen.push(req.headers()["x-attempt"].to_str().unwrap().to_owned());
///     let status = if seen.len() < 3 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
///     async move { Ok::<_, Infallible>(Response::builder().status(status).body(()).unwrap()) }
/// });
///
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(
///         RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1))),
///     ))
///     .layer(AttemptHeaderLayer::new(HeaderName::from_static("x-attempt")))
///     .service(downstream);
///
/// let res = client.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(res.status(), StatusCode::OK);
/// assert_eq!(*seen.lock().unwrap(), ["1", "2", "3"]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AttemptHeaderLayer {
    name: HeaderName,
}

impl AttemptHeaderLayer {
    /// A layer setting `name` to the attempt's number.
    ///
    /// ```
    /// use http::HeaderName;
    /// let layer = tower_http_retry::retry::AttemptHeaderLayer::new(HeaderName::from_static("x-attempt"));
    /// ```
    pub fn new(name: HeaderName) -> Self {
        AttemptHeaderLayer { name }
    }
}

impl<S> Layer<S> for AttemptHeaderLayer {
    type Service = AttemptHeader<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptHeader {
            inner,
            name: self.name.clone(),
        }
    }
}

/// The service of [`AttemptHeaderLayer`].
///
/// ```
/// use std::convert::Infallible;
/// use http::{HeaderName, Request, Response};
/// use tower::{service_fn, Layer, ServiceExt};
/// use tower_http_retry::retry::AttemptHeaderLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = AttemptHeaderLayer::new(HeaderName::from_static("x-attempt")).layer(service_fn(
///     |req: Request<()>| async move { Ok::<_, Infallible>(Response::new(req.headers()["x-attempt"].clone())) },
/// ));
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(res.body(), "1");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AttemptHeader<S> {
    inner: S,
    name: HeaderName,
}

impl<S> AttemptHeader<S> {
    /// The inner service.
    ///
    /// ```
    /// use tower::Layer;
    /// let layer = tower_http_retry::retry::AttemptHeaderLayer::new(http::HeaderName::from_static("x-attempt"));
    /// assert_eq!(*layer.layer(7).get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use tower::Layer;
    /// let layer = tower_http_retry::retry::AttemptHeaderLayer::new(http::HeaderName::from_static("x-attempt"));
    /// let mut svc = layer.layer(7);
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
    /// let layer = tower_http_retry::retry::AttemptHeaderLayer::new(http::HeaderName::from_static("x-attempt"));
    /// assert_eq!(layer.layer(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for AttemptHeader<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let resends = req.extensions().get::<ResendCount>().map_or(0, |r| r.get());
        let attempt = HeaderValue::from(u64::from(resends) + 1);
        req.headers_mut().insert(self.name.clone(), attempt);
        self.inner.call(req)
    }
}
