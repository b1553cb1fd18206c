//! The decision for each outcome: the `tower::retry::Policy` impl.

use std::time::{Duration, SystemTime};

use http::{Request, Response};
use tokio::time::Instant;
use tower::retry::Policy;

use super::drain;
use super::future::RetryDelay;
use super::policy::Config;
use super::retry_after::RetryAfter;
use super::server_wait::{self, WaitHeader};
use super::{
    Attempts, AttemptsHandle, GiveUpEvent, GiveUpReason, ResendCount, RetryEvent, RetryPolicy,
    RetryReason, WaitSource,
};
use crate::body::{BodyOverLimit, ReplayHandle};
use crate::classify::{is_replayable, ErrorClass, RequestView, Verdict};

/// The retry to make: why, after how long, and by whose word.
struct Next {
    reason: RetryReason,
    delay: Duration,
    from: WaitSource,
}

impl RetryPolicy {
    /// The wait before the next retry, or why there is none.
    fn decide<B, ResB, E: 'static>(
        &self,
        req: &Request<B>,
        result: &Result<Response<ResB>, E>,
    ) -> Result<Option<Next>, (RetryReason, GiveUpReason)> {
        let config = &*self.config;
        let verdict = self.verdict(req, result);
        // `x-should-retry`: the server's word on whether to retry at all,
        // below the classifier's.
        let server_says = match (result, verdict) {
            (Ok(res), Verdict::Default) => server_wait::should_retry(res.headers()),
            _ => None,
        };
        let Some(reason) = transient(config, result, verdict, server_says) else {
            return Ok(None);
        };
        if server_says == Some(false) {
            return Err((reason, GiveUpReason::ServerSaidNo));
        }
        let replayable = verdict == Verdict::NotProcessed
            || reason == RetryReason::Error(ErrorClass::NeverSent)
            || is_replayable(req);
        if !replayable {
            return Err((reason, GiveUpReason::NotReplayable));
        }
        // Put there by `ReplayBodyLayer`: the body outgrew its replay limit.
        if let Some(body) = req.extensions().get::<ReplayHandle>() {
            if body.is_capped() {
                return Err((reason, GiveUpReason::BodyOverLimit));
            }
        }
        // Put there by `BufferResponseLayer`: the response body is partly
        // read, the rest streams on; the attempt is committed.
        if let Ok(res) = result {
            if res.extensions().get::<BodyOverLimit>().is_some() {
                return Err((reason, GiveUpReason::ResponseOverLimit));
            }
        }
        if self.attempt >= config.max_attempts {
            return Err((reason, GiveUpReason::Attempts));
        }
        let (delay, from) = self.wait(result, verdict).map_err(|why| (reason, why))?;
        if let (Some(max), Some(start)) = (config.max_elapsed, self.start) {
            let ends = start.elapsed().saturating_add(delay);
            if ends > max {
                return Err((reason, GiveUpReason::Elapsed));
            }
        }
        if let Some(budget) = config.budget_for(req.uri()) {
            if !budget.withdraw() {
                return Err((reason, GiveUpReason::Budget));
            }
        }
        Ok(Some(Next {
            reason,
            delay,
            from,
        }))
    }

    /// The classifier's verdict on this outcome; [`Verdict::Default`]
    /// without a classifier.
    fn verdict<B, ResB, E: 'static>(
        &self,
        req: &Request<B>,
        result: &Result<Response<ResB>, E>,
    ) -> Verdict {
        let Some(classifier) = &self.config.classifier else {
            return Verdict::Default;
        };
        let request = RequestView::of(req);
        let outcome = match result {
            Ok(res) => request.answered(res, self.attempt),
            Err(e) => request.failed(self.config.error_types.as_error(e), self.attempt),
        };
        classifier.classify(&outcome)
    }

    /// The wait before a retry, and whose word it is; or why the wait asked
    /// for is too long to make.
    fn wait<ResB, E>(
        &self,
        result: &Result<Response<ResB>, E>,
        verdict: Verdict,
    ) -> Result<(Duration, WaitSource), GiveUpReason> {
        let config = &*self.config;
        if let Verdict::RetryAfter(d) = verdict {
            // The classifier's word, as a server's: exact, never capped down.
            if d > config.max_retry_after {
                return Err(GiveUpReason::VerdictWaitTooLong);
            }
            return Ok((d, WaitSource::Classifier));
        }
        // The server's word, in every form it speaks (see `server_wait`).
        let server = match result {
            Ok(res) => server_wait::server_wait(
                res.status(),
                res.headers(),
                SystemTime::now(),
                config.max_retry_after,
            ),
            Err(_) => None,
        };
        match server {
            Some((RetryAfter::After(d), header)) => Ok((d, header.into())),
            Some((RetryAfter::TooLong, WaitHeader::RetryAfter)) => {
                Err(GiveUpReason::RetryAfterTooLong)
            }
            Some((RetryAfter::TooLong, _)) => Err(GiveUpReason::RateLimitTooLong),
            // The user's own wait: `max_retry_after` caps what a server
            // asks for, not this (the backoff's `max_delay` caps it).
            Some((RetryAfter::Invalid, _)) | None => Ok((
                config.backoff.delay(self.attempt, self.previous),
                WaitSource::Backoff,
            )),
        }
    }
}

