//! Payments: money a customer paid in. A payment is created when a dial is admitted, and
//! completes when its provider confirms it (at once, or later: see `test_rail::payer_outcome`);
//! the document gives it no failed state. Its channel shows the payer's phone masked and a
//! fingerprint that recognises a returning payer without revealing the number.

use crate::entities::Ownership;
use crate::ids::{FinancialAccountId, PaymentId};
use crate::money::Money;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Processing,
    Completed,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 3] = [PaymentStatus::Pending, PaymentStatus::Processing, PaymentStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The mobile-money account a payment came from, as the merchant may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomoChannel {
    pub provider: String,
    /// The provider's transaction reference.
    pub reference: String,
    /// The payer's number with all but its country code and last four digits hidden.
    pub phone_masked: String,
    pub fingerprint: String,
}

/// One fee charged on a payment, debited from the receiving account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    pub code: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub status: PaymentStatus,
    pub amount: Money,
    pub channel: MomoChannel,
    pub name: Option<String>,
    pub reference: Option<String>,
    pub financial_account: FinancialAccountId,
    /// Set when the payment completed and its entries were written.
    pub transaction_reference: Option<String>,
    /// The checkout order it pays, if it came through a checkout session.
    #[serde(default)]
    pub order_number: Option<String>,
    pub fees: Vec<Fee>,
    /// The payment code it was paid through.
    pub owner: Ownership,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl Payment {
    /// What the receiving account keeps: the amount less the fees (never below zero, since fees
    /// are capped at the amount; see `fees`).
    pub fn net(&self) -> Option<i64> {
        self.fees.iter().try_fold(self.amount.value, |left, fee| left.checked_sub(fee.amount.value))
    }
}

/// A Sierra Leone mobile number as people write it — `+23276123456`, `23276123456` or
/// `076123456` — in E.164 (`+232` and eight digits); `None` if it is none of these.
pub fn normalize_msisdn(raw: &str) -> Option<String> {
    let digits = if let Some(rest) = raw.strip_prefix("+232") {
        rest
    } else if let Some(rest) = raw.strip_prefix("232").filter(|r| r.len() == 8) {
        rest
    } else {
        raw.strip_prefix('0').filter(|r| r.len() == 8)?
    };
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("+232{digits}"))
}

/// `+232****0001`: the country code and the last four digits of an E.164 number.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.len();
    if digits <= 8 {
        return "*".repeat(digits);
    }
    format!("{}{}{}", &phone[..4], "*".repeat(digits - 8), &phone[digits - 4..])
}

/// A payer's fingerprint within one Space: a keyed hash of the number, so equal numbers match
/// while the number itself cannot be recovered by hashing every phone number (there are only
/// about 10⁸) without the deployment's key, and fingerprints do not link payers across Spaces.
pub fn fingerprint(key: &[u8], space: &str, phone: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"payer-fingerprint\0");
    mac.update(space.as_bytes());
    mac.update(b"\0");
    mac.update(phone.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_people_write_them() {
        for written in ["+23276000001", "23276000001", "076000001"] {
            assert_eq!(normalize_msisdn(written).as_deref(), Some("+23276000001"), "{written}");
        }
        for bad in ["", "+2327600000", "76000001", "+1 555 0100", "+23276000001 ", "0760000011", "+2327600000a"] {
            assert_eq!(normalize_msisdn(bad), None, "{bad}");
        }
    }

    #[test]
    fn phones_are_masked_and_fingerprinted_per_space() {
        assert_eq!(mask_phone("+23276000001"), "+232****0001");
        assert_eq!(mask_phone("+1"), "**");
        let a = fingerprint(b"key", "spc-a", "+23276000001");
        assert_eq!(a, fingerprint(b"key", "spc-a", "+23276000001"));
        assert_ne!(a, fingerprint(b"key", "spc-b", "+23276000001"), "no linking across Spaces");
        assert_ne!(a, fingerprint(b"other", "spc-a", "+23276000001"), "keyed");
        assert_eq!(a.len(), 32);
    }
}
