//! The ledger's wire shapes: financial accounts, financial transactions, internal transfers —
//! their requests, list filters and responses, as Monime's document defines them.

use super::query::{Capped, Cursor, Flag, Limit, Text};
use super::{metadata, open, Money, Time, Word};
use crate::handlers::params::patch_field;
use openmonime_domain::entities::{
    EntryKind, FinancialAccount as Account, FinancialTransaction as Entry, InternalTransfer as Transfer, Ownership,
    TransferFailure, TransferStatus,
};
use openmonime_domain::money::Money as DomainMoney;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A financial account: a wallet or ledger unit holding money in one currency.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct FinancialAccount {
    pub id: String,
    pub uvan: String,
    pub name: String,
    pub currency: &'static str,
    pub reference: Option<String>,
    pub description: Option<String>,
    /// Present when the request asked `withBalance=true` (and after a create or update).
    pub balance: Option<Balance>,
    pub create_time: Time,
    pub update_time: Option<Time>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct Balance {
    pub available: Money,
}

impl FinancialAccount {
    pub fn new(a: Account, with_balance: bool) -> Self {
        let balance =
            with_balance.then(|| Balance { available: DomainMoney { currency: a.currency, value: a.balance }.into() });
        FinancialAccount {
            id: a.id.into(),
            uvan: a.uvan,
            name: a.name,
            currency: a.currency.code(),
            reference: a.reference,
            description: a.description,
            balance,
            create_time: Time(a.created_at),
            update_time: Time::opt(a.updated_at),
            metadata: a.metadata,
        }
    }
}

/// One ledger entry: a credit or a debit of one account.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct FinancialTransaction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Word<EntryKind>,
    pub amount: Money,
    pub timestamp: Time,
    pub reference: Option<String>,
    pub financial_account: EntryAccount,
    pub originating_reversal: Option<OriginatingReversal>,
    pub originating_fee: Option<OriginatingFee>,
    pub ownership_graph: Option<OwnershipGraph>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// The account an entry belongs to, with its balance after the entry.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct EntryAccount {
    pub id: String,
    pub balance: Option<BalanceAfter>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct BalanceAfter {
    pub after: Money,
}

/// The entry this one reverses (openmonime reverses nothing yet: always `null`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(inline, transform = open)]
pub struct OriginatingReversal {
    pub origin_txn_id: String,
    pub origin_txn_ref: String,
}

/// The fee this entry charges (a payment's fee debit).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct OriginatingFee {
    pub code: String,
}

/// What caused an entry: its owning object.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct OwnershipGraph {
    pub owner: Owner,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct Owner {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
    // The owner's own owner: openmonime's owners have none, so it is never sent. (A doc comment
    // here would become a `description` beside the `$ref`, which OpenAPI 3.0 does not allow.)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ParentOwner")]
    pub owner: Option<Box<ParentOwner>>,
}

/// The document's recursive component for an owner's owner chain, which openmonime never
/// produces (so it is never built; it exists for the schema).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CoreresourcesParentOwningObject", transform = open)]
pub struct ParentOwner {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ParentOwner")]
    pub owner: Option<Box<ParentOwner>>,
}

impl OwnershipGraph {
    pub(crate) fn of(o: Ownership) -> Self {
        OwnershipGraph {
            owner: Owner { id: o.id, kind: o.kind.as_str().to_owned(), metadata: o.metadata, owner: None },
        }
    }
}

impl FinancialTransaction {
    pub fn new(t: Entry) -> Self {
        FinancialTransaction {
            id: t.id.into(),
            kind: Word(t.kind),
            amount: t.amount.into(),
            timestamp: Time(t.timestamp),
            reference: Some(t.reference),
            financial_account: EntryAccount {
                id: t.account_id.into(),
                balance: Some(BalanceAfter {
                    after: DomainMoney { currency: t.amount.currency, value: t.balance_after }.into(),
                }),
            },
            originating_reversal: None,
            originating_fee: t.fee_code.map(|code| OriginatingFee { code }),
            ownership_graph: Some(OwnershipGraph::of(t.owner)),
            metadata: t.metadata,
        }
    }
}

/// A movement of money between two accounts of one Space and environment.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct InternalTransfer {
    pub id: String,
    pub status: Word<TransferStatus>,
    pub amount: Money,
    pub source_financial_account: AccountRef,
    pub destination_financial_account: AccountRef,
    pub financial_transaction_reference: Option<String>,
    pub description: Option<String>,
    pub failure_detail: Option<FailureDetail>,
    pub ownership_graph: Option<OwnershipGraph>,
    pub create_time: Time,
    pub update_time: Option<Time>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// An account named by its id.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct AccountRef {
    pub id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct FailureDetail {
    pub code: Word<TransferFailure>,
    pub message: Option<String>,
}

impl InternalTransfer {
    pub fn new(t: Transfer) -> Self {
        InternalTransfer {
            id: t.id.into(),
            status: Word(t.status),
            amount: t.amount.into(),
            source_financial_account: AccountRef { id: t.source.into() },
            destination_financial_account: AccountRef { id: t.destination.into() },
            financial_transaction_reference: t.transaction_reference,
            description: t.description,
            failure_detail: t.failure.map(|(code, message)| FailureDetail { code: Word(code), message }),
            ownership_graph: None,
            create_time: Time(t.created_at),
            update_time: Time::opt(t.updated_at),
            metadata: t.metadata,
        }
    }
}

/// `POST /v1/financial-accounts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFinancialAccount {
    #[schemars(length(max = 100))]
    pub name: String,
    pub currency: String,
    #[schemars(length(max = 64))]
    pub reference: Option<String>,
    #[schemars(length(max = 150))]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/financial-accounts/{id}`: an absent field is kept, `null` clears it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFinancialAccount {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(length(max = 100))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(length(max = 64))]
    pub reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(length(max = 150))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// `POST /v1/internal-transfers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateInternalTransfer {
    pub amount: Money,
    pub source_financial_account: AccountIdBody,
    pub destination_financial_account: AccountIdBody,
    #[schemars(length(max = 150))]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `{id}` naming an account; the official document leaves this object open to extra fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(inline)]
pub struct AccountIdBody {
    #[schemars(length(max = 64))]
    pub id: String,
}

/// `PATCH /v1/internal-transfers/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInternalTransfer {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(length(max = 255))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// `GET /v1/financial-accounts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListFinancialAccountsQuery {
    pub uvan: Option<Text<16>>,
    pub reference: Option<Text<64>>,
    #[serde(default)]
    pub with_balance: Flag,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `GET /v1/financial-accounts/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetFinancialAccountQuery {
    #[serde(default)]
    pub with_balance: Flag,
}

/// `GET /v1/financial-transactions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListFinancialTransactionsQuery {
    pub financial_account_id: Option<Capped<64>>,
    pub reference: Option<Capped<64>>,
    #[serde(rename = "type")]
    pub kind: Option<Word<EntryKind>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `GET /v1/internal-transfers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListInternalTransfersQuery {
    pub status: Option<Word<TransferStatus>>,
    pub source_financial_account_id: Option<Capped<64>>,
    pub destination_financial_account_id: Option<Capped<64>>,
    pub financial_transaction_reference: Option<Capped<64>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}
