//! `/v1/checkout-sessions`: a hosted page where a customer pays for line items — create, list,
//! get, delete (before the customer starts). The page itself is `pages::checkout`; the receipt a
//! completed session leaves is `receipts`.

use super::params::{list_scope, page, page_of, ApiPath, Unpatterned};
use super::payment_codes::money;
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::checkout::{
    CheckoutSession, CreateCheckoutSession, ListCheckoutSessionsQuery, MethodRequest, PaymentOptionsRequest,
};
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::checkout::{self as rules, LineItem, MethodOptions, PaymentOptions};
use openmonime_domain::ids::{CheckoutSessionId, FinancialAccountId};
use openmonime_domain::{metadata, Validation};
use openmonime_store::collections::{CheckoutFilter, CodeRejection, NewCheckoutSession};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("checkout session"),
        other => other.into(),
    }
}

/// An absolute `http(s)` URL of at most `max` characters, for a link the page sends people to.
fn web_url(field: &str, raw: &str, max: usize, v: &mut Validation) {
    let ok = raw.chars().count() <= max
        && url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        v.push(
            field,
            "invalid_url",
            format!("`{field}` must be an absolute http or https URL of at most {max} characters"),
        );
    }
}

/// `#RGB` or `#RRGGBB`: the page's CSS takes nothing else.
fn colour(raw: &str, v: &mut Validation) {
    let hex = raw.strip_prefix('#').unwrap_or("");
    if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        v.push(
            "brandingOptions.primaryColor",
            "invalid_color",
            "`brandingOptions.primaryColor` must be `#RGB` or `#RRGGBB`",
        );
    }
}

fn method(field: &str, raw: Option<MethodRequest>, known: &[&str], v: &mut Validation) -> MethodOptions {
    let raw = raw.unwrap_or_default();
    for (list, name) in [(&raw.enabled_providers, "enabledProviders"), (&raw.disabled_providers, "disabledProviders")] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !known.contains(&p.as_str()) {
                v.push(format!("{field}.{name}[{i}]"), "invalid_value", format!("one of: {}", known.join(", ")));
            }
        }
    }
    raw.into()
}

