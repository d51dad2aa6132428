//! Payment codes: what a merchant creates and a customer dials to pay — their lifecycle, their
//! restrictions, and the rule that decides whether a dial may pay one.
//!
//! Lifecycle (the document's words): `pending` (created, unused) → `processing` (in use: a
//! payment is under way, or a recurrent code has been paid and takes more) → `completed` (a
//! one-time code's payment completed; a recurrent code reached its target) | `expired` (its
//! duration elapsed first) | `cancelled` (deleted while unused). A one-time code whose payment is
//! under way does not expire under it: the payment decides.

use crate::entities::Ownership;
use crate::ids::{FinancialAccountId, PaymentCodeId, PaymentId};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// How long a code stays payable when the request names no `duration`.
pub const DEFAULT_DURATION: Duration = Duration::minutes(10);
/// The longest `duration` accepted: a year.
pub const MAX_DURATION: Duration = Duration::days(365);
/// The momo providers a code may be restricted to (the document's enumeration).
pub const AUTHORIZABLE_PROVIDERS: [&str; 2] = ["m17", "m18"];

/// Single use or reusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentCodeMode {
    OneTime,
    Recurrent,
}

impl PaymentCodeMode {
    pub const ALL: [PaymentCodeMode; 2] = [PaymentCodeMode::OneTime, PaymentCodeMode::Recurrent];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentCodeMode::OneTime => "one_time",
            PaymentCodeMode::Recurrent => "recurrent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Where a code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentCodeStatus {
    Pending,
    Cancelled,
    Processing,
    Expired,
    Completed,
}

impl PaymentCodeStatus {
    /// In the document's order.
    pub const ALL: [PaymentCodeStatus; 5] = [
        PaymentCodeStatus::Pending,
        PaymentCodeStatus::Cancelled,
        PaymentCodeStatus::Processing,
        PaymentCodeStatus::Expired,
        PaymentCodeStatus::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentCodeStatus::Pending => "pending",
            PaymentCodeStatus::Cancelled => "cancelled",
            PaymentCodeStatus::Processing => "processing",
            PaymentCodeStatus::Expired => "expired",
            PaymentCodeStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Still payable or paying: the statuses whose `ussdCode` no other code may hold.
    pub fn is_live(self) -> bool {
        matches!(self, PaymentCodeStatus::Pending | PaymentCodeStatus::Processing)
    }
}

/// When a recurrent code is done: after this many payments, or this much collected (either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurrentTarget {
    pub count: Option<i64>,
    pub total: Option<Money>,
}

/// What a payment code's `payment_code.processed` event says of the payment it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedPayment {
    pub amount: Money,
    pub payment_id: PaymentId,
    pub provider: String,
    /// The payer's masked phone number.
    pub account: String,
    pub reference: String,
    pub transaction_reference: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// A payment code as stored. It serializes (in this crate's own spelling) as an event's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCode {
    pub id: PaymentCodeId,
    pub mode: PaymentCodeMode,
    pub status: PaymentCodeStatus,
    pub name: Option<String>,
    pub amount: Money,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expire_at: OffsetDateTime,
    pub customer_name: Option<String>,
    pub ussd_code: String,
    pub reference: Option<String>,
    pub authorized_providers: Option<Vec<String>>,
    pub authorized_phone: Option<String>,
    pub target: Option<RecurrentTarget>,
    pub financial_account: FinancialAccountId,
    /// Payments completed through this code, and what they collected (the recurrent target's
    /// measure).
    pub payments_completed: i64,
    pub collected: i64,
    /// Only in the snapshot of a `payment_code.processed` event.
    #[serde(default)]
    pub processed: Option<ProcessedPayment>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// What a customer's handset presents when it dials a code.
#[derive(Debug, Clone, Copy)]
pub struct Payer<'a> {
    /// E.164.
    pub phone: &'a str,
    pub provider: &'a str,
    /// The amount the customer typed, if the handset asked for one.
    pub amount: Option<Money>,
}

/// Why a dial may not pay a code. Each is the code's own rule, checked before any provider is
/// asked: nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialRefusal {
    /// `enable` is false.
    Disabled,
    /// Completed, expired or cancelled.
    Ended(PaymentCodeStatus),
    /// Its `expireTime` has passed (the expiry itself may not have been recorded yet).
    Expired,
    /// A one-time code whose payment is already under way.
    InUse,
    ProviderNotAuthorized,
    PhoneNotAuthorized,
    /// The typed amount differs from the code's.
    AmountMismatch,
}

