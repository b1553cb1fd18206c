//! The rate-limit fields servers send: the IETF `RateLimit` field
//! (draft-ietf-httpapi-ratelimit-headers-11) and the de-facto
//! `RateLimit-Reset` / `X-RateLimit-Reset` with their `-Remaining`.
//!
//! `RateLimit` is a Structured Field (RFC 9651) List: one Item per quota
//! policy, its name a String or a Token, with Integer parameters `r` (the
//! quota units remaining) and `t` (seconds until the quota resets; never a
//! time since the epoch):
//!
//! ```text
//! RateLimit: "default";r=0;t=30, "daily";r=900;t=3600
//! ```
//!
//! A policy with `r=0` and `t=N` means "nothing left for N seconds"; with
//! several spent policies, the longest wait. A field that does not parse is
//! ignored whole, as RFC 9651 asks.
//!
//! `RateLimit-Reset` and `X-RateLimit-Reset` are read as delta-seconds
//! (most APIs) when below 1,000,000,000, and as a Unix time (GitHub, …)
//! from there on: no API resets a quota 31 years ahead, and no clock reads
//! a Unix time before 2001. Fractions (`1.25`) are accepted, rounded up.

use std::time::{Duration, SystemTime};

use http::header::HeaderName;
use http::HeaderMap;

use super::decimal::{trim_ows, Decimal};

pub(crate) static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub(crate) static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
pub(crate) static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub(crate) static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
pub(crate) static X_RATELIMIT_REMAINING: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining");

/// From this value on, a reset is a Unix time, not delta-seconds.
pub(crate) const UNIX_TIME_FROM: u64 = 1_000_000_000;

/// The wait a spent quota asks for, read from the `RateLimit` field: the
/// largest `t` of the policies with `r=0`. `None` when no policy is spent,
/// or the field is absent or malformed.
pub(crate) fn spent_policy_wait(headers: &HeaderMap) -> Option<Duration> {
    let mut wait: Option<u64> = None;
    for value in headers.get_all(&RATELIMIT) {
        let policies = parse_list(value.as_bytes())?;
        for policy in policies {
            if let (Some(0), Some(t)) = (policy.remaining, policy.reset) {
                if let Ok(t) = u64::try_from(t) {
                    wait = Some(wait.map_or(t, |w| w.max(t)));
                }
            }
        }
    }
    wait.map(Duration::from_secs)
}

/// Which de-facto reset header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetHeader {
    /// `RateLimit-Reset` (with `RateLimit-Remaining`).
    RateLimitReset,
    /// `X-RateLimit-Reset` (with `X-RateLimit-Remaining`).
    XRateLimitReset,
}

impl ResetHeader {
    fn names(self) -> (&'static HeaderName, &'static HeaderName) {
        match self {
            ResetHeader::RateLimitReset => (&RATELIMIT_RESET, &RATELIMIT_REMAINING),
            ResetHeader::XRateLimitReset => (&X_RATELIMIT_RESET, &X_RATELIMIT_REMAINING),
        }
    }
}

/// What a reset header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reset {
    /// The quota resets after this wait (zero for a time in the past).
    After(Duration),
    /// Too large a number for any integer: a wait above any cap.
    Overflow,
}

/// The wait until the quota of `which` resets, when its value is valid.
pub(crate) fn reset(headers: &HeaderMap, which: ResetHeader, now: SystemTime) -> Option<Reset> {
    let (reset, _) = which.names();
    let parsed = Decimal::parse(headers.get(reset)?.as_bytes());
    let whole = match parsed {
        Decimal::Invalid => return None,
        Decimal::Overflow => return Some(Reset::Overflow),
        Decimal::Value { whole, .. } => whole,
    };
    let Some(d) = parsed.seconds() else {
        return Some(Reset::Overflow);
    };
    if whole < UNIX_TIME_FROM {
        return Some(Reset::After(d));
    }
    match SystemTime::UNIX_EPOCH.checked_add(d) {
        Some(at) => Some(Reset::After(
            at.duration_since(now).unwrap_or(Duration::ZERO),
        )),
        None => Some(Reset::Overflow),
    }
}

/// Whether the `-Remaining` header matching `which` says the quota is spent
/// (`0`).
pub(crate) fn remaining_is_zero(headers: &HeaderMap, which: ResetHeader) -> bool {
    let (_, remaining) = which.names();
    headers.get(remaining).is_some_and(|v| {
        Decimal::parse(v.as_bytes())
            == Decimal::Value {
                whole: 0,
                billionths: 0,
            }
    })
}

