//! `/v1/audit-events`: the Space's append-only log, and the actor every change is journalled as.

use super::params::{list_scope, page, page_of};
use crate::auth::{Caller, SpaceCaller};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::query::{ApiQuery, Filter};
use crate::views::space::{AuditEvent as AuditView, ListAuditEventsQuery, PageQuery};
use crate::views::List;
use axum::extract::State;
use axum::Json;
use openmonime_domain::cursor::CursorScope;
use openmonime_store::audit::{AuditFilter, TokenAuditFilter};
use openmonime_store::journal::Actor;
use openmonime_store::ListFilter;

/// The request as the store journals its changes: what its token may hand out, whose it is, where
/// it came from, and the Space it named.
pub fn actor(caller: &Caller) -> Actor<'_> {
    Actor::Request {
        authority: caller.authority(),
        token: &caller.token.token.id,
        monimeer: &caller.token.token.monimeer_id,
        ip: caller.ip,
        space: caller.tenant.as_ref().map(|t| &t.space_id),
    }
}

/// `GET /v1/me/audit-events`: every change to the tokens this token could manage (its owner's,
/// in its environment, within its Space binding), including those no Space's log shows.
pub async fn list_token_changes(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<AuditView>>> {
    let token = &caller.token.token;
    let filter = TokenAuditFilter {
        monimeer: token.monimeer_id.clone(),
        environment: token.environment,
        within: token.space_id.clone(),
    };
    // Not a Space's list: the cursor is bound to the Monimeer, environment and binding instead.
    let key = state.store.cursor_key().await?;
    let scope = CursorScope::new(&key, "", token.environment, TokenAuditFilter::LIST, &filter.fingerprint());
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_token_audit(&filter, request).await?;
    Ok(Json(page_of(found, &scope, AuditView::new)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListAuditEventsQuery>,
) -> ApiResult<Json<List<AuditView>>> {
    let tenant = &caller.tenant;
    let filter = AuditFilter { action: query.action.non_empty(), actor: query.actor.non_empty() };
    let scope = list_scope(&state, tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_audit(&tenant.space_id, tenant.environment, &filter, request).await?;
    Ok(Json(page_of(found, &scope, AuditView::new)))
}
