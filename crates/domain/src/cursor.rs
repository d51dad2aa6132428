//! Opaque list cursors, sealed to the list they came from. A cursor names the position after the
//! last item returned (its sequence number in the store), so pages neither repeat nor skip while
//! other writers insert. That number is global across tenants, so it is never shown: a cursor is
//! the number encrypted and authenticated under a per-deployment key, bound to one Space, one
//! environment, one list and one filter.
//!
//! Construction (deterministic authenticated encryption in the SIV style, from HMAC-SHA256 alone):
//! `tag = HMAC(k, "t" ‖ scope ‖ seq)[..16]`, `ct = seq ⊕ HMAC(k, "p" ‖ tag)[..8]`, cursor =
//! base64url(`version ‖ ct ‖ tag`). Decoding recovers `seq` from the tag and recomputes the tag
//! for the scope it is used in; any other scope, a changed byte, or text this server did not seal
//! fails the comparison (in constant time) and reads as "not a cursor". No nonce is needed: the
//! tag is a pseudorandom function of (scope, seq), which is unique per cursor.

use crate::Environment;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The spec's cap on the `after` parameter.
pub const CURSOR_MAX_LEN: usize = 2000;

/// Format version, the first byte; the old `c1:<seq>` text cursors are not accepted.
const VERSION: u8 = 2;
const SEQ_LEN: usize = 8;
/// 128 bits: forging a cursor for another scope means guessing this.
const TAG_LEN: usize = 16;
const RAW_LEN: usize = 1 + SEQ_LEN + TAG_LEN;

/// The per-deployment secret cursors are sealed with (kept keyed, so a request does not rehash it).
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

impl CursorKey {
    /// Bytes of key material.
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> CursorKey {
        CursorKey(HmacSha256::new_from_slice(bytes).expect("HMAC takes a key of any length"))
    }

    /// A key for another purpose, derived from this one under `label` (so the deployment keeps
    /// one secret, and no purpose's MAC can stand in for another's).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(b"openmonime-derived-key\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Fresh key material from the operating system's generator.
    pub fn generate() -> [u8; Self::LEN] {
        use rand::RngCore;
        let mut bytes = [0u8; Self::LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// Where a cursor may be used: one list, in one Space and environment, with one filter.
#[derive(Clone, Debug)]
pub struct CursorScope {
    key: CursorKey,
    scope: [u8; 32],
}

impl CursorScope {
    /// `filter` is any stable encoding of the list's filter (the same filter must give the same
    /// bytes on every node).
    pub fn new(key: &CursorKey, space: &str, environment: Environment, list: &str, filter: &[u8]) -> CursorScope {
        let mut hash = Sha256::new();
        // Each part is length-prefixed, so no two different scopes hash the same input.
        for part in [
            b"openmonime list cursor".as_slice(),
            space.as_bytes(),
            environment.as_str().as_bytes(),
            list.as_bytes(),
            filter,
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        CursorScope { key: key.clone(), scope: hash.finalize().into() }
    }

    pub fn encode(&self, seq: i64) -> String {
        let plain = seq.to_be_bytes();
        let tag = self.tag(&plain).finalize().into_bytes();
        let tag = &tag[..TAG_LEN];
        let mut raw = [0u8; RAW_LEN];
        raw[0] = VERSION;
        for (out, (p, k)) in raw[1..=SEQ_LEN].iter_mut().zip(plain.iter().zip(self.pad(tag))) {
            *out = p ^ k;
        }
        raw[1 + SEQ_LEN..].copy_from_slice(tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// `None` for anything this server did not issue for this scope.
    pub fn decode(&self, cursor: &str) -> Option<i64> {
        if cursor.len() > CURSOR_MAX_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return None;
        }
        let (sealed, tag) = raw[1..].split_at(SEQ_LEN);
        let mut plain = [0u8; SEQ_LEN];
        for (out, (c, k)) in plain.iter_mut().zip(sealed.iter().zip(self.pad(tag))) {
            *out = c ^ k;
        }
        self.tag(&plain).verify_truncated_left(tag).ok()?;
        let seq = i64::from_be_bytes(plain);
        (seq > 0).then_some(seq)
    }

    /// The MAC over (scope, seq), not yet finalized.
    fn tag(&self, plain: &[u8; SEQ_LEN]) -> HmacSha256 {
        let mut mac = self.key.0.clone();
        mac.update(b"t");
        mac.update(&self.scope);
        mac.update(plain);
        mac
    }

    /// The key stream that hides the sequence number, derived from the tag.
    fn pad(&self, tag: &[u8]) -> [u8; SEQ_LEN] {
        let mut mac = self.key.0.clone();
        mac.update(b"p");
        mac.update(tag);
        let out = mac.finalize().into_bytes();
        out[..SEQ_LEN].try_into().expect("SHA-256 output is 32 bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope(space: &str, environment: Environment, list: &str, filter: &[u8]) -> CursorScope {
        CursorScope::new(&CursorKey::from_bytes(&[7; 32]), space, environment, list, filter)
    }

    proptest! {
        #[test]
        fn round_trips(seq in 1i64..i64::MAX) {
            let s = scope("spc-a", Environment::Test, "financial-accounts", b"{}");
            prop_assert_eq!(s.decode(&s.encode(seq)), Some(seq));
        }

        #[test]
        fn decode_never_panics(s in "\\PC{0,200}") {
            let _ = scope("spc-a", Environment::Test, "l", b"").decode(&s);
        }

        #[test]
        fn any_flipped_bit_is_refused(seq in 1i64..i64::MAX, bit in 0usize..(RAW_LEN * 8)) {
            let s = scope("spc-a", Environment::Test, "l", b"");
            let mut raw = URL_SAFE_NO_PAD.decode(s.encode(seq)).unwrap();
            raw[bit / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(s.decode(&URL_SAFE_NO_PAD.encode(raw)), None);
        }
    }

    #[test]
    fn a_cursor_works_only_in_its_own_scope() {
        let home = scope("spc-a", Environment::Test, "financial-accounts", b"{}");
        let cursor = home.encode(42);
        for other in [
            scope("spc-b", Environment::Test, "financial-accounts", b"{}"),
            scope("spc-a", Environment::Live, "financial-accounts", b"{}"),
            scope("spc-a", Environment::Test, "internal-transfers", b"{}"),
            scope("spc-a", Environment::Test, "financial-accounts", b"{\"reference\":\"x\"}"),
            CursorScope::new(&CursorKey::from_bytes(&[8; 32]), "spc-a", Environment::Test, "financial-accounts", b"{}"),
        ] {
            assert_eq!(other.decode(&cursor), None);
            assert_ne!(other.encode(42), cursor);
        }
        assert_eq!(home.decode(&cursor), Some(42));
    }

    #[test]
    fn old_text_cursors_and_non_positive_positions_are_refused() {
        let s = scope("spc-a", Environment::Test, "l", b"");
        for old in ["YzE6MQ", "YzE6NDI", "c1:5", "", "AA"] {
            assert_eq!(s.decode(old), None, "{old}");
        }
        assert_eq!(s.decode(&s.encode(0)), None);
        assert_eq!(s.decode(&s.encode(-3)), None);
    }
}
