//! Access tokens and the caller's identity: openmonime's own shapes (Monime manages tokens in its
//! dashboard), used by the API and by `admin token …`.

use super::query::{from_text, refuse, Flag, Text};
use super::space::SpacePolicy;
use super::{any_object, open, permission_words, Time, Word, Words};
use crate::handlers::params::present;
use openmonime_domain::entities::{AccessToken as Token, TokenStatus};
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::review;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::Environment;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;

// No `Debug`: a view holding the secret must not be printable into a log.
/// An access token, without its secret (except in the create and rotate answers).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct AccessToken {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub environment: Word<Environment>,
    pub status: Word<TokenStatus>,
    #[schemars(schema_with = "permission_words")]
    pub permissions: PermissionSet,
    pub space_id: Option<String>,
    pub allowed_ips: Vec<String>,
    pub expire_time: Option<Time>,
    pub api_version: &'static str,
    pub create_time: Time,
    pub revoke_time: Option<Time>,
    /// The token whose request created this one; null when the operator did.
    pub created_by: Option<String>,
    pub last_used_time: Option<Time>,
    pub last_used_ip: Option<String>,
    pub request_count: i64,
    /// Money it may move per currency, in minor units (empty: no limit).
    pub amount_limits: Vec<AmountLimit>,
    /// Set once the token has arrived in a request a browser made: it is in a web page's code
    /// and should be rotated. Null otherwise.
    pub exposure: Option<Exposure>,
    /// What a review should look at on an active token: `never_used`, `idle` (no request for 90
    /// days), `no_expiry`, `all_permissions`, `expires_soon` (within 7 days), `exposed`.
    #[schemars(with = "Vec<String>")]
    pub review_flags: Vec<&'static str>,
    /// The secret: present only in the create and rotate responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub token: Option<String>,
    /// `POST …/revoke` with `descendants: true`: the ids of the tokens stopped with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub revoked_descendants: Option<Vec<String>>,
    /// `POST …/rotate`: the token this one replaces, and when it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub replaces: Option<Replaces>,
}

/// `data` of an `access_token.*` event: the token, never its secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenNotice {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub environment: Word<Environment>,
    pub monimeer_id: String,
    pub space_id: Option<String>,
    pub url: Option<String>,
    pub revoked: bool,
    /// `access_token.expiring`: when it stops, and why (`expiry` or `idle`).
    pub expire_time: Option<Time>,
    pub reason: Option<String>,
}

impl TokenNotice {
    pub fn new(t: &openmonime_domain::event::TokenNotice) -> Self {
        TokenNotice {
            id: t.id.to_string(),
            name: t.name.clone(),
            hint: t.hint.clone(),
            environment: Word(t.environment),
            monimeer_id: t.monimeer_id.to_string(),
            space_id: t.space_id.as_ref().map(|s| s.to_string()),
            url: t.url.clone(),
            revoked: t.revoked,
            expire_time: Time::opt(t.expires_at),
            reason: t.reason.clone(),
        }
    }
}

/// When and where a token was seen in a browser.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    pub detect_time: Time,
    /// The page's origin, when the browser sent one.
    pub origin: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replaces {
    pub id: String,
    pub stops_working_at: Time,
}

impl AccessToken {
    pub fn new(t: &Token) -> Self {
        let now = openmonime_domain::time_fmt::now();
        AccessToken {
            id: t.id.to_string(),
            name: t.name.clone(),
            hint: t.hint.clone(),
            environment: Word(t.environment),
            status: Word(t.status(now)),
            permissions: t.permissions,
            space_id: t.space_id.as_ref().map(|s| s.to_string()),
            allowed_ips: t.allowed_ips.iter().map(|n| n.to_string()).collect(),
            expire_time: Time::opt(t.expires_at),
            api_version: t.api_version.id(),
            create_time: Time(t.created_at),
            revoke_time: Time::opt(t.revoked_at),
            created_by: t.created_by.as_ref().map(|id| id.to_string()),
            last_used_time: Time::opt(t.usage.last_used_at),
            last_used_ip: t.usage.last_used_ip.clone(),
            request_count: t.usage.request_count,
            amount_limits: t.amount_limits.iter().map(|&l| l.into()).collect(),
            exposure: t
                .exposure
                .as_ref()
                .map(|e| Exposure { detect_time: Time(e.detected_at), origin: e.origin.clone() }),
            review_flags: review::flags(t, now, review::Spans::default()).into_iter().map(review::Flag::word).collect(),
            token: None,
            revoked_descendants: None,
            replaces: None,
        }
    }

    /// With its secret, as the create and rotate answers carry it (the one time it is shown).
    pub fn with_secret(t: &Token, secret: &str) -> Self {
        AccessToken { token: Some(secret.to_owned()), ..Self::new(t) }
    }
}

/// `GET /v1/me`.
#[derive(Serialize, JsonSchema)]
#[schemars(transform = open)]
pub struct Me {
    #[schemars(schema_with = "object")]
    pub monimeer: MeMonimeer,
    pub token: AccessToken,
    #[schemars(schema_with = "any_object")]
    pub space: Option<MeSpace>,
    /// For each currency the token's limits cover: what it has moved in the last 24 hours and
    /// what it may still move.
    #[serde(rename = "amountLimits")]
    pub amount_limits: Vec<LimitStanding>,
}

/// Where a token stands against its limit in one currency, in minor units.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitStanding {
    #[serde(flatten)]
    pub limit: AmountLimit,
    pub moved_last_24_hours: i64,
    /// `null` when the 24-hour total is unlimited.
    pub remaining_24_hours: Option<i64>,
}

