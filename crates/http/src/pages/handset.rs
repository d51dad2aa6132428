//! The handset simulator, `{public-url}/sandbox/handset`: a page that behaves like a phone's
//! USSD session in the test environment. Its form is sent on to `POST /v1/test-helpers/ussd/dial`
//! through the whole API stack — the token's checks, permissions, rate limits and the caller's own
//! address included — so the page can do nothing the API would not let its token do. The token
//! typed into it is used for that one call and kept nowhere.

use super::{html, render, Frame};
use crate::auth::ClientIp;
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use openmonime_domain::checkout::display_money;
use openmonime_domain::ids::random_base62;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

struct ProviderChoice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "handset.html")]
struct HandsetPage {
    page: Frame,
    action: String,
    screen: String,
    space: String,
    dial_string: String,
    phone: String,
    providers: Vec<ProviderChoice>,
}

#[derive(Debug, Deserialize)]
pub struct DialForm {
    token: String,
    space: String,
    #[serde(rename = "dialString")]
    dial_string: String,
    #[serde(rename = "phoneNumber")]
    phone_number: String,
    #[serde(rename = "providerId")]
    provider_id: String,
    amount: Option<String>,
}

fn handset(state: &AppState, screen: String, space: String, dial_string: String, phone: String) -> HandsetPage {
    HandsetPage {
        page: Frame::new(None),
        action: format!("{}/sandbox/handset", state.config.public_url.trim_end_matches('/')),
        screen,
        space,
        dial_string,
        phone,
        providers: state
            .config
            .catalogue
            .momos
            .iter()
            .map(|p| ProviderChoice { id: p.provider_id.clone(), name: p.name.clone() })
            .collect(),
    }
}

/// `GET /sandbox/handset`.
pub async fn show(State(state): State<AppState>) -> Response {
    let page = handset(&state, "Dial a code to start.".into(), String::new(), String::new(), String::new());
    html(StatusCode::OK, &page.page, render(&page), &[])
}

/// What the phone's screen says of the API's answer.
fn screen(status: u16, answer: &Value) -> String {
    let result = &answer["result"];
    match (status, result["outcome"].as_str()) {
        (200, Some("verified")) => "Verified. You may return to the app.".into(),
        (200, Some(outcome)) => {
            let amount = &result["payment"]["amount"];
            let paid = amount["currency"]
                .as_str()
                .and_then(openmonime_domain::money::Currency::parse)
                .zip(amount["value"].as_i64())
                .map(|(currency, value)| display_money(openmonime_domain::money::Money { currency, value }))
                .unwrap_or_default();
            let name = result["paymentCode"]["name"].as_str().unwrap_or("the merchant");
            let what = if outcome == "paid" { "Payment complete" } else { "Payment sent; waiting for confirmation" };
            format!("{what}: {paid} to {name}.\nPayment {}", result["payment"]["id"].as_str().unwrap_or(""))
        }
        _ => format!(
            "Refused ({}): {}",
            answer["error"]["reason"].as_str().unwrap_or("error"),
            answer["error"]["message"].as_str().unwrap_or("the request failed")
        ),
    }
}

/// `POST /sandbox/handset`: the form, sent on as the API call it stands for.
pub async fn dial(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Form(form): Form<DialForm>,
) -> Response {
    let amount = form.amount.as_deref().filter(|a| !a.trim().is_empty()).map(|a| a.trim().parse::<i64>());
    let mut body =
        json!({"dialString": form.dial_string, "phoneNumber": form.phone_number, "providerId": form.provider_id});
    match amount {
        Some(Ok(value)) => body["amount"] = json!({"currency": "SLE", "value": value}),
        Some(Err(_)) => {
            let page = handset(
                &state,
                "Refused: the amount must be a whole number.".into(),
                form.space,
                form.dial_string,
                form.phone_number,
            );
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page.page, render(&page), &[]);
        }
        None => {}
    }
    let request = Request::post("/v1/test-helpers/ussd/dial")
        .header(header::AUTHORIZATION, format!("Bearer {}", form.token.trim()))
        .header("Monime-Space-Id", form.space.trim())
        .header("Idempotency-Key", format!("handset-{}", random_base62(24)))
        .header(header::CONTENT_TYPE, "application/json")
        .extension(ConnectInfo(SocketAddr::new(ip, 0)))
        .body(Body::from(body.to_string()));
    let (status, answer) = match request {
        Ok(request) => match state.inner_app.get_or_init(|| crate::app(state.clone())).clone().oneshot(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
                (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
            }
            Err(never) => match never {},
        },
        Err(_) => (
            400,
            json!({"error": {"reason": "validation_failed", "message": "the token or the Space id is not a valid header value"}}),
        ),
    };
    let status_code = if status == 200 { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = handset(&state, screen(status, &answer), form.space, form.dial_string, form.phone_number);
    html(status_code, &page.page, render(&page), &[])
}
