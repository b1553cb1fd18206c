//! The user's code a policy calls: a classifier before each decision, and
//! hooks after it.

use std::any::Any;
use std::sync::Arc;

use super::{GiveUpEvent, RetryEvent, RetryPolicy};
use crate::classify::{Classifier, DefaultClassifier};

pub(super) type RetryHook = Arc<dyn Fn(&RetryEvent<'_>) + Send + Sync>;
pub(super) type GiveUpHook = Arc<dyn Fn(&GiveUpEvent<'_>) + Send + Sync>;

impl RetryPolicy {
    /// A rule of your own over every outcome, run before the built-in ones:
    /// it sees the request's method, URI and headers, the attempt number,
    /// the status and headers (and the whole body, when
    /// `BufferResponseLayer` read it) or the error, and returns a
    /// [`Verdict`](crate::retry::Verdict); [`Verdict::Default`](crate::retry::Verdict::Default)
    /// leaves the decision to the built-in rules. Every bound (attempts,
    /// elapsed time, budget, replay limit) still applies to a verdict that
    /// retries. Default: none ([`DefaultClassifier`](crate::retry::DefaultClassifier)).
    ///
    /// ```
    /// use http::{Method, StatusCode};
    /// use tower_http_retry::retry::{Outcome, Verdict};
    /// use tower_http_retry::RetryPolicy;
    ///
    /// // A 409 from a lock is transient here: retried, for requests safe to replay.
    /// let policy = RetryPolicy::default().classify(|outcome: &Outcome<'_>| {
    ///     match outcome.status() {
    ///         Some(StatusCode::CONFLICT) => Verdict::Retry,
    ///         _ => Verdict::Default,
    ///     }
    /// });
    /// ```
    pub fn classify<C: Classifier>(mut self, classifier: C) -> Self {
        // The default classifier changes nothing: keep the fast path that
        // skips the classifier step for statuses that are not retried.
        let is_default = (&classifier as &dyn Any).is::<DefaultClassifier>();
        self.config().classifier = (!is_default).then(|| Arc::new(classifier) as Arc<_>);
        self
    }

    /// Calls `f` before every retry, after the `tracing` event: the place for
    /// metrics of your own. Default: none.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .on_retry(|e: &tower_http_retry::retry::RetryEvent<'_>| eprintln!("retrying {} ({})", e.uri, e.reason));
    /// ```
    pub fn on_retry<F>(mut self, f: F) -> Self
    where
        F: Fn(&RetryEvent<'_>) + Send + Sync + 'static,
    {
        self.config().on_retry = Some(Arc::new(f));
        self
    }

    /// Calls `f` when an outcome that would have been retried goes back
    /// without a retry (attempts, budget or time exhausted, a wait above
    /// `max_retry_after`, a request not safe to replay);
    /// [`GiveUpEvent::why`] says why. Default: none.
    ///
    /// ```
    /// let policy = tower_http_retry::RetryPolicy::default()
    ///     .on_give_up(|e: &tower_http_retry::retry::GiveUpEvent<'_>| eprintln!("gave up: {}", e.why));
    /// ```
    pub fn on_give_up<F>(mut self, f: F) -> Self
    where
        F: Fn(&GiveUpEvent<'_>) + Send + Sync + 'static,
    {
        self.config().on_give_up = Some(Arc::new(f));
        self
    }
}
