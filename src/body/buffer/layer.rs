//! [`BufferResponseLayer`].

use tower_layer::Layer;

use super::BufferResponse;

/// Reads each response body, up to `limit` bytes, before the response goes
/// up the stack: `Response<B>` becomes `Response<`[`BufferedBody<B>`](super::BufferedBody)`>`.
///
/// Put it beneath [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) (and
/// beneath a per-attempt timeout, so the timeout covers the body too): an
/// error while reading the body is then the attempt's error, counted by the
/// breaker and retried by [`RetryLayer`](crate::RetryLayer) when the
/// request is safe to replay.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::{connect::HttpConnector, Client};
/// use hyper_util::rt::TokioExecutor;
/// use tower::ServiceBuilder;
/// use tower_http_retry::{BufferResponseLayer, CircuitBreakerConfig, CircuitBreakerLayer};
/// use tower_http_retry::{RetryLayer, RetryPolicy};
///
/// let http_client: Client<HttpConnector, Full<Bytes>> =
///     Client::builder(TokioExecutor::new()).build_http();
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
///     .timeout(Duration::from_secs(5))
///     .layer(BufferResponseLayer::new(1024 * 1024))
///     .service(http_client);
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BufferResponseLayer {
    limit: usize,
}

impl BufferResponseLayer {
    /// A layer reading up to `limit` bytes of each response body. A body
    /// over it goes on intact (what was read, then the rest as it streams),
    /// its [`bytes()`](super::BufferedBody::bytes) is `None`, and
    /// [`RetryPolicy`](crate::RetryPolicy) does not retry it; a limit of 0
    /// reads only empty bodies whole.
    ///
    /// ```
    /// let layer = tower_http_retry::BufferResponseLayer::new(64 * 1024);
    /// assert_eq!(layer.limit(), 65536);
    /// ```
    pub fn new(limit: usize) -> Self {
        BufferResponseLayer { limit }
    }

    /// The bytes read per response body at most.
    ///
    /// ```
    /// assert_eq!(tower_http_retry::BufferResponseLayer::new(10).limit(), 10);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<S> Layer<S> for BufferResponseLayer {
    type Service = BufferResponse<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BufferResponse::new(inner, self.limit)
    }
}
