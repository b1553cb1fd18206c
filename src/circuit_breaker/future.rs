//! The response future of [`CircuitBreaker`](crate::CircuitBreaker).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;

use super::error::CircuitOpen;
use super::state::{Breaker, Permit};
use super::vocabulary::CallOutcome;
use crate::classify::ErrorClass;

pin_project! {
    /// The response future of [`CircuitBreaker`](crate::CircuitBreaker):
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
                            guard.complete(Ok(response.status()));
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
                                guard.complete(Err(&*error));
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
    done: bool,
}

impl Guard {
    #[inline]
    pub(crate) fn new(breaker: Arc<Breaker>, permit: Permit) -> Self {
        let start = breaker.config().slow_call_duration.map(|_| Instant::now());
        Guard {
            breaker,
            permit,
            start,
            done: false,
        }
    }

    fn complete(mut self, outcome: Result<StatusCode, &(dyn std::error::Error + 'static)>) {
        let config = self.breaker.config();
        let failure = config.classifier.is_failure(outcome);
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
