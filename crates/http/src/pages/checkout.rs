//! The hosted checkout page, `{public-url}/checkout/<token>`: the line items and total in the
//! session's currency, a mobile-money form for the providers the session offers (the caller's
//! environment's rail decides the payment: in test, the magic numbers apply), and a cancel
//! button. A declined payment leaves the session open for another try; success and cancel send
//! the customer back to `successUrl` / `cancelUrl` with `callbackState` added as a query parameter
//! of that name.
//!
//! CSRF: a form is accepted only with the random value the page set in a `SameSite=Strict`,
//! `HttpOnly` cookie scoped to the page's path, echoed in the form (double submit) — a cross-site
//! post carries no such cookie. The path itself is the capability: 256 random bits.

use super::{html, origin, render, Frame};
use crate::handlers::catalogue::collector;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use openmonime_domain::checkout::{display_money, CheckoutSession, CheckoutStatus};
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::random_base62;
use openmonime_domain::payment::normalize_msisdn;
use openmonime_domain::test_rail::ProviderKind;
use openmonime_domain::Environment;
use openmonime_store::collections::{CheckoutAttempt, CheckoutPaid, CheckoutRefusal};
use openmonime_store::StoreError;
use serde::Deserialize;

const CSRF_COOKIE: &str = "om_checkout";

pub struct ItemRow {
    pub name: String,
    pub quantity: i64,
    pub unit: String,
    pub amount: String,
}

pub struct ProviderChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    page: Frame,
    title: String,
    name: String,
    description: Option<String>,
    order_number: String,
    items: Vec<ItemRow>,
    total: String,
    /// `open`, `processing`, `completed`, or an ended state's word.
    state: &'static str,
    notice: Option<String>,
    providers: Vec<ProviderChoice>,
    csrf: String,
    pay_action: String,
    cancel_action: String,
    continue_url: Option<String>,
    ended: String,
    refresh: bool,
    test: bool,
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    csrf: Option<String>,
    #[serde(rename = "providerId")]
    provider_id: Option<String>,
    #[serde(rename = "phoneNumber")]
    phone_number: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    csrf: Option<String>,
}

