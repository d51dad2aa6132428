//! The wire shapes of checkout sessions and receipts, as Monime's document defines them.

use super::query::{Cursor, Limit};
use super::{metadata, open, Money, Time, Word};
use crate::handlers::params::{patch_field, PathParam};
use openmonime_domain::checkout::{CheckoutSession as Session, CheckoutStatus, LineItem as Item, MethodOptions};
use openmonime_domain::receipt::{Receipt as DomainReceipt, ReceiptStatus};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One line item, as both the request and the answer describe it (the document's only kind:
/// `custom`).
fn line_item_schema() -> Value {
    json!({
        "type": "object",
        "oneOf": [{
            "required": ["name", "price"],
            "type": "object",
            "properties": {
                "type": {"enum": ["custom"], "type": "string"},
                "id": {"type": "string", "readOnly": true},
                "name": {"maxLength": 100, "type": "string"},
                "price": {
                    "type": "object",
                    "properties": {"currency": {"type": "string"}, "value": {"type": "integer"}},
                    "additionalProperties": false
                },
                "quantity": {"maximum": 100000, "minimum": 1, "type": "integer", "default": 1},
                "reference": {"maxLength": 100, "type": "string", "nullable": true},
                "description": {"maxLength": 100, "type": "string", "nullable": true},
                "images": {"maxItems": 3, "uniqueItems": true, "type": "array", "items": {"type": "string"}, "nullable": true}
            },
            "additionalProperties": false
        }],
        "properties": {"type": {"enum": ["custom"], "type": "string", "default": "custom"}}
    })
}

/// `lineItems` in a create: 1 to 16 items.
pub fn line_items_request(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"maxItems": 16, "minItems": 1, "type": "array", "items": line_item_schema(), "nullable": true})
}

/// `lineItems` in an answer: `{data: [...]}`.
pub fn line_items_answer(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "properties": {"data": {"type": "array", "items": line_item_schema(), "nullable": true}}
    })
}

/// `paymentOptions`: which methods and providers the page offers.
pub fn payment_options(_: &mut SchemaGenerator) -> Schema {
    let method = |providers: &[&str]| {
        let list = json!({"uniqueItems": true, "type": "array", "items": {"enum": providers, "type": "string"}, "nullable": true});
        json!({
            "type": "object",
            "properties": {
                "disable": {"type": "boolean", "default": false, "x-said-default": true},
                "enabledProviders": list,
                "disabledProviders": list
            },
            "additionalProperties": false
        })
    };
    json_schema!({
        "type": "object",
        "properties": {
            "card": {
                "type": "object",
                "properties": {"disable": {"type": "boolean", "default": false, "x-said-default": true}},
                "additionalProperties": false
            },
            "bank": method(&["slb001", "slb004", "slb007"]),
            "momo": method(&["m17", "m18"]),
            "wallet": method(&["dw001"])
        },
        "additionalProperties": false,
        "nullable": true
    })
}

/// A line item as an answer shows it.
#[derive(Debug, Serialize)]
pub struct LineItem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub price: Money,
    pub quantity: i64,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct LineItems {
    pub data: Option<Vec<LineItem>>,
}

/// `brandingOptions`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(inline, transform = open)]
pub struct Branding {
    #[schemars(length(max = 255))]
    pub primary_color: String,
}

/// A checkout session. `callbackState` is never shown.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct CheckoutSession {
    pub id: String,
    pub name: String,
    pub status: Word<CheckoutStatus>,
    pub order_number: Option<String>,
    pub reference: Option<String>,
    pub description: Option<String>,
    /// The hosted page: a capability link that stops working once the session ends.
    pub redirect_url: String,
    /// Left out when the session has none (the document gives it no `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("format" = "url"))]
    pub cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("format" = "url"))]
    pub success_url: Option<String>,
    #[schemars(schema_with = "line_items_answer")]
    pub line_items: LineItems,
    pub financial_account_id: Option<String>,
    pub branding_options: Option<Branding>,
    pub expire_time: Time,
    pub create_time: Time,
    pub ownership_graph: Option<super::ledger::OwnershipGraph>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl CheckoutSession {
    pub fn new(s: Session, public_url: &str) -> Self {
        let items = s
            .line_items
            .into_iter()
            .map(|i: Item| LineItem {
                kind: "custom",
                id: i.id,
                name: i.name,
                price: i.price.into(),
                quantity: i.quantity,
                reference: i.reference,
                description: i.description,
                images: i.images,
            })
            .collect();
        CheckoutSession {
            id: s.id.into(),
            name: s.name,
            status: Word(s.status),
            order_number: Some(s.order_number),
            reference: s.reference,
            description: s.description,
            redirect_url: format!("{}/checkout/{}", public_url.trim_end_matches('/'), s.token),
            cancel_url: s.cancel_url,
            success_url: s.success_url,
            line_items: LineItems { data: Some(items) },
            financial_account_id: Some(s.financial_account.into()),
            branding_options: s.primary_color.map(|primary_color| Branding { primary_color }),
            expire_time: Time(s.expire_at),
            create_time: Time(s.created_at),
            ownership_graph: None,
            metadata: s.metadata,
        }
    }
}

