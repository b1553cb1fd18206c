//! [`Classifier`]: a user's rule over outcomes, run before the built-in ones.

use super::{Outcome, Verdict};

/// Decides what an [`Outcome`] means, before the built-in rules: set with
/// [`RetryPolicy::classify`](crate::RetryPolicy::classify).
///
/// It runs once for every outcome of every attempt (successes too), so it
/// should be quick and must not block. [`Verdict::Default`] leaves the
/// decision to the built-in rules.
///
/// Closures `Fn(&Outcome<'_>) -> Verdict` implement it:
///
/// ```
/// use http::header::HeaderName;
/// use tower_http_retry::retry::{Outcome, Verdict};
/// use tower_http_retry::RetryPolicy;
///
/// // This API says plainly when a retry is no use.
/// let policy = RetryPolicy::default().classify(|outcome: &Outcome<'_>| {
///     let retryable = outcome.headers().and_then(|h| h.get("x-my-api-retryable"));
///     match retryable.map(|v| v.as_bytes()) {
///         Some(b"false") => Verdict::Final,
///         Some(b"true") => Verdict::Retry,
///         _ => Verdict::Default,
///     }
/// });
/// ```
///
/// A type of your own, for a rule with settings:
///
/// ```
/// use http::StatusCode;
/// use tower_http_retry::retry::{Classifier, Outcome, Verdict};
///
/// struct RetryConflicts {
///     max: u32,
/// }
///
/// impl Classifier for RetryConflicts {
///     fn classify(&self, outcome: &Outcome<'_>) -> Verdict {
///         match outcome.status() {
///             Some(StatusCode::CONFLICT) if outcome.attempt() < self.max => Verdict::Retry,
///             _ => Verdict::Default,
///         }
///     }
/// }
///
/// let policy = tower_http_retry::RetryPolicy::default().classify(RetryConflicts { max: 2 });
/// ```
pub trait Classifier: Send + Sync + 'static {
    /// The verdict on `outcome`.
    fn classify(&self, outcome: &Outcome<'_>) -> Verdict;
}

impl<F> Classifier for F
where
    F: Fn(&Outcome<'_>) -> Verdict + Send + Sync + 'static,
{
    fn classify(&self, outcome: &Outcome<'_>) -> Verdict {
        self(outcome)
    }
}

/// The classifier of a policy that was given none: [`Verdict::Default`]
/// for every outcome, so the built-in rules decide.
///
/// [`RetryPolicy::classify`](crate::RetryPolicy::classify) with it puts
/// the policy back as it was without a classifier (its responses of a
/// status that is not retried skip the classifier step entirely).
///
/// ```
/// use http::{Request, Response};
/// use tower_http_retry::retry::{Classifier, DefaultClassifier, Outcome, Verdict};
///
/// let req = Request::new(());
/// let res = Response::new(());
/// let outcome = Outcome::from_response(&req, &res, 1);
/// assert_eq!(DefaultClassifier.classify(&outcome), Verdict::Default);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl Classifier for DefaultClassifier {
    #[inline]
    fn classify(&self, _: &Outcome<'_>) -> Verdict {
        Verdict::Default
    }
}
