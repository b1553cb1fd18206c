use std::fmt;

/// The error of a call refused because the circuit breaker is open.
///
/// ```
/// use tower_http_retry::CircuitOpen;
///
/// let err: tower::BoxError = Box::new(CircuitOpen::new());
/// assert!(err.downcast_ref::<CircuitOpen>().is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CircuitOpen {
    _priv: (),
}

impl CircuitOpen {
    /// A new error.
    pub fn new() -> Self {
        CircuitOpen { _priv: () }
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit breaker is open")
    }
}

impl std::error::Error for CircuitOpen {}
