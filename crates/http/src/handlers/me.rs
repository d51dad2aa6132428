//! `GET /v1/me`: the caller's Monimeer and token, and — with `Monime-Space-Id` — their role and,
//! for every permission the token holds, whether the role grants it: "why would I be denied",
//! answered before it happens.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::access::{AccessToken, LimitStanding, Me, MeMonimeer, MeSpace, PermissionGrant};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::One;
use axum::extract::State;
use axum::Json;
use openmonime_store::amount_limits::spent_in_window;

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
    let now_us = openmonime_domain::time_fmt::to_micros(openmonime_domain::time_fmt::now());
    let mut amount_limits = Vec::with_capacity(token.amount_limits.len());
    for limit in &token.amount_limits {
        let moved = spent_in_window(state.store.pool(), &token.id, limit.currency, now_us).await?;
        let remaining = limit.per_24_hours.map(|max| max.saturating_sub(moved).max(0));
        amount_limits.push(LimitStanding {
            limit: (*limit).into(),
            moved_last_24_hours: moved,
            remaining_24_hours: remaining,
        });
    }
    Ok(Json(One::new(Me {
        monimeer: MeMonimeer { id: person.id.into(), name: person.name, email: person.email },
        token: AccessToken::new(token),
        space,
        amount_limits,
    })))
}
