//! The wire shapes of payouts, as Monime's document defines them: the payout, its create and
//! update bodies, and the list's filters.

use super::collections::PaymentFee;
use super::ledger::OwnershipGraph;
use super::query::{Capped, Cursor, Limit};
use super::{metadata, open, Money, Time, Word};
use crate::handlers::params::patch_field;
use openmonime_domain::payout::{Payout as DomainPayout, PayoutFailure, PayoutStatus};
use openmonime_domain::test_rail::ProviderKind;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The document's `destination`: a bank, momo or wallet account, told apart by `type`, each
/// kind with the providers the document lists for it. One schema for requests and answers (the
/// `transactionReference` a request may not set is read-only there).
pub fn destination_schema(_: &mut SchemaGenerator) -> Schema {
    let variant = |kind: &str, providers: &[&str], account: &str, required: bool| {
        let mut required_fields = vec!["type", "providerId"];
        if required {
            required_fields.push(account);
        }
        let mut properties = json!({
            "type": {"enum": [kind], "type": "string"},
            "providerId": {"enum": providers, "type": "string"},
        });
        properties[account] = json!({"type": "string"});
        properties["transactionReference"] = json!({"type": "string", "nullable": true});
        json!({"required": required_fields, "type": "object", "properties": properties, "additionalProperties": false})
    };
    json_schema!({
        "required": ["type", "providerId"],
        "type": "object",
        "oneOf": [
            variant("bank", &["slb001", "slb004", "slb007"], "accountNumber", true),
            variant("momo", &["m17", "m18"], "phoneNumber", true),
            // The document does not require a wallet's `walletId`; openmonime does (400 without).
            variant("wallet", &["dw001"], "walletId", false),
        ],
        "properties": {"type": {"enum": ["bank", "momo", "wallet"], "type": "string"}}
    })
}

/// `source`: the account the payout is paid from, and the reference of its hold's entries.
pub fn source_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "required": ["financialAccountId"],
        "type": "object",
        "properties": {
            "financialAccountId": {"type": "string"},
            "transactionReference": {"type": "string", "nullable": true}
        },
        "additionalProperties": false,
        "nullable": true
    })
}

/// A payout's destination as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub provider_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    pub transaction_reference: Option<String>,
}

/// A payout's source as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub financial_account_id: String,
    pub transaction_reference: Option<String>,
}

/// `failureDetail` of a failed payout.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct PayoutFailureDetail {
    pub code: Word<PayoutFailure>,
    pub message: String,
}

/// A disbursement from a financial account to a bank, momo or wallet account.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct Payout {
    pub id: String,
    pub status: Word<PayoutStatus>,
    pub amount: Money,
    #[schemars(schema_with = "source_schema")]
    pub source: Option<Source>,
    #[schemars(schema_with = "destination_schema")]
    pub destination: Destination,
    pub fees: Option<Vec<PaymentFee>>,
    pub failure_detail: Option<PayoutFailureDetail>,
    pub create_time: Time,
    pub update_time: Time,
    pub ownership_graph: Option<OwnershipGraph>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl Payout {
    pub fn new(p: DomainPayout) -> Self {
        let account = Some(p.destination.account);
        let (account_number, phone_number, wallet_id) = match p.destination.kind {
            ProviderKind::Bank => (account, None, None),
            ProviderKind::Momo => (None, account, None),
            ProviderKind::Wallet => (None, None, account),
        };
        Payout {
            id: p.id.into(),
            status: Word(p.status),
            amount: p.amount.into(),
            source: Some(Source { financial_account_id: p.source.into(), transaction_reference: p.source_reference }),
            destination: Destination {
                kind: p.destination.kind.as_str(),
                provider_id: p.destination.provider_id,
                account_number,
                phone_number,
                wallet_id,
                transaction_reference: p.destination.transaction_reference,
            },
            fees: Some(
                p.fees
                    .into_iter()
                    .map(|f| PaymentFee { code: f.code, amount: f.amount.into(), metadata: None })
                    .collect(),
            ),
            failure_detail: p.failure.map(|(code, message)| PayoutFailureDetail {
                code: Word(code),
                message: message.unwrap_or_else(|| code.message().to_owned()),
            }),
            create_time: Time(p.created_at),
            update_time: Time(p.updated_at),
            ownership_graph: None,
            metadata: p.metadata,
        }
    }
}

/// `destination` of a create request, read loosely so that each mistake is a 400 naming its
/// field (the handler checks the kind, the provider and the account).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub provider_id: String,
    pub account_number: Option<String>,
    pub phone_number: Option<String>,
    pub wallet_id: Option<String>,
    /// Read-only: a request that sets it is refused.
    pub transaction_reference: Option<Value>,
    /// Anything else the request sent, refused by name.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `source` of a create request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceRequest {
    pub financial_account_id: String,
    /// Read-only: a request that sets it is refused.
    pub transaction_reference: Option<Value>,
}

/// `POST /v1/payouts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayout {
    pub amount: Money,
    #[serde(default)]
    #[schemars(schema_with = "source_schema")]
    pub source: Option<SourceRequest>,
    #[schemars(schema_with = "destination_schema")]
    pub destination: DestinationRequest,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/payouts/{id}`: metadata only, while the payout is pending.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayout {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// A status to list payouts by. The document orders this filter's words differently from the
/// payout's own `status`, and both are kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFilter(pub PayoutStatus);

impl super::Words for StatusFilter {
    fn all() -> &'static [Self] {
        &[
            StatusFilter(PayoutStatus::Pending),
            StatusFilter(PayoutStatus::Processing),
            StatusFilter(PayoutStatus::Failed),
            StatusFilter(PayoutStatus::Completed),
        ]
    }

    fn word(self) -> &'static str {
        self.0.as_str()
    }
}

/// `GET /v1/payouts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPayoutsQuery {
    pub status: Option<Word<StatusFilter>>,
    pub source_financial_account_id: Option<Capped<64>>,
    pub source_transaction_reference: Option<Capped<64>>,
    pub destination_transaction_reference: Option<Capped<64>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}
