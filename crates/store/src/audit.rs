//! The append-only audit log: who changed tokens, members, roles, policies and the ledger, and
//! which requests were denied, per Space and environment.

use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::StoreResult;
use crate::{Page, PageRequest};
use openmonime_domain::ids::*;
use openmonime_domain::time_fmt;
use openmonime_domain::Environment;
use serde_json::Value;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// One entry of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub space_id: Option<&'a SpaceId>,
    pub environment: Option<openmonime_domain::Environment>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: Option<Value>,
    pub ip: Option<&'a str>,
}

/// An audit event as read back.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: String,
    pub environment: Option<Environment>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Option<Value>,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Whose token changes a Monimeer-level listing shows: a Monimeer's tokens of one environment,
/// those bound to `within` only when given.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenAuditFilter {
    pub monimeer: MonimeerId,
    pub environment: Environment,
    pub within: Option<SpaceId>,
}

/// A Space's log in one environment, newest first: `$1` Space, `$2` environment, `$3` action,
/// `$4` actor, `$5` before this sequence number, `$6` rows. Public so a test can check its plan.
pub const SPACE_LOG_SQL: &str = "SELECT seq, id, environment, actor, action, subject, detail, ip, created_at \
     FROM audit_events WHERE space_id = $1 AND (environment IS NULL OR environment = $2) \
     AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR actor = $4) AND ($5 IS NULL OR seq < $5) \
     ORDER BY seq DESC LIMIT $6";

/// Filters for reading the log.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
}

fn record_from_row(row: &AnyRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        id: text(row, "id")?,
        environment: opt_text(row, "environment")?.and_then(|e| Environment::parse(&e)),
        actor: text(row, "actor")?,
        action: text(row, "action")?,
        subject: text(row, "subject")?,
        detail: opt_text(row, "detail")?
            .map(|d| serde_json::from_str(&d).map_err(|_| corrupt("detail")))
            .transpose()?,
        ip: opt_text(row, "ip")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) async fn insert_audit(tx: &mut WriteTx, e: &AuditEvent<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, space_id, environment, actor, action, subject, detail, ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(format!("aud-{}", random_base62(ID_RANDOM_LEN)))
    .bind(e.space_id.map(|s| s.as_str().to_owned()))
    .bind(e.environment.map(|v| v.as_str()))
    .bind(e.actor)
    .bind(e.action)
    .bind(e.subject)
    .bind(e.detail.as_ref().map(|d| d.to_string()))
    .bind(e.ip)
    .bind(micros(time_fmt::now()))
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records refusals — events that change nothing — in one transaction (the coalesced denials
    /// of a window). A change is journalled inside its own transaction instead (`journal`).
    pub async fn audit_many(&self, events: &[AuditEvent<'_>]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for event in events {
            insert_audit(&mut tx, event).await?;
        }
        tx.commit().await
    }

    /// A Space's log in one environment (events that concern the whole Space appear in both),
    /// newest first.
    pub async fn list_audit(
        &self,
        space: &SpaceId,
        environment: Environment,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditRecord>> {
        let rows = sqlx::query(SPACE_LOG_SQL)
            .bind(space.as_str())
            .bind(environment.as_str())
            .bind(filter.action.as_deref())
            .bind(filter.actor.as_deref())
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        crate::page_of(rows, page.limit, record_from_row)
    }

    /// The changes to `monimeer`'s tokens of `environment` (bound to `within`, when given),
    /// wherever they were recorded — in a Space's log or in none (changes made with an unbound
    /// token, or by the operator) — newest first: the owner's view of their credentials.
    pub async fn list_token_audit(
        &self,
        filter: &TokenAuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditRecord>> {
        let (monimeer, environment, within) = (&filter.monimeer, filter.environment, filter.within.as_ref());
        let rows = sqlx::query(
            "SELECT e.seq, e.id, e.environment, e.actor, e.action, e.subject, e.detail, e.ip, e.created_at \
             FROM audit_events e JOIN access_tokens t ON t.id = e.subject \
             WHERE t.monimeer_id = $1 AND t.environment = $2 AND ($3 IS NULL OR t.space_id = $3) \
             AND e.action LIKE 'token.%' AND ($4 IS NULL OR e.seq < $4) ORDER BY e.seq DESC LIMIT $5",
        )
        .bind(monimeer.as_str())
        .bind(environment.as_str())
        .bind(within.map(|s| s.as_str()))
        .bind(page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(&self.pool)
        .await?;
        crate::page_of(rows, page.limit, record_from_row)
    }
}
