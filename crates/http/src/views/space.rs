//! A Space's own administration: members, roles, policies and the audit log — openmonime's
//! shapes, used by the API and by the admin CLI.

use super::query::{Capped, Cursor, Limit};
use super::{any_object, open, permission_words, Time};
use crate::handlers::params::{patch_field, present};
use openmonime_domain::entities::{Membership, SpacePolicy as Policy};
use openmonime_domain::permission::PermissionSet;
use openmonime_store::audit::AuditRecord;
use openmonime_store::management::{RoleImpact, RoleInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Monimeer's membership of the Space.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct SpaceMember {
    pub monimeer_id: String,
    pub role: String,
}

impl SpaceMember {
    pub fn new(m: Membership) -> Self {
        SpaceMember { monimeer_id: m.monimeer_id.into(), role: m.role.to_string() }
    }
}

/// A built-in or custom role: a named set of permissions.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct SpaceRole {
    pub name: String,
    pub builtin: bool,
    #[schemars(schema_with = "permission_words")]
    pub permissions: PermissionSet,
    pub member_count: i64,
    /// After an edit: how many members and tokens it reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Affected")]
    pub affected: Option<Affected>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = open)]
pub struct Affected {
    pub members: i64,
    pub tokens: i64,
}

impl SpaceRole {
    pub fn new(r: RoleInfo) -> Self {
        SpaceRole {
            name: r.name,
            builtin: r.builtin,
            permissions: r.permissions,
            member_count: r.members,
            affected: None,
        }
    }

    /// After an edit, with who the edit reaches.
    pub fn updated(r: RoleInfo, impact: &RoleImpact) -> Self {
        SpaceRole { affected: Some(Affected { members: impact.members, tokens: impact.tokens }), ..Self::new(r) }
    }
}

/// The Space's rules for tokens used against it.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct SpacePolicy {
    pub max_token_lifetime_seconds: Option<i64>,
    pub allow_unbound_tokens: bool,
    /// Revoke a token, with every token it minted, when it is seen in a browser's request.
    pub revoke_exposed_tokens: bool,
    /// A token that could act in this Space and makes no request for this long expires; null: never.
    pub idle_token_expiry_seconds: Option<i64>,
}

impl From<&Policy> for SpacePolicy {
    fn from(p: &Policy) -> Self {
        SpacePolicy {
            max_token_lifetime_seconds: p.max_token_lifetime_seconds,
            allow_unbound_tokens: p.allow_unbound_tokens,
            revoke_exposed_tokens: p.revoke_exposed_tokens,
            idle_token_expiry_seconds: p.idle_token_expiry_seconds,
        }
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = open)]
pub struct AuditEvent {
    pub id: String,
    pub environment: Option<&'static str>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    #[schemars(schema_with = "any_object")]
    pub detail: Option<Value>,
    pub ip_address: Option<String>,
    pub create_time: Time,
}

impl AuditEvent {
    pub fn new(e: AuditRecord) -> Self {
        AuditEvent {
            id: e.id,
            environment: e.environment.map(|v| v.as_str()),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
            ip_address: e.ip,
            create_time: Time(e.created_at),
        }
    }
}

/// `POST /v1/space-members`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddSpaceMember {
    pub monimeer_id: String,
    pub role: String,
}

/// `PATCH /v1/space-members/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpaceMember {
    pub role: String,
}

/// `POST /v1/space-roles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSpaceRole {
    #[schemars(length(max = 40))]
    pub name: String,
    pub permissions: Vec<String>,
}

/// `PATCH /v1/space-roles/{name}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpaceRole {
    pub permissions: Vec<String>,
}

/// `PATCH /v1/space-policies`: an absent field is kept.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSpacePolicies {
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(range(min = 1))]
    pub max_token_lifetime_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "bool")]
    pub allow_unbound_tokens: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "bool")]
    pub revoke_exposed_tokens: Option<bool>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schemars(range(min = 86400))]
    pub idle_token_expiry_seconds: Option<Option<i64>>,
}

/// `GET /v1/audit-events`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAuditEventsQuery {
    #[serde(default)]
    #[schemars(with = "Capped<64>")]
    pub action: Option<Capped<64>>,
    #[serde(default)]
    #[schemars(with = "Capped<64>")]
    pub actor: Option<Capped<64>>,
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}

/// `GET /v1/me/audit-events`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PageQuery {
    #[serde(default)]
    pub limit: Limit,
    pub after: Option<Cursor>,
}
