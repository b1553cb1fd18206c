use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The error of a call refused because the circuit breaker is open (or
/// half-open with every probe taken): the inner service was not called.
///
/// It says which breaker refused, and how long until it lets a probe
/// through. [`RetryLayer`](crate::RetryLayer) never retries it.
///
/// ```
/// use tower_http_retry::CircuitOpen;
///
/// let err: tower::BoxError = Box::new(CircuitOpen::new());
/// let open = err.downcast_ref::<CircuitOpen>().expect("a CircuitOpen");
/// assert_eq!(open.name(), None);
/// assert_eq!(err.to_string(), "circuit breaker is open");
/// ```
#[derive(Debug, Clone, Default)]
pub struct CircuitOpen {
    name: Option<Arc<str>>,
    host: Option<Arc<str>>,
    retry_after: Option<Duration>,
}

impl CircuitOpen {
    /// An error naming no breaker and no time (for tests of code that
    /// handles it).
    pub fn new() -> Self {
        CircuitOpen::default()
    }

    pub(crate) fn open(
        name: Option<Arc<str>>,
        host: Option<Arc<str>>,
        retry_after: Option<Duration>,
    ) -> Self {
        CircuitOpen {
            name,
            host,
            retry_after,
        }
    }

    /// The [name](crate::CircuitBreakerConfig::name) of the breaker that
    /// refused the call.
    ///
    /// ```
    /// # use tower_http_retry::CircuitOpen;
    /// assert_eq!(CircuitOpen::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The downstream whose breaker refused the call, as
    /// `scheme://host:port`, when the breaker is
    /// [per host](crate::CircuitBreakerLayer::per_host) (empty for the
    /// breaker of requests without an authority).
    ///
    /// ```
    /// # use tower_http_retry::CircuitOpen;
    /// assert_eq!(CircuitOpen::new().host(), None);
    /// ```
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// How long, from the refusal, until the breaker lets a probe through.
    /// `None` when that is not known: it is half-open with every probe in
    /// flight, it was forced open, or its open duration is
    /// `Duration::MAX`.
    ///
    /// ```
    /// # use tower_http_retry::CircuitOpen;
    /// assert_eq!(CircuitOpen::new().retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit breaker ")?;
        if let Some(name) = &self.name {
            write!(f, "`{name}` ")?;
        }
        match self.host.as_deref() {
            Some("") => f.write_str("for requests without an authority ")?,
            Some(host) => write!(f, "for {host} ")?,
            None => {}
        }
        f.write_str("is open")?;
        if let Some(after) = self.retry_after {
            // Whole milliseconds, rounded up: nanoseconds are noise here.
            let ms = u64::try_from(after.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
            let ms = Duration::from_millis(ms);
            write!(f, "; next probe in {ms:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CircuitOpen {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_breaker_and_the_wait() {
        let e = CircuitOpen::open(
            Some(Arc::from("payments")),
            None,
            Some(Duration::from_millis(1500)),
        );
        assert_eq!(
            e.to_string(),
            "circuit breaker `payments` is open; next probe in 1.5s"
        );
        let e = CircuitOpen::open(None, Some(Arc::from("https://a.example:443")), None);
        assert_eq!(
            e.to_string(),
            "circuit breaker for https://a.example:443 is open"
        );
    }
}
