//! `GET /v1/me`: the caller's Monimeer and token, and — with `Monime-Space-Id` — their role and,
//! for every permission the token holds, whether the role grants it: "why would I be denied",
//! answered before it happens.

use super::params::QueryParams;
use super::render;
use crate::auth::Caller;
use crate::envelope;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn me(State(state): State<AppState>, caller: Caller, _query: QueryParams) -> ApiResult<Json<Value>> {
    let token = &caller.token.token;
    let person = state.store.get_monimeer(&token.monimeer_id).await?;
    let mut result = json!({
        "monimeer": {"id": person.id, "name": person.name, "email": person.email},
        "token": render::access_token(token),
        "space": null,
    });
    if let (Some(tenant), Some(role)) = (&caller.tenant, &caller.role) {
        let effective = token.permissions.intersect(role.permissions);
        let per_permission: Vec<Value> = token
            .permissions
            .iter()
            .map(|p| json!({"permission": p.word(), "grantedByRole": role.permissions.contains(p)}))
            .collect();
        result["space"] = json!({
            "id": tenant.space_id,
            "role": role.name,
            "rolePermissions": role.permissions,
            "effectivePermissions": effective,
            "tokenPermissions": per_permission,
            "policy": render::policy(&role.policy),
        });
    }
    Ok(Json(envelope::one(result)))
}
