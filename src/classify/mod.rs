//! One failure classification, shared by the retry policy and the breaker.
//!
//! Errors are classified by walking their `source()` chain and downcasting
//! each link to the types we know (hyper-util, hyper, `std::io`, tower's
//! timeout, our own [`CircuitOpen`]); never by matching on messages.

use std::any::Any;
use std::error::Error;
use std::io;

use http::{header::HeaderName, Method, Request, StatusCode};

use crate::circuit_breaker::CircuitOpen;
use crate::pace::QuotaExhausted;

/// What an error proves about whether the request reached the server: the
/// one classification shared by the retry policy and the circuit breaker.
///
/// ```
/// use tower_http_retry::ErrorClass;
///
/// let err: tower::BoxError = Box::new(tower_http_retry::CircuitOpen::new());
/// assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request never left the client (connection refused, DNS failure):
    /// replaying it is safe for every method.
    NeverSent,
    /// The request may have reached the server (reset after sending, an
    /// incomplete response, a timeout): transient, but only a request that is
    /// safe to replay may be sent again.
    Ambiguous,
    /// Retrying cannot help ([`CircuitOpen`], [`QuotaExhausted`], a malformed
    /// request): the error
    /// goes back to the caller at once.
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

    /// Classifies an error of any type.
    ///
    /// `tower::BoxError`, hyper-util's `client::legacy::Error`, `hyper::Error`,
    /// `std::io::Error`, tower's `timeout::error::Elapsed`, [`CircuitOpen`]
    /// and [`QuotaExhausted`] are recognised at the top, and every link of
    /// the `source()` chain is inspected. An error of an unknown type is [`ErrorClass::Ambiguous`]:
    /// transient, but never a reason to replay a request that is not safe to
    /// replay.
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
        match as_error(error) {
            Some(e) => classify_chain(e),
            None => ErrorClass::Ambiguous,
        }
    }
}

/// An error value of a type known only as `Any` (the policy is generic over
/// its error type, and Rust has no specialisation) seen as a `dyn Error`,
/// when its type is one the crate knows: a boxed error, or a concrete type of
/// a client it recognises. Shared by the classification and the classifier's
/// view of an outcome.
pub(crate) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    if let Some(boxed) = error.downcast_ref::<tower::BoxError>() {
        return Some(&**boxed);
    }
    if let Some(boxed) = error.downcast_ref::<Box<dyn Error + Send + 'static>>() {
        return Some(&**boxed);
    }
    if let Some(boxed) = error.downcast_ref::<Box<dyn Error + 'static>>() {
        return Some(&**boxed);
    }
    macro_rules! known {
        ($($ty:ty),*) => {
            $(if let Some(e) = error.downcast_ref::<$ty>() {
                return Some(e);
            })*
        };
    }
    known!(
        hyper_util::client::legacy::Error,
        hyper::Error,
        io::Error,
        tower::timeout::error::Elapsed,
        CircuitOpen,
        QuotaExhausted
    );
    #[cfg(feature = "reqwest")]
    known!(::reqwest::Error);
    None
}

/// Walks the `source()` chain; the first link that proves something wins.
fn classify_chain(error: &(dyn Error + 'static)) -> ErrorClass {
    let mut next = Some(error);
    // A chain is finite in practice, but a hostile `source()` could loop:
    // bound the walk.
    let mut depth = 0;
    while let Some(e) = next {
        if let Some(class) = classify_link(e) {
            return class;
        }
        depth += 1;
        if depth == 32 {
            break;
        }
        next = e.source();
    }
    ErrorClass::Ambiguous
}

fn classify_link(e: &(dyn Error + 'static)) -> Option<ErrorClass> {
    if e.is::<CircuitOpen>() || e.is::<QuotaExhausted>() {
        return Some(ErrorClass::Fatal);
    }
    if let Some(e) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
        if e.is_connect() {
            return Some(ErrorClass::NeverSent);
        }
        return None;
    }
    if let Some(e) = e.downcast_ref::<hyper::Error>() {
        if e.is_user() {
            return Some(ErrorClass::Fatal);
        }
        return None;
    }
    #[cfg(feature = "reqwest")]
    if let Some(e) = e.downcast_ref::<::reqwest::Error>() {
        if e.is_connect() {
            return Some(ErrorClass::NeverSent);
        }
        if e.is_builder() || e.is_redirect() {
            return Some(ErrorClass::Fatal);
        }
        return None;
    }
    if let Some(e) = e.downcast_ref::<io::Error>() {
        return match e.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::AddrNotAvailable => {
                Some(ErrorClass::NeverSent)
            }
            _ => None,
        };
    }
    None
}

/// `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header): a
/// request carrying it may be replayed whatever its method.
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The crate's one replay rule (retries and hedges alike): RFC 9110 §9.2.2
/// methods whose intended effect is the same however many times they are
/// sent; or any request with an `Idempotency-Key`.
pub(crate) fn is_replayable<B>(req: &Request<B>) -> bool {
    matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) || req.headers().contains_key(&IDEMPOTENCY_KEY)
}

/// The statuses retried by default: RFC 9110 says each of them may succeed
/// on a later attempt (408, 429, 500, 502, 503, 504).
pub(crate) const DEFAULT_RETRY_STATUSES: [StatusCode; 6] = [
    StatusCode::REQUEST_TIMEOUT,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];

/// A set of status codes as a bitmap: a lookup is one shift, with no
/// allocation and no hashing on the response path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusSet([u64; 16]);

impl StatusSet {
    pub(crate) const fn empty() -> Self {
        StatusSet([0; 16])
    }

    pub(crate) fn insert(&mut self, status: StatusCode) {
        let code = status.as_u16() as usize; // 100..=999
        self.0[code / 64] |= 1 << (code % 64);
    }

    pub(crate) fn contains(&self, status: StatusCode) -> bool {
        let code = status.as_u16() as usize;
        self.0[code / 64] & (1 << (code % 64)) != 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = StatusCode> + '_ {
        (100u16..1000)
            .filter_map(|c| StatusCode::from_u16(c).ok())
            .filter(|s| self.contains(*s))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        DEFAULT_RETRY_STATUSES.into_iter().collect()
    }
}

impl FromIterator<StatusCode> for StatusSet {
    fn from_iter<I: IntoIterator<Item = StatusCode>>(iter: I) -> Self {
        let mut set = StatusSet::empty();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl std::fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|s| s.as_u16()))
            .finish()
    }
}

/// Is a response with this status a failure worth counting against a
/// downstream, by the crate's one rule (5xx, 408, 429)?
pub(crate) fn is_failure_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn status_set() {
        let set = StatusSet::default();
        for s in DEFAULT_RETRY_STATUSES {
            assert!(set.contains(s));
        }
        assert!(!set.contains(StatusCode::NOT_FOUND));
        assert!(!set.contains(StatusCode::from_u16(999).unwrap()));
        assert_eq!(set.iter().count(), 6);
    }
}
