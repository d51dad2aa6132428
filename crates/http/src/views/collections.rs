//! The wire shapes of collecting money — payment codes, payments, USSD OTPs — as Monime's
//! document defines them, and of openmonime's test helpers (the dial, the test clock).

use super::ledger::OwnershipGraph;
use super::query::{Capped, Cursor, Limit};
use super::{metadata, open, Money, Time, Word};
use crate::handlers::params::{patch_field, present};
use openmonime_domain::payment::{Payment as DomainPayment, PaymentStatus};
use openmonime_domain::payment_code::{
    PaymentCode as Code, PaymentCodeMode, PaymentCodeStatus, ProcessedPayment, RecurrentTarget as DomainTarget,
};
use openmonime_domain::ussd_otp::{UssdOtp as Otp, UssdOtpStatus};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A momo a code may be restricted to, as the document enumerates them.
fn provider_item() -> Value {
    serde_json::json!({"enum": openmonime_domain::payment_code::AUTHORIZABLE_PROVIDERS, "type": "string"})
}

/// `authorizedProviders` in an answer.
pub fn authorized_providers(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": provider_item(), "nullable": true})
}

/// `authorizedProviders` in a request: one to ten distinct providers.
pub fn authorized_providers_request(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"maxItems": 10, "minItems": 1, "uniqueItems": true, "type": "array", "items": provider_item(), "nullable": true})
}

/// `customer`: who the code is for, shown in the USSD prompt.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct Customer {
    #[schemars(length(max = 100))]
    pub name: Option<String>,
}

/// `recurrentPaymentTarget`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(inline, transform = open)]
pub struct RecurrentTarget {
    #[schemars(range(min = 1))]
    pub expected_payment_count: Option<i64>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Money")]
    pub expected_payment_total: Option<Money>,
}

impl From<DomainTarget> for RecurrentTarget {
    fn from(t: DomainTarget) -> Self {
        RecurrentTarget { expected_payment_count: t.count, expected_payment_total: t.total.map(Money::from) }
    }
}

/// `processedPaymentData`: the payment a `payment_code.processed` event reports.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline, transform = open)]
pub struct ProcessedPaymentData {
    pub amount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub order_id: Option<String>,
    pub payment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub order_number: Option<String>,
    pub channel_data: ChannelData,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub financial_transaction_reference: Option<String>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline, transform = open)]
pub struct ChannelData {
    pub provider_id: String,
    pub account_id: String,
    pub reference: String,
}

impl From<ProcessedPayment> for ProcessedPaymentData {
    fn from(p: ProcessedPayment) -> Self {
        ProcessedPaymentData {
            amount: p.amount.into(),
            order_id: None,
            payment_id: p.payment_id.into(),
            order_number: None,
            channel_data: ChannelData { provider_id: p.provider, account_id: p.account, reference: p.reference },
            financial_transaction_reference: p.transaction_reference,
            metadata: p.metadata,
        }
    }
}

/// The schema of `processedPaymentData`: the document gives its strings no `nullable`, but an
/// order's fields are absent when no order was involved (they are left out then).
fn processed_payment_data(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<ProcessedPaymentData>();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    schema
}

/// A payment code: a dial string customers pay, once or until a target.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct PaymentCode {
    pub id: String,
    pub mode: Word<PaymentCodeMode>,
    pub status: Word<PaymentCodeStatus>,
    pub name: Option<String>,
    pub amount: Money,
    pub enable: bool,
    pub expire_time: Time,
    pub customer: Option<Customer>,
    pub ussd_code: String,
    pub reference: Option<String>,
    #[schemars(schema_with = "authorized_providers")]
    pub authorized_providers: Option<Vec<String>>,
    /// Absent when the code accepts any number (the document gives the field no `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub authorized_phone_number: Option<String>,
    pub recurrent_payment_target: Option<RecurrentTarget>,
    pub financial_account_id: Option<String>,
    #[schemars(schema_with = "processed_payment_data")]
    pub processed_payment_data: Option<ProcessedPaymentData>,
    pub create_time: Time,
    pub update_time: Option<Time>,
    pub ownership_graph: Option<OwnershipGraph>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl PaymentCode {
    pub fn new(c: Code) -> Self {
        PaymentCode {
            id: c.id.into(),
            mode: Word(c.mode),
            status: Word(c.status),
            name: c.name,
            amount: c.amount.into(),
            enable: c.enabled,
            expire_time: Time(c.expire_at),
            customer: c.customer_name.map(|name| Customer { name: Some(name) }),
            ussd_code: c.ussd_code,
            reference: c.reference,
            authorized_providers: c.authorized_providers,
            authorized_phone_number: c.authorized_phone,
            recurrent_payment_target: c.target.map(RecurrentTarget::from),
            financial_account_id: Some(c.financial_account.into()),
            processed_payment_data: c.processed.map(ProcessedPaymentData::from),
            create_time: Time(c.created_at),
            update_time: Time::opt(c.updated_at),
            ownership_graph: None,
            metadata: c.metadata,
        }
    }
}

