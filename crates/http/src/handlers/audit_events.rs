//! `/v1/audit-events`: the Space's append-only log, and the helper every change uses to write it.

use super::params::{list_scope, page_envelope, QueryParams};
use super::render;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
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
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let token = &caller.token.token;
    let filter = TokenAuditFilter {
        monimeer: token.monimeer_id.clone(),
        environment: token.environment,
        within: token.space_id.clone(),
    };
    // Not a Space's list: the cursor is bound to the Monimeer, environment and binding instead.
    let key = state.store.cursor_key().await?;
    let scope = CursorScope::new(&key, "", token.environment, TokenAuditFilter::LIST, &filter.fingerprint());
    let page = state.store.list_token_audit(&filter, query.page(&scope)?).await?;
    Ok(Json(page_envelope(page, &scope, render::audit_event)))
}

pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Json<Value>> {
    let tenant = caller.tenant()?;
    let filter = AuditFilter { action: query.text("action", 64)?, actor: query.text("actor", 64)? };
    let scope = list_scope(&state, tenant, &filter).await?;
    let page = state.store.list_audit(&tenant.space_id, tenant.environment, &filter, query.page(&scope)?).await?;
    Ok(Json(page_envelope(page, &scope, render::audit_event)))
}
