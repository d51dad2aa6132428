//! `GET /v1/me`: the caller's Monimeer and token, and — with `Monime-Space-Id` — their role and,
//! for every permission the token holds, whether the role grants it: "why would I be denied",
//! answered before it happens.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::access::{AccessToken, Me, MeMonimeer, MeSpace, PermissionGrant};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::One;
use axum::extract::State;
use axum::Json;

pub async fn me(State(state): State<AppState>, caller: Caller, _: ApiQuery<NoQuery>) -> ApiResult<Json<One<Me>>> {
    let token = &caller.token.token;
    let person = state.store.get_monimeer(&token.monimeer_id).await?;
    let space = match (&caller.tenant, &caller.role) {
        (Some(tenant), Some(role)) => Some(MeSpace {
            id: tenant.space_id.to_string(),
            role: role.name.clone(),
            role_permissions: role.permissions,
            effective_permissions: token.permissions.intersect(role.permissions),
            token_permissions: token
                .permissions
                .iter()
                .map(|p| PermissionGrant { permission: p.word(), granted_by_role: role.permissions.contains(p) })
                .collect(),
            policy: (&role.policy).into(),
        }),
        _ => None,
    };
    Ok(Json(One::new(Me {
        monimeer: MeMonimeer { id: person.id.into(), name: person.name, email: person.email },
        token: AccessToken::new(token),
        space,
    })))
}
