//! `/v1/webhooks`: where the Space's events of one environment are delivered — create, list, get,
//! update, delete. A URL is refused unless its host, as it resolves now, may receive deliveries
//! (`webhook_destination`); deliveries check the address again when they connect.
//!
//! openmonime's own two (Monime publishes none): the delivery log, and redelivery.

use super::audit_events::actor;
use super::params::{list_scope, page, page_of, ApiPath};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::query::{ApiQuery, NoQuery};
use crate::views::webhooks::{
    CreateWebhook, DeliveryAttempt, ListDeliveriesQuery, ListWebhooksQuery, Redeliver, Redelivered, UpdateWebhook,
    VerificationRequest, Webhook,
};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::ids::{random_base62, EventId, WebhookId};
use openmonime_domain::webhook::{self as rules, SigningMethod};
use openmonime_domain::webhook_destination;
use openmonime_domain::webhook_signature::Es256Key;
use openmonime_domain::{metadata, Environment, Validation};
use openmonime_store::deliveries::{DeliveryFilter, Redelivery, LOG_RETENTION};
use openmonime_store::webhooks::{NewWebhook, WebhookFilter, WebhookPatch};
use openmonime_store::StoreError;
use secrecy::{ExposeSecret, SecretString};

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("webhook"),
        other => other.into(),
    }
}

