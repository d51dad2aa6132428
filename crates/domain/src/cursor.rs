//! Opaque list cursors. A cursor names the position after the last item returned (its sequence
//! number in the store), so pages neither repeat nor skip while other writers insert.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The spec's cap on the `after` parameter.
pub const CURSOR_MAX_LEN: usize = 2000;

pub fn encode(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{seq}"))
}

/// `None` for anything this server did not issue.
pub fn decode(cursor: &str) -> Option<i64> {
    if cursor.len() > CURSOR_MAX_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let seq: i64 = text.strip_prefix("c1:")?.parse().ok()?;
    (seq > 0).then_some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(seq in 1i64..i64::MAX) {
            prop_assert_eq!(decode(&encode(seq)), Some(seq));
        }

        #[test]
        fn decode_never_panics(s in "\\PC{0,200}") {
            let _ = decode(&s);
        }
    }
}