fn one() -> i64 {
    1
}

/// A line item in a create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItemRequest {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Read-only: made by the server.
    pub id: Option<String>,
    pub name: String,
    pub price: Money,
    #[serde(default = "one")]
    pub quantity: i64,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
}

/// One method's options in a create.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MethodRequest {
    #[serde(default)]
    pub disable: bool,
    pub enabled_providers: Option<Vec<String>>,
    pub disabled_providers: Option<Vec<String>>,
}

impl From<MethodRequest> for MethodOptions {
    fn from(m: MethodRequest) -> Self {
        MethodOptions {
            disable: m.disable,
            enabled_providers: m.enabled_providers,
            disabled_providers: m.disabled_providers,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentOptionsRequest {
    pub card: Option<MethodRequest>,
    pub bank: Option<MethodRequest>,
    pub momo: Option<MethodRequest>,
    pub wallet: Option<MethodRequest>,
}

/// `POST /v1/checkout-sessions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCheckoutSession {
    #[schemars(length(max = 150))]
    pub name: String,
    #[schemars(length(max = 1000))]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::handlers::params::present")]
    #[schemars(with = "String", length(max = 255), extend("format" = "url"))]
    pub cancel_url: Option<String>,
    #[serde(default, deserialize_with = "crate::handlers::params::present")]
    #[schemars(with = "String", length(max = 255), extend("format" = "url"))]
    pub success_url: Option<String>,
    #[schemars(length(max = 255))]
    pub callback_state: Option<String>,
    #[schemars(length(max = 255))]
    pub reference: Option<String>,
    #[schemars(length(max = 100))]
    pub financial_account_id: Option<String>,
    /// Required, though the document lets it be `null` (which is refused: a session sells something).
    #[serde(deserialize_with = "patch_field")]
    #[schemars(required, schema_with = "line_items_request")]
    pub line_items: Option<Option<Vec<LineItemRequest>>>,
    #[serde(default)]
    #[schemars(schema_with = "payment_options")]
    pub payment_options: Option<PaymentOptionsRequest>,
    pub branding_options: Option<Branding>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `GET /v1/checkout-sessions`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListCheckoutSessionsQuery {
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `{orderNumber}` of `/v1/receipts/…`.
pub struct OrderNumber(pub String);

impl PathParam for OrderNumber {
    const NAME: &'static str = "orderNumber";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "receipt";
    const MAX_LENGTH: Option<usize> = Some(20);

    fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= 20).then(|| OrderNumber(raw.to_owned()))
    }
}

/// One entitlement of a receipt.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct Entitlement {
    pub key: String,
    pub name: Option<String>,
    #[schemars(range(min = 0))]
    pub limit: i64,
    #[schemars(range(min = 0))]
    pub current: i64,
    #[schemars(range(min = 0))]
    pub remaining: i64,
    pub exhausted: bool,
}

/// A receipt: what a completed checkout entitles its customer to.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct Receipt {
    pub status: Word<ReceiptStatus>,
    pub order_name: Option<String>,
    pub order_number: String,
    pub order_amount: Money,
    pub create_time: Time,
    pub update_time: Time,
    pub entitlements: Option<Vec<Entitlement>>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

impl Receipt {
    pub fn new(r: DomainReceipt) -> Self {
        Receipt {
            status: Word(r.status()),
            order_name: r.order_name,
            order_number: r.order_number,
            order_amount: r.order_amount.into(),
            create_time: Time(r.created_at),
            update_time: Time(r.updated_at),
            entitlements: Some(
                r.entitlements
                    .into_iter()
                    .map(|e| Entitlement {
                        remaining: e.remaining(),
                        exhausted: e.remaining() == 0,
                        key: e.key,
                        name: e.name,
                        limit: e.limit,
                        current: e.current,
                    })
                    .collect(),
            ),
            metadata: r.metadata,
        }
    }
}

fn one_unit() -> i64 {
    1
}

/// One entitlement to redeem.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(inline)]
pub struct RedeemEntitlement {
    #[schemars(length(min = 1, max = 100))]
    pub key: String,
    #[serde(default = "one_unit")]
    #[schemars(range(min = 1))]
    pub units: i64,
}

/// `POST /v1/receipts/{orderNumber}/redeem`. The document leaves this body open.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemReceipt {
    pub redeem_all: Option<bool>,
    pub entitlements: Option<Vec<RedeemEntitlement>>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// What a redemption did: `redeem` is false when nothing was (over a limit, or nothing left).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct Redeemed {
    pub redeem: bool,
    pub receipt: Receipt,
}