/// Refuses a URL whose host is, or resolves to, an address deliveries may not reach.
async fn admit(state: &AppState, url: &url::Url, environment: Environment) -> ApiResult<()> {
    let allowed = &state.config.webhook_allow_networks;
    let addresses: Vec<std::net::IpAddr> = match rules::literal_ip(url) {
        Some(ip) => vec![ip],
        None => {
            let target =
                format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(443));
            match tokio::net::lookup_host(target).await {
                Ok(found) => found.map(|a| a.ip()).collect(),
                Err(_) => Vec::new(),
            }
        }
    };
    if addresses.is_empty() {
        return Err(ApiError::field("url", "url_unresolvable", "the URL's host does not resolve to an address"));
    }
    for ip in addresses {
        webhook_destination::check(ip, environment, allowed)
            .map_err(|refusal| ApiError::field("url", refusal.reason(), refusal.message()))?;
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<Replayable<One<Webhook>>> {
    let claim = idempotent.claim(&caller)?;
    let (new, shown_secret) = prepare(&state, body, caller.tenant.environment).await?;
    let render = |h: &openmonime_domain::webhook::Webhook| {
        Replayable::render(&One::new(Webhook::with_secret(h.clone(), shown_secret.clone())))
    };
    let outcome = state.store.create_webhook(&caller.tenant, &new, Some(&claim), render, &actor(&caller)).await?;
    Ok(Replayable::from_outcome(outcome))
}

/// A create request checked (fields, then the URL's addresses) into what the store writes, and
/// the HS256 secret to show once (the API and the console alike).
pub async fn prepare(
    state: &AppState,
    body: CreateWebhook,
    environment: Environment,
) -> ApiResult<(NewWebhook, Option<String>)> {
    let mut v = Validation::new();
    v.not_blank("name", Some(&body.name));
    v.max_chars("name", Some(&body.name), rules::MAX_NAME);
    let url = rules::check_url("url", &body.url, environment, &mut v);
    let events = match &body.events {
        Some(names) => rules::check_events("events", names, &mut v),
        None => {
            v.push("events", "required", "`events` must list the event names to deliver");
            Vec::new()
        }
    };
    let headers = body.headers.unwrap_or_default();
    rules::check_headers("headers", &headers, &mut v);
    let alert_emails = body.alert_emails.unwrap_or_default();
    rules::check_alert_emails("alertEmails", &alert_emails, &mut v);
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    let (signing, secret, public_key) = match body.verification_method {
        None => (SigningMethod::Hs256, SecretString::from(format!("whsec_{}", random_base62(40))), None),
        Some(VerificationRequest::Hs256 { secret }) => {
            rules::check_secret("verificationMethod.secret", &secret, &mut v);
            (SigningMethod::Hs256, SecretString::from(secret), None)
        }
        Some(VerificationRequest::Es256 { public_key: Some(_) }) => {
            v.push(
                "verificationMethod.publicKey",
                "read_only",
                "`verificationMethod.publicKey` is made by the server; send `{\"type\": \"ES256\"}`",
            );
            (SigningMethod::Es256, SecretString::from(String::new()), None)
        }
        Some(VerificationRequest::Es256 { public_key: None }) => {
            let key = Es256Key::generate();
            let scalar = hex::encode(key.to_bytes().expose_secret());
            (SigningMethod::Es256, SecretString::from(scalar), Some(key.public_key_pem()))
        }
    };
    v.finish().map_err(ApiError::validation)?;
    let url = url.expect("validated");
    admit(state, &url, environment).await?;
    let shown_secret = (signing == SigningMethod::Hs256).then(|| secret.expose_secret().to_owned());
    let new = NewWebhook {
        name: body.name,
        url: body.url,
        enabled: body.enabled,
        events,
        api_release: body.api_release.0,
        signing,
        signing_secret: secret,
        public_key,
        headers,
        alert_emails,
        metadata: body.metadata,
    };
    Ok((new, shown_secret))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListWebhooksQuery>,
) -> ApiResult<Json<List<Webhook>>> {
    let scope = list_scope(&state, &caller.tenant, &WebhookFilter {}).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_webhooks(&caller.tenant, request).await?;
    Ok(Json(page_of(found, &scope, Webhook::new)))
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<WebhookId>,
) -> ApiResult<Json<One<Webhook>>> {
    let hook = state.store.get_webhook(&caller.tenant, &id).await.map_err(not_found)?;
    Ok(Json(One::new(Webhook::new(hook))))
}

pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<One<Webhook>>> {
    let environment = caller.tenant.environment;
    let mut v = Validation::new();
    v.not_blank("name", body.name.as_deref());
    v.max_chars("name", body.name.as_deref(), rules::MAX_NAME);
    let url = body.url.as_deref().and_then(|raw| rules::check_url("url", raw, environment, &mut v));
    let events = body.events.as_deref().map(|names| rules::check_events("events", names, &mut v));
    if let Some(headers) = &body.headers {
        rules::check_headers("headers", headers, &mut v);
    }
    if let Some(emails) = &body.alert_emails {
        rules::check_alert_emails("alertEmails", emails, &mut v);
    }
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    if let Some(url) = &url {
        admit(&state, url, environment).await?;
    }
    let patch = WebhookPatch {
        name: body.name,
        url: body.url,
        enabled: body.enabled,
        events,
        api_release: body.api_release.map(|w| w.0),
        headers: body.headers,
        alert_emails: body.alert_emails,
        metadata: body.metadata,
    };
    let hook = state.store.update_webhook(&caller.tenant, &id, patch, &actor(&caller)).await.map_err(not_found)?;
    Ok(Json(One::new(Webhook::new(hook))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<WebhookId>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_webhook(&caller.tenant, &id, &actor(&caller)).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}

/// `GET /v1/webhooks/{id}/deliveries`: every attempt of the last 30 days, newest first.
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiPath(id): ApiPath<WebhookId>,
    ApiQuery(query): ApiQuery<ListDeliveriesQuery>,
) -> ApiResult<Json<List<DeliveryAttempt>>> {
    let scope = list_scope(&state, &caller.tenant, &DeliveryFilter { webhook: id.to_string() }).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_delivery_attempts(&caller.tenant, &id, request).await.map_err(not_found)?;
    Ok(Json(page_of(found, &scope, DeliveryAttempt::new)))
}

/// `POST /v1/webhooks/{id}/redeliveries`: one event, or every event since a time, delivered again
/// from the first step of the schedule (with the same `event.id`).
pub async fn redeliver(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<Redeliver>,
) -> ApiResult<Json<One<Redelivered>>> {
    let now = state.clock.now();
    let which = match (body.event_id.as_deref(), body.since.as_deref()) {
        (Some(event), None) => Redelivery::Event(
            EventId::parse(event)
                .ok_or_else(|| ApiError::field("eventId", "invalid_id", "`eventId` is not an event id"))?,
        ),
        (None, Some(since)) => {
            let at = openmonime_domain::time_fmt::parse_rfc3339(since)
                .ok_or_else(|| ApiError::field("since", "invalid_time", "`since` must be an RFC 3339 time"))?;
            if at < now - LOG_RETENTION {
                return Err(ApiError::field("since", "out_of_range", "`since` may be at most 30 days ago"));
            }
            Redelivery::Since(at)
        }
        _ => {
            return Err(ApiError::field(
                "eventId",
                "one_of_required",
                "give exactly one of `eventId` (one event) or `since` (every event from a time)",
            ))
        }
    };
    let queued = state.store.redeliver(&caller.tenant, &id, &which, now, &actor(&caller)).await.map_err(not_found)?;
    if queued == 0 {
        if let Redelivery::Event(_) = which {
            return Err(ApiError::not_found("event"));
        }
    }
    Ok(Json(One::new(Redelivered { queued })))
}
