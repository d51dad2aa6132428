//! Monime's webhook signature, exactly as Monime's own plugins verify it:
//! `Monime-Signature: t=<unix seconds>,v1=<sig>`, where `sig` is the standard base64 of
//! HMAC-SHA256 keyed with the webhook's secret (its UTF-8 bytes) over `<t>_<raw body>` — an
//! underscore, not Stripe's period; base64, not hex. Receivers allow 300 s of clock difference.
//!
//! A webhook may instead use **ES256**: the server holds a P-256 key per webhook, shows its public
//! key (PEM) on the webhook, and signs the same `<t>_<raw body>` with ECDSA over SHA-256; `v1` is
//! then the standard base64 of the signature's **DER** encoding (what OpenSSL, PHP's
//! `openssl_verify`, Python's `cryptography` and Node's `crypto.verify` take by default).
//! Signatures are deterministic (RFC 6979), so a test vector is reproducible.
//!
//! The published test vectors (docs/webhooks.md) are checked below against values computed or
//! verified by independent implementations (Python's `hmac` and `cryptography`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use sha2::Sha256;

/// The header a delivery carries its signature in.
pub const HEADER: &str = "Monime-Signature";

/// How far a receiver lets the signed time differ from its own clock.
pub const TOLERANCE_SECONDS: i64 = 300;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&signed_bytes(timestamp, body));
    mac
}

/// The header value for a delivery of `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let signature = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", STANDARD.encode(signature))
}

/// The string both schemes sign: `<t>_<raw body>`.
fn signed_bytes(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}_").into_bytes();
    message.extend_from_slice(body);
    message
}

/// A webhook's ES256 signing key. It has no `Debug`: it is a secret.
pub struct Es256Key(SigningKey);

impl Es256Key {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Es256Key(SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The key from its 32-byte secret scalar, as stored; `None` if the bytes are no valid key.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        SigningKey::from_slice(bytes).ok().map(Es256Key)
    }

    /// The secret scalar, for storage.
    pub fn to_bytes(&self) -> secrecy::SecretSlice<u8> {
        self.0.to_bytes().to_vec().into()
    }

    /// The public key as PEM (SubjectPublicKeyInfo), as the webhook shows it.
    pub fn public_key_pem(&self) -> String {
        VerifyingKey::from(&self.0).to_public_key_pem(LineEnding::LF).expect("a P-256 public key encodes as PEM")
    }

    /// The header value for a delivery of `body` signed at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let signature: DerSignature = self.0.sign(&signed_bytes(timestamp, body));
        format!("t={timestamp},v1={}", STANDARD.encode(signature.as_bytes()))
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `t=` with a number, or no `v1=`.
    Malformed,
    /// The signed time is further than the tolerance from now.
    OutsideTolerance,
    /// No `v1` signature matches the body and secret.
    Mismatch,
}

