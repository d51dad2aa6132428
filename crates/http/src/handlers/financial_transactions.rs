//! `/v1/financial-transactions`: the read-only ledger.

use super::params::{list_scope, page_envelope, ApiPath, QueryParams};
use super::render;
use crate::auth::Caller;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use openmonime_domain::entities::EntryKind;
use openmonime_store::ledger::TransactionFilter;
use openmonime_store::StoreError;
use serde_json::Value;

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let entry = state.store.get_transaction(caller.tenant()?, &id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("financial transaction"),
        other => other.into(),
    })?;
    Ok(Json(envelope::one(render::transaction(&entry))))
}

pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Json<Value>> {
    let filter = TransactionFilter {
        account_id: query.text("financialAccountId", 64)?,
        reference: query.text("reference", 64)?,
        kind: query.choice("type", EntryKind::parse, "credit, debit")?,
    };
    let tenant = caller.tenant()?;
    let scope = list_scope(&state, tenant, &filter).await?;
    let page = state.store.list_transactions(tenant, &filter, query.page(&scope)?).await?;
    Ok(Json(page_envelope(page, &scope, render::transaction)))
}
