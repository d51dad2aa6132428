//! `/v1/ussd-otps`: phone-bound verifications by dial — create, list, get, delete. An OTP is
//! verified by a dial of its `dialCode` from its phone (`test_helpers::dial` in the test
//! environment) and expires on the Space's clock.

use super::params::{list_scope, page, page_of, ApiPath, Unpatterned};
use super::payment_codes::{parse_duration, phone};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::collections::{CreateUssdOtp, ListUssdOtpsQuery, UssdOtp};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::UssdOtpId;
use openmonime_domain::ussd_otp as rules;
use openmonime_domain::{metadata, Validation};
use openmonime_store::collections::{NewUssdOtp, UssdOtpFilter};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("USSD OTP"),
        other => other.into(),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreateUssdOtp>,
) -> ApiResult<Replayable<One<UssdOtp>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    let authorized_phone = phone("authorizedPhoneNumber", &body.authorized_phone_number, &mut v);
    v.max_chars("verificationMessage", body.verification_message.as_deref(), rules::MAX_VERIFICATION_MESSAGE);
    let duration = parse_duration("duration", &body.duration, rules::MAX_DURATION, &mut v);
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let new = NewUssdOtp {
        authorized_phone: authorized_phone.expect("validated"),
        verification_message: body.verification_message,
        duration: duration.expect("validated"),
        metadata: body.metadata,
    };
    let render = |o: &rules::UssdOtp| Replayable::render(&One::new(UssdOtp::new(o.clone())));
    let outcome = state.store.create_ussd_otp(&caller.tenant, &new, Some(&claim), render).await?;
    Ok(Replayable::from_outcome(outcome))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListUssdOtpsQuery>,
) -> ApiResult<Json<List<UssdOtp>>> {
    let scope = list_scope(&state, &caller.tenant, &UssdOtpFilter {}).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_ussd_otps(&caller.tenant, request).await?;
    Ok(Json(page_of(found, &scope, UssdOtp::new)))
}

/// The official document gives these routes' ids no pattern; the id is parsed all the same.
pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<UssdOtpId>>,
) -> ApiResult<Json<One<UssdOtp>>> {
    let otp = state.store.get_ussd_otp(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(UssdOtp::new(otp))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<UssdOtpId>>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_ussd_otp(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}
