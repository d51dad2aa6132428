//! `/v1/space-policies`: the Space's rules for tokens used against it, enforced in the pipeline.

use super::params::QueryParams;
use super::{audit_events, render};
use crate::auth::Caller;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use openmonime_store::identity::AuthChange;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "super::params::patch_field")]
    max_token_lifetime_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "super::params::present")]
    allow_unbound_tokens: Option<bool>,
}

pub async fn get(State(state): State<AppState>, caller: Caller, _query: QueryParams) -> ApiResult<Json<Value>> {
    let policy = state.store.get_policy(&caller.tenant()?.space_id).await?;
    Ok(Json(envelope::one(render::policy(&policy))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<Json<Value>> {
    let space = caller.tenant()?.space_id.clone();
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
    audit_events::record(&state, &caller, Some(&space), None, "policy.update", space.as_str(), render::policy(&policy))
        .await;
    Ok(Json(envelope::one(render::policy(&policy))))
}
