//! `/v1/payments`: what customers paid — list, get, and update (name and metadata only). A
//! payment is made by a dial of a payment code, never by this API.

use super::params::{list_scope, page, page_of, ApiPath, Unpatterned};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::collections::{ListPaymentsQuery, Payment, UpdatePayment};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::PaymentId;
use openmonime_domain::{metadata, Validation};
use openmonime_store::collections::{PaymentFilter, PaymentPatch};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("payment"),
        other => other.into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListPaymentsQuery>,
) -> ApiResult<Json<List<Payment>>> {
    let filter = PaymentFilter {
        order_number: query.order_number.non_empty(),
        account_id: query.financial_account_id.non_empty(),
        transaction_reference: query.financial_transaction_reference.non_empty(),
    };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_payments(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, Payment::new)))
}

/// The official document gives these routes' ids no pattern; the id is parsed all the same.
pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<PaymentId>>,
) -> ApiResult<Json<One<Payment>>> {
    let payment = state.store.get_payment(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(Payment::new(payment))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<PaymentId>>,
    ApiJson(body): ApiJson<UpdatePayment>,
) -> ApiResult<Json<One<Payment>>> {
    let mut v = Validation::new();
    v.max_chars("name", body.name.clone().flatten().as_deref(), 100);
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let patch = PaymentPatch { name: body.name, metadata: body.metadata };
    let payment = state.store.update_payment(&caller.tenant, id.as_str(), &patch).await.map_err(not_found)?;
    Ok(Json(One::new(Payment::new(payment))))
}
