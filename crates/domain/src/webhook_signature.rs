//! Monime's webhook signature, exactly as Monime's own plugins verify it:
//! `Monime-Signature: t=<unix seconds>,v1=<sig>`, where `sig` is the standard base64 of
//! HMAC-SHA256 keyed with the webhook's secret (its UTF-8 bytes) over `<t>_<raw body>` — an
//! underscore, not Stripe's period; base64, not hex. Receivers allow 300 s of clock difference.
//!
//! The published test vectors (docs/webhooks.md) are checked below against values computed by an
//! independent implementation (Python's `hmac`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a delivery carries its signature in.
pub const HEADER: &str = "Monime-Signature";

/// How far a receiver lets the signed time differ from its own clock.
pub const TOLERANCE_SECONDS: i64 = 300;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"_");
    mac.update(body);
    mac
}

/// The header value for a delivery of `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let signature = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", STANDARD.encode(signature))
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
    let matches = signatures.iter().filter_map(|s| STANDARD.decode(s).ok()).any(|candidate| {
        // `verify_slice` compares in constant time.
        mac(secret, timestamp, body).verify_slice(&candidate).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
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
