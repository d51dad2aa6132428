//! Every wire shape of the API, described once, as a type: what a handler accepts and answers,
//! what the admin CLI prints, and — through `schemars` — what the OpenAPI document says.
//!
//! Conventions of the official document (release caph.2025-08-23) that the types carry:
//! camelCase fields; money as `{currency, value}` in minor units; RFC 3339 times; `nullable: true`
//! for a value that may be `null`; `required` listed for request bodies only (a response schema is
//! "open": [`open`]); `additionalProperties: false` where the document closes an object (serde's
//! `deny_unknown_fields`, which on a response type does nothing but say so).

/// The `JsonSchema` items of a leaf type that is always written out in place, never a component.
macro_rules! inline_schema {
    ($name:expr) => {
        fn inline_schema() -> bool {
            true
        }

        fn schema_name() -> Cow<'static, str> {
            $name.into()
        }
    };
}

pub mod access;
pub mod catalogue;
pub mod checkout;
pub mod collections;
pub mod leaks;
pub mod ledger;
pub mod payouts;
pub mod query;
pub mod space;
pub mod webhooks;

use openmonime_domain::entities::{EntryKind, TokenStatus, TransferFailure, TransferStatus};
use openmonime_domain::money::Money as DomainMoney;
use openmonime_domain::payment::PaymentStatus;
use openmonime_domain::payment_code::{PaymentCodeMode, PaymentCodeStatus};
use openmonime_domain::ussd_otp::UssdOtpStatus;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::Environment;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use time::OffsetDateTime;

/// Drops `required` from a response object: the document lists no required properties for
/// responses (every field is always present; the response checks hold that), only for requests.
pub fn open(schema: &mut Schema) {
    schema.remove("required");
}

/// The OpenAPI 3.0 dialect of the document, applied to every generated schema after schemars'
/// own `openapi3` transforms: integers carry no `format` (the document writes none); a nullable
/// enumeration does not list `null` among its values (`nullable` says it); and an optional
/// field's trivial default (`null`, `false`, `[]`: what absent means) goes unsaid, as the
/// document leaves it, while a real one (`limit`'s 10) is kept.
pub fn openapi30(schema: &mut Schema) {
    if let Some(obj) = schema.as_object_mut() {
        let trivial = |v: &serde_json::Value| {
            v.is_null() || v == &serde_json::Value::Bool(false) || v.as_array().is_some_and(|a| a.is_empty())
        };
        // `x-said-default` marks a trivial default the document does state (it is taken off).
        let said = obj.remove("x-said-default").is_some();
        if !said && obj.get("default").is_some_and(trivial) {
            obj.remove("default");
        }
        if obj.get("type").and_then(|t| t.as_str()) == Some("integer") {
            obj.remove("format");
        }
        if obj.get("nullable") == Some(&serde_json::Value::Bool(true)) {
            if let Some(serde_json::Value::Array(values)) = obj.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
        }
    }
    schemars::transform::transform_subschemas(&mut openapi30, schema);
}

/// `metadata`: up to 64 keys of caller data, or `null`.
pub fn metadata(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"maxProperties": 64, "type": "object", "nullable": true})
}

/// A JSON object whose keys the document leaves open, or `null`.
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "nullable": true})
}

/// A list of permission words (`*` and `resource:*` expand where a request accepts them).
pub fn permission_words(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"type": "string"}})
}

/// An instant, written as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub OffsetDateTime);

impl Time {
    pub fn opt(t: Option<OffsetDateTime>) -> Option<Time> {
        t.map(Time)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&openmonime_domain::time_fmt::rfc3339(self.0))
    }
}

/// Read back from RFC 3339 text: for data files written in the wire's shape (the catalogue).
impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        openmonime_domain::time_fmt::parse_rfc3339(&text)
            .map(Time)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time")))
    }
}

impl JsonSchema for Time {
    inline_schema!("Time");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// An enumeration the wire spells as words, listed in the document's order.
pub trait Words: Copy + 'static {
    fn all() -> &'static [Self];
    fn word(self) -> &'static str;

    fn from_word(word: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.word() == word)
    }

    /// `a, b, c`, as refusals list the accepted words.
    fn listed() -> String {
        Self::all().iter().map(|v| v.word()).collect::<Vec<_>>().join(", ")
    }
}

macro_rules! words {
    ($($ty:ty => $all:expr, $word:expr;)*) => {$(
        impl Words for $ty {
            fn all() -> &'static [Self] {
                &$all
            }

            fn word(self) -> &'static str {
                $word(self)
            }
        }
    )*};
}