impl DialRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            DialRefusal::Disabled => "payment_code_disabled",
            DialRefusal::Ended(_) => "payment_code_ended",
            DialRefusal::Expired => "payment_code_expired",
            DialRefusal::InUse => "payment_code_in_use",
            DialRefusal::ProviderNotAuthorized => "provider_not_authorized",
            DialRefusal::PhoneNotAuthorized => "phone_number_not_authorized",
            DialRefusal::AmountMismatch => "amount_mismatch",
        }
    }

    pub fn message(self) -> String {
        match self {
            DialRefusal::Disabled => "the payment code is disabled (`enable` is false)".into(),
            DialRefusal::Ended(status) => format!("the payment code is {} and takes no more payments", status.as_str()),
            DialRefusal::Expired => "the payment code's `expireTime` has passed".into(),
            DialRefusal::InUse => "this one-time payment code already has a payment under way".into(),
            DialRefusal::ProviderNotAuthorized => "the payment code does not accept payments from this provider".into(),
            DialRefusal::PhoneNotAuthorized => {
                "the payment code accepts payments from another phone number only".into()
            }
            DialRefusal::AmountMismatch => "the amount entered differs from the payment code's amount".into(),
        }
    }
}

impl PaymentCode {
    /// Whether `payer` may pay this code at `now`; the amount to charge if so.
    pub fn admit(&self, payer: &Payer<'_>, now: OffsetDateTime) -> Result<Money, DialRefusal> {
        if !self.status.is_live() {
            return Err(DialRefusal::Ended(self.status));
        }
        if self.expiry_due(now) {
            return Err(DialRefusal::Expired);
        }
        if self.mode == PaymentCodeMode::OneTime && self.status == PaymentCodeStatus::Processing {
            return Err(DialRefusal::InUse);
        }
        if !self.enabled {
            return Err(DialRefusal::Disabled);
        }
        if self.authorized_providers.as_ref().is_some_and(|p| !p.iter().any(|p| p == payer.provider)) {
            return Err(DialRefusal::ProviderNotAuthorized);
        }
        if self.authorized_phone.as_deref().is_some_and(|p| p != payer.phone) {
            return Err(DialRefusal::PhoneNotAuthorized);
        }
        if payer.amount.is_some_and(|a| a != self.amount) {
            return Err(DialRefusal::AmountMismatch);
        }
        Ok(self.amount)
    }

    /// Whether the code's expiry is due at `now`: a pending code, or a recurrent one still taking
    /// payments, past its `expireTime` (a one-time code's payment under way decides for it).
    pub fn expiry_due(&self, now: OffsetDateTime) -> bool {
        now >= self.expire_at
            && (self.status == PaymentCodeStatus::Pending
                || (self.status == PaymentCodeStatus::Processing && self.mode == PaymentCodeMode::Recurrent))
    }

    /// A dial was admitted: the code is in use.
    pub fn start_payment(&mut self) {
        self.status = PaymentCodeStatus::Processing;
    }

    /// A payment of `amount` through this code completed: counts it, and completes a one-time
    /// code, or a recurrent one whose target it reached. `None` if a count would overflow.
    pub fn record_payment(&mut self, amount: i64) -> Option<()> {
        self.payments_completed = self.payments_completed.checked_add(1)?;
        self.collected = self.collected.checked_add(amount)?;
        let done = match self.mode {
            PaymentCodeMode::OneTime => true,
            PaymentCodeMode::Recurrent => self.target.is_some_and(|t| {
                t.count.is_some_and(|c| self.payments_completed >= c)
                    || t.total.is_some_and(|m| self.collected >= m.value)
            }),
        };
        if done {
            self.status = PaymentCodeStatus::Completed;
        } else {
            self.status = PaymentCodeStatus::Processing;
        }
        Some(())
    }

    /// What owns the payments this code takes.
    pub fn as_owner(&self) -> Ownership {
        Ownership {
            id: self.id.to_string(),
            kind: crate::entities::OwnerKind::PaymentCode,
            metadata: self.metadata.clone(),
        }
    }
}

