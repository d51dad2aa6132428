//! `/v1/internal-transfers`: money movement between two accounts of one Space and environment.
//!
//! State machine: a transfer is created `pending` and settled in the same database transaction
//! that creates it (`processing` is never observable), ending `completed` (one debit, one credit)
//! or `failed` (`fund_insufficient`; no entries). So every transfer a client sees has settled, and
//! DELETE — allowed only while `pending` — answers 409 `transfer_not_pending`.

use super::params::{list_scope, page, page_of, ApiPath, Unpatterned};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::ledger::{
    CreateInternalTransfer, InternalTransfer, ListInternalTransfersQuery, PatchInternalTransfer,
};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::{FinancialAccountId, InternalTransferId};
use openmonime_domain::metadata;
use openmonime_domain::money::{Currency, Money};
use openmonime_domain::Validation;
use openmonime_store::ledger::{NewTransfer, TransferFilter, TransferPatch, TransferRejection};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("internal transfer"),
        other => other.into(),
    }
}

fn account_id(field: &str, raw: &str, v: &mut Validation) -> Option<FinancialAccountId> {
    if raw.chars().count() > 64 {
        v.push(field, "too_long", format!("`{field}` must be at most 64 characters"));
        return None;
    }
    let parsed = FinancialAccountId::parse(raw);
    if parsed.is_none() {
        v.push(field, "invalid_id", format!("`{field}` must be a financial account id (`fac-…`)"));
    }
    parsed
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreateInternalTransfer>,
) -> ApiResult<Replayable<One<InternalTransfer>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    let currency = Currency::parse(&body.amount.currency);
    if currency.is_none() {
        v.push("amount.currency", "unsupported_currency", "`amount.currency` must be `SLE` or `USD`");
    }
    if body.amount.value <= 0 {
        v.push("amount.value", "not_positive", "`amount.value` must be a positive integer in minor units");
    }
    let source = account_id("sourceFinancialAccount.id", &body.source_financial_account.id, &mut v);
    let destination = account_id("destinationFinancialAccount.id", &body.destination_financial_account.id, &mut v);
    if source.is_some() && source == destination {
        v.push(
            "destinationFinancialAccount.id",
            "same_as_source",
            "the destination account must differ from the source account",
        );
    }
    v.max_chars("description", body.description.as_deref(), 150);
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let new = NewTransfer {
        amount: Money { currency: currency.expect("validated"), value: body.amount.value },
        source: source.expect("validated"),
        destination: destination.expect("validated"),
        description: body.description,
        metadata: body.metadata,
    };
    let result = state
        .store
        .create_transfer(&caller.tenant, &new, Some(&caller.token.token.id), Some(&claim), |t| {
            Replayable::render(&One::new(InternalTransfer::new(t.clone())))
        })
        .await?;
    match result {
        Ok(outcome) => Ok(Replayable::from_outcome(outcome)),
        Err(TransferRejection::AccountNotFound(field)) => Err(ApiError::field(
            field,
            "account_not_found",
            format!("`{field}` names no financial account in this Space and environment"),
        )),
        Err(TransferRejection::CurrencyMismatch(field)) => Err(ApiError::field(
            field,
            "currency_mismatch",
            format!("the account named by `{field}` holds a different currency than `amount.currency`"),
        )),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<InternalTransferId>,
) -> ApiResult<Json<One<InternalTransfer>>> {
    let transfer = state.store.get_transfer(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(InternalTransfer::new(transfer))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListInternalTransfersQuery>,
) -> ApiResult<Json<List<InternalTransfer>>> {
    let filter = TransferFilter {
        status: query.status.map(|s| s.0),
        source_id: query.source_financial_account_id.non_empty(),
        destination_id: query.destination_financial_account_id.non_empty(),
        transaction_reference: query.financial_transaction_reference.non_empty(),
    };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_transfers(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, InternalTransfer::new)))
}

/// The official document gives this route's id no pattern; the id is parsed all the same.
pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<InternalTransferId>>,
    ApiJson(body): ApiJson<PatchInternalTransfer>,
) -> ApiResult<Json<One<InternalTransfer>>> {
    let mut v = Validation::new();
    v.max_chars("description", body.description.clone().flatten().as_deref(), 255);
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let patch = TransferPatch { description: body.description, metadata: body.metadata };
    let transfer = state.store.update_transfer(&caller.tenant, id.as_str(), &patch).await.map_err(not_found)?;
    Ok(Json(One::new(InternalTransfer::new(transfer))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<InternalTransferId>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_transfer(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}
