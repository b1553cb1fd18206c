//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! Hand-written around `httpdate` because no crate parses delay-seconds of
//! any length without overflow and tells "too long" from "garbage", nor
//! reads the two-digit year of an RFC 850 date relative to the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use super::decimal::{trim_ows, Decimal};

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
        match parse_http_date(bytes, now) {
            // Rounded up by the timer, never down: the retry is never sent
            // before the moment the server named.
            Some(at) => cap(at.duration_since(now).unwrap_or(Duration::ZERO), max),
            None => RetryAfter::Invalid,
        }
    }
}

/// An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and
/// asctime forms), a two-digit year read relative to `now`; `None` when
/// malformed.
pub(crate) fn parse_http_date(value: &[u8], now: SystemTime) -> Option<SystemTime> {
    let text = std::str::from_utf8(value).ok()?;
    match rfc850_as_imf_fixdate(text, now) {
        Some(fixdate) => httpdate::parse_http_date(&fixdate).ok(),
        None => httpdate::parse_http_date(text).ok(),
    }
}

/// An RFC 850 date (`Wednesday, 01-Jan-70 00:00:00 GMT`) rewritten as an
/// IMF-fixdate (`Wed, 01 Jan 2070 00:00:00 GMT`) with its year per RFC 9110
/// §5.6.7; `None` for any other text.
///
/// httpdate cannot read these: it takes `70`–`99` as 19xx and `00`–`69`
/// as 20xx whatever the clock (then rejects the weekday, which is that of
/// 2070), where RFC 9110 reads the year relative to now. So the year is
/// chosen here and httpdate parses and validates the whole date.
fn rfc850_as_imf_fixdate(text: &str, now: SystemTime) -> Option<String> {
    const WEEKDAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    if !text.is_ascii() {
        return None;
    }
    let (weekday, date) = text.split_once(", ")?;
    // `DD-Mon-YY HH:MM:SS GMT`
    let b = date.as_bytes();
    if !WEEKDAYS.contains(&weekday) || b.len() != 22 || b[2] != b'-' || b[6] != b'-' {
        return None;
    }
    let yy: u16 = date[7..9].parse().ok()?;
    let year = two_digit_year(yy, year_of(now));
    Some(format!(
        "{}, {} {} {year:04}{}",
        &weekday[..3],
        &date[..2],
        &date[3..6],
        &date[9..]
    ))
}

/// RFC 9110 §5.6.7: the year ending in `yy` that is ahead of `now_year` (or
/// is it), unless that is more than 50 years ahead: then the most recent
/// past year ending in `yy`.
fn two_digit_year(yy: u16, now_year: u16) -> u16 {
    let ahead = now_year + (yy + 100 - now_year % 100) % 100;
    if ahead - now_year > 50 {
        ahead - 100
    } else {
        ahead
    }
}

/// The calendar year of `now`, by httpdate's calendar (which only knows
/// 1970 to 9999: a clock outside is clamped).
fn year_of(now: SystemTime) -> u16 {
    // 9999-12-31 23:59:59 UTC.
    let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    let date = httpdate::fmt_http_date(now.clamp(UNIX_EPOCH, last));
    // `Sun, 06 Nov 1994 08:49:37 GMT`
    date.get(12..16)
        .and_then(|year| year.parse().ok())
        .unwrap_or(1970)
}

/// Delay-seconds: digits only (the caller checked), read as the rate-limit
/// headers' decimals are, without overflow.
fn delay_seconds(digits: &[u8], max: Duration) -> RetryAfter {
    match Decimal::parse(digits) {
        Decimal::Invalid => RetryAfter::Invalid,
        // Overflow: more seconds than a `u64` holds, above any cap.
        decimal => decimal
            .seconds()
            .map_or(RetryAfter::TooLong, |d| cap(d, max)),
    }
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

    /// 2026-12-02 00:00:00 UTC.
    fn december_2026() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_169_600)
    }

    #[test]
    fn two_digit_years_are_read_relative_to_now() {
        // RFC 9110 §5.6.7: ahead, unless more than 50 years ahead.
        assert_eq!(two_digit_year(70, 2026), 2070);
        assert_eq!(two_digit_year(76, 2026), 2076);
        assert_eq!(two_digit_year(77, 2026), 1977);
        assert_eq!(two_digit_year(26, 2026), 2026);
        assert_eq!(two_digit_year(25, 2026), 2025);
        assert_eq!(two_digit_year(0, 2026), 2000);
        assert_eq!(two_digit_year(10, 2090), 2110);
        assert_eq!(two_digit_year(99, 1970), 1999);
        assert_eq!(two_digit_year(69, 9999), 9969);
        assert_eq!(year_of(december_2026()), 2026);
        assert_eq!(
            year_of(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            1970
        );
        assert_eq!(
            year_of(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
            9999
        );
    }

    #[test]
    fn rfc850_dates_with_two_digit_years() {
        let now = december_2026();
        let at = |v: &[u8]| parse_http_date(v, now);
        let imf = |v: &str| httpdate::parse_http_date(v).ok();
        // 2070: far above any cap, handed back at once.
        assert_eq!(
            at(b"Wednesday, 01-Jan-70 00:00:00 GMT"),
            imf("Wed, 01 Jan 2070 00:00:00 GMT")
        );
        assert!(at(b"Wednesday, 01-Jan-70 00:00:00 GMT").is_some());
        assert_eq!(
            RetryAfter::parse(
                &HeaderValue::from_static("Wednesday, 01-Jan-70 00:00:00 GMT"),
                now,
                MAX
            ),
            RetryAfter::TooLong
        );
        // 1977 (2077 is more than 50 years ahead): in the past, at once.
        assert_eq!(
            at(b"Saturday, 01-Jan-77 00:00:00 GMT"),
            imf("Sat, 01 Jan 1977 00:00:00 GMT")
        );
        assert_eq!(
            RetryAfter::parse(
                &HeaderValue::from_static("Saturday, 01-Jan-77 00:00:00 GMT"),
                now,
                MAX
            ),
            RetryAfter::After(Duration::ZERO)
        );
        // The weekday of the year RFC 9110 chooses, not another's.
        assert_eq!(at(b"Thursday, 01-Jan-70 00:00:00 GMT"), None);
        // The other forms are httpdate's, unchanged.
        assert_eq!(
            at(b"Wed, 02 Dec 2026 00:00:05 GMT"),
            Some(now + Duration::from_secs(5))
        );
        for garbage in [
            &b"Wednesday, 01-Jan-7x 00:00:00 GMT"[..],
            b"Wednesday, 01-Jan-70 00:00:00 GMTX",
            b"Wed, 01-Jan-70 00:00:00 GMT",
            b"Wednesday 01-Jan-70 00:00:00 GMT",
            b"Wednesday, 01 Jan 70 00:00:00 GMT",
            b"Wednesday, \xc3\xa9-Jan-70 00:00:00 GMT",
            b"Wednesday, ",
            b",",
        ] {
            assert_eq!(at(garbage), None, "{garbage:?}");
        }
    }
}
