//! The decision for each outcome: the `tower::retry::Policy` impl.

use std::time::{Duration, SystemTime};

use http::{Request, Response};
use tokio::time::Instant;
use tower::retry::Policy;

use super::drain;
use super::future::RetryDelay;
use super::retry_after::RetryAfter;
use super::server_wait::{self, WaitHeader};
use super::{Attempts, ResendCount, RetryEvent, RetryPolicy, RetryReason};
use crate::body::{BodyOverLimit, ReplayHandle};
use crate::classify::{is_replayable, ErrorClass};

/// The retry to make: why, after how long, and by whose word.
struct Next {
    reason: RetryReason,
    delay: Duration,
    from: DelayFrom,
}

/// Where the wait before a retry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DelayFrom {
    Backoff,
    RetryAfter,
    RetryAfterMs,
    RateLimit,
    RateLimitReset,
    XRateLimitReset,
}

impl DelayFrom {
    fn as_str(self) -> &'static str {
        match self {
            DelayFrom::Backoff => "backoff",
            DelayFrom::RetryAfter => "retry-after",
            DelayFrom::RetryAfterMs => "retry-after-ms",
            DelayFrom::RateLimit => "ratelimit",
            DelayFrom::RateLimitReset => "ratelimit-reset",
            DelayFrom::XRateLimitReset => "x-ratelimit-reset",
        }
    }
}

impl From<WaitHeader> for DelayFrom {
    fn from(header: WaitHeader) -> Self {
        match header {
            WaitHeader::RetryAfter => DelayFrom::RetryAfter,
            WaitHeader::RetryAfterMs => DelayFrom::RetryAfterMs,
            WaitHeader::RateLimit => DelayFrom::RateLimit,
            WaitHeader::RateLimitReset => DelayFrom::RateLimitReset,
            WaitHeader::XRateLimitReset => DelayFrom::XRateLimitReset,
        }
    }
}

/// Why a retryable outcome was not retried.
#[derive(Debug, Clone, Copy)]
enum GiveUp {
    NotReplayable,
    BodyOverLimit,
    Attempts,
    RetryAfterTooLong,
    RateLimitTooLong,
    ServerSaidNo,
    ResponseOverLimit,
    Elapsed,
    Budget,
}

impl GiveUp {
    fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotReplayable => "request is not safe to replay",
            GiveUp::BodyOverLimit => "request body exceeded the replay limit",
            GiveUp::Attempts => "max attempts reached",
            GiveUp::RetryAfterTooLong => "Retry-After above max_retry_after",
            GiveUp::RateLimitTooLong => "rate-limit wait above max_retry_after",
            GiveUp::ServerSaidNo => "x-should-retry: false",
            GiveUp::ResponseOverLimit => "response body over the BufferResponseLayer limit",
            GiveUp::Elapsed => "max elapsed time would be exceeded",
            GiveUp::Budget => "retry budget exhausted",
        }
    }
}

