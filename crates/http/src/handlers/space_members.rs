//! `/v1/space-members`: who belongs to the Space and with which role.
//!
//! A request grants nothing beyond its own token ∩ role, changes no member whose role exceeds
//! that, and needs a live token that is not retiring (membership spans both environments); making,
//! demoting or removing an owner needs `space-ownership:write` in token and role; a Space always
//! keeps an active owner. Every decision is taken inside the write it guards (see `grant`).
//! Changes take effect on the member's next request on every node.

use super::audit_events;
use super::params::ApiPath;
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::space::{AddSpaceMember, SpaceMember, UpdateSpaceMember};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::MonimeerId;
use openmonime_domain::role::RoleName;
use openmonime_store::identity::AuthChange;
use openmonime_store::{Conflict, StoreError};

fn monimeer(raw: &str, field: &str) -> ApiResult<MonimeerId> {
    MonimeerId::parse(raw)
        .ok_or_else(|| ApiError::field(field, "invalid_id", format!("`{field}` must be a Monimeer id (`mmr-…`)")))
}

/// A name no role can have is unknown, like a role the Space does not define.
fn role(raw: &str) -> ApiResult<RoleName> {
    RoleName::parse(raw).ok_or_else(|| StoreError::Conflict(Conflict::RoleUnknown).into())
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("member"),
        other => other.into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
) -> ApiResult<Json<List<SpaceMember>>> {
    let members = state.store.list_members(&caller.tenant.space_id).await?;
    Ok(Json(List::all(members.into_iter().map(SpaceMember::new).collect())))
}

pub async fn add(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<AddSpaceMember>,
) -> ApiResult<Json<One<SpaceMember>>> {
    let who = monimeer(&body.monimeer_id, "monimeerId")?;
    let role = role(&body.role)?;
    let space = caller.tenant.space_id.clone();
    let m = state.store.add_member(&space, &who, &role, &audit_events::actor(&caller)).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::field("monimeerId", "monimeer_not_found", "`monimeerId` names no Monimeer"),
        other => other.into(),
    })?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    Ok(Json(One::new(SpaceMember::new(m))))
}

pub async fn set_role(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(who): ApiPath<MonimeerId>,
    ApiJson(body): ApiJson<UpdateSpaceMember>,
) -> ApiResult<Json<One<SpaceMember>>> {
    let space = caller.tenant.space_id.clone();
    let m = state
        .store
        .set_member_role(&space, &who, &role(&body.role)?, &audit_events::actor(&caller))
        .await
        .map_err(not_found)?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    Ok(Json(One::new(SpaceMember::new(m))))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(who): ApiPath<MonimeerId>,
) -> ApiResult<Json<Deleted>> {
    let space = caller.tenant.space_id.clone();
    state.store.remove_member(&space, &who, &audit_events::actor(&caller)).await.map_err(not_found)?;
    state.auth.invalidate(&AuthChange::Membership(space.clone(), who.clone()));
    Ok(Json(Deleted::default()))
}
