//! Events: what a change tells the outside world (webhooks), named `<resource>.<event>` as Monime
//! names them. An event holds a snapshot of its object as the change committed it; each webhook
//! renders the snapshot in its own API release when it delivers.

use crate::checkout::CheckoutSession;
use crate::entities::{FinancialAccount, InternalTransfer};
use crate::ids::{MonimeerId, SpaceId, TokenId};
use crate::payment::Payment;
use crate::payment_code::PaymentCode;
use crate::payout::Payout;
use crate::ussd_otp::UssdOtp;
use crate::Environment;
use serde::{Deserialize, Serialize};

/// The events openmonime emits (later resources add theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    FinancialAccountCreated,
    FinancialAccountCredited,
    FinancialAccountDebited,
    InternalTransferCompleted,
    InternalTransferFailed,
    PaymentCodeCreated,
    /// A payment through the code was taken (not final: the code may take more, or its payment
    /// may still be completing); the only snapshot with `processedPaymentData`.
    PaymentCodeProcessed,
    PaymentCodeCompleted,
    PaymentCodeExpired,
    PaymentCodeCancelled,
    PaymentCreated,
    PaymentCompleted,
    UssdOtpVerified,
    UssdOtpExpired,
    CheckoutSessionCompleted,
    CheckoutSessionCancelled,
    CheckoutSessionExpired,
    PayoutCreated,
    /// The payout was sent to its provider.
    PayoutProcessing,
    PayoutCompleted,
    PayoutFailed,
    /// A token was reported published (GitHub's secret scanning, or the public report form) and
    /// revoked; openmonime's own event.
    AccessTokenLeaked,
    /// A token stops working within a week: its expiry, or a Space's idle expiry.
    AccessTokenExpiring,
}

impl EventName {
    pub const ALL: [EventName; 23] = [
        EventName::FinancialAccountCreated,
        EventName::FinancialAccountCredited,
        EventName::FinancialAccountDebited,
        EventName::InternalTransferCompleted,
        EventName::InternalTransferFailed,
        EventName::PaymentCodeCreated,
        EventName::PaymentCodeProcessed,
        EventName::PaymentCodeCompleted,
        EventName::PaymentCodeExpired,
        EventName::PaymentCodeCancelled,
        EventName::PaymentCreated,
        EventName::PaymentCompleted,
        EventName::UssdOtpVerified,
        EventName::UssdOtpExpired,
        EventName::CheckoutSessionCompleted,
        EventName::CheckoutSessionCancelled,
        EventName::CheckoutSessionExpired,
        EventName::PayoutCreated,
        EventName::PayoutProcessing,
        EventName::PayoutCompleted,
        EventName::PayoutFailed,
        EventName::AccessTokenLeaked,
        EventName::AccessTokenExpiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::FinancialAccountCreated => "financial_account.created",
            EventName::FinancialAccountCredited => "financial_account.credited",
            EventName::FinancialAccountDebited => "financial_account.debited",
            EventName::InternalTransferCompleted => "internal_transfer.completed",
            EventName::InternalTransferFailed => "internal_transfer.failed",
            EventName::PaymentCodeCreated => "payment_code.created",
            EventName::PaymentCodeProcessed => "payment_code.processed",
            EventName::PaymentCodeCompleted => "payment_code.completed",
            EventName::PaymentCodeExpired => "payment_code.expired",
            EventName::PaymentCodeCancelled => "payment_code.cancelled",
            EventName::PaymentCreated => "payment.created",
            EventName::PaymentCompleted => "payment.completed",
            EventName::UssdOtpVerified => "ussd_otp.verified",
            EventName::UssdOtpExpired => "ussd_otp.expired",
            EventName::CheckoutSessionCompleted => "checkout_session.completed",
            EventName::CheckoutSessionCancelled => "checkout_session.cancelled",
            EventName::CheckoutSessionExpired => "checkout_session.expired",
            EventName::PayoutCreated => "payout.created",
            EventName::PayoutProcessing => "payout.processing",
            EventName::PayoutCompleted => "payout.completed",
            EventName::PayoutFailed => "payout.failed",
            EventName::AccessTokenLeaked => "access_token.leaked",
            EventName::AccessTokenExpiring => "access_token.expiring",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The kind of object the event is about: the name's `<resource>` part.
    pub fn object_type(self) -> &'static str {
        self.as_str().split_once('.').map_or("", |(resource, _)| resource)
    }
}

/// The object an event is about, as the change left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "object", rename_all = "snake_case")]
pub enum Snapshot {
    FinancialAccount(FinancialAccount),
    InternalTransfer(InternalTransfer),
    PaymentCode(Box<PaymentCode>),
    Payment(Box<Payment>),
    UssdOtp(UssdOtp),
    CheckoutSession(Box<CheckoutSession>),
    Payout(Box<Payout>),
    AccessToken(Box<TokenNotice>),
}

/// What an `access_token.*` event says of a token: who and where, never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenNotice {
    pub id: TokenId,
    pub name: String,
    pub hint: String,
    pub environment: Environment,
    pub monimeer_id: MonimeerId,
    pub space_id: Option<SpaceId>,
    /// Where the token was found, as the report gave it.
    pub url: Option<String>,
    /// `access_token.leaked`: the report stopped it (a report of a stopped token sends nothing).
    pub revoked: bool,
    /// `access_token.expiring`: when it will stop, and why (`expiry` or `idle`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<time::OffsetDateTime>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl TokenNotice {
    /// Who and where `token` is, with nothing reported about it yet.
    pub fn of(token: &crate::entities::AccessToken) -> Self {
        TokenNotice {
            id: token.id.clone(),
            name: token.name.clone(),
            hint: token.hint.clone(),
            environment: token.environment,
            monimeer_id: token.monimeer_id.clone(),
            space_id: token.space_id.clone(),
            url: None,
            revoked: false,
            expires_at: None,
            reason: None,
        }
    }
}

impl Snapshot {
    pub fn object_id(&self) -> &str {
        match self {
            Snapshot::FinancialAccount(a) => a.id.as_str(),
            Snapshot::InternalTransfer(t) => t.id.as_str(),
            Snapshot::PaymentCode(c) => c.id.as_str(),
            Snapshot::Payment(p) => p.id.as_str(),
            Snapshot::UssdOtp(o) => o.id.as_str(),
            Snapshot::CheckoutSession(c) => c.id.as_str(),
            Snapshot::Payout(p) => p.id.as_str(),
            Snapshot::AccessToken(t) => t.id.as_str(),
        }
    }

    /// The same word as [`EventName::object_type`] for the events about it.
    pub fn object_type(&self) -> &'static str {
        match self {
            Snapshot::FinancialAccount(_) => "financial_account",
            Snapshot::InternalTransfer(_) => "internal_transfer",
            Snapshot::PaymentCode(_) => "payment_code",
            Snapshot::Payment(_) => "payment",
            Snapshot::UssdOtp(_) => "ussd_otp",
            Snapshot::CheckoutSession(_) => "checkout_session",
            Snapshot::Payout(_) => "payout",
            Snapshot::AccessToken(_) => "access_token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_monimes_resource_dot_event_words() {
        for name in EventName::ALL {
            assert_eq!(EventName::parse(name.as_str()), Some(name));
            let (resource, event) = name.as_str().split_once('.').unwrap();
            assert_eq!(resource, name.object_type());
            assert!(event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name:?}");
        }
    }
}
