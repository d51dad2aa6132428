//! `/v1/financial-accounts`: create, get, list, update.

use super::params::{list_scope, page, page_of, ApiPath};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::ledger::{
    CreateFinancialAccount, FinancialAccount, GetFinancialAccountQuery, ListFinancialAccountsQuery,
    UpdateFinancialAccount,
};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::FinancialAccountId;
use openmonime_domain::metadata;
use openmonime_domain::money::Currency;
use openmonime_domain::Validation;
use openmonime_store::ledger::{AccountFilter, AccountPatch, NewAccount};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("financial account"),
        other => other.into(),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreateFinancialAccount>,
) -> ApiResult<Replayable<One<FinancialAccount>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    v.not_blank("name", Some(&body.name));
    v.max_chars("name", Some(&body.name), 100);
    let currency = Currency::parse(&body.currency);
    if currency.is_none() {
        v.push("currency", "unsupported_currency", "`currency` must be `SLE` or `USD`");
    }
    v.not_blank("reference", body.reference.as_deref());
    v.max_chars("reference", body.reference.as_deref(), 64);
    v.max_chars("description", body.description.as_deref(), 150);
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let new = NewAccount {
        name: body.name,
        currency: currency.expect("validated"),
        reference: body.reference,
        description: body.description,
        metadata: body.metadata,
    };
    let outcome = state
        .store
        .create_account(&caller.tenant, &new, Some(&claim), |a| {
            Replayable::render(&One::new(FinancialAccount::new(a.clone(), true)))
        })
        .await?;
    Ok(Replayable::from_outcome(outcome))
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiPath(id): ApiPath<FinancialAccountId>,
    ApiQuery(query): ApiQuery<GetFinancialAccountQuery>,
) -> ApiResult<Json<One<FinancialAccount>>> {
    let account = state.store.get_account(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(FinancialAccount::new(account, query.with_balance.0))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListFinancialAccountsQuery>,
) -> ApiResult<Json<List<FinancialAccount>>> {
    let with_balance = query.with_balance.0;
    let filter = AccountFilter { uvan: query.uvan.non_empty(), reference: query.reference.non_empty() };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_accounts(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, |a| FinancialAccount::new(a, with_balance))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<FinancialAccountId>,
    ApiJson(body): ApiJson<UpdateFinancialAccount>,
) -> ApiResult<Json<One<FinancialAccount>>> {
    let mut v = Validation::new();
    let name = body.name.flatten();
    v.not_blank("name", name.as_deref());
    v.max_chars("name", name.as_deref(), 100);
    let reference = body.reference.clone().flatten();
    v.not_blank("reference", reference.as_deref());
    v.max_chars("reference", reference.as_deref(), 64);
    v.max_chars("description", body.description.clone().flatten().as_deref(), 150);
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let patch =
        AccountPatch { name, reference: body.reference, description: body.description, metadata: body.metadata };
    let account = state.store.update_account(&caller.tenant, id.as_str(), &patch).await.map_err(not_found)?;
    Ok(Json(One::new(FinancialAccount::new(account, true))))
}
