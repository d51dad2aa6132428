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
use openmonime_store::identity::AuthChange;

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
) -> ApiResult<Json<One<SpacePolicy>>> {
    let policy = state.store.get_policy(&caller.tenant.space_id).await?;
    Ok(Json(One::new((&policy).into())))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<UpdateSpacePolicies>,
) -> ApiResult<Json<One<SpacePolicy>>> {
    let space = caller.tenant.space_id.clone();
    let mut policy = state.store.get_policy(&space).await?;
    if let Some(max) = body.max_token_lifetime_seconds {
        if max.is_some_and(|m| m <= 0) {
            return Err(ApiError::field(
                "maxTokenLifetimeSeconds",
                "not_positive",
                "`maxTokenLifetimeSeconds` must be positive, or null for no limit",
            ));
        }
        policy.max_token_lifetime_seconds = max;
    }
    if let Some(allow) = body.allow_unbound_tokens {
        policy.allow_unbound_tokens = allow;
    }
    let policy = state.store.set_policy_by(&space, policy, Some(&caller.authority())).await?;
    state.auth.invalidate(&AuthChange::SpaceRoles(space.clone()));
    let view = SpacePolicy::from(&policy);
    let detail = serde_json::to_value(view).expect("a policy serializes");
    audit_events::record(&state, &caller, Some(&space), None, "policy.update", space.as_str(), detail).await;
    Ok(Json(One::new(view)))
}