/// `url` with `callbackState` added, if the session has one.
fn with_callback(url: &str, state: Option<&str>) -> String {
    match (url::Url::parse(url), state) {
        (Ok(mut parsed), Some(value)) => {
            parsed.query_pairs_mut().append_pair("callbackState", value);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn page_path(state: &AppState, token: &str) -> String {
    format!("{}/checkout/{token}", state.config.public_url.trim_end_matches('/'))
}

/// The momos the session offers that the environment's rail collects from.
fn providers(state: &AppState, session: &CheckoutSession, environment: Environment) -> Vec<ProviderChoice> {
    state
        .config
        .catalogue
        .momos
        .iter()
        .filter(|p| session.payment_options.momo.allows(&p.provider_id))
        .filter(|p| collector(state, environment, p, ProviderKind::Momo).is_some())
        .map(|p| ProviderChoice { id: p.provider_id.clone(), name: p.name.clone() })
        .collect()
}

/// The page for `session` in its current state; `csrf` is the value the cookie holds.
async fn page(
    state: &AppState,
    tenant: &Tenant,
    session: &CheckoutSession,
    csrf: &str,
    notice: Option<String>,
) -> Result<CheckoutPage, StoreError> {
    let now = state.store.tenant_now(tenant).await?;
    let busy = state.store.checkout_payment_under_way(tenant, session.id.as_str()).await?;
    let (page_state, ended, continue_url) = match session.status {
        CheckoutStatus::Pending if busy => ("processing", String::new(), None),
        CheckoutStatus::Pending if now < session.expire_at => ("open", String::new(), None),
        CheckoutStatus::Pending | CheckoutStatus::Expired => ("expired", "This checkout has expired.".to_owned(), None),
        CheckoutStatus::Completed => (
            "completed",
            String::new(),
            session.success_url.as_deref().map(|u| with_callback(u, session.callback_state.as_deref())),
        ),
        CheckoutStatus::Cancelled => (
            "cancelled",
            "This checkout was cancelled.".to_owned(),
            session.cancel_url.as_deref().map(|u| with_callback(u, session.callback_state.as_deref())),
        ),
    };
    let total = session.total().map(display_money).unwrap_or_default();
    let base = page_path(state, &session.token);
    Ok(CheckoutPage {
        page: Frame::new(session.primary_color.as_deref()),
        title: format!("Pay {total}: {}", session.name),
        name: session.name.clone(),
        description: session.description.clone(),
        order_number: session.order_number.clone(),
        items: session
            .line_items
            .iter()
            .map(|i| ItemRow {
                name: i.name.clone(),
                quantity: i.quantity,
                unit: display_money(i.price),
                amount: i.price.value.checked_mul(i.quantity).map_or_else(String::new, |value| {
                    display_money(openmonime_domain::money::Money { currency: i.price.currency, value })
                }),
            })
            .collect(),
        total,
        state: page_state,
        notice,
        providers: providers(state, session, tenant.environment),
        csrf: csrf.to_owned(),
        pay_action: format!("{base}/pay"),
        cancel_action: format!("{base}/cancel"),
        continue_url,
        ended,
        refresh: page_state == "processing",
        test: tenant.environment == Environment::Test,
    })
}

/// The origins the page's forms may end at: its own and the merchant's return URLs.
fn form_targets(session: &CheckoutSession) -> Vec<String> {
    [&session.success_url, &session.cancel_url].into_iter().flatten().filter_map(|u| origin(u)).collect()
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    super::cookie(headers, CSRF_COOKIE).map(str::to_owned)
}

fn not_found() -> Response {
    let frame = Frame::new(None);
    let body = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Not found</title></head><body><main><h1>This checkout link is not valid</h1><p>Ask the merchant for a new one.</p></main></body></html>",
    );
    html(StatusCode::NOT_FOUND, &frame, body, &[])
}

fn failure(err: StoreError) -> Response {
    tracing::error!(error = %err, "checkout page storage failure");
    let frame = Frame::new(None);
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        &frame,
        "<!doctype html><html lang=\"en\"><title>Error</title><p>Something went wrong; please try again.</p></html>"
            .into(),
        &[],
    )
}

/// Renders `page` with its headers, setting the CSRF cookie.
fn respond(state: &AppState, status: StatusCode, session: &CheckoutSession, page: CheckoutPage) -> Response {
    let csrf = page.csrf.clone();
    let body = render(&page);
    let mut response = html(status, &page.page, body, &form_targets(session));
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{CSRF_COOKIE}={csrf}; Path=/checkout/{}; HttpOnly; SameSite=Strict{secure}", session.token);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /checkout/{token}`.
pub async fn show(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let (tenant, session) = match state.store.checkout_by_token(&token).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return not_found(),
        Err(other) => return failure(other),
    };
    let csrf = cookie_value(&headers).filter(|c| c.len() == 22).unwrap_or_else(|| random_base62(22));
    match page(&state, &tenant, &session, &csrf, None).await {
        // An ended session's link no longer works (410); a completed one still confirms it.
        Ok(page) if matches!(page.state, "cancelled" | "expired") => respond(&state, StatusCode::GONE, &session, page),
        Ok(page) => respond(&state, StatusCode::OK, &session, page),
        Err(e) => failure(e),
    }
}

/// Whether the form's CSRF value is the cookie's.
fn csrf_ok(headers: &HeaderMap, form: Option<&str>) -> bool {
    match (cookie_value(headers), form) {
        (Some(cookie), Some(form)) => !cookie.is_empty() && cookie.as_bytes() == form.as_bytes(),
        _ => false,
    }
}

fn stale_form(token: &str) -> Response {
    let frame = Frame::new(None);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reload the page</title></head><body><main><h1>This form has expired</h1><p><a href=\"/checkout/{token}\">Reload the checkout page</a> and try again.</p></main></body></html>"
    );
    html(StatusCode::FORBIDDEN, &frame, body, &[])
}

