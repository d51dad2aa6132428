//! `/v1/financial-transactions`: the read-only ledger.

use super::params::{list_scope, page, page_of, ApiPath};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::ledger::{FinancialTransaction, ListFinancialTransactionsQuery};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::FinancialTransactionId;
use openmonime_store::ledger::TransactionFilter;
use openmonime_store::StoreError;

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<FinancialTransactionId>,
) -> ApiResult<Json<One<FinancialTransaction>>> {
    let entry = state.store.get_transaction(&caller.tenant, id.as_str()).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("financial transaction"),
        other => other.into(),
    })?;
    Ok(Json(One::new(FinancialTransaction::new(entry))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListFinancialTransactionsQuery>,
) -> ApiResult<Json<List<FinancialTransaction>>> {
    let filter = TransactionFilter {
        account_id: query.financial_account_id.non_empty(),
        reference: query.reference.non_empty(),
        kind: query.kind.map(|k| k.0),
    };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_transactions(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, FinancialTransaction::new)))
}
