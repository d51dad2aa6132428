//! Durations as people type them: a positive whole number and a unit (`500ms`, `10s`, `2m`,
//! `12h`, `7d`, `2w`, `1y`), the one parser behind the API's `expiringWithin`, the admin CLI's
//! lifetimes and the server's timeouts. Each caller names the units it accepts.

use std::time::Duration;

/// A unit a caller may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    /// 365 days.
    Years,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Minutes => "m",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Weeks => "w",
            Unit::Years => "y",
        }
    }

    fn of(self, n: u64) -> Option<Duration> {
        let seconds_per = match self {
            Unit::Millis => return Some(Duration::from_millis(n)),
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
            Unit::Days => 86_400,
            Unit::Weeks => 7 * 86_400,
            Unit::Years => 365 * 86_400,
        };
        n.checked_mul(seconds_per).map(Duration::from_secs)
    }
}

/// Parses `raw` with one of `units`; `bare` is the unit of a number written without one (`None`:
/// a unit is required). `None` for zero, a sign, a fraction, an unknown unit, or an overflow.
pub fn parse(raw: &str, units: &[Unit], bare: Option<Unit>) -> Option<Duration> {
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, suffix) = raw.split_at(split);
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let unit = match suffix {
        "" => bare?,
        s => *units.iter().find(|u| u.suffix() == s)?,
    };
    unit.of(n)
}

/// A compound duration as Monime's `duration` fields take it (`1h30m`, `90s`, `2d12h`): one or
/// more parts of [`parse`]'s form, their units in decreasing size, each at most once. `None` for
/// anything else (an empty text, a repeated or out-of-order unit, an overflow).
pub fn parse_compound(raw: &str, units: &[Unit]) -> Option<Duration> {
    let mut rest = raw;
    let mut total = Duration::ZERO;
    let mut previous: Option<usize> = None;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_len = rest[digits..].find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len() - digits);
        let (part, tail) = rest.split_at(digits + unit_len);
        let unit =
            units.iter().copied().find(|u| part.ends_with(u.suffix()) && part.len() == digits + u.suffix().len())?;
        let rank = UNITS_LARGEST_FIRST.iter().position(|u| *u == unit)?;
        if previous.is_some_and(|p| rank <= p) {
            return None;
        }
        previous = Some(rank);
        total = total.checked_add(parse(part, &[unit], None)?)?;
        rest = tail;
    }
    Some(total)
}

const UNITS_LARGEST_FIRST: [Unit; 7] =
    [Unit::Years, Unit::Weeks, Unit::Days, Unit::Hours, Unit::Minutes, Unit::Seconds, Unit::Millis];

/// [`parse`] into a `time::Duration` (which holds at most i64::MAX seconds).
pub fn parse_time(raw: &str, units: &[Unit], bare: Option<Unit>) -> Option<time::Duration> {
    parse(raw, units, bare).and_then(|d| time::Duration::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: &[Unit] =
        &[Unit::Millis, Unit::Seconds, Unit::Minutes, Unit::Hours, Unit::Days, Unit::Weeks, Unit::Years];

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse("250ms", ALL, None), Some(Duration::from_millis(250)));
        assert_eq!(parse("2m", ALL, None), Some(Duration::from_secs(120)));
        assert_eq!(parse("1y", ALL, None), Some(Duration::from_secs(365 * 86_400)));
        assert_eq!(parse("7", ALL, Some(Unit::Seconds)), Some(Duration::from_secs(7)));
        assert_eq!(parse("7", ALL, None), None);
        assert_eq!(parse("7d", &[Unit::Hours], None), None, "only the caller's units");
        for bad in ["", "0", "0s", "s", "-1s", "+1s", "1.5s", "3é", "1 s", "99999999999999y"] {
            assert_eq!(parse(bad, ALL, Some(Unit::Seconds)), None, "{bad}");
        }
        assert_eq!(parse_time("99999999999999999w", ALL, None), None);
    }

    #[test]
    fn compound_durations_as_monime_writes_them() {
        let hms = &[Unit::Days, Unit::Hours, Unit::Minutes, Unit::Seconds];
        assert_eq!(parse_compound("1h30m", hms), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_compound("10m", hms), Some(Duration::from_secs(600)));
        assert_eq!(parse_compound("2d12h5s", hms), Some(Duration::from_secs(2 * 86_400 + 12 * 3_600 + 5)));
        for bad in
            ["", "1", "m", "30m1h", "1h1h", "1h 30m", "0h30m", "1.5h", "1w", "1h30", "-1m", "99999999999999999999s"]
        {
            assert_eq!(parse_compound(bad, hms), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn compound_never_panics(raw in "\\PC{0,16}") {
            let _ = parse_compound(&raw, ALL);
        }

        #[test]
        fn never_panics(raw in "\\PC{0,12}") {
            let _ = parse_time(&raw, ALL, Some(Unit::Seconds));
        }
    }
}
