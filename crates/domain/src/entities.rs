//! The records the platform keeps: people, Spaces, tokens, accounts, ledger entries, transfers.
//!
//! These are domain shapes, not wire shapes: the HTTP crate decides how each is rendered.

use crate::ids::*;
use crate::money::{Currency, Money};
use crate::permission::PermissionSet;
use crate::role::RoleName;
use crate::version::ApiVersion;
use crate::Environment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The tenant of every money object: one Space in one environment. Every tenant query in the
/// store takes one, so an unscoped query cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub space_id: SpaceId,
    pub environment: Environment,
}

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Monimeer {
    pub id: MonimeerId,
    pub name: String,
    pub email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub offboarded_at: Option<OffsetDateTime>,
}

/// A tenant: a business using Monime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Space {
    pub id: SpaceId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A Monimeer's place in a Space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub space_id: SpaceId,
    pub monimeer_id: MonimeerId,
    pub role: RoleName,
}

/// An access token as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub id: TokenId,
    pub monimeer_id: MonimeerId,
    pub name: String,
    pub environment: Environment,
    pub permissions: PermissionSet,
    pub space_id: Option<SpaceId>,
    pub allowed_ips: Vec<IpNet>,
    pub expires_at: Option<OffsetDateTime>,
    pub api_version: ApiVersion,
    /// The token whose request created this one (`None`: the operator or the quick start).
    pub created_by: Option<TokenId>,
    /// Money it may move, per currency (empty: no limit).
    pub amount_limits: Vec<crate::amount_limit::AmountLimit>,
    /// Prefix and last four characters, for recognising a token in a list.
    pub hint: String,
    pub created_at: OffsetDateTime,
    /// When the token stops working: now for a plain revocation, later for a rotation's grace.
    pub revoked_at: Option<OffsetDateTime>,
    pub usage: TokenUsage,
    /// Set the first time the token arrives in a request a browser made (it is then in a web
    /// page's code, which anyone can read); never cleared.
    pub exposure: Option<TokenExposure>,
}

/// When a token was first seen in a browser's request, and from which page's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExposure {
    pub detected_at: OffsetDateTime,
    /// The `Origin` the browser sent, when it sent one (at most 256 characters are kept).
    pub origin: Option<String>,
}

/// How a token has been used; maintained in batches off the request path (at most a minute behind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub request_count: i64,
}

/// A Space's rules for the tokens used against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpacePolicy {
    /// Tokens whose total lifetime (creation to expiry) exceeds this, or that never expire, are refused.
    pub max_token_lifetime_seconds: Option<i64>,
    /// When false, only tokens bound to this Space may be used against it.
    pub allow_unbound_tokens: bool,
    /// When true, a token that could act in this Space is revoked, with every token it minted,
    /// the moment it is seen in a browser's request.
    pub revoke_exposed_tokens: bool,
    /// When set, a token that could act in this Space and makes no request for this long expires
    /// (announced by `access_token.expiring` a week before).
    pub idle_token_expiry_seconds: Option<i64>,
}

impl Default for SpacePolicy {
    fn default() -> Self {
        SpacePolicy {
            max_token_lifetime_seconds: None,
            allow_unbound_tokens: true,
            revoke_exposed_tokens: false,
            idle_token_expiry_seconds: None,
        }
    }
}

/// A change to some of a policy's fields; the others keep their current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    /// `Some(None)` lifts the limit.
    pub max_token_lifetime_seconds: Option<Option<i64>>,
    pub allow_unbound_tokens: Option<bool>,
    pub revoke_exposed_tokens: Option<bool>,
    /// `Some(None)` turns idle expiry off.
    pub idle_token_expiry_seconds: Option<Option<i64>>,
}

impl PolicyPatch {
    /// The policy with this patch's fields replaced.
    pub fn apply(self, mut policy: SpacePolicy) -> SpacePolicy {
        if let Some(max) = self.max_token_lifetime_seconds {
            policy.max_token_lifetime_seconds = max;
        }
        if let Some(allow) = self.allow_unbound_tokens {
            policy.allow_unbound_tokens = allow;
        }
        if let Some(revoke) = self.revoke_exposed_tokens {
            policy.revoke_exposed_tokens = revoke;
        }
        if let Some(idle) = self.idle_token_expiry_seconds {
            policy.idle_token_expiry_seconds = idle;
        }
        policy
    }
}

/// What a token creation asks for (the secret and its hash are minted by the caller).
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub monimeer_id: MonimeerId,
    pub name: String,
    pub environment: Environment,
    pub permissions: PermissionSet,
    pub space_id: Option<SpaceId>,
    pub allowed_ips: Vec<IpNet>,
    pub expires_at: Option<OffsetDateTime>,
    pub api_version: ApiVersion,
    /// The token making the request that creates this one; `None` for the operator.
    pub created_by: Option<TokenId>,
    pub amount_limits: Vec<crate::amount_limit::AmountLimit>,
}

/// A token's status as lists show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub const ALL: [TokenStatus; 3] = [TokenStatus::Active, TokenStatus::Expired, TokenStatus::Revoked];

    /// As responses spell it (`ACTIVE`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "ACTIVE",
            TokenStatus::Expired => "EXPIRED",
            TokenStatus::Revoked => "REVOKED",
        }
    }
}