/// `channel`: how the payer paid. openmonime's rails take mobile money only, so it is always
/// the document's Mobile Money shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub provider: String,
    pub reference: String,
    pub phone_number: String,
    pub fingerprint: String,
    pub metadata: Option<Map<String, Value>>,
}

/// The document's `channel`: one of four shapes, told apart by `type`.
pub fn channel(_: &mut SchemaGenerator) -> Schema {
    let meta = serde_json::json!({"maxProperties": 64, "type": "object", "nullable": true});
    let variant = |kind: &str, fields: Value| {
        let mut properties = serde_json::json!({"type": {"enum": [kind], "type": "string"}});
        for (name, schema) in fields.as_object().expect("fields") {
            properties[name] = schema.clone();
        }
        properties["metadata"] = meta.clone();
        serde_json::json!({"type": "object", "properties": properties})
    };
    let string = serde_json::json!({"type": "string"});
    let reference = serde_json::json!({"maxLength": 64, "type": "string"});
    json_schema!({
        "type": "object",
        "oneOf": [
            variant("bank", serde_json::json!({"provider": string, "reference": reference, "accountNumber": string, "fingerprint": string})),
            variant("card", serde_json::json!({"scheme": {"enum": ["mastercard", "visa"], "type": "string"}, "last4": {"maxLength": 4, "type": "string"}, "fingerprint": string})),
            variant("wallet", serde_json::json!({"provider": string, "reference": reference, "walletId": string, "fingerprint": string})),
            variant("momo", serde_json::json!({"provider": string, "reference": reference, "phoneNumber": string, "fingerprint": string})),
        ],
        "properties": {"type": {"enum": ["bank", "card", "momo", "wallet"], "type": "string"}}
    })
}

/// One fee charged on a payment.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct PaymentFee {
    pub code: String,
    pub amount: Money,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// A payment a customer made.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct Payment {
    pub id: String,
    pub status: Word<PaymentStatus>,
    pub amount: Money,
    #[schemars(schema_with = "channel")]
    pub channel: Channel,
    pub name: Option<String>,
    pub reference: Option<String>,
    pub order_number: Option<String>,
    pub financial_account_id: Option<String>,
    pub financial_transaction_reference: Option<String>,
    pub fees: Option<Vec<PaymentFee>>,
    pub create_time: Time,
    pub update_time: Option<Time>,
    pub ownership_graph: Option<OwnershipGraph>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl Payment {
    pub fn new(p: DomainPayment) -> Self {
        Payment {
            id: p.id.into(),
            status: Word(p.status),
            amount: p.amount.into(),
            channel: Channel {
                kind: "momo",
                provider: p.channel.provider,
                reference: p.channel.reference,
                phone_number: p.channel.phone_masked,
                fingerprint: p.channel.fingerprint,
                metadata: None,
            },
            name: p.name,
            reference: p.reference,
            order_number: p.order_number,
            financial_account_id: Some(p.financial_account.into()),
            financial_transaction_reference: p.transaction_reference,
            fees: Some(
                p.fees
                    .into_iter()
                    .map(|f| PaymentFee { code: f.code, amount: f.amount.into(), metadata: None })
                    .collect(),
            ),
            create_time: Time(p.created_at),
            update_time: Time::opt(p.updated_at),
            ownership_graph: Some(OwnershipGraph::of(p.owner)),
            metadata: p.metadata,
        }
    }
}

/// A USSD OTP session.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct UssdOtp {
    pub id: String,
    pub status: Word<UssdOtpStatus>,
    pub dial_code: String,
    pub authorized_phone_number: String,
    #[schemars(length(max = 255))]
    pub verification_message: Option<String>,
    pub create_time: Time,
    pub expire_time: Time,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl UssdOtp {
    pub fn new(o: Otp) -> Self {
        UssdOtp {
            id: o.id.into(),
            status: Word(o.status),
            dial_code: o.dial_code,
            authorized_phone_number: o.authorized_phone,
            verification_message: o.verification_message,
            create_time: Time(o.created_at),
            expire_time: Time(o.expire_at),
            metadata: o.metadata,
        }
    }
}

fn one_time() -> Word<PaymentCodeMode> {
    Word(PaymentCodeMode::OneTime)
}

fn enabled_by_default() -> bool {
    true
}

