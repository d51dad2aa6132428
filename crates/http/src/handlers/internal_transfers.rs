//! `/v1/internal-transfers`: money movement between two accounts of one Space and environment.
//!
//! State machine: a transfer is created `pending` and settled in the same database transaction
//! that creates it (`processing` is never observable), ending `completed` (one debit, one credit)
//! or `failed` (`fund_insufficient`; no entries). So every transfer a client sees has settled, and
//! DELETE — allowed only while `pending` — answers 409 `transfer_not_pending`.

use super::params::{list_scope, page_envelope, patch_field, ApiPath, QueryParams};
use super::render;
use crate::auth::Caller;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::wire::RequestChecksum;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Json};
use openmonime_domain::entities::TransferStatus;
use openmonime_domain::ids::FinancialAccountId;
use openmonime_domain::metadata;
use openmonime_domain::money::{Currency, Money};
use openmonime_domain::Validation;
use openmonime_store::ledger::{NewTransfer, TransferFilter, TransferPatch, TransferRejection};
use openmonime_store::{Outcome, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    currency: String,
    value: i64,
}

/// `{id}`; the official document leaves these two objects open to extra fields.
#[derive(Deserialize)]
pub struct AccountRef {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    amount: AmountBody,
    source_financial_account: AccountRef,
    destination_financial_account: AccountRef,
    description: Option<String>,
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "patch_field")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    metadata: Option<Option<Map<String, Value>>>,
}

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
    caller: Caller,
    _query: QueryParams,
    Extension(checksum): Extension<RequestChecksum>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<Response> {
    let claim = idempotency::claim(&headers, &caller, &checksum)?;
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
        .create_transfer(caller.tenant()?, &new, Some(&claim), |t| envelope::one(render::transfer(t)).to_string())
        .await?;
    match result {
        Ok(Outcome::Fresh { body, .. }) => Ok(envelope::raw_json(body, false)),
        Ok(Outcome::Replayed { body }) => Ok(envelope::raw_json(body, true)),
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
    caller: Caller,
    _query: QueryParams,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let transfer = state.store.get_transfer(caller.tenant()?, &id).await.map_err(not_found)?;
    Ok(Json(envelope::one(render::transfer(&transfer))))
}

pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Json<Value>> {
    let filter = TransferFilter {
        status: query.choice("status", TransferStatus::parse, "pending, processing, failed, completed")?,
        source_id: query.text("sourceFinancialAccountId", 64)?,
        destination_id: query.text("destinationFinancialAccountId", 64)?,
        transaction_reference: query.text("financialTransactionReference", 64)?,
    };
    let tenant = caller.tenant()?;
    let scope = list_scope(&state, tenant, &filter).await?;
    let page = state.store.list_transfers(tenant, &filter, query.page(&scope)?).await?;
    Ok(Json(page_envelope(page, &scope, render::transfer)))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult<Json<Value>> {
    let mut v = Validation::new();
    v.max_chars("description", body.description.clone().flatten().as_deref(), 255);
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let patch = TransferPatch { description: body.description, metadata: body.metadata };
    let transfer = state.store.update_transfer(caller.tenant()?, &id, &patch).await.map_err(not_found)?;
    Ok(Json(envelope::one(render::transfer(&transfer))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    state.store.delete_transfer(caller.tenant()?, &id).await.map_err(not_found)?;
    Ok(Json(envelope::deleted()))
}
