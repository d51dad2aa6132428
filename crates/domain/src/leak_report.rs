//! Reports of leaked tokens: GitHub's secret-scanning partner format (an ECDSA P-256 signature
//! over the raw body, by a key GitHub publishes) and the pattern scanners match tokens with.
//!
//! GitHub POSTs `[{"token", "type", "url", "source"}]` with `Github-Public-Key-Identifier` (which
//! of its keys signed) and `Github-Public-Key-Signature` (standard base64 of the DER ECDSA
//! signature, SHA-256, over the body as sent). Its keys are published as
//! `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}` at
//! <https://api.github.com/meta/public_keys/secret_scanning>. The answer labels each token
//! `true_positive` or `false_positive`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;

/// The header naming the key that signed a report.
pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// Where GitHub publishes its secret-scanning keys.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
/// The token type openmonime registers with scanners.
pub const TOKEN_TYPE: &str = "openmonime_access_token";
/// What a scanner matches: a prefix, 30 base62 characters and a 6-character base62 checksum
/// (CRC32 over prefix and body; see `token`). The checksum lets a scanner, and this server,
/// discard a string that only looks like a token without asking anyone.
pub const TOKEN_PATTERN: &str = r"\bmon_(?:test_)?[0-9A-Za-z]{36}\b";

/// Verifying keys by identifier.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    keys: Vec<(String, VerifyingKey)>,
}

/// Why a key document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("not GitHub's key document: {0}")]
    Shape(String),
    #[error("key `{0}` is not a P-256 public key in PEM")]
    Key(String),
}

#[derive(Deserialize)]
struct KeyDocument {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

impl SigningKeys {
    /// Reads GitHub's key document. Every key in it must parse: a half-read document would
    /// silently drop a key GitHub signs with.
    pub fn parse(document: &str) -> Result<SigningKeys, KeysError> {
        let doc: KeyDocument = serde_json::from_str(document).map_err(|e| KeysError::Shape(e.to_string()))?;
        let keys = doc
            .public_keys
            .into_iter()
            .map(|k| {
                let key =
                    VerifyingKey::from_public_key_pem(&k.key).map_err(|_| KeysError::Key(k.key_identifier.clone()))?;
                Ok((k.key_identifier, key))
            })
            .collect::<Result<Vec<_>, KeysError>>()?;
        Ok(SigningKeys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Checks that the key named `key_id` signed `body` with `signature_b64`.
    pub fn verify(&self, key_id: &str, signature_b64: &str, body: &[u8]) -> Result<(), ReportSignatureError> {
        let key = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .map(|(_, key)| key)
            .ok_or(ReportSignatureError::UnknownKey)?;
        let der = STANDARD.decode(signature_b64.trim()).map_err(|_| ReportSignatureError::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| ReportSignatureError::Malformed)?;
        key.verify(body, &signature).map_err(|_| ReportSignatureError::Mismatch)
    }
}

/// Why a report's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSignatureError {
    /// No configured key has the identifier the report names.
    UnknownKey,
    /// The signature is not base64 of a DER ECDSA signature.
    Malformed,
    /// The named key did not sign this body.
    Mismatch,
}

/// A scanner's verdict on one reported string, as GitHub's feedback spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    TruePositive,
    FalsePositive,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::TruePositive => "true_positive",
            Label::FalsePositive => "false_positive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{DerSignature, SigningKey};
    use p256::pkcs8::{EncodePublicKey as _, LineEnding};

    fn document(id: &str, key: &SigningKey) -> String {
        let pem = key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        serde_json::json!({"public_keys": [{"key_identifier": id, "key": pem, "is_current": true}]}).to_string()
    }

    #[test]
    fn a_report_signed_by_a_published_key_verifies_and_nothing_else_does() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let keys = SigningKeys::parse(&document("k1", &key)).unwrap();
        let body =
            br#"[{"token":"x","type":"openmonime_access_token","url":"https://github.com/a/b","source":"content"}]"#;
        let signature: DerSignature = key.sign(body);
        let b64 = STANDARD.encode(signature.as_bytes());
        assert_eq!(keys.verify("k1", &b64, body), Ok(()));
        assert_eq!(keys.verify("k2", &b64, body), Err(ReportSignatureError::UnknownKey));
        assert_eq!(keys.verify("k1", "not base64!", body), Err(ReportSignatureError::Malformed));
        let mut altered = body.to_vec();
        altered[3] ^= 1;
        assert_eq!(keys.verify("k1", &b64, &altered), Err(ReportSignatureError::Mismatch));
        let other = SigningKey::random(&mut rand::rngs::OsRng);
        let forged: DerSignature = other.sign(body);
        assert_eq!(keys.verify("k1", &STANDARD.encode(forged.as_bytes()), body), Err(ReportSignatureError::Mismatch));
    }

    #[test]
    fn a_key_document_with_one_bad_key_is_refused_whole() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let good = document("k1", &key);
        assert_eq!(SigningKeys::parse(&good).unwrap().len(), 1);
        let bad = r#"{"public_keys": [{"key_identifier": "k9", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "is_current": true}]}"#;
        assert_eq!(SigningKeys::parse(bad).unwrap_err(), KeysError::Key("k9".into()));
        assert!(matches!(SigningKeys::parse("[]"), Err(KeysError::Shape(_))));
    }

    #[test]
    fn the_published_pattern_matches_real_tokens_exactly() {
        // Spelled out rather than compiled (the domain crate has no regex engine): the pattern
        // is the prefixes and lengths `token` defines.
        assert_eq!(crate::token::RANDOM_LEN + crate::token::CHECKSUM_LEN, 36);
        assert!(TOKEN_PATTERN.contains(crate::token::LIVE_PREFIX));
        assert!(TOKEN_PATTERN.contains("test_"));
        for env in [crate::Environment::Test, crate::Environment::Live] {
            let minted = crate::token::generate(env);
            let plain = minted.plaintext.expose();
            let body =
                plain.strip_prefix(crate::token::TEST_PREFIX).or_else(|| plain.strip_prefix(crate::token::LIVE_PREFIX));
            let body = body.unwrap();
            assert_eq!(body.len(), 36, "{env:?}");
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{env:?}");
        }
    }
}
