//! `/v1/test-helpers`: openmonime's own operations for the test environment, where a developer
//! can take a payment end to end. The dial does what a customer's handset does; the clock moves
//! the Space's test time so expiries and late confirmations happen without waiting.
//!
//! A live token gets the same 404 as a path no route serves: live money moves only through a
//! connected rail, never by a helper.

use super::catalogue::collector;
use super::payment_codes::{money, phone};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::collections::{AdvanceClock, DialRequest, Dialed, Payment, PaymentCode, TestClock, UssdOtp};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::{One, Time};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use openmonime_domain::payment::PaymentStatus;
use openmonime_domain::test_rail::ProviderKind;
use openmonime_domain::{Environment, Validation};
use openmonime_store::collections::{Dial, DialRejection, Dialed as StoreDialed};

/// How many due objects of each kind one advance settles at once (a test Space holds few).
const SWEEP_AFTER_ADVANCE: u32 = 10_000;

/// The caller of a test helper: a test token (a live one gets the 404 of a path that does not
/// exist, and the document says so).
pub struct TestCaller(SpaceCaller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TestCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        let caller = SpaceCaller::from_request_parts(parts, state).await?;
        match caller.tenant.environment {
            Environment::Test => Ok(TestCaller(caller)),
            Environment::Live => Err(crate::wire::route_not_found()),
        }
    }
}

impl crate::openapi::Describe for TestCaller {
    const NEEDS_SPACE: bool = true;

    fn describe(operation: &mut crate::openapi::Operation, _: &mut schemars::SchemaGenerator) {
        let why = "A live token: test helpers exist only in the test environment (`route_not_found`, as for a path that does not exist); for the dial, also no code or OTP of the Space with that dial string (`not_found`).";
        operation.extra_statuses.push(("404", why));
    }
}

/// A dial's answer: the payment, or a 402 when the payer's provider declines.
pub struct Declinable<T>(Replayable<T>);

impl<T> axum::response::IntoResponse for Declinable<T> {
    fn into_response(self) -> axum::response::Response {
        self.0.into_response()
    }
}

impl<T: schemars::JsonSchema> crate::openapi::Describe for Declinable<T> {
    fn describe(operation: &mut crate::openapi::Operation, generator: &mut schemars::SchemaGenerator) {
        <Replayable<T> as crate::openapi::Describe>::describe(operation, generator);
        operation.extra_statuses.push((
            "402",
            "The payer's provider declined the payment (`payment_declined`; `details[0].declineCode` says why); nothing was written.",
        ));
    }
}

fn render(done: &StoreDialed) -> Dialed {
    match done {
        StoreDialed::Paid { code, payment } => Dialed {
            outcome: if payment.status == PaymentStatus::Completed { "paid" } else { "processing" },
            payment_code: Some(PaymentCode::new((**code).clone())),
            payment: Some(Payment::new((**payment).clone())),
            ussd_otp: None,
        },
        StoreDialed::Verified(otp) => {
            Dialed { outcome: "verified", payment_code: None, payment: None, ussd_otp: Some(UssdOtp::new(otp.clone())) }
        }
    }
}

fn refused(rejection: DialRejection) -> ApiError {
    match rejection {
        DialRejection::NoSuchDialString => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no payment code or USSD OTP of this Space and environment has this dial string",
        ),
        DialRejection::Code(refusal) => ApiError::new(StatusCode::CONFLICT, refusal.reason(), refusal.message()),
        DialRejection::Otp(refusal) => ApiError::new(StatusCode::CONFLICT, refusal.reason(), refusal.message()),
        DialRejection::Provider(code) => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            format!("the payer's provider declined the payment (`{code}`); see docs/test-rail.md"),
        )
        .with_detail(serde_json::json!({"declineCode": code})),
    }
}

/// `POST /v1/test-helpers/ussd/dial`: a customer dials a payment code's `ussdCode` (and pays
/// it, as the payer's number decides: see docs/test-rail.md) or a USSD OTP's `dialCode` (and
/// verifies it). Every rule of the code or OTP applies; a refusal changes nothing.
pub async fn dial(
    State(state): State<AppState>,
    TestCaller(caller): TestCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<DialRequest>,
) -> ApiResult<Declinable<One<Dialed>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    if body.dial_string.is_empty() || body.dial_string.chars().count() > 32 {
        v.push("dialString", "out_of_range", "`dialString` must have 1 to 32 characters");
    }
    let payer = phone("phoneNumber", &body.phone_number, &mut v);
    let amount = body.amount.as_ref().and_then(|a| money("amount", a, &mut v));
    let momos = &state.config.catalogue.momos;
    let provider = momos.iter().find(|m| m.provider_id == body.provider_id);
    if provider.is_none() {
        v.push("providerId", "unknown_provider", "`providerId` must be a momo of the catalogue (`GET /v1/momos`)");
    }
    v.finish().map_err(ApiError::validation)?;
    let (payer, provider) = (payer.expect("validated"), provider.expect("validated"));
    let rail = collector(&state, caller.tenant.environment, provider, ProviderKind::Momo).ok_or_else(|| {
        ApiError::field(
            "providerId",
            "rail_not_connected",
            format!("no rail collects from `{}` in this environment", provider.provider_id),
        )
    })?;
    let space = caller.tenant.space_id.as_str();
    let dial = Dial {
        dial_string: &body.dial_string,
        phone: &payer,
        provider: &provider.provider_id,
        amount,
        outcome: rail.payer_outcome(provider, &payer),
        fees: state.config.fees.schedule(space),
        channel: crate::rail::payer_channel(&state.store, space, &provider.provider_id, &payer).await?,
    };
    let render = |done: &StoreDialed| Replayable::render(&One::new(render(done)));
    match state.store.dial(&caller.tenant, &dial, Some(&claim), render).await? {
        Ok(outcome) => Ok(Declinable(Replayable::from_outcome(outcome))),
        Err(rejection) => Err(refused(rejection)),
    }
}

/// `POST /v1/test-helpers/clock/advance`: moves the Space's test clock `seconds` ahead and
/// settles at once what fell due (expiries, late confirmations), with their events.
pub async fn advance_clock(
    State(state): State<AppState>,
    TestCaller(caller): TestCaller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<AdvanceClock>,
) -> ApiResult<Json<One<TestClock>>> {
    if body.seconds < 1 {
        return Err(ApiError::field("seconds", "out_of_range", "`seconds` must be at least 1"));
    }
    let now = state.store.advance_test_clock(&caller.tenant.space_id, body.seconds).await?;
    let swept = state.store.sweep_due(Some(&caller.tenant), SWEEP_AFTER_ADVANCE).await?;
    let payouts =
        crate::payout_worker::settle_due(&state.store, &state.config.rails, Some(&caller.tenant), SWEEP_AFTER_ADVANCE)
            .await?;
    Ok(Json(One::new(TestClock {
        now: Time(now),
        expired_payment_codes: swept.expired_codes as u64,
        expired_ussd_otps: swept.expired_otps as u64,
        completed_payments: swept.completed_payments as u64,
        ended_payouts: payouts as u64,
    })))
}
