//! `/v1/space-roles`: built-in roles and the Space's custom roles (named permission sets).
//! An edit changes what every holder can do on their next request; the answer says how many
//! members and tokens it reaches.

use super::audit_events;
use super::params::{ApiPath, QueryParams};
use crate::auth::Caller;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use openmonime_domain::permission::PermissionSet;
use openmonime_store::identity::AuthChange;
use openmonime_store::management::{RoleImpact, RoleInfo};
use openmonime_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    permissions: Vec<String>,
}

/// A role as the API and the admin CLI show it.
pub fn render(r: &RoleInfo) -> Value {
    json!({"name": r.name, "builtin": r.builtin, "permissions": r.permissions, "memberCount": r.members})
}

/// A role after an edit, with who the edit reaches: `affected: {members, tokens}`.
pub fn render_updated(r: &RoleInfo, impact: &RoleImpact) -> Value {
    let mut value = render(r);
    value["affected"] = json!({"members": impact.members, "tokens": impact.tokens});
    value
}

/// Expands the words; what the request may grant is decided in the store, inside the write.
fn permissions(words: &[String]) -> ApiResult<PermissionSet> {
    PermissionSet::expand(words)
        .map_err(|w| ApiError::field("permissions", "unknown_permission", format!("`{w}` is not a permission")))
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("role"),
        other => other.into(),
    }
}

pub async fn list(State(state): State<AppState>, caller: Caller, _query: QueryParams) -> ApiResult<Json<Value>> {
    let roles = state.store.list_roles(&caller.tenant()?.space_id).await?;
    Ok(Json(envelope::page(roles.iter().map(render).collect(), None)))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<Json<Value>> {
    if !openmonime_domain::role::is_valid_custom_name(&body.name) {
        return Err(ApiError::field(
            "name",
            "invalid_value",
            "`name` must be 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter",
        ));
    }
    let set = permissions(&body.permissions)?;
    let space = caller.tenant()?.space_id.clone();
    let role = state.store.create_role_by(&space, &body.name, set, Some(&caller.authority())).await?;
    audit_events::record(&state, &caller, Some(&space), None, "role.create", &body.name, json!({"permissions": set}))
        .await;
    Ok(Json(envelope::one(render(&role))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<Json<Value>> {
    let set = permissions(&body.permissions)?;
    let space = caller.tenant()?.space_id.clone();
    let (role, impact) =
        state.store.update_role_by(&space, &name, set, Some(&caller.authority())).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    audit_events::record(&state, &caller, Some(&space), None, "role.update", &name, json!({"permissions": set})).await;
    Ok(Json(envelope::one(render_updated(&role, &impact))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let space = caller.tenant()?.space_id.clone();
    state.store.delete_role_by(&space, &name, Some(&caller.authority())).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    audit_events::record(&state, &caller, Some(&space), None, "role.delete", &name, json!({})).await;
    Ok(Json(envelope::deleted()))
}
