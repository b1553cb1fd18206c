//! [`ErrorClass`]: what an error proves about whether the request reached
//! the server.

use std::any::Any;
use std::error::Error;

use super::recognise;

/// What an error proves about whether the request reached the server: the
/// one classification shared by the retry policy and the circuit breaker.
///
/// An error is classified by walking its `source()` chain, from the top:
/// the first link of a type the crate recognises that proves something
/// decides; a chain where none does is [`Ambiguous`](ErrorClass::Ambiguous).
/// Never by matching on messages. The types recognised:
///
/// | type | feature | proves |
/// |---|---|---|
/// | `std::io::Error` | | `ConnectionRefused`, `AddrNotAvailable`: never sent |
/// | [`CircuitOpen`](crate::CircuitOpen) | | fatal |
/// | `hyper::Error` | `hyper` | a user error (`is_user()`: a malformed request): fatal |
/// | `h2::Error` | `hyper` | a stream the server refused (`REFUSED_STREAM`), or failed by a graceful `GOAWAY` (`NO_ERROR`) above its last-stream-id: never sent (RFC 9113 §8.7) |
/// | hyper-util's `client::legacy::Error` | `hyper-util` | a connect error: never sent; its own refusals of a malformed request (`UserAbsoluteUriRequired`, …): fatal |
/// | `reqwest::Error` | `reqwest` | a connect error: never sent; a builder or redirect error: fatal |
///
/// A `GOAWAY` that carries an error code is ambiguous: h2 fails the streams
/// at or below its last-stream-id, which the server may have processed,
/// with the very same error as those above it.
///
/// ```
/// use tower_http_retry::ErrorClass;
///
/// let err: tower::BoxError = Box::new(tower_http_retry::CircuitOpen::new());
/// assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request never left the client (connection refused, DNS failure,
    /// an HTTP/2 stream the server refused): replaying it is safe for every
    /// method.
    NeverSent,
    /// The request may have reached the server (reset after sending, an
    /// incomplete response, a timeout): transient, but only a request that is
    /// safe to replay may be sent again.
    Ambiguous,
    /// Retrying cannot help ([`CircuitOpen`](crate::CircuitOpen), a
    /// malformed request): the error goes back to the caller at once.
    Fatal,
}

impl ErrorClass {
    /// A short, stable name for logs and metrics.
    ///
    /// ```
    /// assert_eq!(tower_http_retry::ErrorClass::Ambiguous.as_str(), "ambiguous");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NeverSent => "never_sent",
            ErrorClass::Ambiguous => "ambiguous",
            ErrorClass::Fatal => "fatal",
        }
    }

    /// Classifies an error of any type: the way [`RetryPolicy`](crate::RetryPolicy)
    /// sees the error type of the service it retries.
    ///
    /// Rust cannot ask a value of a generic type whether it is an error, so
    /// its chain is walked (as [`from_error`](Self::from_error) does) only
    /// when its type is one the crate can name: `tower::BoxError` and the
    /// other boxed `dyn Error`s, or a type of the table above (with its
    /// feature on). An error of any other type is
    /// [`Ambiguous`](ErrorClass::Ambiguous), whatever its chain holds: box it,
    /// call [`from_error`](Self::from_error), or register its type on the
    /// policy with [`RetryPolicy::error_type`](crate::RetryPolicy::error_type).
    ///
    /// ```
    /// use tower_http_retry::ErrorClass;
    ///
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// assert_eq!(ErrorClass::of(&refused), ErrorClass::NeverSent);
    ///
    /// let boxed: tower::BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// assert_eq!(ErrorClass::of(&boxed), ErrorClass::Ambiguous);
    /// ```
    pub fn of<E: Any>(error: &E) -> ErrorClass {
        match recognise::as_error(error) {
            Some(e) => ErrorClass::from_error(e),
            None => ErrorClass::Ambiguous,
        }
    }

    /// Classifies an error of any type that implements `Error`, by its
    /// `source()` chain: the same answer for an error and for that error
    /// boxed.
    ///
    /// ```
    /// use std::{error::Error, fmt, io};
    /// use tower_http_retry::ErrorClass;
    ///
    /// #[derive(Debug)]
    /// struct MyError(io::Error);
    /// impl fmt::Display for MyError {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    ///         f.write_str("my client failed")
    ///     }
    /// }
    /// impl Error for MyError {
    ///     fn source(&self) -> Option<&(dyn Error + 'static)> {
    ///         Some(&self.0)
    ///     }
    /// }
    ///
    /// let err = MyError(io::ErrorKind::ConnectionRefused.into());
    /// assert_eq!(ErrorClass::from_error(&err), ErrorClass::NeverSent);
    /// // `of` cannot see `MyError` as an error; boxed, it can.
    /// assert_eq!(ErrorClass::of(&err), ErrorClass::Ambiguous);
    /// let boxed: tower::BoxError = Box::new(err);
    /// assert_eq!(ErrorClass::of(&boxed), ErrorClass::NeverSent);
    /// ```
    pub fn from_error(error: &(dyn Error + 'static)) -> ErrorClass {
        // A chain is finite in practice, but a hostile `source()` could
        // loop: bound the walk.
        let mut next = Some(error);
        for _ in 0..MAX_CHAIN {
            let Some(e) = next else { break };
            if let Some(class) = recognise::classify_link(e) {
                return class;
            }
            next = e.source();
        }
        ErrorClass::Ambiguous
    }
}

/// Links of a `source()` chain inspected at most.
const MAX_CHAIN: usize = 32;

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::io;

    use super::ErrorClass;

    #[test]
    fn io_kinds() {
        let c = |k| ErrorClass::of(&io::Error::from(k));
        assert_eq!(c(io::ErrorKind::ConnectionRefused), ErrorClass::NeverSent);
        assert_eq!(c(io::ErrorKind::ConnectionReset), ErrorClass::Ambiguous);
        assert_eq!(c(io::ErrorKind::UnexpectedEof), ErrorClass::Ambiguous);
        assert_eq!(c(io::ErrorKind::TimedOut), ErrorClass::Ambiguous);
    }

    #[test]
    fn boxed_chain_is_walked() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("wrapper")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e: tower::BoxError = Box::new(Wrapper(io::ErrorKind::ConnectionRefused.into()));
        assert_eq!(ErrorClass::of(&e), ErrorClass::NeverSent);
    }

    #[test]
    fn elapsed_is_ambiguous_and_unknown_types_too() {
        let e: tower::BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(ErrorClass::of(&e), ErrorClass::Ambiguous);
        assert_eq!(ErrorClass::of(&42u8), ErrorClass::Ambiguous);
    }
}