fn ten_minutes() -> String {
    "10m".into()
}

fn five_minutes() -> String {
    "5m".into()
}

/// `POST /v1/payment-codes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePaymentCode {
    #[serde(default = "one_time")]
    pub mode: Word<PaymentCodeMode>,
    /// Required, though it may be `null`.
    #[serde(deserialize_with = "patch_field")]
    #[schemars(required, with = "Option<String>", length(min = 3, max = 64), extend("nullable" = true))]
    pub name: Option<Option<String>>,
    #[serde(default = "enabled_by_default")]
    pub enable: bool,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Money")]
    pub amount: Option<Money>,
    #[serde(default = "ten_minutes")]
    pub duration: String,
    pub customer: Option<Customer>,
    #[schemars(length(max = 64))]
    pub reference: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "authorized_providers_request")]
    pub authorized_providers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "String")]
    pub authorized_phone_number: Option<String>,
    pub recurrent_payment_target: Option<RecurrentTarget>,
    #[schemars(length(max = 64), regex(pattern = r"^fac-.*$"))]
    pub financial_account_id: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/payment-codes/{id}`: absent keeps a field; `null` clears one that can be empty
/// and keeps one that cannot (`amount`, `duration`, `enable`, `financialAccountId`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePaymentCode {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<String>", length(min = 3, max = 64))]
    pub name: Option<Option<String>>,
    pub amount: Option<Money>,
    pub duration: Option<String>,
    pub enable: Option<bool>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<Customer>")]
    pub customer: Option<Option<Customer>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<String>", length(max = 64))]
    pub reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "authorized_providers_request")]
    pub authorized_providers: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<String>")]
    pub authorized_phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<RecurrentTarget>")]
    pub recurrent_payment_target: Option<Option<RecurrentTarget>>,
    #[schemars(length(max = 64), regex(pattern = r"^fac-.*$"))]
    pub financial_account_id: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// `GET /v1/payment-codes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListPaymentCodesQuery {
    pub ussd_code: Option<Capped<32>>,
    pub mode: Option<Word<PaymentCodeMode>>,
    pub status: Option<Word<PaymentCodeStatus>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `PATCH /v1/payments/{id}`: name and metadata only.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayment {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(with = "Option<String>", length(max = 100))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// `GET /v1/payments`. The document gives these filters no `nullable`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPaymentsQuery {
    #[serde(default)]
    #[schemars(with = "Capped<64>")]
    pub order_number: Option<Capped<64>>,
    #[serde(default)]
    #[schemars(with = "Capped<64>")]
    pub financial_account_id: Option<Capped<64>>,
    #[serde(default)]
    #[schemars(with = "Capped<64>")]
    pub financial_transaction_reference: Option<Capped<64>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `POST /v1/ussd-otps`. The document leaves this body open to other fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUssdOtp {
    pub authorized_phone_number: String,
    #[schemars(length(max = 255))]
    pub verification_message: Option<String>,
    #[serde(default = "five_minutes")]
    pub duration: String,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `GET /v1/ussd-otps`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListUssdOtpsQuery {
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `POST /v1/test-helpers/ussd/dial`: what a customer's handset sends (openmonime's own).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DialRequest {
    /// The dial string, as `ussdCode` or `dialCode` shows it (`*715*1*12345678#`).
    #[schemars(length(max = 32))]
    pub dial_string: String,
    /// The handset's number, E.164 (`+232` and eight digits).
    pub phone_number: String,
    /// The handset's mobile-money provider (`m17`, `m18`).
    #[schemars(length(max = 16))]
    pub provider_id: String,
    /// The amount the customer types, where the code's USSD menu asks for one.
    pub amount: Option<Money>,
}

/// What a dial did: `paid` (the payment completed), `processing` (its provider has not
/// confirmed yet), or `verified` (a USSD OTP).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dialed {
    pub outcome: &'static str,
    pub payment_code: Option<PaymentCode>,
    pub payment: Option<Payment>,
    pub ussd_otp: Option<UssdOtp>,
}

/// `POST /v1/test-helpers/clock/advance`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Whole seconds to move the Space's test clock ahead (1 or more).
    #[schemars(range(min = 1))]
    pub seconds: i64,
}

/// The Space's test clock after an advance, and what this call settled of what fell due (a
/// node's periodic sweep may have settled some of it first). Pending payouts are sent too.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestClock {
    /// The test environment's time in this Space now.
    pub now: Time,
    pub expired_payment_codes: u64,
    pub expired_ussd_otps: u64,
    pub completed_payments: u64,
    /// Payouts that completed or failed (a pending one is also sent, and may still be processing).
    pub ended_payouts: u64,
}
