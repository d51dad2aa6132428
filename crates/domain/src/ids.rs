//! Prefixed, typed, unguessable identifiers (`spc-…`, `fac-…`): a wrong prefix is a parse error.
//!
//! Every id is its prefix followed by 22 base62 characters drawn from the thread CSPRNG (about 131
//! bits), so ids can be shown to clients without revealing counts or creation order. Ordering and
//! pagination use a separate sequence number in the store.

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Length of the random part of a generated id.
pub const ID_RANDOM_LEN: usize = 22;
/// Longest id accepted anywhere (the spec caps `Monime-Space-Id` at 64 characters).
pub const ID_MAX_LEN: usize = 64;

const BASE62: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Random base62 text from the thread CSPRNG: random bytes below 248 (4 × 62) map to a character
/// each, the rest are drawn again, so every character is equally likely. (Every request makes an
/// id; this costs a fraction of sampling one character at a time.)
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    push_random_base62(&mut out, len);
    out
}

/// Appends `len` characters of [`random_base62`] to `out`.
fn push_random_base62(out: &mut String, len: usize) {
    let mut rng = rand::thread_rng();
    let end = out.len() + len;
    let mut block = [0u8; 32];
    while out.len() < end {
        rng.fill_bytes(&mut block);
        for &b in block.iter().filter(|&&b| b < 248).take(end - out.len()) {
            out.push(char::from(BASE62[usize::from(b % 62)]));
        }
    }
}

/// True when `body` could be the random part of an id: 1..=(64 - prefix) base62 characters.
fn valid_body(prefix: &str, body: &str) -> bool {
    !body.is_empty() && prefix.len() + body.len() <= ID_MAX_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                let mut id = String::with_capacity($prefix.len() + ID_RANDOM_LEN);
                id.push_str($prefix);
                push_random_base62(&mut id, ID_RANDOM_LEN);
                Self(id)
            }

            /// Accepts only this type's prefix followed by base62 characters.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix($prefix)?;
                valid_body($prefix, body).then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not a valid {} id", $prefix))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

typed_id!(
    /// A Space: a tenant. The `spc-` prefix is the spec's.
    SpaceId, "spc-");
typed_id!(
    /// A Monimeer: a person's account.
    MonimeerId, "mmr-");
typed_id!(
    /// An access token's public id (never the secret).
    TokenId, "tok-");
typed_id!(
    /// A financial account.
    FinancialAccountId, "fac-");
typed_id!(
    /// A financial transaction (ledger entry).
    FinancialTransactionId, "txn-");
typed_id!(
    /// An internal transfer.
    InternalTransferId, "trn-");
typed_id!(
    /// An operator's ledger adjustment (the only way money enters the ledger here).
    AdjustmentId, "adj-");
typed_id!(
    /// One HTTP request attempt.
    RequestId, "req-");
typed_id!(
    /// An event: one change as webhooks are told of it. Receivers dedupe on it.
    EventId, "evt-");
typed_id!(
    /// A webhook: where a Space's events of one environment are delivered. The prefix is the spec's.
    WebhookId, "whk-");

typed_id!(
    /// A payment code: what a customer dials to pay. The prefix is the document's.
    PaymentCodeId, "pmc-");
typed_id!(
    /// A payment: money a customer paid in (through a payment code).
    PaymentId, "pay-");
typed_id!(
    /// A USSD OTP session: a phone-bound verification by dial.
    UssdOtpId, "otp-");

typed_id!(
    /// A checkout session: a hosted page where a customer pays for line items. `scs-` as
    /// integrators see Monime's.
    CheckoutSessionId, "scs-");

typed_id!(
    /// A payout: money sent out of a financial account to a bank, momo or wallet account. The
    /// prefix is the document's.
    PayoutId, "pyt-");

typed_id!(
    /// A console session: a Monimeer signed in to the web console. Audit records name it; the
    /// cookie carries a separate secret, of which the store keeps only the hash.
    ConsoleSessionId, "ses-");

/// The reference shared by the ledger entries of one money movement.
pub fn new_transaction_reference() -> String {
    format!("ftr-{}", random_base62(ID_RANDOM_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_has_its_length_and_uses_every_character_evenly() {
        for len in [0, 1, 22, 31, 32, 33, 100] {
            let s = random_base62(len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        // 62,000 characters: each of the 62 expected 1,000 times; a bias of 4/62 (what `b % 62`
        // over all 256 bytes would give) would push some above 1,200.
        let mut counts = [0u32; 256];
        for b in random_base62(62_000).bytes() {
            counts[usize::from(b)] += 1;
        }
        let seen: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
        assert_eq!(seen.len(), 62);
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }

    #[test]
    fn generated_ids_round_trip_and_reject_other_prefixes() {
        let id = SpaceId::generate();
        assert!(id.as_str().starts_with("spc-"));
        assert_eq!(id.as_str().len(), 4 + ID_RANDOM_LEN);
        assert_eq!(SpaceId::parse(id.as_str()), Some(id.clone()));
        assert!(FinancialAccountId::parse(id.as_str()).is_none());
        assert!(SpaceId::parse("spc-").is_none());
        assert!(SpaceId::parse("spc-abc def").is_none());
        assert!(SpaceId::parse(&format!("spc-{}", "a".repeat(61))).is_none());
        assert!(SpaceId::parse(&format!("spc-{}", "a".repeat(60))).is_some());
    }
}
