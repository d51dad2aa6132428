//! The webhooks' wire shapes, as Monime's document defines them. One deliberate difference: an
//! HS256 secret is shown only in the create answer. Every later answer shows `{"type": "HS256"}`,
//! because a `webhooks:read` token (a viewer's) must not learn the key that authenticates
//! deliveries to the integrator; the document marks the field as always present.

use super::query::{Cursor, Limit};
use super::{metadata, open, Time, Word};
use crate::handlers::params::patch_field;
use openmonime_domain::webhook::{ApiRelease, SigningMethod, Webhook as Hook};
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