fn options(raw: Option<PaymentOptionsRequest>, v: &mut Validation) -> PaymentOptions {
    let raw = raw.unwrap_or_default();
    PaymentOptions {
        card: method("paymentOptions.card", raw.card, &[], v),
        bank: method("paymentOptions.bank", raw.bank, &["slb001", "slb004", "slb007"], v),
        momo: method("paymentOptions.momo", raw.momo, &["m17", "m18"], v),
        wallet: method("paymentOptions.wallet", raw.wallet, &["dw001"], v),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreateCheckoutSession>,
) -> ApiResult<Replayable<One<CheckoutSession>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    v.not_blank("name", Some(&body.name));
    v.max_chars("name", Some(&body.name), 150);
    v.max_chars("description", body.description.as_deref(), 1000);
    for (field, url) in [("cancelUrl", &body.cancel_url), ("successUrl", &body.success_url)] {
        if let Some(url) = url {
            web_url(field, url, 255, &mut v);
        }
    }
    v.max_chars("callbackState", body.callback_state.as_deref(), 255);
    v.max_chars("reference", body.reference.as_deref(), 255);
    let account = body.financial_account_id.as_deref().and_then(|raw| {
        let parsed = FinancialAccountId::parse(raw);
        if parsed.is_none() {
            v.push("financialAccountId", "invalid_id", "`financialAccountId` must be a financial account id (`fac-…`)");
        }
        parsed
    });
    let requested = body.line_items.flatten().unwrap_or_default();
    if requested.is_empty() || requested.len() > rules::MAX_LINE_ITEMS {
        v.push("lineItems", "out_of_range", "`lineItems` must list 1 to 16 items");
    }
    let mut items = Vec::with_capacity(requested.len());
    for (i, item) in requested.into_iter().enumerate() {
        let at = format!("lineItems[{i}]");
        if item.kind.as_deref().is_some_and(|k| k != "custom") {
            v.push(format!("{at}.type"), "invalid_value", "the only line item type is `custom`");
        }
        if item.id.is_some() {
            v.push(format!("{at}.id"), "read_only", "a line item's `id` is made by the server");
        }
        v.not_blank(&format!("{at}.name"), Some(&item.name));
        v.max_chars(&format!("{at}.name"), Some(&item.name), 100);
        v.max_chars(&format!("{at}.reference"), item.reference.as_deref(), 100);
        v.max_chars(&format!("{at}.description"), item.description.as_deref(), 100);
        if !(1..=rules::MAX_QUANTITY).contains(&item.quantity) {
            v.push(format!("{at}.quantity"), "out_of_range", "`quantity` must be 1 to 100000");
        }
        let images = item.images.unwrap_or_default();
        if images.len() > 3 {
            v.push(format!("{at}.images"), "too_many", "a line item has at most 3 images");
        }
        for (j, image) in images.iter().enumerate() {
            if url::Url::parse(image).map_or(true, |u| u.scheme() != "https") || image.len() > 2048 {
                v.push(format!("{at}.images[{j}]"), "invalid_url", "an image is an https URL");
            } else if images[..j].contains(image) {
                v.push(format!("{at}.images[{j}]"), "duplicate_value", "each image may be listed once");
            }
        }
        if let Some(price) = money(&format!("{at}.price"), &item.price, &mut v) {
            items.push(LineItem {
                id: rules::new_line_item_id(),
                name: item.name,
                price,
                quantity: item.quantity,
                reference: item.reference,
                description: item.description,
                images: (!images.is_empty()).then_some(images),
            });
        }
    }
    if v.is_empty() && rules::total(&items).is_none() {
        v.push("lineItems", "invalid_total", "line items must share one currency, and their total must fit");
    }
    let payment_options = options(body.payment_options, &mut v);
    if let Some(branding) = &body.branding_options {
        colour(&branding.primary_color, &mut v);
    }
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let new = NewCheckoutSession {
        name: body.name,
        description: body.description,
        reference: body.reference,
        cancel_url: body.cancel_url,
        success_url: body.success_url,
        callback_state: body.callback_state,
        line_items: items,
        account,
        payment_options,
        primary_color: body.branding_options.map(|b| b.primary_color),
        metadata: body.metadata,
    };
    let public_url = state.config.public_url.clone();
    let render =
        |s: &rules::CheckoutSession| Replayable::render(&One::new(CheckoutSession::new(s.clone(), &public_url)));
    match state.store.create_checkout_session(&caller.tenant, &new, Some(&claim), render).await? {
        Ok(outcome) => Ok(Replayable::from_outcome(outcome)),
        Err(CodeRejection::AccountNotFound) => Err(ApiError::field(
            "financialAccountId",
            "account_not_found",
            "`financialAccountId` names no financial account in this Space and environment",
        )),
        Err(CodeRejection::CurrencyMismatch | CodeRejection::TargetCurrencyMismatch) => Err(ApiError::field(
            "lineItems",
            "currency_mismatch",
            "the settlement account holds a different currency than the line items",
        )),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListCheckoutSessionsQuery>,
) -> ApiResult<Json<List<CheckoutSession>>> {
    let scope = list_scope(&state, &caller.tenant, &CheckoutFilter {}).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_checkout_sessions(&caller.tenant, request).await?;
    let public_url = &state.config.public_url;
    Ok(Json(page_of(found, &scope, |s| CheckoutSession::new(s, public_url))))
}

/// The official document gives these routes' ids no pattern; the id is parsed all the same.
pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<CheckoutSessionId>>,
) -> ApiResult<Json<One<CheckoutSession>>> {
    let session = state.store.get_checkout_session(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(CheckoutSession::new(session, &state.config.public_url))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(Unpatterned(id)): ApiPath<Unpatterned<CheckoutSessionId>>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_checkout_session(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}
