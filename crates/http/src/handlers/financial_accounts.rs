//! `/v1/financial-accounts`: create, get, list, update.

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
use openmonime_domain::metadata;
use openmonime_domain::money::Currency;
use openmonime_domain::Validation;
use openmonime_store::ledger::{AccountFilter, AccountPatch, NewAccount};
use openmonime_store::{Outcome, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    currency: String,
    reference: Option<String>,
    description: Option<String>,
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "patch_field")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    metadata: Option<Option<Map<String, Value>>>,
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("financial account"),
        other => other.into(),
    }
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
        .create_account(caller.tenant()?, &new, Some(&claim), |a| envelope::one(render::account(a, true)).to_string())
        .await?;
    Ok(match outcome {
        Outcome::Fresh { body, .. } => envelope::raw_json(body, false),
        Outcome::Replayed { body } => envelope::raw_json(body, true),
    })
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let with_balance = query.boolean("withBalance")?;
    let account = state.store.get_account(caller.tenant()?, &id).await.map_err(not_found)?;
    Ok(Json(envelope::one(render::account(&account, with_balance))))
}

pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Json<Value>> {
    let with_balance = query.boolean("withBalance")?;
    let filter = AccountFilter { uvan: query.text("uvan", 16)?, reference: query.text("reference", 64)? };
    let tenant = caller.tenant()?;
    let scope = list_scope(&state, tenant, &filter).await?;
    let page = state.store.list_accounts(tenant, &filter, query.page(&scope)?).await?;
    Ok(Json(page_envelope(page, &scope, |a| render::account(a, with_balance))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    _query: QueryParams,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<Json<Value>> {
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
    let account = state.store.update_account(caller.tenant()?, &id, &patch).await.map_err(not_found)?;
    Ok(Json(envelope::one(render::account(&account, true))))
}
