//! Payouts: money sent out of a financial account to a bank account, a mobile-money wallet or a
//! digital wallet.
//!
//! Lifecycle (the document's): `pending` → `processing` → `completed` | `failed`. The amount and
//! its fees (on top of the amount) are held — debited from the source account — in the
//! transaction that creates the payout, so two payouts can never spend the same money; a failure,
//! or a delete while still `pending`, returns exactly what was held, under the same reference;
//! completion moves nothing more. A payout the source cannot cover is created `failed`
//! (`fund_insufficient`) with nothing held, as an internal transfer is.

use crate::ids::{FinancialAccountId, PayoutId};
use crate::money::Money;
use crate::payment::Fee;
use crate::test_rail::ProviderKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 4] =
        [PayoutStatus::Pending, PayoutStatus::Processing, PayoutStatus::Completed, PayoutStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Processing => "processing",
            PayoutStatus::Completed => "completed",
            PayoutStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the payout has ended (nothing moves any more).
    pub fn is_final(self) -> bool {
        matches!(self, PayoutStatus::Completed | PayoutStatus::Failed)
    }
}

/// Why a payout failed: `failureDetail.code`, the document's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutFailure {
    Unknown,
    FundInsufficient,
    AuthorizationFailed,
    ProviderUnknown,
    ProviderAccountBlocked,
    ProviderAccountMissing,
    ProviderAccountQuotaExhausted,
}

impl PayoutFailure {
    pub const ALL: [PayoutFailure; 7] = [
        PayoutFailure::Unknown,
        PayoutFailure::FundInsufficient,
        PayoutFailure::AuthorizationFailed,
        PayoutFailure::ProviderUnknown,
        PayoutFailure::ProviderAccountBlocked,
        PayoutFailure::ProviderAccountMissing,
        PayoutFailure::ProviderAccountQuotaExhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutFailure::Unknown => "unknown",
            PayoutFailure::FundInsufficient => "fund_insufficient",
            PayoutFailure::AuthorizationFailed => "authorization_failed",
            PayoutFailure::ProviderUnknown => "provider_unknown",
            PayoutFailure::ProviderAccountBlocked => "provider_account_blocked",
            PayoutFailure::ProviderAccountMissing => "provider_account_missing",
            PayoutFailure::ProviderAccountQuotaExhausted => "provider_account_quota_exhausted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The message a client reads beside the code.
    pub fn message(self) -> &'static str {
        match self {
            PayoutFailure::Unknown => "the provider failed the payout without giving a reason",
            PayoutFailure::FundInsufficient => {
                "the source account's available balance is lower than the amount and its fees"
            }
            PayoutFailure::AuthorizationFailed => "the provider refused to authorize the payout",
            PayoutFailure::ProviderUnknown => "the provider answered with an unexpected error",
            PayoutFailure::ProviderAccountBlocked => "the destination account is blocked at its provider",
            PayoutFailure::ProviderAccountMissing => "the destination account does not exist at its provider",
            PayoutFailure::ProviderAccountQuotaExhausted => {
                "the destination account's daily or per-transaction quota is exhausted"
            }
        }
    }
}

/// Where a payout goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub kind: ProviderKind,
    pub provider_id: String,
    /// The account at the provider: `phoneNumber` (E.164), `accountNumber` or `walletId`.
    pub account: String,
    /// The provider's reference of the credit, once the payout completed.
    pub transaction_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub id: PayoutId,
    pub status: PayoutStatus,
    pub amount: Money,
    pub source: FinancialAccountId,
    /// The reference of the hold's ledger entries (and of their reversal); `None` when nothing
    /// was held.
    pub source_reference: Option<String>,
    pub destination: Destination,
    /// Charged on top of the amount, held with it.
    pub fees: Vec<Fee>,
    pub failure: Option<(PayoutFailure, Option<String>)>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What a payout of `amount` with `fees` holds: their sum, or `None` if it overflows.
pub fn held(amount: Money, fees: &[Fee]) -> Option<i64> {
    fees.iter().try_fold(amount.value, |total, fee| total.checked_add(fee.amount.value))
}

impl Payout {
    /// What the payout holds (see [`held`]).
    pub fn held(&self) -> Option<i64> {
        held(self.amount, &self.fees)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn words_round_trip() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
        }
        for f in PayoutFailure::ALL {
            assert_eq!(PayoutFailure::parse(f.as_str()), Some(f));
            assert!(!f.message().is_empty());
        }
        assert!(PayoutStatus::Failed.is_final() && !PayoutStatus::Processing.is_final());
    }

    #[test]
    fn the_hold_is_the_amount_and_its_fees_and_never_wraps() {
        let sle = |value| Money { currency: Currency::Sle, value };
        let fee = |value| Fee { code: "processing".into(), amount: sle(value) };
        assert_eq!(held(sle(1_000), &[fee(15), fee(100)]), Some(1_115));
        assert_eq!(held(sle(1_000), &[]), Some(1_000));
        assert_eq!(held(sle(i64::MAX), &[fee(1)]), None);
    }
}
