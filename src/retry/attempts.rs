use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// How many attempts a response took: a response extension added by
/// [`RetryLayer`](crate::RetryLayer) to every response it returns.
///
/// `1` means the first attempt answered; `3` means two retries.
///
/// ```
/// use tower_http_retry::Attempts;
///
/// let mut response = http::Response::new(());
/// response.extensions_mut().insert(Attempts::new(2));
/// let attempts = response.extensions().get::<Attempts>().map(Attempts::get);
/// assert_eq!(attempts, Some(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempts(u32);

impl Attempts {
    /// Wraps an attempt count.
    pub const fn new(attempts: u32) -> Self {
        Attempts(attempts)
    }

    /// The number of attempts made, the first included.
    pub const fn get(&self) -> u32 {
        self.0
    }
}

/// How many times a request was sent before: a request extension that
/// [`RetryLayer`](crate::RetryLayer) adds to every replay (`1` on the first
/// retry), and only to replays — the replay is otherwise identical to the
/// first attempt.
///
/// It is OpenTelemetry's `http.request.resend_count`: record it on the span
/// of each attempt, e.g. in tower-http's `TraceLayer::make_span_with` placed
/// beneath the retry layer.
///
/// ```
/// use tower_http_retry::retry::ResendCount;
///
/// fn make_span<B>(req: &http::Request<B>) -> tracing::Span {
///     let span = tracing::info_span!(
///         "HTTP request",
///         http.request.method = %req.method(),
///         http.request.resend_count = tracing::field::Empty,
///     );
///     if let Some(n) = req.extensions().get::<ResendCount>() {
///         span.record("http.request.resend_count", n.get());
///     }
///     span
/// }
/// # let _ = make_span(&http::Request::new(()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResendCount(u32);

impl ResendCount {
    /// Wraps a resend count.
    pub const fn new(resends: u32) -> Self {
        ResendCount(resends)
    }

    /// The number of earlier attempts of this request.
    pub const fn get(&self) -> u32 {
        self.0
    }
}

/// The caller's count of a request's attempts, readable after the call
/// whatever its outcome: an error carries no [`Attempts`], and its type is
/// the inner service's (or `tower::BoxError`), which this crate does not
/// wrap.
///
/// Put a clone in the request's extensions; [`RetryLayer`](crate::RetryLayer)
/// sets it before every attempt (every replay carries the same handle), so
/// after the call [`get`](Self::get) is the number of attempts started, the
/// first included: `0` if the call never reached the retry layer. A clone
/// is one reference count; the count is shared by every clone.
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use http::Request;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_http_retry::backoff::ConstantBackoff;
/// use tower_http_retry::retry::AttemptsHandle;
/// use tower_http_retry::{RetryLayer, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A downstream whose connection always resets.
/// let downstream = service_fn(|_req: Request<String>| async {
///     Err::<http::Response<String>, _>(io::Error::from(io::ErrorKind::ConnectionReset))
/// });
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(
///         RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1))),
///     ))
///     .service(downstream);
///
/// let attempts = AttemptsHandle::new();
/// let mut req = Request::get("http://example.com/").body(String::new()).unwrap();
/// req.extensions_mut().insert(attempts.clone());
///
/// let err = client.oneshot(req).await.unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::ConnectionReset); // the inner error, as it was
/// assert_eq!(attempts.get(), 3);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct AttemptsHandle(Arc<AtomicU32>);

impl AttemptsHandle {
    /// A count at 0, for one request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The attempts started so far, the first included.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Called by the policy as each attempt starts.
    pub(crate) fn set(&self, attempts: u32) {
        self.0.store(attempts, Ordering::Relaxed);
    }
}