/// The wait a response advertises before its host's quota has room again,
/// on any response (a 200 too): a `RateLimit` policy with `r=0`, or a
/// `-Remaining` of `0` with its reset. `None` when no quota is spent; an
/// overflowing reset is `Duration::MAX`.
pub(crate) fn quota_spent_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(t) = spent_policy_wait(headers) {
        return Some(t);
    }
    [ResetHeader::RateLimitReset, ResetHeader::XRateLimitReset]
        .into_iter()
        .filter(|&which| remaining_is_zero(headers, which))
        .find_map(|which| match reset(headers, which, now)? {
            Reset::After(d) => Some(d),
            Reset::Overflow => Some(Duration::MAX),
        })
}

/// One member of the `RateLimit` list: its `r` and `t` parameters, when
/// they are Integers.
#[derive(Debug, Default, PartialEq, Eq)]
struct Policy {
    remaining: Option<i64>,
    reset: Option<i64>,
}

/// Parses a `RateLimit` field value: a List of Items whose bare items are
/// Strings or Tokens. `None` for anything else (inner lists included).
fn parse_list(value: &[u8]) -> Option<Vec<Policy>> {
    let mut input = Input(trim_ows(value));
    let mut policies = Vec::new();
    if input.0.is_empty() {
        return Some(policies);
    }
    loop {
        match input.peek()? {
            b'"' => input.string()?,
            b'a'..=b'z' | b'A'..=b'Z' | b'*' => input.token(),
            _ => return None,
        }
        policies.push(input.parameters()?);
        input.skip_ows();
        if input.0.is_empty() {
            return Some(policies);
        }
        input.expect(b',')?;
        input.skip_ows();
        if input.0.is_empty() {
            return None; // a trailing comma
        }
    }
}