impl SignatureError {
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Malformed => "signature_malformed",
            SignatureError::OutsideTolerance => "signature_outside_tolerance",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

/// Checks a `Monime-Signature` header as a receiver does: the signed time within `tolerance`
/// seconds of `now`, and one of its `v1` values equal (in constant time) to the body's signature.
pub fn verify(header: &str, secret: &[u8], body: &[u8], now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let (timestamp, signatures) = parse(header, now, tolerance)?;
    let matches = signatures.iter().any(|candidate| {
        // `verify_slice` compares in constant time.
        mac(secret, timestamp, body).verify_slice(candidate).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks an ES256 `Monime-Signature` header against the webhook's public key (PEM).
pub fn verify_es256(
    header: &str,
    public_key_pem: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let key = VerifyingKey::from_public_key_pem(public_key_pem).map_err(|_| SignatureError::Malformed)?;
    let (timestamp, signatures) = parse(header, now, tolerance)?;
    let message = signed_bytes(timestamp, body);
    let matches = signatures
        .iter()
        .filter_map(|der| p256::ecdsa::Signature::from_der(der).ok())
        .any(|signature| key.verify(&message, &signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signed time (checked against `now`) and the decoded `v1` values of a header.
fn parse(header: &str, now: i64, tolerance: i64) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok((timestamp, signatures.iter().filter_map(|s| STANDARD.decode(s).ok()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (secret, t, body, header), computed with Python's `hmac` and `base64`; published in
    /// docs/webhooks.md.
    pub(crate) const VECTORS: [(&str, i64, &str, &str); 3] = [
        (
            "whsec_test_openmonime",
            1733184000,
            r#"{"apiVersion":"caph.2025-08-23","event":{"id":"evt-1","name":"internal_transfer.completed","timestamp":"2024-12-03T00:00:00Z"}}"#,
            "t=1733184000,v1=drr3wkrHC6zKb7CQI4GB62rc92TCkCxCIAAHLVFFIBE=",
        ),
        ("s3cr3t", 1700000000, "", "t=1700000000,v1=EaRLdmGQs9Hv9BAkR4uYBKtk16/L8tWp15HgTTmP5cs="),
        ("ünïcode-secret", 1800000000, r#"{"a":"é"}"#, "t=1800000000,v1=KGbxvjoF4Ok7bQxwdxeVASuqrIPTtjyiLFRFmjgbafY="),
    ];

    #[test]
    fn signatures_match_the_published_vectors() {
        for (secret, t, body, header) in VECTORS {
            assert_eq!(sign(secret.as_bytes(), t, body.as_bytes()), header);
            assert_eq!(verify(header, secret.as_bytes(), body.as_bytes(), t + 299, TOLERANCE_SECONDS), Ok(()));
        }
    }

    /// ES256 with the secret scalar 0x07 × 32 over `VECTORS[0]`'s body and time; the signature
    /// was verified by Python's `cryptography` and by `openssl dgst -sha256 -verify`.
    const ES256_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHhhTL9R1TALzBB2cdc6zO4P/2BrH
zk/ogsyxyYvFiW6kbDEcTi/0DdlqNlPm5FRF0y3+SG7O11x6kMahiIHAow==
-----END PUBLIC KEY-----
";
    const ES256_HEADER: &str = "t=1733184000,v1=MEYCIQDMDOCjKQGzEAdthS14UKyvWk25o/d7yJJ5vlNWX6PpmwIhAKn1gFEWvaIjD2psao7UvVa+eeKnvLyzx00X8m18jbaE";

    #[test]
    fn es256_signatures_match_the_published_vector() {
        let key = Es256Key::from_bytes(&[7u8; 32]).unwrap();
        let (_, t, body, _) = VECTORS[0];
        assert_eq!(key.public_key_pem(), ES256_PUBLIC_KEY);
        assert_eq!(key.sign(t, body.as_bytes()), ES256_HEADER, "RFC 6979 signatures are deterministic");
        assert_eq!(verify_es256(ES256_HEADER, ES256_PUBLIC_KEY, body.as_bytes(), t, TOLERANCE_SECONDS), Ok(()));
        let restored = Es256Key::from_bytes(secrecy::ExposeSecret::expose_secret(&key.to_bytes())).unwrap();
        assert_eq!(restored.public_key_pem(), ES256_PUBLIC_KEY);
    }

    #[test]
    fn es256_refuses_another_body_key_or_time() {
        let (_, t, body, _) = VECTORS[0];
        let body = body.as_bytes();
        assert_eq!(verify_es256(ES256_HEADER, ES256_PUBLIC_KEY, b"{}", t, 300), Err(SignatureError::Mismatch));
        let other = Es256Key::generate();
        assert_eq!(verify_es256(ES256_HEADER, &other.public_key_pem(), body, t, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_es256(ES256_HEADER, ES256_PUBLIC_KEY, body, t + 301, 300),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(verify_es256(ES256_HEADER, "not a key", body, t, 300), Err(SignatureError::Malformed));
        assert!(Es256Key::from_bytes(&[0u8; 32]).is_none(), "zero is no P-256 secret scalar");
        let fresh = Es256Key::generate();
        let header = fresh.sign(t, body);
        assert_eq!(verify_es256(&header, &fresh.public_key_pem(), body, t, 300), Ok(()));
    }

    #[test]
    fn a_receiver_refuses_what_it_should() {
        let (secret, t, body, header) = VECTORS[0];
        let (secret, body) = (secret.as_bytes(), body.as_bytes());
        let verify_at = |h: &str, b: &[u8], now| verify(h, secret, b, now, TOLERANCE_SECONDS);
        assert_eq!(verify_at(header, body, t + 301), Err(SignatureError::OutsideTolerance));
        assert_eq!(verify_at(header, body, t - 301), Err(SignatureError::OutsideTolerance));
        assert_eq!(verify_at(header, b"{}", t), Err(SignatureError::Mismatch));
        assert_eq!(verify(header, b"another secret", body, t, TOLERANCE_SECONDS), Err(SignatureError::Mismatch));
        // Stripe's period instead of Monime's underscore signs a different string.
        let stripe_style = {
            let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            m.update(format!("{t}.").as_bytes());
            m.update(body);
            format!("t={t},v1={}", STANDARD.encode(m.finalize().into_bytes()))
        };
        assert_eq!(verify_at(&stripe_style, body, t), Err(SignatureError::Mismatch));
        for malformed in ["", "v1=abc", "t=abc,v1=abc", &format!("t={t}")] {
            assert_eq!(verify_at(malformed, body, t), Err(SignatureError::Malformed), "{malformed:?}");
        }
        // A header with a stale and a current signature (a secret being rolled) is accepted.
        let rolled = format!("{header},v1=bm90IGl0");
        assert_eq!(verify_at(&rolled, body, t), Ok(()));
    }
}
