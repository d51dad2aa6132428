//! `/v1/space-policies`: the Space's rules for tokens used against it, enforced in the pipeline.

use super::audit_events;
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::space::{SpacePolicy, UpdateSpacePolicies};
use crate::views::One;
use axum::extract::State;
use axum::Json;
use openmonime_domain::entities::PolicyPatch;
use openmonime_store::identity::AuthChange;

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
) -> ApiResult<Json<One<SpacePolicy>>> {
    let policy = state.store.get_policy(&caller.tenant.space_id).await?;
    Ok(Json(One::new((&policy).into())))
}

/// The shortest idle expiry a Space may set: a day (the announcement comes a week ahead, or at
/// once when the period is shorter than that).
const IDLE_EXPIRY_MIN_SECONDS: i64 = 86_400;

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<UpdateSpacePolicies>,
) -> ApiResult<Json<One<SpacePolicy>>> {
    let space = &caller.tenant.space_id;
    let patch = patch_of(&body)?;
    let policy = state.store.update_policy(space, patch, &audit_events::actor(&caller)).await?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    let view = SpacePolicy::from(&policy);
    Ok(Json(One::new(view)))
}

/// The store's patch for a policy update, its values checked (the API and the console alike).
pub fn patch_of(body: &UpdateSpacePolicies) -> ApiResult<PolicyPatch> {
    let mut patch = PolicyPatch::default();
    if let Some(max) = body.max_token_lifetime_seconds {
        if max.is_some_and(|m| m <= 0) {
            return Err(ApiError::field(
                "maxTokenLifetimeSeconds",
                "not_positive",
                "`maxTokenLifetimeSeconds` must be positive, or null for no limit",
            ));
        }
        patch.max_token_lifetime_seconds = Some(max);
    }
    patch.allow_unbound_tokens = body.allow_unbound_tokens;
    patch.revoke_exposed_tokens = body.revoke_exposed_tokens;
    if let Some(idle) = body.idle_token_expiry_seconds {
        if idle.is_some_and(|s| s < IDLE_EXPIRY_MIN_SECONDS) {
            return Err(ApiError::field(
                "idleTokenExpirySeconds",
                "below_minimum",
                "`idleTokenExpirySeconds` must be at least 86400 (a day), or null for no idle expiry",
            ));
        }
        patch.idle_token_expiry_seconds = Some(idle);
    }
    Ok(patch)
}
