//! Webhooks: a tenant's delivery destinations. The signing secret is written here and read back
//! only to sign (never in a `Webhook`); every change is journalled without it.

use crate::backend::Store;
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::idempotency::{self, IdempotencyClaim, Outcome};
use crate::journal::{self, Actor, Change};
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::EventName;
use openmonime_domain::ids::WebhookId;
use openmonime_domain::time_fmt;
use openmonime_domain::webhook::{ApiRelease, SigningMethod, Webhook};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// A webhook to create (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub events: Vec<EventName>,
    pub api_release: ApiRelease,
    pub signing: SigningMethod,
    /// The HS256 secret, or the ES256 private scalar in hex.
    pub signing_secret: SecretString,
    pub public_key: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub alert_emails: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub enabled: Option<bool>,
    pub events: Option<Vec<EventName>>,
    pub api_release: Option<ApiRelease>,
    pub headers: Option<BTreeMap<String, String>>,
    pub alert_emails: Option<Vec<String>>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

/// The webhooks list takes no filter; its cursor is bound to the list alone.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WebhookFilter {}

const COLUMNS: &str = "seq, id, name, url, enabled, events, api_release, signing_method, public_key, headers, \
                       alert_emails, metadata, created_at, updated_at";

fn webhook_from_row(row: &AnyRow) -> StoreResult<Webhook> {
    let events: Vec<String> = json_column(row, "events")?;
    Ok(Webhook {
        id: id(row, "id", WebhookId::parse)?,
        name: text(row, "name")?,
        url: text(row, "url")?,
        enabled: int(row, "enabled")? != 0,
        events: events
            .iter()
            .map(|e| EventName::parse(e).ok_or_else(|| corrupt("events")))
            .collect::<Result<_, _>>()?,
        api_release: ApiRelease::parse(&text(row, "api_release")?).ok_or_else(|| corrupt("api_release"))?,
        signing: SigningMethod::parse(&text(row, "signing_method")?).ok_or_else(|| corrupt("signing_method"))?,
        public_key: opt_text(row, "public_key")?,
        headers: json_column(row, "headers")?,
        alert_emails: json_column(row, "alert_emails")?,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: opt_time(row, "updated_at")?,
    })
}

fn event_words(events: &[EventName]) -> String {
    serde_json::to_string(&events.iter().map(|e| e.as_str()).collect::<Vec<_>>()).expect("strings serialize")
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings serialize")
}

/// A webhook change, as the log records it: never the secret.
fn webhook_change<'a>(tenant: &'a Tenant, action: &'a str, hook: &'a Webhook) -> Change<'a> {
    Change {
        space: Some(&tenant.space_id),
        environment: Some(tenant.environment),
        action,
        subject: hook.id.as_str(),
        detail: serde_json::json!({"name": hook.name, "url": hook.url, "enabled": hook.enabled}),
    }
}