/// A fresh dial string for a payment code: `*715*1*` and eight digits.
pub fn new_ussd_code() -> String {
    use rand::Rng;
    format!("*715*1*{:08}#", rand::thread_rng().gen_range(0..100_000_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn code(mode: PaymentCodeMode) -> PaymentCode {
        let now = crate::time_fmt::now();
        PaymentCode {
            id: PaymentCodeId::generate(),
            mode,
            status: PaymentCodeStatus::Pending,
            name: None,
            amount: Money { currency: Currency::Sle, value: 500 },
            enabled: true,
            expire_at: now + DEFAULT_DURATION,
            customer_name: None,
            ussd_code: new_ussd_code(),
            reference: None,
            authorized_providers: Some(vec!["m17".into()]),
            authorized_phone: Some("+23276000001".into()),
            target: None,
            financial_account: FinancialAccountId::generate(),
            payments_completed: 0,
            collected: 0,
            processed: None,
            metadata: None,
            created_at: now,
            updated_at: None,
        }
    }

    fn payer(phone: &str, provider: &str) -> Payer<'static> {
        Payer { phone: Box::leak(phone.into()), provider: Box::leak(provider.into()), amount: None }
    }

    #[test]
    fn restrictions_refuse_in_a_fixed_order() {
        let now = crate::time_fmt::now();
        let mut c = code(PaymentCodeMode::OneTime);
        assert_eq!(c.admit(&payer("+23276000001", "m17"), now).unwrap().value, 500);
        assert_eq!(c.admit(&payer("+23276000001", "m18"), now), Err(DialRefusal::ProviderNotAuthorized));
        assert_eq!(c.admit(&payer("+23276000002", "m17"), now), Err(DialRefusal::PhoneNotAuthorized));
        let typed =
            Payer { amount: Some(Money { currency: Currency::Sle, value: 499 }), ..payer("+23276000001", "m17") };
        assert_eq!(c.admit(&typed, now), Err(DialRefusal::AmountMismatch));
        assert_eq!(c.admit(&payer("+23276000001", "m17"), c.expire_at), Err(DialRefusal::Expired));
        c.enabled = false;
        assert_eq!(c.admit(&payer("+23276000001", "m17"), now), Err(DialRefusal::Disabled));
        c.enabled = true;
        c.start_payment();
        assert_eq!(c.admit(&payer("+23276000001", "m17"), now), Err(DialRefusal::InUse));
        assert!(!c.expiry_due(c.expire_at), "a one-time code's payment under way decides, not its clock");
        c.record_payment(500).unwrap();
        assert_eq!(c.status, PaymentCodeStatus::Completed);
        assert_eq!(c.admit(&payer("+23276000001", "m17"), now), Err(DialRefusal::Ended(PaymentCodeStatus::Completed)));
    }

    #[test]
    fn a_recurrent_code_completes_at_its_target_count_or_total() {
        let mut by_count = code(PaymentCodeMode::Recurrent);
        by_count.target = Some(RecurrentTarget { count: Some(3), total: None });
        for _ in 0..2 {
            by_count.start_payment();
            by_count.record_payment(500).unwrap();
            assert_eq!(by_count.status, PaymentCodeStatus::Processing);
        }
        by_count.record_payment(500).unwrap();
        assert_eq!(by_count.status, PaymentCodeStatus::Completed);

        let mut by_total = code(PaymentCodeMode::Recurrent);
        by_total.target =
            Some(RecurrentTarget { count: None, total: Some(Money { currency: Currency::Sle, value: 1_000 }) });
        by_total.record_payment(500).unwrap();
        assert_eq!(by_total.status, PaymentCodeStatus::Processing);
        assert!(by_total.expiry_due(by_total.expire_at), "a recurrent code in use still expires");
        by_total.record_payment(500).unwrap();
        assert_eq!(by_total.status, PaymentCodeStatus::Completed);

        let mut endless = code(PaymentCodeMode::Recurrent);
        for _ in 0..5 {
            endless.record_payment(500).unwrap();
        }
        assert_eq!(endless.status, PaymentCodeStatus::Processing, "no target: only expiry ends it");
        endless.collected = i64::MAX;
        assert!(endless.record_payment(1).is_none(), "counts are checked");
    }

    #[test]
    fn dial_strings_have_monimes_shape() {
        let code = new_ussd_code();
        assert!(code.starts_with("*715*1*") && code.ends_with('#') && code.len() == 16, "{code}");
    }
}
