//! `/v1/audit-events`: the Space's append-only log, and the helper every change uses to write it.

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
use openmonime_domain::ids::SpaceId;
use openmonime_domain::Environment;
use openmonime_store::audit::{AuditEvent, AuditFilter, TokenAuditFilter};
use openmonime_store::ListFilter;
use serde_json::{json, Value};

/// Appends a change made by `caller`. A failure to audit is logged, not returned: the change
/// itself has committed.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    space: Option<&SpaceId>,
    environment: Option<Environment>,
    action: &str,
    subject: &str,
    mut detail: Value,
) {
    detail["byToken"] = json!(caller.token.token.id);
    let actor = caller.token.token.monimeer_id.to_string();
    let ip = caller.ip.to_string();
    let event = AuditEvent {
        space_id: space,
        environment,
        actor: &actor,
        action,
        subject,
        detail: Some(detail),
        ip: Some(&ip),
    };
    if let Err(e) = state.store.audit(&event).await {
        tracing::warn!(error = %e, action, "could not write the audit log");
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
