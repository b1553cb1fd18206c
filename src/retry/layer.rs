use tower::retry::Retry;
use tower_layer::Layer;

use super::RetryPolicy;

/// Retries failed requests by a [`RetryPolicy`]: wraps a service in
/// [`tower::retry::Retry`].
///
/// Put it above [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) so that
/// the breaker sees every attempt.
///
/// # The request body must be `Clone`
///
/// A retry sends a copy of the request, so the service it makes serves
/// `Request<B>` only for `B: Clone` (`Full<Bytes>`, `String`, `()`, …). A
/// body that is not `Clone` (`reqwest::Body`, hyper's `Incoming`, a
/// stream) fails to compile with "the trait `Clone` is not implemented for
/// `Body`" and "required for `RetryPolicy` to implement `Policy<…>`". The
/// remedy: [`ReplayBodyLayer::new(limit)`](crate::ReplayBodyLayer) above
/// this layer, which keeps up to `limit` bytes of what the first attempt
/// sends and replays them:
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::{combinators::BoxBody, BodyExt, Full};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_http_retry::{ReplayBody, ReplayBodyLayer, RetryLayer, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = ServiceBuilder::new()
///     .layer(ReplayBodyLayer::new(64 * 1024))
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .service(service_fn(|_req: Request<ReplayBody<BoxBody<Bytes, Infallible>>>| async {
///         Ok::<_, Infallible>(Response::new(()))
///     }));
/// // A boxed body, like `reqwest::Body` or hyper's `Incoming`, is not `Clone`.
/// let body = Full::new(Bytes::from("order")).boxed();
/// client.oneshot(Request::new(body)).await.unwrap();
/// # }
/// ```
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_http_retry::{Attempts, RetryLayer, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryPolicy::default().max_attempts(2)))
///     .service(service_fn(|_req: Request<Full<Bytes>>| async {
///         Ok::<_, Infallible>(Response::new("hello"))
///     }));
///
/// let response = client.oneshot(Request::new(Full::default())).await.unwrap();
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.extensions().get::<Attempts>().map(Attempts::get), Some(1));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer retrying by `policy`. Every service it makes shares the
    /// policy's budget.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer { policy }
    }

    /// The policy of this layer.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<RetryPolicy, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(self.policy.clone(), inner)
    }
}
