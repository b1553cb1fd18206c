use tower::retry::Retry;
use tower_layer::Layer;

use super::RetryPolicy;

/// Retries failed requests by a [`RetryPolicy`]: wraps a service in
/// [`tower::retry::Retry`].
///
/// Put it above [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) so that
/// the breaker sees every attempt.
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
