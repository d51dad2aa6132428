//! Timestamps as the wire shows them (UTC RFC 3339) and as the store keeps them (Unix microseconds).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Current time truncated to whole microseconds, the precision the store keeps.
pub fn now() -> OffsetDateTime {
    from_micros(to_micros(OffsetDateTime::now_utc()))
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