/// The session a form of its page was posted to, if the link is valid and the form's CSRF value
/// is the cookie's; else the page to answer with.
async fn posted(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<(Tenant, CheckoutSession), Response> {
    let found = match state.store.checkout_by_token(token).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(other) => return Err(failure(other)),
    };
    if !csrf_ok(headers, csrf) {
        return Err(stale_form(token));
    }
    Ok(found)
}

/// `POST /checkout/{token}/pay`.
pub async fn pay(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PayForm>,
) -> Response {
    let (tenant, session) = match posted(&state, &token, &headers, form.csrf.as_deref()).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = form.csrf.clone().unwrap_or_default();
    let retry = |notice: String| {
        let (state, tenant, session, csrf) = (&state, &tenant, &session, &csrf);
        async move {
            match page(state, tenant, session, csrf, Some(notice)).await {
                Ok(page) => respond(state, StatusCode::UNPROCESSABLE_ENTITY, session, page),
                Err(e) => failure(e),
            }
        }
    };
    let Some(phone) = form.phone_number.as_deref().and_then(normalize_msisdn) else {
        return retry("Enter a Sierra Leone mobile number, such as 076 123456.".into()).await;
    };
    let offered = providers(&state, &session, tenant.environment);
    let Some(choice) = form.provider_id.as_deref().and_then(|id| offered.iter().find(|p| p.id == id)) else {
        return retry("Choose one of the providers listed.".into()).await;
    };
    let momos = &state.config.catalogue.momos;
    let Some(provider) = momos.iter().find(|m| m.provider_id == choice.id) else {
        return retry("Choose one of the providers listed.".into()).await;
    };
    let Some(rail) = collector(&state, tenant.environment, provider, ProviderKind::Momo) else {
        return retry("This provider cannot be paid from here.".into()).await;
    };
    let space = tenant.space_id.as_str();
    let channel = match crate::rail::payer_channel(&state.store, space, &provider.provider_id, &phone).await {
        Ok(channel) => channel,
        Err(e) => return failure(e),
    };
    let attempt = CheckoutAttempt {
        outcome: rail.payer_outcome(provider, &phone),
        fees: state.config.fees.schedule(space),
        channel,
    };
    match state.store.pay_checkout(&tenant, session.id.as_str(), &attempt).await {
        Ok(Ok(CheckoutPaid::Completed { session, .. })) => match &session.success_url {
            Some(url) => see_other(&with_callback(url, session.callback_state.as_deref())),
            None => see_other(&page_path(&state, &token)),
        },
        Ok(Ok(CheckoutPaid::Processing { .. })) => see_other(&page_path(&state, &token)),
        Ok(Err(CheckoutRefusal::Declined(code))) => {
            retry(format!("Your provider declined the payment ({code}). Try again, or use another number or provider."))
                .await
        }
        Ok(Err(CheckoutRefusal::Ended(_) | CheckoutRefusal::PaymentUnderWay)) => see_other(&page_path(&state, &token)),
        Err(e) => failure(e),
    }
}

/// `POST /checkout/{token}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CancelForm>,
) -> Response {
    let (tenant, session) = match posted(&state, &token, &headers, form.csrf.as_deref()).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match state.store.cancel_checkout(&tenant, session.id.as_str()).await {
        Ok(Ok(session)) => match &session.cancel_url {
            Some(url) => see_other(&with_callback(url, session.callback_state.as_deref())),
            None => see_other(&page_path(&state, &token)),
        },
        Ok(Err(_)) => see_other(&page_path(&state, &token)),
        Err(e) => failure(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_state_travels_as_a_query_parameter() {
        assert_eq!(
            with_callback("https://shop.example/ok?o=1", Some("a b&c")),
            "https://shop.example/ok?o=1&callbackState=a+b%26c"
        );
        assert_eq!(with_callback("https://shop.example/ok", None), "https://shop.example/ok");
    }
}
