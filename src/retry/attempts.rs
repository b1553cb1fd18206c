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
/// use tower_http_retry::ResendCount;
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
