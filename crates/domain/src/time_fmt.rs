//! Timestamps as the wire shows them (UTC RFC 3339) and as the store keeps them (Unix microseconds).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Current time truncated to whole microseconds, the precision the store keeps.
pub fn now() -> OffsetDateTime {
    from_micros(to_micros(OffsetDateTime::now_utc()))
}

/// Appends `t` as `2026-12-06T21:19:45.785713Z` (UTC, microseconds): the request headers' and the
/// request log's stamp, written digit by digit because it is on every request (the general
/// formatter costs several times more).
pub fn push_rfc3339_micros(out: &mut String, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    // The calendar date is the costly part (the time crate derives it from a day count), and
    // every request of the same second shares it: each thread keeps the last second's
    // `YYYY-MM-DDTHH:MM:SS.` and writes only the microseconds.
    thread_local! {
        static LAST_SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let second = t.unix_timestamp();
    out.reserve(27);
    LAST_SECOND.with_borrow_mut(|(cached, head)| {
        if *cached != second {
            head.clear();
            push_second_head(head, t);
            *cached = second;
        }
        out.push_str(head);
    });
    let micros = t.microsecond();
    for place in [100_000, 10_000, 1_000, 100, 10, 1] {
        out.push(char::from(b'0' + (micros / place % 10) as u8));
    }
    out.push('Z');
}

/// Appends `YYYY-MM-DDTHH:MM:SS.` of `t` (UTC).
fn push_second_head(out: &mut String, t: OffsetDateTime) {
    let (date, clock) = (t.date(), t.time());
    let fields: [(u32, u32, char); 6] = [
        (date.year().clamp(0, 9999) as u32, 4, '-'),
        (u32::from(u8::from(date.month())), 2, '-'),
        (u32::from(date.day()), 2, 'T'),
        (u32::from(clock.hour()), 2, ':'),
        (u32::from(clock.minute()), 2, ':'),
        (u32::from(clock.second()), 2, '.'),
    ];
    for (value, width, after) in fields {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
        out.push(after);
    }
}

pub fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Serde adapter: an `OffsetDateTime` as an RFC 3339 string, the wire's timestamp format.
pub mod serde_rfc3339 {
    pub use time::serde::rfc3339::*;
    pub mod option {
        pub use time::serde::rfc3339::option::*;
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written stamp parses back to the same microsecond, and has one fixed width.
        #[test]
        fn the_fast_stamp_is_rfc3339_to_the_microsecond(us in 0i64..253_402_300_799_000_000) {
            let t = from_micros(us);
            let mut out = String::new();
            push_rfc3339_micros(&mut out, t);
            prop_assert_eq!(out.len(), 27);
            prop_assert_eq!(parse_rfc3339(&out), Some(t));
        }

        /// The per-thread memo of the last second never lends a stamp another second's head:
        /// stamps in the same second, the next one and back again all parse to their own time.
        #[test]
        fn the_memoized_second_is_never_stale(us in 0i64..253_402_300_000_000_000, later in 0i64..2_000_000) {
            for at in [us, us + later, us, us + 1, us + later + 1] {
                let t = from_micros(at);
                let mut out = String::new();
                push_rfc3339_micros(&mut out, t);
                prop_assert_eq!(parse_rfc3339(&out), Some(t));
            }
        }
    }
}
