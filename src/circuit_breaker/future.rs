//! The response future of [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{HeaderMap, Method, Request, Response, Uri};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;

use super::classifier::Recorded;
use super::error::CircuitOpen;
use super::state::{Breaker, Permit};
use super::vocabulary::CallOutcome;
use crate::classify::{ErrorClass, RequestView};
use crate::retry::ResendCount;

pin_project! {
    /// The response future of [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker):
    /// the inner service's future, which records its outcome when it
    /// completes, or a [`CircuitOpen`] error, ready at once.
    ///
    /// Dropping it before it completes records what
    /// [`abandoned_calls`](crate::CircuitBreakerConfig::abandoned_calls)
    /// says: by default a slow call when it was out for at least the
    /// slow-call duration, else nothing (a half-open probe's permit goes
    /// back). An error the crate classes [`ErrorClass::Fatal`] records
    /// nothing either.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F, guard: Option<Guard> },
        Rejected { error: Option<CircuitOpen> },
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn called(future: F, guard: Guard) -> Self {
        ResponseFuture {
            state: State::Called {
                future,
                guard: Some(guard),
            },
        }
    }

    pub(crate) fn rejected(error: CircuitOpen) -> Self {
        ResponseFuture {
            state: State::Rejected { error: Some(error) },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Rejected { error } => Poll::Ready(Err(match error.take() {
                Some(error) => error.into(),
                None => "circuit breaker response future polled after completion".into(),
            })),
            StateProj::Called { future, guard } => {
                // The response is moved once, into the return value (each
                // move of it is a `memcpy` on every call).
                Poll::Ready(match ready!(future.poll(cx)) {
                    Ok(response) => {
                        if let Some(guard) = guard.take() {
                            guard.complete(Ok(&response));
                        }
                        Ok(response)
                    }
                    Err(error) => {
                        let error: BoxError = error.into();
                        if let Some(guard) = guard.take() {
                            if ErrorClass::of(&error) == ErrorClass::Fatal {
                                // The downstream had no part in it (a
                                // malformed request, a refusal beneath):
                                // neither a failure nor a success.
                                guard.discard();
                            } else {
                                guard.complete::<B>(Err(&*error));
                            }
                        }
                        Err(error)
                    }
                })
            }
        }
    }
}

/// Held by the future of an admitted call: records its outcome, or, if it
/// is dropped first, what the configuration says an abandoned call counts
/// as ([`AbandonedCalls`](super::AbandonedCalls)); when that is nothing
/// (and always when unwound by a panic), gives a probe's permit back so the
/// breaker never wedges half-open.
#[derive(Debug)]
pub(crate) struct Guard {
    breaker: Arc<Breaker>,
    permit: Permit,
    /// When the call started; read only when slow calls are detected.
    start: Option<Instant>,
    /// What the configured rule's `Outcome` needs of the request; kept
    /// only when there is a rule.
    request: Option<Box<KeptRequest>>,
    done: bool,
}

/// The request's part of an `Outcome`, kept from `call` (which gives the
/// request away) for the rule of `CircuitBreakerConfig::classify`.
#[derive(Debug)]
struct KeptRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    attempt: u32,
}

impl Guard {
    #[inline]
    pub(crate) fn new(breaker: Arc<Breaker>, permit: Permit) -> Self {
        let start = breaker.config().slow_call_duration.map(|_| Instant::now());
        Guard {
            breaker,
            permit,
            start,
            request: None,
            done: false,
        }
    }

    /// Keeps what the configured rule will be shown of `req`; nothing
    /// without a rule.
    #[inline]
    pub(crate) fn keep_request<B>(&mut self, req: &Request<B>) {
        if self.breaker.config().rule.is_some() {
            self.request = Some(Box::new(KeptRequest {
                method: req.method().clone(),
                uri: req.uri().clone(),
                headers: req.headers().clone(),
                // The retry layer marks each replay; none: the first attempt.
                attempt: req
                    .extensions()
                    .get::<ResendCount>()
                    .map_or(1, |n| n.get().saturating_add(1)),
            }));
        }
    }

    /// What the configured rule says of `outcome`; `None` when there is no
    /// rule or it leaves the decision to the failure classifier.
    fn ruled<B>(
        &self,
        outcome: Result<&Response<B>, &(dyn std::error::Error + 'static)>,
    ) -> Option<Recorded> {
        let (rule, kept) = (self.breaker.config().rule.as_ref()?, self.request.as_ref()?);
        let view = RequestView {
            method: &kept.method,
            uri: &kept.uri,
            headers: &kept.headers,
        };
        let verdict = match outcome {
            Ok(response) => rule.classify(&view.answered(response, kept.attempt)),
            Err(error) => rule.classify(&view.failed(Some(error), kept.attempt)),
        };
        Recorded::of(verdict, outcome.is_err())
    }

    fn complete<B>(self, outcome: Result<&Response<B>, &(dyn std::error::Error + 'static)>) {
        let failure = match self.ruled(outcome) {
            Some(Recorded::Nothing) => return self.discard(),
            Some(recorded) => recorded == Recorded::Failure,
            None => (self.breaker.config().classifier).is_failure(outcome.map(Response::status)),
        };
        self.record(failure);
    }

    fn record(mut self, failure: bool) {
        let config = self.breaker.config();
        let slow = match (self.start, config.slow_call_duration) {
            (Some(start), Some(limit)) => start.elapsed() > limit,
            _ => false,
        };
        // Past the classifier (code of the user's that could panic).
        self.done = true;
        let breaker = &self.breaker;
        breaker.record(self.permit, CallOutcome { failure, slow }, || breaker.now());
    }
}

impl Guard {
    /// Ends the call without an outcome: a probe's permit goes back.
    pub(crate) fn discard(mut self) {
        self.done = true;
        self.breaker.release(self.permit);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let config = self.breaker.config();
        // "At least" the slow-call duration: a caller whose own deadline is
        // that duration gave up on a slow call.
        let late = match (self.start, config.slow_call_duration) {
            (Some(start), Some(limit)) => start.elapsed() >= limit,
            _ => false,
        };
        match config.abandoned_calls.outcome(late) {
            // Not while unwinding: recording may run the user's callback,
            // and a second panic would abort.
            Some(outcome) if !std::thread::panicking() => {
                let breaker = &self.breaker;
                breaker.record(self.permit, outcome, || breaker.now());
            }
            _ => self.breaker.release(self.permit),
        }
    }
}
