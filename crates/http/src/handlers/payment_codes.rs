//! `/v1/payment-codes`: what a customer dials to pay the Space — create, list, get, update,
//! delete. The lifecycle and the dial's rules live in `domain::payment_code`; payments come from
//! dials (`test_helpers::dial` in the test environment, a connected rail in live).

use super::params::{list_scope, page, page_of, ApiPath};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::collections::{
    CreatePaymentCode, ListPaymentCodesQuery, PaymentCode, RecurrentTarget, UpdatePaymentCode,
};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{Deleted, List, Money as WireMoney, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::duration::{self, Unit};
use openmonime_domain::ids::{FinancialAccountId, PaymentCodeId};
use openmonime_domain::money::{Currency, Money};
use openmonime_domain::payment::normalize_msisdn;
use openmonime_domain::payment_code::{self as rules, PaymentCodeMode};
use openmonime_domain::{metadata, Validation};
use openmonime_store::collections::{CodeRejection, NewPaymentCode, PaymentCodeFilter, PaymentCodePatch};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("payment code"),
        other => other.into(),
    }
}

/// An amount in a supported currency, positive; `None` (with the errors pushed) otherwise.
pub(crate) fn money(field: &str, wire: &WireMoney, v: &mut Validation) -> Option<Money> {
    let currency = Currency::parse(&wire.currency);
    if currency.is_none() {
        v.push(
            format!("{field}.currency"),
            "unsupported_currency",
            format!("`{field}.currency` must be `SLE` or `USD`"),
        );
    }
    if wire.value <= 0 {
        v.push(
            format!("{field}.value"),
            "not_positive",
            format!("`{field}.value` must be a positive integer in minor units"),
        );
    }
    Some(Money { currency: currency?, value: wire.value }).filter(|m| m.value > 0)
}

/// A `duration` such as `1h30m`, at most `max`.
pub(crate) fn parse_duration(
    field: &str,
    raw: &str,
    max: time::Duration,
    v: &mut Validation,
) -> Option<time::Duration> {
    let parsed = duration::parse_compound(raw, &[Unit::Days, Unit::Hours, Unit::Minutes, Unit::Seconds])
        .and_then(|d| time::Duration::try_from(d).ok())
        .filter(|d| *d <= max);
    if parsed.is_none() {
        v.push(
            field,
            "invalid_duration",
            format!(
                "`{field}` must be a duration such as `30s`, `10m` or `1h30m` (units d, h, m, s), at most {} days",
                max.whole_days()
            ),
        );
    }
    parsed
}

/// A phone number a code or an OTP is bound to, in E.164.
pub(crate) fn phone(field: &str, raw: &str, v: &mut Validation) -> Option<String> {
    let normalized = normalize_msisdn(raw);
    if normalized.is_none() {
        v.push(
            field,
            "invalid_phone_number",
            format!("`{field}` must be a Sierra Leone mobile number (`+232` and eight digits)"),
        );
    }
    normalized
}

fn providers(raw: &[String], v: &mut Validation) -> Vec<String> {
    const FIELD: &str = "authorizedProviders";
    if raw.is_empty() || raw.len() > 10 {
        v.push(FIELD, "out_of_range", "`authorizedProviders` must list 1 to 10 providers");
    }
    for (i, p) in raw.iter().enumerate() {
        if !rules::AUTHORIZABLE_PROVIDERS.contains(&p.as_str()) {
            v.push(format!("{FIELD}[{i}]"), "invalid_value", "a payment code can be restricted to `m17` or `m18`");
        } else if raw[..i].contains(p) {
            v.push(format!("{FIELD}[{i}]"), "duplicate_value", "each provider may be listed once");
        }
    }
    raw.to_vec()
}

fn target(
    raw: &RecurrentTarget,
    mode: Option<PaymentCodeMode>,
    amount: Option<Money>,
    v: &mut Validation,
) -> Option<rules::RecurrentTarget> {
    const FIELD: &str = "recurrentPaymentTarget";
    if mode == Some(PaymentCodeMode::OneTime) {
        v.push(FIELD, "not_allowed", "only a `recurrent` payment code has a target");
    }
    if raw.expected_payment_count.is_some_and(|c| c < 1) {
        v.push(format!("{FIELD}.expectedPaymentCount"), "out_of_range", "`expectedPaymentCount` must be at least 1");
    }
    let total = raw.expected_payment_total.as_ref().and_then(|t| money(&format!("{FIELD}.expectedPaymentTotal"), t, v));
    if let (Some(total), Some(amount)) = (total, amount) {
        if total.currency != amount.currency {
            v.push(
                format!("{FIELD}.expectedPaymentTotal.currency"),
                "currency_mismatch",
                "the target's currency must be the amount's",
            );
        }
    }
    Some(rules::RecurrentTarget { count: raw.expected_payment_count, total })
}

fn account(raw: &str, v: &mut Validation) -> Option<FinancialAccountId> {
    let parsed = FinancialAccountId::parse(raw);
    if parsed.is_none() {
        v.push("financialAccountId", "invalid_id", "`financialAccountId` must be a financial account id (`fac-…`)");
    }
    parsed
}