words! {
    EntryKind => EntryKind::ALL, EntryKind::as_str;
    TransferStatus => TransferStatus::ALL, TransferStatus::as_str;
    TransferFailure => TransferFailure::ALL, TransferFailure::as_str;
    Environment => Environment::ALL, Environment::as_str;
    TokenStatus => TokenStatus::ALL, TokenStatus::as_str;
    ApiVersion => ApiVersion::SUPPORTED, ApiVersion::id;
    openmonime_domain::webhook::ApiRelease => openmonime_domain::webhook::ApiRelease::ALL, openmonime_domain::webhook::ApiRelease::as_str;
    PaymentCodeMode => PaymentCodeMode::ALL, PaymentCodeMode::as_str;
    PaymentCodeStatus => PaymentCodeStatus::ALL, PaymentCodeStatus::as_str;
    PaymentStatus => PaymentStatus::ALL, PaymentStatus::as_str;
    UssdOtpStatus => UssdOtpStatus::ALL, UssdOtpStatus::as_str;
    openmonime_domain::checkout::CheckoutStatus => openmonime_domain::checkout::CheckoutStatus::ALL, openmonime_domain::checkout::CheckoutStatus::as_str;
    openmonime_domain::receipt::ReceiptStatus => openmonime_domain::receipt::ReceiptStatus::ALL, openmonime_domain::receipt::ReceiptStatus::as_str;
    openmonime_domain::payout::PayoutStatus => openmonime_domain::payout::PayoutStatus::ALL, openmonime_domain::payout::PayoutStatus::as_str;
    openmonime_domain::payout::PayoutFailure => openmonime_domain::payout::PayoutFailure::ALL, openmonime_domain::payout::PayoutFailure::as_str;
}

/// One word of an enumeration `E`, with its schema `{"enum": [...], "type": "string"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<E>(pub E);

impl<E: Words> Serialize for Word<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.word())
    }
}

impl<E: Words> JsonSchema for Word<E> {
    inline_schema!(format!("Word_{}", std::any::type_name::<E>()));

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let words: Vec<&str> = E::all().iter().map(|v| v.word()).collect();
        json_schema!({"enum": words, "type": "string"})
    }
}

/// An amount in minor units of a currency, as requests and responses carry it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline, transform = open)]
pub struct Money {
    /// The ISO 4217 code (`SLE`, `USD`).
    pub currency: Cow<'static, str>,
    /// In the currency's minor unit (cents).
    pub value: i64,
}

impl From<DomainMoney> for Money {
    fn from(m: DomainMoney) -> Self {
        Money { currency: Cow::Borrowed(m.currency.code()), value: m.value }
    }
}

/// `messages`: always an empty list in what openmonime answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Messages;

impl Serialize for Messages {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(std::iter::empty::<()>())
    }
}

impl JsonSchema for Messages {
    inline_schema!("Messages");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "array", "items": {}})
    }
}

/// `{success, messages, result}`: the answer of an operation on one object.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct One<T> {
    success: bool,
    messages: Messages,
    result: T,
}

impl<T> One<T> {
    pub fn new(result: T) -> Self {
        One { success: true, messages: Messages, result }
    }
}

/// `{success, messages, result: [...], pagination: {count, next}}`: one page of a list.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct List<T> {
    success: bool,
    messages: Messages,
    #[schemars(extend("nullable" = true))]
    result: Vec<T>,
    pagination: Pagination,
}

impl<T> List<T> {
    /// A page, with the cursor of the next one if there is more.
    pub fn new(items: Vec<T>, next: Option<String>) -> Self {
        let count = items.len() as i64;
        List { success: true, messages: Messages, result: items, pagination: Pagination { count, next } }
    }

    /// A whole list, in one page.
    pub fn all(items: Vec<T>) -> Self {
        Self::new(items, None)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
struct Pagination {
    count: i64,
    next: Option<String>,
}

/// `{success, messages}`: what a DELETE answers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct Deleted {
    success: bool,
    messages: Messages,
}

impl Default for Deleted {
    fn default() -> Self {
        Deleted { success: true, messages: Messages }
    }
}

/// The error envelope every refusal answers with.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorEnvelope {
    #[schemars(extend("enum" = [false]))]
    pub success: bool,
    pub messages: Messages,
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct ErrorDetail {
    /// The HTTP status.
    #[schemars(with = "i64")]
    pub code: u16,
    /// A stable snake_case word; see docs/api.md for the list.
    pub reason: &'static str,
    pub message: Cow<'static, str>,
    #[schemars(with = "Messages")]
    pub details: Vec<serde_json::Value>,
}
