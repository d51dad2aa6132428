//! The webhooks' wire shapes, as Monime's document defines them. One deliberate difference: an
//! HS256 secret is shown only in the create answer. Every later answer shows `{"type": "HS256"}`,
//! because a `webhooks:read` token (a viewer's) must not learn the key that authenticates
//! deliveries to the integrator; the document marks the field as always present.

use super::collections::{Payment, PaymentCode, UssdOtp};
use super::ledger::{FinancialAccount, InternalTransfer};
use super::query::{Cursor, Limit};
use super::{metadata, open, Time, Word};
use crate::handlers::params::patch_field;
use openmonime_domain::event::Snapshot;
use openmonime_domain::webhook::{ApiRelease, SigningMethod, Webhook as Hook};
use openmonime_store::deliveries::DeliveryAttempt as StoredAttempt;
use openmonime_store::events::StoredEvent;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `verificationMethod`: HS256 with a shared secret, or ES256 with the server's key.
pub fn verification_method(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "required": ["type"],
        "type": "object",
        "oneOf": [
            {
                "title": "HMAC SHA256",
                "required": ["type", "secret"],
                "type": "object",
                "properties": {
                    "type": {"enum": ["HS256"], "type": "string"},
                    "secret": {"maxLength": 256, "minLength": 32, "type": "string"}
                },
                "additionalProperties": false
            },
            {
                "title": "ECDSA SHA256",
                "required": ["type"],
                "type": "object",
                "properties": {
                    "type": {"enum": ["ES256"], "type": "string"},
                    "publicKey": {"type": "string", "readOnly": true, "description": "PEM, P-256"}
                },
                "additionalProperties": false
            }
        ],
        "properties": {"type": {"enum": ["ES256", "HS256"], "type": "string"}},
        "nullable": true
    })
}

// No `Debug` on the views below that can hold an HS256 secret: they must not be printable into a log.
/// A webhook: where the Space's events of one environment are delivered.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub events: Option<Vec<String>>,
    pub api_release: Word<ApiRelease>,
    #[schemars(schema_with = "verification_method")]
    pub verification_method: Option<Verification>,
    pub headers: Option<BTreeMap<String, String>>,
    pub alert_emails: Option<Vec<String>>,
    pub create_time: Time,
    pub update_time: Option<Time>,
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// How deliveries are signed, as a webhook shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl Webhook {
    /// A webhook as every answer but its create shows it: no secret.
    pub fn new(h: Hook) -> Self {
        Self::with_secret(h, None)
    }

    /// The create answer: the HS256 secret, once.
    pub fn with_secret(h: Hook, secret: Option<String>) -> Self {
        let verification = Verification {
            kind: h.signing.as_str(),
            secret: secret.filter(|_| h.signing == SigningMethod::Hs256),
            public_key: h.public_key,
        };
        Webhook {
            id: h.id.into(),
            name: h.name,
            url: h.url,
            enabled: h.enabled,
            events: Some(h.events.iter().map(|e| e.as_str().to_owned()).collect()),
            api_release: Word(h.api_release),
            verification_method: Some(verification),
            headers: Some(h.headers),
            alert_emails: Some(h.alert_emails),
            create_time: Time(h.created_at),
            update_time: Time::opt(h.updated_at),
            metadata: h.metadata,
        }
    }
}

fn enabled_by_default() -> bool {
    true
}

/// `verificationMethod` in a create.
#[derive(Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum VerificationRequest {
    #[serde(rename = "HS256")]
    Hs256 { secret: String },
    #[serde(rename = "ES256")]
    Es256 {
        /// Read-only: shown, never taken (the server makes the key).
        #[serde(rename = "publicKey", default)]
        public_key: Option<String>,
    },
}