/// A store refusal of the account as a 400 on `financialAccountId` or `amount.currency`.
fn rejected(rejection: CodeRejection) -> ApiError {
    match rejection {
        CodeRejection::AccountNotFound => ApiError::field(
            "financialAccountId",
            "account_not_found",
            "`financialAccountId` names no financial account in this Space and environment",
        ),
        CodeRejection::CurrencyMismatch => ApiError::field(
            "amount.currency",
            "currency_mismatch",
            "the settlement account holds a different currency than `amount.currency`",
        ),
        CodeRejection::TargetCurrencyMismatch => ApiError::field(
            "recurrentPaymentTarget.expectedPaymentTotal.currency",
            "currency_mismatch",
            "the target's total must be in the code's currency",
        ),
    }
}

/// A code's `name`, when it has one: 3 to 64 characters.
fn check_name(name: Option<&str>, v: &mut Validation) {
    if name.is_some_and(|n| !(3..=64).contains(&n.chars().count())) {
        v.push("name", "out_of_range", "`name` must have 3 to 64 characters");
    }
}

/// Text the client may leave empty; empty is the same as absent.
fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreatePaymentCode>,
) -> ApiResult<Replayable<One<PaymentCode>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    let mode = body.mode.0;
    let name = body.name.flatten();
    check_name(name.as_deref(), &mut v);
    let amount = match &body.amount {
        Some(amount) => money("amount", amount, &mut v),
        None => {
            v.push("amount", "missing_field", "`amount` is required: what each payment of the code charges");
            None
        }
    };
    let duration = parse_duration("duration", &body.duration, rules::MAX_DURATION, &mut v);
    let customer_name = body.customer.and_then(|c| non_empty(c.name));
    v.max_chars("customer.name", customer_name.as_deref(), 100);
    let reference = non_empty(body.reference);
    v.max_chars("reference", reference.as_deref(), 64);
    let authorized_providers = body.authorized_providers.as_deref().map(|p| providers(p, &mut v));
    let authorized_phone =
        body.authorized_phone_number.as_deref().and_then(|p| phone("authorizedPhoneNumber", p, &mut v));
    let target = body.recurrent_payment_target.as_ref().and_then(|t| target(t, Some(mode), amount, &mut v));
    let account = body.financial_account_id.as_deref().and_then(|a| account(a, &mut v));
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let new = NewPaymentCode {
        mode,
        name,
        amount: amount.expect("validated"),
        enabled: body.enable,
        duration: duration.expect("validated"),
        customer_name,
        reference,
        authorized_providers,
        authorized_phone,
        target,
        account,
        metadata: body.metadata,
    };
    let render = |c: &rules::PaymentCode| Replayable::render(&One::new(PaymentCode::new(c.clone())));
    match state.store.create_payment_code(&caller.tenant, &new, Some(&claim), render).await? {
        Ok(outcome) => Ok(Replayable::from_outcome(outcome)),
        Err(rejection) => Err(rejected(rejection)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListPaymentCodesQuery>,
) -> ApiResult<Json<List<PaymentCode>>> {
    let filter = PaymentCodeFilter {
        ussd_code: query.ussd_code.non_empty(),
        mode: query.mode.map(|m| m.0),
        status: query.status.map(|s| s.0),
    };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_payment_codes(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, PaymentCode::new)))
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PaymentCodeId>,
) -> ApiResult<Json<One<PaymentCode>>> {
    let code = state.store.get_payment_code(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(PaymentCode::new(code))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PaymentCodeId>,
    ApiJson(body): ApiJson<UpdatePaymentCode>,
) -> ApiResult<Json<One<PaymentCode>>> {
    let mut v = Validation::new();
    check_name(body.name.clone().flatten().as_deref(), &mut v);
    let amount = body.amount.as_ref().and_then(|a| money("amount", a, &mut v));
    let duration = body.duration.as_deref().and_then(|d| parse_duration("duration", d, rules::MAX_DURATION, &mut v));
    let customer_name = body.customer.map(|c| c.and_then(|c| non_empty(c.name)));
    v.max_chars("customer.name", customer_name.clone().flatten().as_deref(), 100);
    let reference = body.reference.map(non_empty);
    v.max_chars("reference", reference.clone().flatten().as_deref(), 64);
    let authorized_providers = body.authorized_providers.map(|p| p.map(|p| providers(&p, &mut v)));
    let authorized_phone =
        body.authorized_phone_number.map(|p| p.and_then(|p| phone("authorizedPhoneNumber", &p, &mut v)));
    let target = body.recurrent_payment_target.map(|t| t.and_then(|t| target(&t, None, amount, &mut v)));
    let account = body.financial_account_id.as_deref().and_then(|a| account(a, &mut v));
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    if target.as_ref().is_some_and(Option::is_some) {
        let code = state.store.get_payment_code(&caller.tenant, id.as_str()).await.map_err(not_found)?;
        if code.mode == PaymentCodeMode::OneTime {
            return Err(ApiError::field(
                "recurrentPaymentTarget",
                "not_allowed",
                "only a `recurrent` payment code has a target",
            ));
        }
    }
    let patch = PaymentCodePatch {
        name: body.name,
        amount,
        duration,
        enabled: body.enable,
        customer_name,
        reference,
        authorized_providers,
        authorized_phone,
        target,
        account,
        metadata: body.metadata,
    };
    match state.store.update_payment_code(&caller.tenant, id.as_str(), &patch).await.map_err(not_found)? {
        Ok(code) => Ok(Json(One::new(PaymentCode::new(code)))),
        Err(rejection) => Err(rejected(rejection)),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PaymentCodeId>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_payment_code(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}
