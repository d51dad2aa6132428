//! `/v1/receipts/{orderNumber}`: what a completed checkout entitles its customer to — read, and
//! redeemed all or nothing (never past a limit, however many redeem at once).

use super::params::ApiPath;
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::checkout::{OrderNumber, Receipt, RedeemReceipt, Redeemed};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::One;
use axum::extract::State;
use axum::Json;
use openmonime_domain::receipt::Redemption;
use openmonime_domain::{metadata, Validation};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("receipt"),
        other => other.into(),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(OrderNumber(order)): ApiPath<OrderNumber>,
) -> ApiResult<Json<One<Receipt>>> {
    let receipt = state.store.get_receipt(&caller.tenant, &order).await.map_err(not_found)?;
    Ok(Json(One::new(Receipt::new(receipt))))
}

/// `entitlements` (which wins) or `redeemAll: true`. Over a limit, or with nothing left, the answer
/// is `redeem: false` and nothing changes; an unknown key is a 400 naming it.
pub async fn redeem(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(OrderNumber(order)): ApiPath<OrderNumber>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<RedeemReceipt>,
) -> ApiResult<Replayable<One<Redeemed>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    let redemption = match (&body.entitlements, body.redeem_all) {
        (Some(list), _) => {
            if list.is_empty() {
                v.push("entitlements", "out_of_range", "`entitlements` must name at least one entitlement");
            }
            for (i, e) in list.iter().enumerate() {
                if e.key.is_empty() || e.key.chars().count() > 100 {
                    v.push(format!("entitlements[{i}].key"), "out_of_range", "a key has 1 to 100 characters");
                }
                if e.units < 1 {
                    v.push(format!("entitlements[{i}].units"), "out_of_range", "`units` must be at least 1");
                }
            }
            Redemption::Units(list.iter().map(|e| (e.key.clone(), e.units)).collect())
        }
        (None, Some(true)) => Redemption::All,
        _ => {
            v.push("entitlements", "one_of_required", "give `entitlements`, or `redeemAll: true`");
            Redemption::All
        }
    };
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let render = |redeem: bool, r: &openmonime_domain::receipt::Receipt| {
        Replayable::render(&One::new(Redeemed { redeem, receipt: Receipt::new(r.clone()) }))
    };
    match state
        .store
        .redeem_receipt(&caller.tenant, &order, &redemption, Some(&claim), render)
        .await
        .map_err(not_found)?
    {
        Ok(outcome) => Ok(Replayable::from_outcome(outcome)),
        Err(key) => {
            let at = body.entitlements.iter().flatten().position(|e| e.key == key).unwrap_or(0);
            Err(ApiError::field(
                &format!("entitlements[{at}].key"),
                "unknown_entitlement",
                "the receipt has no entitlement with this key",
            ))
        }
    }
}
