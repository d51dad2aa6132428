//! The access-token format: generation, offline validation, hashing, and a redacting wrapper.
//!
//! Layout (frozen: changing it would revoke every token):
//!
//! ```text
//! mon_test_ | 30 random base62 chars | 6 base62 chars of CRC32(prefix + random)
//! mon_      | 30 random base62 chars | 6 base62 chars of CRC32(prefix + random)
//! ```
//!
//! 30 base62 characters carry 178 bits of CSPRNG entropy. The checksum covers the prefix too, so
//! a live body pasted behind a test prefix fails offline, and a scanner or the server rejects a
//! string that is not a token without touching storage. The longer prefix `mon_test_` is tried
//! before `mon_`, which is a prefix of it. Only the SHA-256 of the whole token is stored; with 178
//! bits of entropy no pepper is needed against offline guessing, and none has to be kept secret
//! or rotated by the operator.

use crate::Environment;
use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Lifetime of a token created without an expiry (through the API or the admin CLI): Monime's
/// shortest preset ("2 months"). Finite by default, so a forgotten token dies on its own.
pub const DEFAULT_LIFETIME_DAYS: i64 = 60;

pub const LIVE_PREFIX: &str = "mon_";
pub const TEST_PREFIX: &str = "mon_test_";
/// Random characters in a token body.
pub const RANDOM_LEN: usize = 30;
/// Checksum characters at the end of a token body.
pub const CHECKSUM_LEN: usize = 6;
const BODY_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a token, decided without any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormatError {
    /// Wrong prefix, length or alphabet.
    Malformed,
    /// Shaped like a token but the checksum does not match: a typo or a forgery.
    BadChecksum,
}

/// A token in plaintext. It exists only between generation and the one response that shows it;
/// its memory is zeroed when it is dropped (`secrecy`). `Debug` never prints it and there is no
/// `Display`.
pub struct TokenPlaintext(SecretString);

impl TokenPlaintext {
    /// The secret itself, for the single response that hands it over.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for TokenPlaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenPlaintext(<redacted>)")
    }
}

/// SHA-256 of a token: the only form the store keeps and the cache key. `Debug` is redacted so the
/// full hash cannot reach a log by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(TokenHash(out))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// A freshly minted token: the plaintext to show once, the hash to store, and a display hint.
#[derive(Debug)]
pub struct NewToken {
    pub plaintext: TokenPlaintext,
    pub hash: TokenHash,
    /// Prefix and the last four checksum characters (`mon_test_…a1B2`): enough for a person to
    /// recognise a token in a list, and only checksum bits, so it reveals nothing of the secret.
    pub hint: String,
}

pub fn prefix_for(env: Environment) -> &'static str {
    match env {
        Environment::Test => TEST_PREFIX,
        Environment::Live => LIVE_PREFIX,
    }
}

fn checksum_chars(prefix_and_random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(prefix_and_random);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Mints a token for `env` from the thread CSPRNG.
pub fn generate(env: Environment) -> NewToken {
    let prefix = prefix_for(env);
    let mut s = String::with_capacity(prefix.len() + BODY_LEN);
    s.push_str(prefix);
    s.push_str(&Alphanumeric.sample_string(&mut rand::thread_rng(), RANDOM_LEN));
    let sum = checksum_chars(s.as_bytes());
    s.push_str(std::str::from_utf8(&sum).expect("base62 is ASCII"));
    let hash = TokenHash::of(&s);
    let hint = hint_of(prefix, &s);
    NewToken { plaintext: TokenPlaintext(SecretString::from(s)), hash, hint }
}

fn hint_of(prefix: &str, token: &str) -> String {
    format!("{prefix}…{}", &token[token.len() - 4..])
}

/// Validates a token offline and tells which environment it belongs to.
pub fn parse(token: &str) -> Result<Environment, TokenFormatError> {
    parse_bytes(token.as_bytes())
}

/// [`parse`] on raw bytes (a header value as received): a valid token is ASCII, so a caller
/// needs no UTF-8 check before refusing garbage.
pub fn parse_bytes(token: &[u8]) -> Result<Environment, TokenFormatError> {
    let (env, body) = if let Some(body) = token.strip_prefix(TEST_PREFIX.as_bytes()) {
        (Environment::Test, body)
    } else if let Some(body) = token.strip_prefix(LIVE_PREFIX.as_bytes()) {
        (Environment::Live, body)
    } else {
        return Err(TokenFormatError::Malformed);
    };
    // One table lookup per byte, OR-ed together: no branch per character.
    if body.len() != BODY_LEN || body.iter().fold(0, |bad, &b| bad | BASE62_VALUE[usize::from(b)]) & NOT_BASE62 != 0 {
        return Err(TokenFormatError::Malformed);
    }
    let split = token.len() - CHECKSUM_LEN;
    // Decoding the six presented characters and comparing numbers is cheaper than encoding the
    // computed CRC; 62^6 > 2^32, so the encoding is one-to-one and the two tests agree.
    let presented = token[split..].iter().fold(0u64, |n, &c| n * 62 + u64::from(BASE62_VALUE[usize::from(c)]));
    if presented != u64::from(crc32fast::hash(&token[..split])) {
        return Err(TokenFormatError::BadChecksum);
    }
    Ok(env)
}

/// Marks a byte that is not a base62 digit in [`BASE62_VALUE`].
const NOT_BASE62: u8 = 0x80;

/// Each byte's base62 value, or [`NOT_BASE62`].
const BASE62_VALUE: [u8; 256] = {
    let mut table = [NOT_BASE62; 256];
    let mut i = 0;
    while i < BASE62.len() {
        table[BASE62[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_tokens_parse_to_their_environment() {
        for env in Environment::ALL {
            let t = generate(env);
            assert_eq!(parse(t.plaintext.expose()), Ok(env));
            assert!(t.plaintext.expose().starts_with(prefix_for(env)));
            assert_eq!(t.hash, TokenHash::of(t.plaintext.expose()));
            assert!(t.hint.ends_with(&t.plaintext.expose()[t.plaintext.expose().len() - 4..]));
        }
    }

    #[test]
    fn longest_prefix_wins_and_prefix_swap_fails_checksum() {
        let live = generate(Environment::Live);
        let body = &live.plaintext.expose()[LIVE_PREFIX.len()..];
        let swapped = format!("{TEST_PREFIX}{body}");
        assert_eq!(parse(&swapped), Err(TokenFormatError::BadChecksum));
    }

    #[test]
    fn debug_never_shows_secret_or_hash() {
        let t = generate(Environment::Test);
        let dbg = format!("{t:?}");
        assert!(!dbg.contains(t.plaintext.expose()));
        assert!(!dbg.contains(&t.hash.to_hex()));
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "mon_", "mon_test_", "sk_live_abc", "mon_test_short", &format!("mon_{}", "!".repeat(36))] {
            assert_eq!(parse(s), Err(TokenFormatError::Malformed), "{s}");
        }
    }

    #[test]
    fn hash_hex_round_trips() {
        let t = generate(Environment::Live);
        assert_eq!(TokenHash::from_hex(&t.hash.to_hex()), Some(t.hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_detected(pos in 0usize..36, c in "[0-9A-Za-z]") {
            let t = generate(Environment::Test);
            let s = t.plaintext.expose();
            let i = TEST_PREFIX.len() + pos;
            let replacement = c.as_bytes()[0];
            prop_assume!(s.as_bytes()[i] != replacement);
            let mut bytes = s.as_bytes().to_vec();
            bytes[i] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(parse(&changed), Err(TokenFormatError::BadChecksum));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }
    }
}
