//! Signing in to the console: password rules and hashing (argon2id, PHC strings), and the random
//! secrets of one-time sign-in links and session cookies, of which only a hash is ever stored.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Shortest password accepted (NIST SP 800-63B's floor for a chosen secret is 8; we ask more).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest password accepted: hashing cost must not grow with what a stranger sends.
pub const PASSWORD_MAX_BYTES: usize = 256;

/// Why a password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRefusal {
    TooShort,
    TooLong,
}

impl PasswordRefusal {
    pub fn message(self) -> String {
        match self {
            PasswordRefusal::TooShort => format!("a password needs at least {PASSWORD_MIN_CHARS} characters"),
            PasswordRefusal::TooLong => format!("a password may have at most {PASSWORD_MAX_BYTES} bytes"),
        }
    }
}

/// Checks a new password against the rules.
pub fn check_password(password: &str) -> Result<(), PasswordRefusal> {
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(PasswordRefusal::TooLong);
    }
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(PasswordRefusal::TooShort);
    }
    Ok(())
}

/// The argon2id PHC string of `password` (OWASP's parameters: 19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    // Neither step can fail: 16 bytes is a valid salt, and the default parameters are valid.
    let salt = SaltString::encode_b64(&salt).expect("a 16-byte salt encodes");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2id hashes with defaults").to_string()
}

/// A PHC string that no password matches, verified when an address is unknown so that a wrong
/// address costs what a wrong password costs (no one learns which addresses exist by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&crate::ids::random_base62(32)))
}

/// True when `password` matches the stored PHC string. Over-long input is refused unhashed.
pub fn verify_password(password: &str, stored: &str) -> bool {
    if password.len() > PASSWORD_MAX_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A fresh 256-bit secret for a sign-in link or a session cookie, in base62.
pub fn new_secret() -> String {
    crate::ids::random_base62(43)
}

/// What the store keeps of a secret: its SHA-256, hex. The secrets are random, so no salt is
/// needed; a stolen table lets no one sign in.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality, for comparing a submitted CSRF value with the session's.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("correct horse battery", decoy_hash()));
        assert!(!verify_password("anything", "not a phc string"));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
    }

    #[test]
    fn password_rules() {
        assert_eq!(check_password("short"), Err(PasswordRefusal::TooShort));
        assert_eq!(check_password("twelve chars"), Ok(()));
        assert_eq!(check_password(&"x".repeat(PASSWORD_MAX_BYTES + 1)), Err(PasswordRefusal::TooLong));
        assert!(!verify_password(&"x".repeat(PASSWORD_MAX_BYTES + 1), decoy_hash()));
    }

    #[test]
    fn secrets_are_long_and_compared_exactly() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        assert_eq!(secret_hash(&s).len(), 64);
        assert!(same_secret(&s, &s.clone()));
        assert!(!same_secret(&s, &new_secret()));
        assert!(!same_secret("abc", "abcd"));
    }
}
