//! `/v1/space-members`: who belongs to the Space and with which role.
//!
//! A member cannot grant a role whose permissions exceed their own role's; making, demoting or
//! removing an owner needs `space-ownership:write` (owners only); the last owner cannot leave.
//! Changes take effect on the member's next request on every node.

use super::audit_events;
use super::params::QueryParams;
use crate::auth::Caller;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use openmonime_domain::ids::MonimeerId;
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::role::BuiltinRole;
use openmonime_store::identity::AuthChange;
use openmonime_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddBody {
    monimeer_id: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: String,
}

fn monimeer(raw: &str, field: &str) -> ApiResult<MonimeerId> {
    MonimeerId::parse(raw)
        .ok_or_else(|| ApiError::field(field, "invalid_id", format!("`{field}` must be a Monimeer id (`mmr-…`)")))
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("member"),
        other => other.into(),
    }
}

/// The permissions a role grants, or 409 if the Space has no such role.
async fn role_permissions(state: &AppState, caller: &Caller, role: &str) -> ApiResult<PermissionSet> {
    if let Some(b) = BuiltinRole::parse(role) {
        return Ok(b.permissions());
    }
    let roles = state.store.list_roles(&caller.tenant()?.space_id).await?;
    roles
        .into_iter()
        .find(|r| r.name == role)
        .map(|r| r.permissions)
        .ok_or_else(|| StoreError::Conflict("role_unknown").into())
}

/// Refuses a grant above the caller's own role, and ownership changes by non-owners.
fn check_grant(caller: &Caller, granted: PermissionSet, touches_owner: bool) -> ApiResult<()> {
    let own = caller.role.as_ref().map(|r| r.permissions).unwrap_or_default();
    if touches_owner && !own.contains(Permission::SpaceOwnershipWrite) {
        return Err(ApiError::forbidden(
            "ownership_change_requires_owner",
            "only an owner can make, demote or remove an owner",
        ));
    }
    if !granted.is_subset_of(own) {
        let extra: Vec<_> = granted.iter().filter(|p| !own.contains(*p)).map(|p| p.word()).collect();
        return Err(ApiError::forbidden(
            "role_above_own",
            "you cannot grant a role with permissions your own role lacks",
        )
        .with_detail(json!({"permissions": extra})));
    }
    Ok(())
}

async fn current_role(state: &AppState, caller: &Caller, member: &MonimeerId) -> ApiResult<String> {
    let members = state.store.list_members(&caller.tenant()?.space_id).await?;
    members.into_iter().find(|m| &m.monimeer_id == member).map(|m| m.role).ok_or_else(|| ApiError::not_found("member"))
}

pub async fn list(State(state): State<AppState>, caller: Caller, _query: QueryParams) -> ApiResult<Json<Value>> {
    let members = state.store.list_members(&caller.tenant()?.space_id).await?;
    let items: Vec<Value> = members.iter().map(|m| json!({"monimeerId": m.monimeer_id, "role": m.role})).collect();
    Ok(Json(envelope::page(items, None)))
}

pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiJson(body): ApiJson<AddBody>,
) -> ApiResult<Json<Value>> {
    let who = monimeer(&body.monimeer_id, "monimeerId")?;
    let granted = role_permissions(&state, &caller, &body.role).await?;
    check_grant(&caller, granted, body.role == "owner")?;
    let space = caller.tenant()?.space_id.clone();
    let m = state.store.add_member(&space, &who, &body.role).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::field("monimeerId", "monimeer_not_found", "`monimeerId` names no Monimeer"),
        other => other.into(),
    })?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    audit_events::record(&state, &caller, Some(&space), None, "member.add", who.as_str(), json!({"role": body.role}))
        .await;
    Ok(Json(envelope::one(json!({"monimeerId": m.monimeer_id, "role": m.role}))))
}

pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<Value>> {
    let who = monimeer(&id, "monimeerId")?;
    let current = current_role(&state, &caller, &who).await?;
    let granted = role_permissions(&state, &caller, &body.role).await?;
    check_grant(&caller, granted, body.role == "owner" || current == "owner")?;
    let space = caller.tenant()?.space_id.clone();
    let m = state.store.set_member_role(&space, &who, &body.role).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    audit_events::record(
        &state,
        &caller,
        Some(&space),
        None,
        "member.set_role",
        who.as_str(),
        json!({"from": current, "to": body.role}),
    )
    .await;
    Ok(Json(envelope::one(json!({"monimeerId": m.monimeer_id, "role": m.role}))))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let who = monimeer(&id, "monimeerId")?;
    let current = current_role(&state, &caller, &who).await?;
    let own_removal = who == caller.token.token.monimeer_id;
    if !own_removal {
        check_grant(&caller, PermissionSet::EMPTY, current == "owner")?;
    }
    let space = caller.tenant()?.space_id.clone();
    state.store.remove_member(&space, &who).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    audit_events::record(&state, &caller, Some(&space), None, "member.remove", who.as_str(), json!({"role": current}))
        .await;
    Ok(Json(envelope::deleted()))
}