/// Why this outcome would be retried, bounds aside; `None` when it goes
/// back as it is. The verdict comes first; [`Verdict::Default`] leaves it to
/// the retry statuses and the error classes. A fatal error (an open
/// breaker's refusal, a malformed request) is never retried.
fn transient<ResB, E: 'static>(
    config: &Config,
    result: &Result<Response<ResB>, E>,
    verdict: Verdict,
    server_says: Option<bool>,
) -> Option<RetryReason> {
    if verdict == Verdict::Final {
        return None;
    }
    match result {
        Ok(res) => {
            let status = res.status();
            // `x-should-retry: true` makes any error status retryable.
            let by_server = server_says == Some(true) && status.as_u16() >= 400;
            (verdict != Verdict::Default || by_server || config.statuses.contains(status))
                .then_some(RetryReason::Status(status))
        }
        Err(e) => match config.error_types.class_of(e) {
            ErrorClass::Fatal => None,
            class => Some(RetryReason::Error(class)),
        },
    }
}

/// tower's retry policy: which outcomes are retried, after how long.
///
/// `B: Clone`, because a retry sends a copy of the request. A request body
/// that is not `Clone` (`reqwest::Body`, hyper's `Incoming`, a stream)
/// fails to compile with "the trait `Clone` is not implemented for `Body`
/// … required for `RetryPolicy` to implement `Policy<…>`": put
/// [`ReplayBodyLayer::new(limit)`](crate::ReplayBodyLayer) above
/// `RetryLayer`; it turns `Request<B>` into `Request<ReplayBody<B>>`,
/// which is `Clone`.
impl<B, ResB, E> Policy<Request<B>, Response<ResB>, E> for RetryPolicy
where
    // Not `Clone`? `ReplayBodyLayer::new(limit)` above `RetryLayer` makes it so.
    B: Clone,
    ResB: 'static,
    E: 'static,
{
    type Future = RetryDelay;

    #[inline]
    fn retry(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<Self::Future> {
        // Most responses are not retryable statuses: kept short, inlined.
        // A classifier sees every outcome, and an error status may carry
        // `x-should-retry`, so they take the long way.
        if let Ok(res) = result {
            let status = res.status();
            if status.as_u16() < 400
                && !self.config.statuses.contains(status)
                && self.config.classifier.is_none()
            {
                res.extensions_mut().insert(Attempts::new(self.attempt));
                return None;
            }
        }
        self.retry_outcome(req, result)
    }

    #[inline]
    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        if self.attempt == 1 {
            // The first attempt of a logical request: tower calls this on the
            // service's policy, then clones that policy into the response
            // future, so what is set here travels with this request only.
            if let Some(budget) = self.config.budget_for(req.uri()) {
                budget.deposit();
            }
            if self.config.max_elapsed.is_some() {
                self.start = Some(Instant::now());
            }
        }
        // Called before every attempt, the last included: the caller's
        // count of attempts started, whatever the outcome turns out to be.
        if let Some(handle) = req.extensions().get::<AttemptsHandle>() {
            handle.set(self.attempt);
        }
        // Method, URI, version, headers, extensions and body: `Request`'s
        // own `Clone`, which builds no empty parts only to replace them.
        Some(req.clone())
    }
}

impl RetryPolicy {
    /// [`Policy::retry`] for an error, a retryable status, or any outcome
    /// when a classifier is set: retries, gives up, or hands the result
    /// back.
    #[inline(never)]
    fn retry_outcome<B, ResB: 'static, E: 'static>(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<RetryDelay> {
        match self.decide(req, result) {
            Ok(Some(next)) => return Some(self.retrying(req, result, next)),
            Ok(None) => {}
            Err((reason, why)) => self.giving_up(req, reason, why),
        }
        if let Ok(res) = result {
            res.extensions_mut().insert(Attempts::new(self.attempt));
        }
        None
    }

    /// Tells of the retry, marks `req` (what tower sends next) as a resend,
    /// and starts the wait.
    fn retrying<B, ResB: 'static, E>(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
        Next {
            reason,
            delay,
            from,
        }: Next,
    ) -> RetryDelay {
        tracing::debug!(
            attempt = self.attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            delay_from = from.as_str(),
            %reason,
            method = %req.method(),
            host = req.uri().host().unwrap_or(""),
            "retrying request"
        );
        if let Some(hook) = &self.config.on_retry {
            hook(&RetryEvent {
                attempt: self.attempt,
                delay,
                delay_from: from,
                reason,
                method: req.method(),
                uri: req.uri(),
            });
        }
        #[cfg(feature = "metrics")]
        crate::metrics::retry(reason);
        req.extensions_mut().insert(ResendCount::new(self.attempt));
        self.attempt += 1;
        self.previous = delay;
        let drain = match result {
            Ok(res) => drain::take(res.body_mut()),
            Err(_) => None,
        };
        RetryDelay::new(delay, drain)
    }

    /// Tells why a retryable outcome goes back without a retry.
    fn giving_up<B>(&self, req: &Request<B>, reason: RetryReason, why: GiveUpReason) {
        tracing::info!(
            attempts = self.attempt,
            %reason,
            why = why.as_str(),
            method = %req.method(),
            host = req.uri().host().unwrap_or(""),
            "giving up on request"
        );
        if let Some(hook) = &self.config.on_give_up {
            hook(&GiveUpEvent {
                attempts: self.attempt,
                reason,
                why,
                method: req.method(),
                uri: req.uri(),
            });
        }
        #[cfg(feature = "metrics")]
        crate::metrics::give_up(reason, why.as_str());
    }
}

impl From<WaitHeader> for WaitSource {
    fn from(header: WaitHeader) -> Self {
        match header {
            WaitHeader::RetryAfter => WaitSource::RetryAfter,
            WaitHeader::RetryAfterMs => WaitSource::RetryAfterMs,
            WaitHeader::RateLimit => WaitSource::RateLimit,
            WaitHeader::RateLimitReset => WaitSource::RateLimitReset,
            WaitHeader::XRateLimitReset => WaitSource::XRateLimitReset,
        }
    }
}
