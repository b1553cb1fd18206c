//! One failure classification, shared by the retry policy and the breaker.
//!
//! Errors are classified by walking their `source()` chain and downcasting
//! each link to the types we know ([`ErrorClass`]); never by matching on
//! messages. What the crate knows of each client's errors is in one
//! recogniser per client, behind that client's feature (`recognise/`).

use http::{header::HeaderName, Method, Request, StatusCode};

mod error_class;
mod error_types;
mod recognise;

pub use error_class::ErrorClass;
pub(crate) use error_types::ErrorTypes;
pub(crate) use recognise::as_error;

mod classifier;
mod outcome;
mod verdict;

pub use self::classifier::{Classifier, DefaultClassifier};
pub use self::outcome::Outcome;
pub(crate) use self::outcome::RequestView;
pub use self::verdict::Verdict;

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

#[cfg(test)]
mod tests {
    use super::*;

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
