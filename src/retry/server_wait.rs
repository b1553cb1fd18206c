//! The server's word on a retryable response, in every form it speaks:
//! which header sets the wait, and whether to retry at all.
//!
//! | precedence | header | value |
//! |---|---|---|
//! | 1 | `Retry-After` | delay-seconds or an HTTP-date (RFC 9110 §10.2.3) |
//! | 2 | `retry-after-ms` | milliseconds (OpenAI, Anthropic) |
//! | 3 | `RateLimit` | the longest `t` of the policies with `r=0` (IETF draft) |
//! | 4 | `RateLimit-Reset` | delta-seconds, or a Unix time from 1,000,000,000 on |
//! | 5 | `X-RateLimit-Reset` | the same |
//!
//! The first header with a valid value wins; a malformed one (negative,
//! not a number, non-ASCII) is skipped. The reset headers count only when
//! the quota is spent: a 429, or their `-Remaining` header at `0` (GitHub
//! sends them on every response, where they are no reason to wait).

use std::time::{Duration, SystemTime};

use http::header::{HeaderName, RETRY_AFTER};
use http::{HeaderMap, StatusCode};

use super::decimal::{trim_ows, Decimal};
use super::rate_limit::{self, Reset, ResetHeader};
use super::retry_after::RetryAfter;

static RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
static X_SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// The header that set a server's wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitHeader {
    RetryAfter,
    RetryAfterMs,
    RateLimit,
    RateLimitReset,
    XRateLimitReset,
}

/// The wait the server asks for, capped by `max`, and the header that said
/// it; `None` when no header has a valid value. Never `RetryAfter::Invalid`.
pub(crate) fn server_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
    max: Duration,
) -> Option<(RetryAfter, WaitHeader)> {
    let cap = |d: Option<Duration>| match d {
        Some(d) if d <= max => RetryAfter::After(d),
        _ => RetryAfter::TooLong,
    };
    if let Some(v) = headers.get(RETRY_AFTER) {
        match RetryAfter::parse(v, now, max) {
            RetryAfter::Invalid => {}
            wait => return Some((wait, WaitHeader::RetryAfter)),
        }
    }
    if let Some(v) = headers.get(&RETRY_AFTER_MS) {
        match Decimal::parse(v.as_bytes()) {
            Decimal::Invalid => {}
            ms => return Some((cap(ms.millis()), WaitHeader::RetryAfterMs)),
        }
    }
    if let Some(t) = rate_limit::spent_policy_wait(headers) {
        return Some((cap(Some(t)), WaitHeader::RateLimit));
    }
    for (which, header) in [
        (ResetHeader::RateLimitReset, WaitHeader::RateLimitReset),
        (ResetHeader::XRateLimitReset, WaitHeader::XRateLimitReset),
    ] {
        if status != StatusCode::TOO_MANY_REQUESTS && !rate_limit::remaining_is_zero(headers, which)
        {
            continue;
        }
        match rate_limit::reset(headers, which, now) {
            Some(Reset::After(d)) => return Some((cap(Some(d)), header)),
            Some(Reset::Overflow) => return Some((RetryAfter::TooLong, header)),
            None => {}
        }
    }
    None
}

/// `x-should-retry: true` or `false` (any case); `None` when absent or
/// anything else.
pub(crate) fn should_retry(headers: &HeaderMap) -> Option<bool> {
    let v = trim_ows(headers.get(&X_SHOULD_RETRY)?.as_bytes());
    if v.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    fn wait(status: u16, pairs: &[(&str, &[u8])]) -> Option<(RetryAfter, WaitHeader)> {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v).unwrap(),
            );
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        server_wait(StatusCode::from_u16(status).unwrap(), &map, now, MAX)
    }

    fn after(secs: u64) -> RetryAfter {
        RetryAfter::After(Duration::from_secs(secs))
    }

    #[test]
    fn precedence() {
        let all: &[(&str, &[u8])] = &[
            ("x-ratelimit-reset", b"5"),
            ("ratelimit-reset", b"4"),
            ("ratelimit", b"\"p\";r=0;t=3"),
            ("retry-after-ms", b"2000"),
            ("retry-after", b"1"),
        ];
        assert_eq!(wait(429, all), Some((after(1), WaitHeader::RetryAfter)));
        assert_eq!(
            wait(429, &all[..4]),
            Some((after(2), WaitHeader::RetryAfterMs))
        );
        assert_eq!(
            wait(429, &all[..3]),
            Some((after(3), WaitHeader::RateLimit))
        );
        assert_eq!(
            wait(429, &all[..2]),
            Some((after(4), WaitHeader::RateLimitReset))
        );
        assert_eq!(
            wait(429, &all[..1]),
            Some((after(5), WaitHeader::XRateLimitReset))
        );
        assert_eq!(wait(429, &[]), None);
    }

    #[test]
    fn malformed_values_fall_through() {
        assert_eq!(
            wait(
                503,
                &[("retry-after", b"soon"), ("retry-after-ms", b"1500")]
            ),
            Some((
                RetryAfter::After(Duration::from_millis(1500)),
                WaitHeader::RetryAfterMs
            ))
        );
        assert_eq!(
            wait(
                429,
                &[
                    ("retry-after-ms", b"-1"),
                    ("x-ratelimit-reset", b"\xff"),
                    ("ratelimit-reset", b"7")
                ]
            ),
            Some((after(7), WaitHeader::RateLimitReset))
        );
    }

    #[test]
    fn above_the_cap_or_overflowing_is_too_long() {
        assert_eq!(
            wait(503, &[("retry-after-ms", b"60001")]),
            Some((RetryAfter::TooLong, WaitHeader::RetryAfterMs))
        );
        assert_eq!(
            wait(503, &[("retry-after-ms", b"99999999999999999999999")]),
            Some((RetryAfter::TooLong, WaitHeader::RetryAfterMs))
        );
        assert_eq!(
            wait(503, &[("ratelimit", b"p;r=0;t=61")]),
            Some((RetryAfter::TooLong, WaitHeader::RateLimit))
        );
        assert_eq!(
            wait(429, &[("x-ratelimit-reset", b"1700003600")]),
            Some((RetryAfter::TooLong, WaitHeader::XRateLimitReset))
        );
    }

    #[test]
    fn resets_count_only_for_a_spent_quota() {
        // GitHub on a 500: a reset an hour ahead, quota left.
        let github: &[(&str, &[u8])] = &[
            ("x-ratelimit-remaining", b"4999"),
            ("x-ratelimit-reset", b"1700003600"),
        ];
        assert_eq!(wait(500, github), None);
        assert_eq!(
            wait(
                503,
                &[
                    ("x-ratelimit-remaining", b"0"),
                    ("x-ratelimit-reset", b"1700000009")
                ]
            ),
            Some((after(9), WaitHeader::XRateLimitReset))
        );
    }

    #[test]
    fn should_retry_values() {
        let h = |v: &[u8]| {
            let mut map = HeaderMap::new();
            map.insert(&X_SHOULD_RETRY, http::HeaderValue::from_bytes(v).unwrap());
            should_retry(&map)
        };
        assert_eq!(h(b"true"), Some(true));
        assert_eq!(h(b" FALSE "), Some(false));
        assert_eq!(h(b"yes"), None);
        assert_eq!(h(b"\xfftrue"), None);
        assert_eq!(should_retry(&HeaderMap::new()), None);
    }
}