/// `POST /v1/webhooks`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhook {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(max = 255))]
    pub url: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[schemars(extend("default" = "caph"))]
    pub api_release: Word<ApiRelease>,
    #[schemars(required, length(min = 1, max = 100), extend("uniqueItems" = true, "nullable" = true))]
    pub events: Option<Vec<String>>,
    #[schemars(extend("maxProperties" = 10))]
    pub headers: Option<BTreeMap<String, String>>,
    #[schemars(length(max = 2), extend("uniqueItems" = true))]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(schema_with = "verification_method")]
    pub verification_method: Option<VerificationRequest>,
    #[serde(default)]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/webhooks/{id}`: absent or `null` leaves a field as it is (`metadata: null` clears).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateWebhook {
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    #[schemars(length(max = 255))]
    pub url: Option<String>,
    pub enabled: Option<bool>,
    pub api_release: Option<Word<ApiRelease>>,
    #[schemars(length(min = 1, max = 100), extend("uniqueItems" = true))]
    pub events: Option<Vec<String>>,
    #[schemars(extend("maxProperties" = 10))]
    pub headers: Option<BTreeMap<String, String>>,
    #[schemars(length(max = 2), extend("uniqueItems" = true))]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(schema_with = "metadata")]
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// `GET /v1/webhooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListWebhooksQuery {
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// The body of a delivery: Monime's envelope around the object as the webhook's API release
/// renders it (the same view the API answers with).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The webhook's `apiRelease`.
    pub api_version: Word<ApiRelease>,
    pub event: DeliveryEvent,
    pub object: DeliveryObject,
    pub data: Value,
}

/// `event` in a delivery; `id` is stable across retries and redeliveries, for deduplication.
#[derive(Serialize, JsonSchema)]
pub struct DeliveryEvent {
    pub id: String,
    pub name: String,
    pub timestamp: Time,
}

/// `object` in a delivery: what `data` is.
#[derive(Serialize, JsonSchema)]
pub struct DeliveryObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Delivery {
    pub fn new(event: &StoredEvent, release: ApiRelease, public_url: &str) -> Self {
        // Both releases render these objects alike; a release that differs will match here.
        let data = match &event.snapshot {
            Snapshot::FinancialAccount(a) => serde_json::to_value(FinancialAccount::new(a.clone(), true)),
            Snapshot::InternalTransfer(t) => serde_json::to_value(InternalTransfer::new(t.clone())),
            Snapshot::PaymentCode(c) => serde_json::to_value(PaymentCode::new((**c).clone())),
            Snapshot::Payment(p) => serde_json::to_value(Payment::new((**p).clone())),
            Snapshot::UssdOtp(o) => serde_json::to_value(UssdOtp::new(o.clone())),
            Snapshot::CheckoutSession(c) => {
                serde_json::to_value(super::checkout::CheckoutSession::new((**c).clone(), public_url))
            }
            Snapshot::Payout(p) => serde_json::to_value(super::payouts::Payout::new((**p).clone())),
            Snapshot::AccessToken(t) => serde_json::to_value(super::access::TokenNotice::new(t)),
        }
        .unwrap_or(Value::Null);
        Delivery {
            api_version: Word(release),
            event: DeliveryEvent {
                id: event.id.to_string(),
                name: event.name.as_str().to_owned(),
                timestamp: Time(event.created_at),
            },
            object: DeliveryObject { id: event.snapshot.object_id().to_owned(), kind: event.snapshot.object_type() },
            data,
        }
    }
}

/// One attempt of the delivery log (`GET /v1/webhooks/{id}/deliveries`), openmonime's own.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub event_name: String,
    /// 1 for the first attempt of a delivery (a redelivery starts again at 1).
    pub attempt: u32,
    pub start_time: Time,
    pub duration_ms: i64,
    /// `delivered` (2xx), `rejected` (another status), `timeout`, `unreachable` or
    /// `destination_refused` (the host resolved to an address deliveries may not reach).
    pub outcome: String,
    pub status_code: Option<u16>,
    /// The answer's first 1024 bytes.
    pub response_head: Option<String>,
    pub error: Option<String>,
    /// When the next attempt is due; absent once the delivery has ended.
    pub next_attempt_time: Option<Time>,
}

impl DeliveryAttempt {
    pub fn new(a: StoredAttempt) -> Self {
        DeliveryAttempt {
            event_id: a.event_id.to_string(),
            event_name: a.event_name.as_str().to_owned(),
            attempt: a.attempt,
            start_time: Time(a.started_at),
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status_code: a.status_code,
            response_head: a.response_head,
            error: a.error,
            next_attempt_time: Time::opt(a.next_attempt_at),
        }
    }
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListDeliveriesQuery {
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `POST /v1/webhooks/{id}/redeliveries`: exactly one of `eventId` (that event again) or
/// `since` (every event the webhook subscribes to from that time, at most 30 days back).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Redeliver {
    pub event_id: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
}

/// The answer to a redelivery: how many deliveries were queued.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Redelivered {
    pub queued: u64,
}
