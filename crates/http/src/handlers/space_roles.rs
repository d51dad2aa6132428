//! `/v1/space-roles`: built-in roles and the Space's custom roles (named permission sets).
//! An edit changes what every holder can do on their next request; the answer says how many
//! members and tokens it reaches.

use super::audit_events;
use super::params::ApiPath;
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::space::{CreateSpaceRole, SpaceRole, UpdateSpaceRole};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::role::RoleName;
use openmonime_store::identity::AuthChange;
use openmonime_store::StoreError;

/// Expands the words; what the request may grant is decided in the store, inside the write.
pub fn permissions(words: &[String]) -> ApiResult<PermissionSet> {
    PermissionSet::expand(words)
        .map_err(|w| ApiError::field("permissions", "unknown_permission", format!("`{w}` is not a permission")))
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("role"),
        other => other.into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
) -> ApiResult<Json<List<SpaceRole>>> {
    let roles = state.store.list_roles(&caller.tenant.space_id).await?;
    Ok(Json(List::all(roles.into_iter().map(SpaceRole::new).collect())))
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<CreateSpaceRole>,
) -> ApiResult<Json<One<SpaceRole>>> {
    valid_name(&body.name)?;
    let set = permissions(&body.permissions)?;
    let space = caller.tenant.space_id.clone();
    let role =
        state.store.create_role(&space, &RoleName::stored(&body.name), set, &audit_events::actor(&caller)).await?;
    Ok(Json(One::new(SpaceRole::new(role))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(name): ApiPath<RoleName>,
    ApiJson(body): ApiJson<UpdateSpaceRole>,
) -> ApiResult<Json<One<SpaceRole>>> {
    let set = permissions(&body.permissions)?;
    let space = caller.tenant.space_id.clone();
    let (role, impact) =
        state.store.update_role(&space, &name, set, &audit_events::actor(&caller)).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    Ok(Json(One::new(SpaceRole::updated(role, &impact))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(name): ApiPath<RoleName>,
) -> ApiResult<Json<Deleted>> {
    let space = caller.tenant.space_id.clone();
    state.store.delete_role(&space, &name, &audit_events::actor(&caller)).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    Ok(Json(Deleted::default()))
}

/// A custom role's name, checked (the API and the console alike).
pub fn valid_name(name: &str) -> ApiResult<()> {
    if !openmonime_domain::role::is_valid_custom_name(name) {
        return Err(ApiError::field(
            "name",
            "invalid_value",
            "`name` must be 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter",
        ));
    }
    Ok(())
}
