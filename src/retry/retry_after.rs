//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! Hand-written around `httpdate` because no crate parses delay-seconds of
//! any length without overflow and tells "too long" from "garbage".

use std::time::{Duration, SystemTime};

use http::HeaderValue;

use super::decimal::trim_ows;

/// What a `Retry-After` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
    /// Wait this long (zero for a date in the past).
    After(Duration),
    /// A wait above the cap (including any number too large for an integer
    /// type: RFC 9110 allows any count of digits).
    TooLong,
    /// Malformed, negative or non-ASCII: ignored, the backoff applies.
    Invalid,
}

impl RetryAfter {
    /// Parses `value` against the clock `now` and the cap `max`.
    pub(crate) fn parse(value: &HeaderValue, now: SystemTime, max: Duration) -> RetryAfter {
        let bytes = trim_ows(value.as_bytes());
        if bytes.is_empty() {
            return RetryAfter::Invalid;
        }
        if bytes.iter().all(u8::is_ascii_digit) {
            return delay_seconds(bytes, max);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return RetryAfter::Invalid;
        };
        match httpdate::parse_http_date(text) {
            // Rounded up by the timer, never down: the retry is never sent
            // before the moment the server named.
            Ok(at) => cap(at.duration_since(now).unwrap_or(Duration::ZERO), max),
            Err(_) => RetryAfter::Invalid,
        }
    }
}

fn delay_seconds(digits: &[u8], max: Duration) -> RetryAfter {
    let mut secs: u64 = 0;
    for d in digits {
        match secs
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(d - b'0')))
        {
            Some(s) => secs = s,
            None => return RetryAfter::TooLong,
        }
    }
    cap(Duration::from_secs(secs), max)
}

fn cap(d: Duration, max: Duration) -> RetryAfter {
    if d > max {
        RetryAfter::TooLong
    } else {
        RetryAfter::After(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    fn parse(v: &[u8]) -> RetryAfter {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        RetryAfter::parse(&HeaderValue::from_bytes(v).unwrap(), now, MAX)
    }

    #[test]
    fn delay_seconds() {
        assert_eq!(parse(b"0"), RetryAfter::After(Duration::ZERO));
        assert_eq!(parse(b" 3 "), RetryAfter::After(Duration::from_secs(3)));
        assert_eq!(parse(b"60"), RetryAfter::After(MAX));
        assert_eq!(parse(b"61"), RetryAfter::TooLong);
        assert_eq!(
            parse(b"000000000000000000000000000007"),
            RetryAfter::After(Duration::from_secs(7))
        );
        assert_eq!(parse(b"18446744073709551616"), RetryAfter::TooLong);
        assert_eq!(parse(&[b'9'; 4096]), RetryAfter::TooLong);
    }

    #[test]
    fn garbage_is_invalid() {
        for v in [
            &b"-1"[..],
            b"+1",
            b"1.5",
            b"1e3",
            b"soon",
            b"",
            b"  ",
            b"\xff\xfe",
            b"1 2",
        ] {
            assert_eq!(parse(v), RetryAfter::Invalid, "{v:?}");
        }
    }

    #[test]
    fn http_dates() {
        // now = Tue, 14 Nov 2023 22:13:20 GMT
        assert_eq!(
            parse(b"Tue, 14 Nov 2023 22:13:25 GMT"),
            RetryAfter::After(Duration::from_secs(5))
        );
        assert_eq!(
            parse(b"Tue, 14 Nov 2023 22:00:00 GMT"),
            RetryAfter::After(Duration::ZERO)
        );
        assert_eq!(parse(b"Wed, 15 Nov 2023 22:13:20 GMT"), RetryAfter::TooLong);
        // obsolete RFC 850 and asctime forms are HTTP-dates too
        assert_eq!(
            parse(b"Tuesday, 14-Nov-23 22:13:30 GMT"),
            RetryAfter::After(Duration::from_secs(10))
        );
        assert_eq!(
            parse(b"Tue Nov 14 22:13:21 2023"),
            RetryAfter::After(Duration::from_secs(1))
        );
    }
}
