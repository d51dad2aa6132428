//! The console's webhooks pages: the Space's webhooks in this environment (create, with the
//! signing secret shown once; enable and disable) and each one's delivery log, from which an event
//! is delivered again.
//!
//! A create is checked by the API's own `handlers::webhooks::prepare` (fields, then the URL's
//! addresses as they resolve now), so the console admits no destination the API would refuse.

use super::money::{request, PageQuery, Table};
use super::{back, page, Answer, Console, Frame, Posted, Refusal};
use crate::handlers::webhooks::prepare;
use crate::views;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use openmonime_domain::event::EventName;
use openmonime_domain::ids::{EventId, WebhookId};
use openmonime_domain::permission::Permission;
use openmonime_store::deliveries::Redelivery;
use openmonime_store::webhooks::WebhookPatch;
use serde_json::json;

pub struct HookRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub events: String,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    frame: Frame,
    base: String,
    hooks: Vec<HookRow>,
    may_write: bool,
    events: Vec<&'static str>,
    next: Option<String>,
    created: Option<(String, String)>,
}

async fn hooks_page(console: &Console, q: &PageQuery, created: Option<(String, String)>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_webhooks(tenant, request(q)).await?;
    let base = console.base();
    let hooks = found
        .items
        .into_iter()
        .map(|h| HookRow {
            id: h.id.to_string(),
            name: h.name.clone(),
            url: h.url.clone(),
            enabled: h.enabled,
            events: h.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let page_ = WebhooksPage {
        frame: Frame::new(console, "webhooks"),
        base: base.clone(),
        hooks,
        may_write: console.may(Permission::WebhooksWrite),
        events: EventName::ALL.iter().map(|e| e.as_str()).collect(),
        next: found.next_after.map(|after| format!("{base}/webhooks?after={after}")),
        created,
    };
    Ok(page(&page_.frame, &page_))
}

/// `GET …/webhooks`.
pub async fn list(console: Console, Query(q): Query<PageQuery>) -> Answer {
    hooks_page(&console, &q, None).await
}

/// `POST …/webhooks`: name, URL and events; signed with a generated HS256 secret, shown once.
pub async fn create(Posted { console, fields }: Posted) -> Answer {
    let tenant = console.in_space()?.tenant.clone();
    let events: Vec<&str> = fields.all("event").collect();
    let body = json!({
        "name": fields.get("name").unwrap_or(""),
        "url": fields.get("url").unwrap_or(""),
        "apiRelease": "caph",
        "events": events,
    });
    let body = serde_json::from_value(body).map_err(|e| {
        Refusal::new(StatusCode::BAD_REQUEST, "invalid_value", format!("the form is not a webhook: {e}"))
    })?;
    let (new, secret) = prepare(&console.state, body, tenant.environment).await?;
    let created = console.state.store.create_webhook(&tenant, &new, None, |_| String::new(), &console.actor()).await?;
    let hook = match created {
        openmonime_store::Outcome::Fresh { value, .. } => value,
        openmonime_store::Outcome::Replayed { .. } => return Err(Refusal::from(crate::error::ApiError::internal())),
    };
    hooks_page(&console, &PageQuery { after: None }, Some((hook.name, secret.unwrap_or_default()))).await
}

/// `POST …/webhooks/{id}/enabled`: `enabled=true|false`.
pub async fn set_enabled(Posted { console, fields }: Posted) -> Answer {
    let tenant = console.in_space()?.tenant.clone();
    let id = webhook_id(&console)?;
    let patch = WebhookPatch { enabled: Some(fields.get("enabled") == Some("true")), ..WebhookPatch::default() };
    console.state.store.update_webhook(&tenant, &id, patch, &console.actor()).await?;
    Ok(back(format!("{}/webhooks", console.base())))
}

fn webhook_id(console: &Console) -> Result<WebhookId, Refusal> {
    WebhookId::parse(console.param("id"))
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such webhook"))
}

#[derive(Template)]
#[template(path = "console/deliveries.html")]
struct DeliveriesPage {
    frame: Frame,
    base: String,
    hook: HookRow,
    table: Table,
    events: Vec<String>,
    may_write: bool,
    next: Option<String>,
    notice: Option<String>,
}

/// `GET …/webhooks/{id}`: the webhook's delivery log (30 days), newest first.
pub async fn deliveries(console: Console, Query(q): Query<PageQuery>) -> Answer {
    deliveries_page(&console, &q, None).await
}

async fn deliveries_page(console: &Console, q: &PageQuery, notice: Option<String>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let id = webhook_id(console)?;
    let not_found = |e| match e {
        openmonime_store::StoreError::NotFound => Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such webhook"),
        other => other.into(),
    };
    let hook = console.state.store.get_webhook(tenant, &id).await.map_err(not_found)?;
    let found = console.state.store.list_delivery_attempts(tenant, &id, request(q)).await.map_err(not_found)?;
    let attempts: Vec<views::webhooks::DeliveryAttempt> =
        found.items.into_iter().map(views::webhooks::DeliveryAttempt::new).collect();
    let events = attempts.iter().map(|a| a.event_id.clone()).collect();
    let columns = [
        ("Event", "/eventId"),
        ("Type", "/eventName"),
        ("Attempt", "/attempt"),
        ("Started", "/startTime"),
        ("Outcome", "/outcome"),
        ("Status", "/statusCode"),
        ("Next attempt", "/nextAttemptTime"),
    ];
    let base = console.base();
    let page_ = DeliveriesPage {
        frame: Frame::new(console, "webhooks"),
        hook: HookRow {
            id: hook.id.to_string(),
            name: hook.name.clone(),
            url: hook.url.clone(),
            enabled: hook.enabled,
            events: hook.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "),
        },
        table: Table::of(&attempts, &columns),
        events,
        may_write: console.may(Permission::WebhooksWrite),
        next: found.next_after.map(|after| format!("{base}/webhooks/{id}?after={after}")),
        base,
        notice,
    };
    Ok(page(&page_.frame, &page_))
}

/// `POST …/webhooks/{id}/redeliveries`: one event (`eventId`) delivered again from the first step
/// of the schedule, with the same event id.
pub async fn redeliver(Posted { console, fields }: Posted) -> Answer {
    let tenant = console.in_space()?.tenant.clone();
    let id = webhook_id(&console)?;
    let event = fields
        .get("eventId")
        .and_then(EventId::parse)
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "invalid_id", "choose an event to deliver again"))?;
    let now = console.state.clock.now();
    let queued = console.state.store.redeliver(&tenant, &id, &Redelivery::Event(event), now, &console.actor()).await?;
    let notice = if queued == 0 { "No such event to deliver again." } else { "Queued for delivery again." };
    deliveries_page(&console, &PageQuery { after: None }, Some(notice.to_owned())).await
}