impl Store {
    /// Creates a webhook, idempotently when a claim is given; `render` produces the stored answer.
    pub async fn create_webhook(
        &self,
        tenant: &Tenant,
        new: &NewWebhook,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&Webhook) -> String,
        actor: &Actor<'_>,
    ) -> StoreResult<Outcome<Webhook>> {
        let mut tx = self.begin_write().await?;
        if let Some(c) = claim {
            if let Some(body) = idempotency::claim(&mut tx, tenant, c).await? {
                return Ok(Outcome::Replayed { body });
            }
        }
        let hook = Webhook {
            id: WebhookId::generate(),
            name: new.name.clone(),
            url: new.url.clone(),
            enabled: new.enabled,
            events: new.events.clone(),
            api_release: new.api_release,
            signing: new.signing,
            public_key: new.public_key.clone(),
            headers: new.headers.clone(),
            alert_emails: new.alert_emails.clone(),
            metadata: new.metadata.clone(),
            created_at: time_fmt::now(),
            updated_at: None,
        };
        sqlx::query(
            "INSERT INTO webhooks (id, space_id, environment, name, url, enabled, events, api_release, signing_method, \
             signing_secret, public_key, headers, alert_emails, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(hook.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(&hook.name)
        .bind(&hook.url)
        .bind(i64::from(hook.enabled))
        .bind(event_words(&hook.events))
        .bind(hook.api_release.as_str())
        .bind(hook.signing.as_str())
        .bind(new.signing_secret.expose_secret())
        .bind(hook.public_key.as_deref())
        .bind(to_json(&hook.headers))
        .bind(to_json(&hook.alert_emails))
        .bind(encode_json_map(&hook.metadata))
        .bind(micros(hook.created_at))
        .execute(&mut *tx.tx)
        .await?;
        journal::record(&mut tx, actor, webhook_change(tenant, "webhook.create", &hook)).await?;
        let body = render(&hook);
        if let Some(c) = claim {
            idempotency::complete(&mut tx, tenant, c, &body).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Fresh { value: hook, body })
    }

    pub async fn get_webhook(&self, tenant: &Tenant, id: &WebhookId) -> StoreResult<Webhook> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND $TENANT");
        let row =
            scoped(&sql, tenant).bind(id.as_str()).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        webhook_from_row(&row)
    }

    /// A tenant's webhooks, newest first.
    pub async fn list_webhooks(&self, tenant: &Tenant, page: PageRequest) -> StoreResult<Page<Webhook>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE $TENANT AND ($1 IS NULL OR seq < $1) ORDER BY seq DESC LIMIT $2"
        );
        let rows = scoped(&sql, tenant).bind(page.after).bind(i64::from(page.limit) + 1).fetch_all(&self.pool).await?;
        page_of(rows, page.limit, webhook_from_row)
    }

    /// Applies `patch` to the webhook as it is inside the write.
    pub async fn update_webhook(
        &self,
        tenant: &Tenant,
        id: &WebhookId,
        patch: WebhookPatch,
        actor: &Actor<'_>,
    ) -> StoreResult<Webhook> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND $TENANT");
        let row =
            scoped(&sql, tenant).bind(id.as_str()).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        let mut hook = webhook_from_row(&row)?;
        hook.name = patch.name.unwrap_or(hook.name);
        hook.url = patch.url.unwrap_or(hook.url);
        hook.enabled = patch.enabled.unwrap_or(hook.enabled);
        hook.events = patch.events.unwrap_or(hook.events);
        hook.api_release = patch.api_release.unwrap_or(hook.api_release);
        hook.headers = patch.headers.unwrap_or(hook.headers);
        hook.alert_emails = patch.alert_emails.unwrap_or(hook.alert_emails);
        hook.metadata = patch.metadata.unwrap_or(hook.metadata);
        hook.updated_at = Some(time_fmt::now());
        scoped(
            "UPDATE webhooks SET name = $1, url = $2, enabled = $3, events = $4, api_release = $5, headers = $6, \
             alert_emails = $7, metadata = $8, updated_at = $9 WHERE id = $10 AND $TENANT",
            tenant,
        )
        .bind(&hook.name)
        .bind(&hook.url)
        .bind(i64::from(hook.enabled))
        .bind(event_words(&hook.events))
        .bind(hook.api_release.as_str())
        .bind(to_json(&hook.headers))
        .bind(to_json(&hook.alert_emails))
        .bind(encode_json_map(&hook.metadata))
        .bind(hook.updated_at.map(micros))
        .bind(id.as_str())
        .execute(&mut *tx.tx)
        .await?;
        journal::record(&mut tx, actor, webhook_change(tenant, "webhook.update", &hook)).await?;
        tx.commit().await?;
        Ok(hook)
    }

    pub async fn delete_webhook(&self, tenant: &Tenant, id: &WebhookId, actor: &Actor<'_>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND $TENANT");
        let row =
            scoped(&sql, tenant).bind(id.as_str()).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        let hook = webhook_from_row(&row)?;
        scoped("DELETE FROM webhooks WHERE id = $1 AND $TENANT", tenant).bind(id.as_str()).execute(&mut *tx.tx).await?;
        journal::record(&mut tx, actor, webhook_change(tenant, "webhook.delete", &hook)).await?;
        tx.commit().await
    }
}