impl RetryPolicy {
    /// The wait before the next retry, or why there is none.
    fn decide<B, ResB, E: 'static>(
        &self,
        req: &Request<B>,
        result: &Result<Response<ResB>, E>,
    ) -> Result<Option<Next>, (RetryReason, GiveUp)> {
        let config = &*self.config;
        let reason = match result {
            // `x-should-retry`: the server's word on whether to retry at all.
            Ok(res) => {
                let status = res.status();
                match server_wait::should_retry(res.headers()) {
                    Some(true) if status.as_u16() >= 400 => RetryReason::Status(status),
                    _ if !config.statuses.contains(status) => return Ok(None),
                    Some(false) => return Err((RetryReason::Status(status), GiveUp::ServerSaidNo)),
                    _ => RetryReason::Status(status),
                }
            }
            Err(e) => match ErrorClass::of(e) {
                ErrorClass::Fatal => return Ok(None),
                class => RetryReason::Error(class),
            },
        };
        // Put there by `BufferResponseLayer`: the body is partly read.
        if let Ok(res) = result {
            if res.extensions().get::<BodyOverLimit>().is_some() {
                return Err((reason, GiveUp::ResponseOverLimit));
            }
        }
        if reason != RetryReason::Error(ErrorClass::NeverSent) && !is_replayable(req) {
            return Err((reason, GiveUp::NotReplayable));
        }
        // Put there by `ReplayBodyLayer`: the body outgrew its replay limit.
        if let Some(body) = req.extensions().get::<ReplayHandle>() {
            if body.is_capped() {
                return Err((reason, GiveUp::BodyOverLimit));
            }
        }
        if self.attempt >= config.max_attempts {
            return Err((reason, GiveUp::Attempts));
        }
        let server = match result {
            Ok(res) => server_wait::server_wait(
                res.status(),
                res.headers(),
                SystemTime::now(),
                config.max_retry_after,
            ),
            Err(_) => None,
        };
        let (delay, from) = match server {
            Some((RetryAfter::After(d), header)) => (d, header.into()),
            Some((RetryAfter::TooLong, WaitHeader::RetryAfter)) => {
                return Err((reason, GiveUp::RetryAfterTooLong))
            }
            Some((RetryAfter::TooLong, _)) => return Err((reason, GiveUp::RateLimitTooLong)),
            Some((RetryAfter::Invalid, _)) | None => {
                let d = config.backoff.delay(self.attempt, self.previous);
                (d.min(config.max_retry_after), DelayFrom::Backoff)
            }
        };
        if let (Some(max), Some(start)) = (config.max_elapsed, self.start) {
            let ends = start.elapsed().saturating_add(delay);
            if ends > max {
                return Err((reason, GiveUp::Elapsed));
            }
        }
        if let Some(budget) = &config.budget {
            if !budget.withdraw() {
                return Err((reason, GiveUp::Budget));
            }
        }
        Ok(Some(Next {
            reason,
            delay,
            from,
        }))
    }
}

impl<B, ResB, E> Policy<Request<B>, Response<ResB>, E> for RetryPolicy
where
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
        // (An error status may carry `x-should-retry`: decided out of line.)
        if let Ok(res) = result {
            if !self.config.statuses.contains(res.status()) && res.status().as_u16() < 400 {
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
            if let Some(budget) = &self.config.budget {
                budget.deposit();
            }
            if self.config.max_elapsed.is_some() {
                self.start = Some(Instant::now());
            }
        }
        // Method, URI, version, headers, extensions and body: `Request`'s
        // own `Clone`, which builds no empty parts only to replace them.
        Some(req.clone())
    }
}

impl RetryPolicy {
    /// [`Policy::retry`] for an error or a retryable status: retries, gives
    /// up, or (a fatal error) hands the result back.
    #[inline(never)]
    fn retry_outcome<B, ResB: 'static, E: 'static>(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<RetryDelay> {
        match self.decide(req, result) {
            Ok(Some(Next {
                reason,
                delay,
                from,
            })) => {
                tracing::debug!(
                    attempt = self.attempt,
                    delay_ms = delay.as_millis() as u64,
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
                        reason,
                        gave_up: None,
                        from_retry_after: from != DelayFrom::Backoff,
                        method: req.method(),
                        uri: req.uri(),
                    });
                }
                #[cfg(feature = "metrics")]
                crate::metrics::retry(reason);
                // `req` is what tower sends next: mark it as a resend.
                req.extensions_mut().insert(ResendCount::new(self.attempt));
                self.attempt += 1;
                self.previous = delay;
                let drain = match result {
                    Ok(res) if !delay.is_zero() => drain::take(res.body_mut()),
                    _ => None,
                };
                return Some(RetryDelay::new(delay, drain));
            }
            Ok(None) => {}
            Err((reason, why)) => {
                tracing::info!(
                    attempts = self.attempt,
                    %reason,
                    why = why.as_str(),
                    method = %req.method(),
                    host = req.uri().host().unwrap_or(""),
                    "giving up on request"
                );
                if let Some(hook) = &self.config.on_give_up {
                    hook(&RetryEvent {
                        attempt: self.attempt,
                        delay: Duration::ZERO,
                        reason,
                        gave_up: Some(why.as_str()),
                        from_retry_after: false,
                        method: req.method(),
                        uri: req.uri(),
                    });
                }
                #[cfg(feature = "metrics")]
                crate::metrics::give_up(reason, why.as_str());
            }
        }
        if let Ok(res) = result {
            res.extensions_mut().insert(Attempts::new(self.attempt));
        }
        None
    }
}