impl AccessToken {
    /// What a rotation issues: a new token carrying every setting of this one.
    pub fn replacement(&self) -> NewAccessToken {
        NewAccessToken {
            monimeer_id: self.monimeer_id.clone(),
            name: self.name.clone(),
            environment: self.environment,
            permissions: self.permissions,
            space_id: self.space_id.clone(),
            allowed_ips: self.allowed_ips.clone(),
            expires_at: self.expires_at,
            api_version: self.api_version,
            created_by: None,
            amount_limits: self.amount_limits.clone(),
        }
    }

    /// When a rotated token stops working: the end of the grace period, or its own expiry if that
    /// comes first (a rotation never lengthens a token's life).
    pub fn rotation_stop(&self, grace_ends: OffsetDateTime) -> OffsetDateTime {
        self.expires_at.map_or(grace_ends, |e| e.min(grace_ends))
    }

    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        if self.revoked_at.is_some_and(|r| r <= now) {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// A wallet/ledger unit in one currency. It serializes (in this crate's own spelling, not the
/// API's) as an event's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinancialAccount {
    pub id: FinancialAccountId,
    pub uvan: String,
    pub name: String,
    pub currency: Currency,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    /// Available balance in minor units; never negative.
    pub balance: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// A credit or a debit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Credit,
    Debit,
}

impl EntryKind {
    pub const ALL: [EntryKind; 2] = [EntryKind::Credit, EntryKind::Debit];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Credit => "credit",
            EntryKind::Debit => "debit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "credit" => Some(EntryKind::Credit),
            "debit" => Some(EntryKind::Debit),
            _ => None,
        }
    }
}

/// The object that caused a ledger entry (`internal_transfer`, `ledger_adjustment`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub id: String,
    pub kind: OwnerKind,
    pub metadata: Option<Map<String, Value>>,
}

/// What kind of object owns a ledger entry: the object whose id is the owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A transfer between two of the Space's accounts.
    InternalTransfer,
    /// An operator's credit.
    LedgerAdjustment,
    /// A customer's payment (its credit and its fees' debits).
    Payment,
    /// A payment code (the owner of the payments it takes).
    PaymentCode,
    /// A checkout session (the owner of the payment that completes it).
    CheckoutSession,
    /// A payout (its hold's debits, and their reversal if it fails or is deleted).
    Payout,
}

impl OwnerKind {
    pub const ALL: [OwnerKind; 6] = [
        OwnerKind::InternalTransfer,
        OwnerKind::LedgerAdjustment,
        OwnerKind::Payment,
        OwnerKind::PaymentCode,
        OwnerKind::CheckoutSession,
        OwnerKind::Payout,
    ];

    /// The word the API reports as the owner's `type` (and the ledger stores).
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::InternalTransfer => "internal_transfer",
            OwnerKind::LedgerAdjustment => "ledger_adjustment",
            OwnerKind::Payment => "payment",
            OwnerKind::PaymentCode => "payment_code",
            OwnerKind::CheckoutSession => "checkout_session",
            OwnerKind::Payout => "payout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An immutable ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinancialTransaction {
    pub id: FinancialTransactionId,
    pub kind: EntryKind,
    pub amount: Money,
    pub timestamp: OffsetDateTime,
    pub reference: String,
    pub account_id: FinancialAccountId,
    pub balance_after: i64,
    pub owner: Ownership,
    pub metadata: Option<Map<String, Value>>,
    /// The fee this entry charges, for a fee's debit.
    pub fee_code: Option<String>,
}

/// Where a transfer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Processing,
    Failed,
    Completed,
}

impl TransferStatus {
    pub const ALL: [TransferStatus; 4] =
        [TransferStatus::Pending, TransferStatus::Processing, TransferStatus::Failed, TransferStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Processing => "processing",
            TransferStatus::Failed => "failed",
            TransferStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferFailure {
    FundInsufficient,
    Unknown,
}

impl TransferFailure {
    /// In the official document's order.
    pub const ALL: [TransferFailure; 2] = [TransferFailure::Unknown, TransferFailure::FundInsufficient];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferFailure::FundInsufficient => "fund_insufficient",
            TransferFailure::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fund_insufficient" => Some(Self::FundInsufficient),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// A movement of money between two accounts of one Space and environment. It serializes (in
/// this crate's own spelling, not the API's) as an event's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalTransfer {
    pub id: InternalTransferId,
    pub status: TransferStatus,
    pub amount: Money,
    pub source: FinancialAccountId,
    pub destination: FinancialAccountId,
    pub transaction_reference: Option<String>,
    pub description: Option<String>,
    pub failure: Option<(TransferFailure, Option<String>)>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// A plain live token without permissions, for unit tests to vary.
#[cfg(test)]
pub(crate) fn sample_token() -> AccessToken {
    use crate::ids::*;
    AccessToken {
        id: TokenId::generate(),
        monimeer_id: MonimeerId::generate(),
        name: "t".into(),
        environment: Environment::Live,
        permissions: PermissionSet::EMPTY,
        space_id: None,
        allowed_ips: vec![],
        expires_at: None,
        api_version: crate::version::ApiVersion::LATEST,
        created_by: None,
        amount_limits: Vec::new(),
        hint: String::new(),
        created_at: crate::time_fmt::now(),
        revoked_at: None,
        usage: Default::default(),
        exposure: None,
    }
}
