//! Non-negative decimal numbers in header values (`1500`, `1.25`), as the
//! rate-limit headers write them: read without overflow, and rounded up,
//! never down, so that a wait made of one is never early.

use std::time::Duration;

/// A non-negative decimal header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decimal {
    /// `whole` units and `billionths` of one (rounded up to a billionth).
    Value { whole: u64, billionths: u32 },
    /// Too many digits for a `u64`: a wait above any cap.
    Overflow,
    /// Not `digits` or `digits.digits` (a sign, an exponent, a space,
    /// non-ASCII, nothing): ignored.
    Invalid,
}

const BILLION: u32 = 1_000_000_000;

impl Decimal {
    /// Parses `digits[.digits]`, optional whitespace around it.
    pub(crate) fn parse(value: &[u8]) -> Decimal {
        let value = trim_ows(value);
        let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
            Some(dot) => (&value[..dot], Some(&value[dot + 1..])),
            None => (value, None),
        };
        let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
        if !digits(whole) || !fraction.is_none_or(digits) {
            return Decimal::Invalid;
        }
        let mut units: u64 = 0;
        for d in whole {
            match units
                .checked_mul(10)
                .and_then(|u| u.checked_add(u64::from(d - b'0')))
            {
                Some(u) => units = u,
                None => return Decimal::Overflow,
            }
        }
        let fraction = fraction.unwrap_or_default();
        let mut billionths: u32 = 0;
        let mut scale = BILLION / 10;
        for d in fraction.iter().take(9) {
            billionths += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        if fraction.iter().skip(9).any(|&d| d != b'0') {
            billionths += 1;
        }
        if billionths == BILLION {
            billionths = 0;
            units = match units.checked_add(1) {
                Some(u) => u,
                None => return Decimal::Overflow,
            };
        }
        Decimal::Value {
            whole: units,
            billionths,
        }
    }

    /// The value as seconds; `None` when it overflows.
    pub(crate) fn seconds(self) -> Option<Duration> {
        match self {
            Decimal::Value { whole, billionths } => Some(Duration::new(whole, billionths)),
            Decimal::Overflow | Decimal::Invalid => None,
        }
    }

    /// The value as milliseconds (a fraction rounded up to a nanosecond);
    /// `None` when it overflows.
    pub(crate) fn millis(self) -> Option<Duration> {
        match self {
            Decimal::Value { whole, billionths } => {
                let nanos = u64::from(billionths).div_ceil(1000);
                Duration::from_millis(whole).checked_add(Duration::from_nanos(nanos))
            }
            Decimal::Overflow | Decimal::Invalid => None,
        }
    }
}

/// Strips the optional whitespace (spaces, tabs) around a field value.
pub(crate) fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(whole: u64, billionths: u32) -> Decimal {
        Decimal::Value { whole, billionths }
    }

    #[test]
    fn whole_and_fractions() {
        assert_eq!(Decimal::parse(b"0"), value(0, 0));
        assert_eq!(Decimal::parse(b" 1500 "), value(1500, 0));
        assert_eq!(Decimal::parse(b"1.25"), value(1, 250_000_000));
        assert_eq!(Decimal::parse(b"0.0000000001"), value(0, 1), "rounded up");
        assert_eq!(Decimal::parse(b"0.9999999999"), value(1, 0), "carried");
        assert_eq!(Decimal::parse(b"007.000000000000"), value(7, 0));
    }

    #[test]
    fn overflow_and_garbage() {
        assert_eq!(Decimal::parse(b"18446744073709551616"), Decimal::Overflow);
        assert_eq!(
            Decimal::parse(b"18446744073709551615.9999999999"),
            Decimal::Overflow
        );
        for v in [
            &b""[..],
            b"-1",
            b"+1",
            b"1e3",
            b".5",
            b"5.",
            b"1.2.3",
            b"1 2",
            b"\xff",
            b"NaN",
        ] {
            assert_eq!(Decimal::parse(v), Decimal::Invalid, "{v:?}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(
            Decimal::parse(b"1.5").seconds(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            Decimal::parse(b"1.0000001").millis(),
            Some(Duration::from_nanos(1_000_001)),
            "a fraction of a nanosecond rounds up"
        );
        assert_eq!(Decimal::parse(b"x").millis(), None);
    }
}