/// `{"type": "object"}`: what the document has said of `monimeer` so far.
fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

#[derive(Debug, Serialize)]
pub struct MeMonimeer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

/// The caller's standing in the Space named by `Monime-Space-Id`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeSpace {
    pub id: String,
    pub role: String,
    pub role_permissions: PermissionSet,
    pub effective_permissions: PermissionSet,
    pub token_permissions: Vec<PermissionGrant>,
    pub policy: SpacePolicy,
}

/// One permission of the token, and whether the caller's role grants it too.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGrant {
    pub permission: &'static str,
    pub granted_by_role: bool,
}

/// `POST /v1/access-tokens`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAccessToken {
    #[schemars(length(max = 100))]
    pub name: String,
    /// Permission words; `*` and `resource:*` expand.
    pub permissions: Vec<String>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Word<Environment>")]
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "String")]
    pub space_id: Option<String>,
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Time")]
    pub expire_time: Option<String>,
    #[serde(default)]
    pub never_expires: bool,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Word<ApiVersion>")]
    pub api_version: Option<String>,
    /// Money the token may move per currency, in minor units: `[{"currency": "SLE",
    /// "perMovement": 100000, "per24Hours": 500000}]`. Absent: the creating token's limits.
    #[serde(default, deserialize_with = "present")]
    pub amount_limits: Option<Vec<AmountLimit>>,
}

/// Money a token may move in one currency, in minor units; a missing axis is unlimited.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AmountLimit {
    #[schemars(with = "String")]
    pub currency: openmonime_domain::money::Currency,
    /// The largest single movement (an internal transfer, or a payout's amount).
    #[schemars(range(min = 1))]
    pub per_movement: Option<i64>,
    /// The most it may move in any 24 hours.
    #[serde(rename = "per24Hours")]
    #[schemars(range(min = 1))]
    pub per_24_hours: Option<i64>,
}

impl From<openmonime_domain::amount_limit::AmountLimit> for AmountLimit {
    fn from(l: openmonime_domain::amount_limit::AmountLimit) -> Self {
        AmountLimit { currency: l.currency, per_movement: l.per_movement, per_24_hours: l.per_24_hours }
    }
}

impl From<AmountLimit> for openmonime_domain::amount_limit::AmountLimit {
    fn from(l: AmountLimit) -> Self {
        openmonime_domain::amount_limit::AmountLimit {
            currency: l.currency,
            per_movement: l.per_movement,
            per_24_hours: l.per_24_hours,
        }
    }
}

/// `POST /v1/access-tokens/{id}/revoke` (the body is optional).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokeAccessToken {
    /// Also revoke every token this one created, transitively.
    #[serde(default)]
    pub descendants: bool,
}

/// `POST /v1/access-tokens/{id}/rotate` (the body is optional: no body rotates now, no grace).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateAccessToken {
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "i64", range(min = 0, max = 2_592_000))]
    pub grace_period_seconds: Option<i64>,
}

/// `GET /v1/access-tokens`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListAccessTokensQuery {
    #[serde(default)]
    #[schemars(with = "StatusFilter")]
    pub status: Option<StatusFilter>,
    #[serde(default)]
    #[schemars(with = "Word<Environment>")]
    pub environment: Option<Word<Environment>>,
    /// Only active tokens that expire within this span (`7d`, `12h`, `2w`).
    #[serde(default)]
    #[schemars(with = "Span")]
    pub expiring_within: Option<Span>,
    /// Only active tokens that have made no request for this span (counted from creation for a
    /// token never used), like `90d`.
    #[serde(default)]
    #[schemars(with = "Span")]
    pub unused_for: Option<Span>,
    /// `true`: only active tokens that never expire.
    #[serde(default)]
    #[schemars(with = "Flag")]
    pub without_expiry: Option<Flag>,
    /// `true`: only active tokens carrying every permission.
    #[serde(default)]
    #[schemars(with = "Flag")]
    pub all_permissions: Option<Flag>,
    /// `true`: only tokens seen in a browser's request.
    #[serde(default)]
    #[schemars(with = "Flag")]
    pub exposed: Option<Flag>,
}

/// A token status as a list filter: `active`, `expired`, `revoked` (upper case accepted too, as
/// responses spell it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFilter(pub TokenStatus);

impl<'de> Deserialize<'de> for StatusFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| {
            TokenStatus::all()
                .iter()
                .copied()
                .find(|s| t == s.word() || t == s.word().to_ascii_lowercase())
                .map(StatusFilter)
                .ok_or_else(|| refuse("invalid_value", "must be one of: active, expired, revoked"))
        })
    }
}

impl JsonSchema for StatusFilter {
    inline_schema!("StatusFilter");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let words: Vec<String> = TokenStatus::all().iter().map(|s| s.word().to_ascii_lowercase()).collect();
        json_schema!({"enum": words, "type": "string"})
    }
}

/// A span of time: a number and a unit of `s m h d w y` (`7d`), at most 16 characters; empty is
/// no span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Option<time::Duration>);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text::<16>(text) = Text::deserialize(d)?;
        if text.is_empty() {
            return Ok(Span(None));
        }
        openmonime_domain::issuance::parse_span(&text)
            .map(|span| Span(Some(span)))
            .ok_or_else(|| refuse("invalid_value", "must be a duration like 7d, 12h or 2w"))
    }
}

impl JsonSchema for Span {
    inline_schema!("Span");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "example": "7d"})
    }
}