/// The rest of a field value, read from the front.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.bump()? == b).then_some(())
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        let n = self.0.iter().take_while(|&&b| f(b)).count();
        self.0 = &self.0[n..];
    }

    fn skip_ows(&mut self) {
        self.skip_while(|b| b == b' ' || b == b'\t');
    }

    /// `"…"`, with `\"` and `\\` escapes, printable ASCII only.
    fn string(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            match self.bump()? {
                b'"' => return Some(()),
                b'\\' => match self.bump()? {
                    b'"' | b'\\' => {}
                    _ => return None,
                },
                0x20..=0x7e => {}
                _ => return None,
            }
        }
    }

    /// `( ALPHA / "*" ) *( tchar / ":" / "/" )`; the first byte is checked.
    fn token(&mut self) {
        self.bump();
        self.skip_while(|b| b.is_ascii_alphanumeric() || b":/!#$%&'*+-.^_`|~".contains(&b));
    }

    /// `*( ";" *SP key [ "=" bare-item ] )`, keeping `r` and `t`.
    fn parameters(&mut self) -> Option<Policy> {
        let mut policy = Policy::default();
        while self.peek() == Some(b';') {
            self.bump();
            self.skip_while(|b| b == b' ');
            let start = self.0;
            match self.peek()? {
                b'a'..=b'z' | b'*' => {}
                _ => return None,
            }
            self.skip_while(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b)
            });
            let key = &start[..start.len() - self.0.len()];
            let value = if self.peek() == Some(b'=') {
                self.bump();
                self.bare_item()?
            } else {
                None // Boolean true
            };
            match key {
                b"r" => policy.remaining = value,
                b"t" => policy.reset = value,
                _ => {}
            }
        }
        Some(policy)
    }

    /// A bare item; its value when it is an Integer.
    fn bare_item(&mut self) -> Option<Option<i64>> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string().map(|()| None),
            b'a'..=b'z' | b'A'..=b'Z' | b'*' => {
                self.token();
                Some(None)
            }
            b'?' => {
                self.bump();
                matches!(self.bump()?, b'0' | b'1').then_some(None)
            }
            b':' => {
                self.bump();
                self.skip_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                self.expect(b':').map(|()| None)
            }
            _ => None,
        }
    }

    /// An Integer (`-`? 1–15 digits) or a Decimal (1–12 digits `.` 1–3).
    fn number(&mut self) -> Option<Option<i64>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.bump();
        }
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let whole = digits(self.0);
        if whole == 0 {
            return None;
        }
        let (int, rest) = self.0.split_at(whole);
        if rest.first() == Some(&b'.') {
            let fraction = digits(&rest[1..]);
            if whole > 12 || !(1..=3).contains(&fraction) {
                return None;
            }
            self.0 = &rest[1 + fraction..];
            return Some(None);
        }
        if whole > 15 {
            return None;
        }
        self.0 = rest;
        let n = int.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        Some(Some(if negative { -n } else { n }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn wait(value: &str) -> Option<Duration> {
        spent_policy_wait(&headers(&[("ratelimit", value)]))
    }

    #[test]
    fn ratelimit_spent_policies() {
        assert_eq!(wait(r#""default";r=0;t=30"#), Some(Duration::from_secs(30)));
        assert_eq!(
            wait("default;r=0;t=30"),
            Some(Duration::from_secs(30)),
            "a token name"
        );
        assert_eq!(
            wait(r#""burst";r=0;t=5, "daily";r=0;t=3600, "x";r=9;t=9000"#),
            Some(Duration::from_secs(3600)),
            "the longest of the spent policies"
        );
        assert_eq!(
            wait(r#""default";t=30;r=0;pk=:cHsdsRa894==:"#),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait(r#""default";r=5;t=30"#), None, "not spent");
        assert_eq!(wait(r#""default";r=0"#), None, "no reset");
        assert_eq!(
            wait(r#""a\"b";r=0;t=1;q="x";f=?1;d=1.5;flag"#),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn ratelimit_malformed_is_ignored() {
        for v in [
            r#""default";r=0;t=-30"#,
            r#""default";r=0;t=1.5"#,
            r#""default";r=0;t=1234567890123456"#,
            r#""default";r=0;t=30,"#,
            r#"("a" "b");r=0;t=30"#,
            r#""default;r=0;t=30"#,
            r#"1;r=0;t=30"#,
            r#""default";R=0;t=30"#,
            r#""default";r=0;t=30 junk"#,
            "",
        ] {
            assert_eq!(wait(v), None, "{v}");
        }
        // One malformed line spoils the field (RFC 9651).
        let map = headers(&[("ratelimit", r#""a";r=0;t=3"#), ("ratelimit", "(")]);
        assert_eq!(spent_policy_wait(&map), None);
    }

    #[test]
    fn resets_delta_seconds_or_unix_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = |v: &str| {
            reset(
                &headers(&[("x-ratelimit-reset", v)]),
                ResetHeader::XRateLimitReset,
                now,
            )
        };
        assert_eq!(r("30"), Some(Reset::After(Duration::from_secs(30))));
        assert_eq!(r("1.5"), Some(Reset::After(Duration::from_millis(1500))));
        assert_eq!(
            r("999999999"),
            Some(Reset::After(Duration::from_secs(999_999_999)))
        );
        assert_eq!(r("1700000042"), Some(Reset::After(Duration::from_secs(42))));
        assert_eq!(
            r("1000000000"),
            Some(Reset::After(Duration::ZERO)),
            "a past time"
        );
        assert_eq!(r("99999999999999999999"), Some(Reset::Overflow));
        assert_eq!(r("-5"), None);
        assert_eq!(r("soon"), None);
        assert_eq!(
            reset(&HeaderMap::new(), ResetHeader::RateLimitReset, now),
            None
        );
    }

    #[test]
    fn spent_quotas() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let spent = |pairs: &[(&str, &str)]| quota_spent_wait(&headers(pairs), now);
        assert_eq!(
            spent(&[("ratelimit", "p;r=0;t=7")]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            spent(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000003")
            ]),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            spent(&[
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "99999999999999999999")
            ]),
            Some(Duration::MAX)
        );
        assert_eq!(
            spent(&[("x-ratelimit-remaining", "1"), ("x-ratelimit-reset", "3")]),
            None
        );
        assert_eq!(spent(&[("x-ratelimit-remaining", "0")]), None, "no reset");
        assert_eq!(spent(&[("ratelimit", "p;r=1;t=7")]), None);
    }

    #[test]
    fn remaining() {
        let map = headers(&[("x-ratelimit-remaining", "0"), ("ratelimit-remaining", "3")]);
        assert!(remaining_is_zero(&map, ResetHeader::XRateLimitReset));
        assert!(!remaining_is_zero(&map, ResetHeader::RateLimitReset));
    }
}
