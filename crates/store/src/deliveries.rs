//! Deliveries of events to webhooks: the fan-out of each event to the webhooks subscribed when
//! it commits, the leases by which one worker at a time attempts each, the delivery log,
//! redelivery, and the log's retention.
//!
//! The worker's queries ([`Store::claim_due_deliveries`], [`Store::purge_delivery_log`]) span
//! every tenant by design; each joins a delivery to its webhook and event on the tenant as well
//! as the id, so a delivery can never pair one tenant's event with another's webhook.

use crate::backend::{Backend, Store, WriteTx};
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::events::StoredEvent;
use crate::journal::{self, Actor, Change};
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::EventName;
use openmonime_domain::ids::{random_base62, EventId, SpaceId, WebhookId};
use openmonime_domain::webhook::{ApiRelease, SigningMethod};
use openmonime_domain::webhook_retry::{disable_after, next_step, Answer, DisableReason, Next};
use secrecy::SecretString;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};
use time::{Duration, OffsetDateTime};

/// How long the delivery log (attempts, and deliveries that have ended) is kept.
pub const LOG_RETENTION: Duration = Duration::days(30);

/// The worker's name in the audit log.
pub const WORKER: &str = "webhook-delivery";

/// A delivery a worker has leased and is to attempt now.
#[derive(Debug)]
pub struct DueDelivery {
    /// The lease under which the attempt is made; recording it needs the same lease.
    pub lease: String,
    pub tenant: Tenant,
    pub webhook: WebhookId,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub api_release: ApiRelease,
    pub signing: SigningMethod,
    /// The HS256 secret, or the ES256 private scalar in hex.
    pub secret: SecretString,
    pub event: StoredEvent,
    /// This attempt's number: 1 for the first.
    pub attempt: u32,
}

/// What one attempt found, for the log.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    pub answer: Answer,
    /// The answer's first bytes (lossily decoded).
    pub response_head: Option<String>,
    /// Why there was no answer, in words that never hold a secret.
    pub error: Option<String>,
    /// When the attempt ended; the next one is scheduled from here.
    pub finished_at: OffsetDateTime,
    /// Any value in `[-1, 1]`: the retry delay's jitter.
    pub jitter: f64,
}

/// A webhook the attempt disabled, for the alert.
#[derive(Debug, Clone)]
pub struct Disabled {
    pub reason: DisableReason,
    pub tenant: Tenant,
    pub webhook: WebhookId,
    pub name: String,
    pub url: String,
    pub alert_emails: Vec<String>,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `false` when the lease had been lost (it expired and another worker took the delivery,
    /// or it was redelivered): the attempt is logged but the delivery is left to its new holder.
    pub held_lease: bool,
    pub disabled: Option<Disabled>,
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub seq: i64,
    pub event_id: EventId,
    pub event_name: EventName,
    pub attempt: u32,
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    /// `Answer::outcome`'s word.
    pub outcome: String,
    pub status_code: Option<u16>,
    pub response_head: Option<String>,
    pub error: Option<String>,
    /// When the next attempt is due; `None` once the delivery has ended.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Which of a webhook's events to deliver again.
#[derive(Debug, Clone)]
pub enum Redelivery {
    Event(EventId),
    /// Every event since this time.
    Since(OffsetDateTime),
}

/// The delivery log's cursor is bound to the webhook it lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryFilter {
    pub webhook: String,
}

/// `pattern` made literal for `LIKE … ESCAPE '\'`.
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Queues `event` for every enabled webhook of `tenant` subscribed to `name`, in the publishing
/// transaction.
pub(crate) async fn fan_out(
    tx: &mut WriteTx,
    tenant: &Tenant,
    (event_seq, event): (i64, &EventId),
    name: EventName,
    now: i64,
) -> StoreResult<()> {
    // `events` is a JSON list of names; a name matches as a whole quoted string.
    let pattern = format!("%\"{}\"%", like_literal(name.as_str()));
    let queued = scoped(
        "INSERT INTO deliveries (webhook_id, event_id, event_seq, space_id, environment, state, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT id, $1, $4, space_id, environment, 'pending', 0, $2, $2, $2 FROM webhooks \
         WHERE $TENANT AND enabled = 1 AND events LIKE $3 ESCAPE '\\'",
        tenant,
    )
    .bind(event.as_str())
    .bind(now)
    .bind(pattern)
    .bind(event_seq)
    .execute(&mut *tx.tx)
    .await?;
    if queued.rows_affected() > 0 {
        tx.queued_deliveries = true;
    }
    Ok(())
}

fn due_from_row(row: &AnyRow) -> StoreResult<DueDelivery> {
    let attempts = int(row, "attempts")?;
    Ok(DueDelivery {
        lease: text(row, "lease_id")?,
        tenant: Tenant {
            space_id: id(row, "space_id", SpaceId::parse)?,
            environment: environment(row, "environment")?,
        },
        webhook: id(row, "webhook_id", WebhookId::parse)?,
        url: text(row, "url")?,
        headers: json_column(row, "headers")?,
        api_release: ApiRelease::parse(&text(row, "api_release")?).ok_or_else(|| corrupt("api_release"))?,
        signing: SigningMethod::parse(&text(row, "signing_method")?).ok_or_else(|| corrupt("signing_method"))?,
        secret: SecretString::from(text(row, "signing_secret")?),
        event: StoredEvent {
            seq: int(row, "event_seq")?,
            id: id(row, "event_id", EventId::parse)?,
            name: EventName::parse(&text(row, "event_name")?).ok_or_else(|| corrupt("event_name"))?,
            snapshot: json_column(row, "snapshot")?,
            created_at: time(row, "event_created_at")?,
        },
        attempt: u32::try_from(attempts + 1).map_err(|_| corrupt("attempts"))?,
    })
}

fn attempt_from_row(row: &AnyRow) -> StoreResult<DeliveryAttempt> {
    let status: Option<i64> = sqlx::Row::try_get(row, "status_code")?;
    Ok(DeliveryAttempt {
        seq: int(row, "seq")?,
        event_id: id(row, "event_id", EventId::parse)?,
        event_name: EventName::parse(&text(row, "event_name")?).ok_or_else(|| corrupt("event_name"))?,
        attempt: u32::try_from(int(row, "attempt")?).map_err(|_| corrupt("attempt"))?,
        started_at: time(row, "started_at")?,
        duration_ms: int(row, "duration_ms")?,
        outcome: text(row, "outcome")?,
        status_code: status.map(|s| u16::try_from(s).map_err(|_| corrupt("status_code"))).transpose()?,
        response_head: opt_text(row, "response_head")?,
        error: opt_text(row, "error")?,
        next_attempt_at: opt_time(row, "next_attempt_at")?,
    })
}

impl Store {
    /// Leases up to `limit` deliveries due at `now` for `lease_for`, across every tenant. On
    /// PostgreSQL, rows another node is leasing at this moment are skipped (`SKIP LOCKED`), and
    /// a row it has leased is not due again until its lease expires.
    pub async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_for: Duration,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let lease = format!("lse-{}", random_base62(24));
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write_relaxed().await?;
        // The webhook is checked by a scalar subquery, which the planner cannot turn into a
        // join: the due rows are read from the pending-only index in order, each checked by a
        // key lookup, whatever the statistics (a fresh table's would otherwise have PostgreSQL
        // scan every delivery the webhook ever had, on every claim).
        let claim = format!(
            "UPDATE deliveries SET lease_id = $1, lease_until = $2 \
             WHERE seq IN (SELECT d.seq FROM deliveries d \
               WHERE d.state = 'pending' AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until <= $3) \
               AND (SELECT w.enabled FROM webhooks w WHERE w.id = d.webhook_id AND w.space_id = d.space_id \
                    AND w.environment = d.environment) = 1 \
               ORDER BY d.next_attempt_at LIMIT $4{lock}) \
             AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $3) RETURNING seq"
        );
        let taken = sqlx::query(&claim)
            .bind(&lease)
            .bind(micros(now + lease_for))
            .bind(micros(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx.tx)
            .await?;
        if taken.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // By row number (the lease is not indexed: see the migration), the lease as a check.
        let seqs = taken.iter().map(|row| int(row, "seq")).collect::<StoreResult<Vec<i64>>>()?;
        let mut rows = Vec::with_capacity(seqs.len());
        let mut at = 0;
        for size in chunk_sizes(seqs.len()) {
            let marks: Vec<String> = (0..size).map(|i| format!("${}", i + 2)).collect();
            let read = format!(
                "SELECT d.lease_id, d.space_id, d.environment, d.webhook_id, d.attempts, w.url, w.headers, \
                 w.api_release, w.signing_method, w.signing_secret, e.seq AS event_seq, e.id AS event_id, \
                 e.name AS event_name, e.snapshot, e.created_at AS event_created_at \
                 FROM deliveries d \
                 JOIN webhooks w ON w.id = d.webhook_id AND w.space_id = d.space_id AND w.environment = d.environment \
                 JOIN events e ON e.seq = d.event_seq AND e.id = d.event_id AND e.space_id = d.space_id \
                 AND e.environment = d.environment \
                 WHERE d.lease_id = $1 AND d.seq IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&read).bind(&lease);
            for seq in &seqs[at..at + size] {
                query = query.bind(*seq);
            }
            rows.extend(query.fetch_all(&mut *tx.tx).await?);
            at += size;
        }
        tx.commit().await?;
        rows.iter().map(due_from_row).collect()
    }

    /// Logs attempts and schedules what follows each, under each attempt's lease, in one
    /// transaction of a few statements whatever the batch's size (a worker records its finished
    /// attempts in batches: a commit, or even a statement, per delivery would cap deliveries at
    /// the database's rate for them). Disables a webhook (journalled, in the same transaction)
    /// when an answer or its failing streak says so. The answers are in the batch's order.
    ///
    /// Like the claim, this spans tenants: every row is matched on its tenant as well as its ids.
    pub async fn record_attempts(&self, batch: &[(DueDelivery, AttemptReport)]) -> StoreResult<Vec<Recorded>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write_relaxed().await?;
        // Each webhook's state is read once per batch and carried from attempt to attempt.
        let mut hooks: HashMap<(Tenant, WebhookId), Option<HookState>> = HashMap::new();
        for (due, _) in batch {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                hooks.entry((due.tenant.clone(), due.webhook.clone()))
            {
                slot.insert(HookState::read(&mut tx, &due.tenant, &due.webhook).await?);
            }
        }
        // A webhook deleted while its attempts were under way took its deliveries and log along.
        let kept: Vec<&(DueDelivery, AttemptReport)> = batch
            .iter()
            .filter(|(due, _)| hooks.get(&(due.tenant.clone(), due.webhook.clone())).is_some_and(Option::is_some))
            .collect();
        let steps: Vec<(&str, Option<i64>)> = kept
            .iter()
            .map(|(due, report)| match next_step(due.attempt, report.answer, report.jitter) {
                Next::Delivered => ("delivered", None),
                Next::RetryAfter(delay) => ("pending", Some(micros(report.finished_at + delay))),
                Next::GaveUp => ("failed", None),
            })
            .collect();
        let mut held = Vec::with_capacity(kept.len());
        let mut at = 0;
        for size in chunk_sizes(kept.len()) {
            let (part, part_steps) = (&kept[at..at + size], &steps[at..at + size]);
            let part_held = schedule_next(&mut tx, part, part_steps).await?;
            log_attempts(&mut tx, part, part_steps, &part_held).await?;
            held.extend(part_held);
            at += size;
        }
        let mut held = held.into_iter();

        let mut recorded = Vec::with_capacity(batch.len());
        let initial: HashMap<_, _> =
            hooks.iter().map(|(k, h)| (k.clone(), h.as_ref().and_then(|h| h.failing_since))).collect();
        for (due, report) in batch {
            let key = (due.tenant.clone(), due.webhook.clone());
            let Some(hook) = hooks.get_mut(&key).and_then(Option::as_mut) else {
                recorded.push(Recorded::default());
                continue;
            };
            let held = held.next().unwrap_or(false);
            let streak =
                if report.answer.delivered() { None } else { Some(hook.failing_since.unwrap_or(report.started_at)) };
            hook.failing_since = streak;
            let disabled = match disable_after(report.answer, streak, report.finished_at).filter(|_| hook.enabled) {
                Some(reason) => Some(disable(&mut tx, hook, due, report, reason).await?),
                None => None,
            };
            recorded.push(Recorded { held_lease: held, disabled });
        }
        // Written only where it changed: a healthy webhook's deliveries leave it alone.
        for ((tenant, webhook), hook) in &hooks {
            let Some(hook) = hook else { continue };
            if initial.get(&(tenant.clone(), webhook.clone())).copied().flatten() != hook.failing_since {
                scoped("UPDATE webhooks SET failing_since = $1 WHERE id = $2 AND $TENANT", tenant)
                    .bind(hook.failing_since.map(micros))
                    .bind(webhook.as_str())
                    .execute(&mut *tx.tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// A webhook's delivery log, newest attempt first.
    pub async fn list_delivery_attempts(
        &self,
        tenant: &Tenant,
        webhook: &WebhookId,
        page: PageRequest,
    ) -> StoreResult<Page<DeliveryAttempt>> {
        self.get_webhook(tenant, webhook).await?;
        let rows = scoped(
            "SELECT a.seq, a.event_id, e.name AS event_name, a.attempt, a.started_at, a.duration_ms, a.outcome, \
             a.status_code, a.response_head, a.error, a.next_attempt_at \
             FROM (SELECT * FROM delivery_attempts WHERE webhook_id = $1 AND ($2 IS NULL OR seq < $2) AND $TENANT) a \
             JOIN events e ON e.seq = a.event_seq AND e.id = a.event_id AND e.space_id = a.space_id \
             AND e.environment = a.environment \
             ORDER BY a.seq DESC LIMIT $3",
            tenant,
        )
        .bind(webhook.as_str())
        .bind(page.after)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        page_of(rows, page.limit, attempt_from_row)
    }

    /// Queues `which` of the webhook's events (those it subscribes to now) for delivery again at
    /// `now`, from a fresh schedule; returns how many were queued.
    pub async fn redeliver(
        &self,
        tenant: &Tenant,
        webhook: &WebhookId,
        which: &Redelivery,
        now: OffsetDateTime,
        actor: &Actor<'_>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let hook = scoped("SELECT events FROM webhooks WHERE id = $1 AND $TENANT", tenant)
            .bind(webhook.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let names: Vec<String> = json_column(&hook, "events")?;
        if names.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let selector = match which {
            Redelivery::Event(_) => "id = $3",
            Redelivery::Since(_) => "created_at >= $3",
        };
        let listed: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "INSERT INTO deliveries (webhook_id, event_id, event_seq, space_id, environment, state, attempts, \
             next_attempt_at, created_at, updated_at) \
             SELECT $1, id, seq, space_id, environment, 'pending', 0, $2, $2, $2 FROM events \
             WHERE {selector} AND name IN ({}) AND $TENANT \
             ON CONFLICT (webhook_id, event_id) DO UPDATE SET state = 'pending', attempts = 0, \
             next_attempt_at = excluded.next_attempt_at, lease_id = NULL, lease_until = NULL, \
             updated_at = excluded.updated_at",
            listed.join(", ")
        );
        let mut query = scoped(&sql, tenant).bind(webhook.as_str()).bind(micros(now));
        query = match which {
            Redelivery::Event(id) => query.bind(id.as_str()),
            Redelivery::Since(at) => query.bind(micros(*at)),
        };
        for name in names {
            query = query.bind(name);
        }
        let queued = query.execute(&mut *tx.tx).await?.rows_affected();
        let detail = match which {
            Redelivery::Event(id) => serde_json::json!({"eventId": id.as_str(), "queued": queued}),
            Redelivery::Since(at) => {
                serde_json::json!({"since": openmonime_domain::time_fmt::rfc3339(*at), "queued": queued})
            }
        };
        let change = Change {
            space: Some(&tenant.space_id),
            environment: Some(tenant.environment),
            action: "webhook.redeliver",
            subject: webhook.as_str(),
            detail,
        };
        journal::record(&mut tx, actor, change).await?;
        tx.queued_deliveries = queued > 0;
        tx.commit().await?;
        Ok(queued)
    }

    /// Deletes attempts, and deliveries that have ended, older than [`LOG_RETENTION`] at `now`.
    pub async fn purge_delivery_log(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let before = micros(now - LOG_RETENTION);
        let mut tx = self.begin_write().await?;
        let attempts = sqlx::query("DELETE FROM delivery_attempts WHERE started_at < $1")
            .bind(before)
            .execute(&mut *tx.tx)
            .await?;
        let ended = sqlx::query("DELETE FROM deliveries WHERE state <> 'pending' AND updated_at < $1")
            .bind(before)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(attempts.rows_affected() + ended.rows_affected())
    }

    /// Wakes when a delivery is queued in this process (other processes' are found by polling).
    pub fn deliveries_queued(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.deliveries_due.clone()
    }
}

/// What recording an attempt needs of its webhook, read once per batch.
struct HookState {
    name: String,
    url: String,
    enabled: bool,
    alert_emails: Vec<String>,
    failing_since: Option<OffsetDateTime>,
}

impl HookState {
    async fn read(tx: &mut WriteTx, tenant: &Tenant, webhook: &WebhookId) -> StoreResult<Option<HookState>> {
        let row = scoped(
            "SELECT name, url, enabled, alert_emails, failing_since FROM webhooks WHERE id = $1 AND $TENANT",
            tenant,
        )
        .bind(webhook.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(HookState {
            name: text(&row, "name")?,
            url: text(&row, "url")?,
            enabled: int(&row, "enabled")? != 0,
            alert_emails: json_column(&row, "alert_emails")?,
            failing_since: opt_time(&row, "failing_since")?,
        }))
    }
}

/// `n` rows as chunks of a few fixed sizes, largest first: each multi-row statement is then
/// prepared once per size and reused from the connection's statement cache, instead of parsed
/// anew for every batch length.
fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in [64, 16, 4, 1] {
        while n >= size {
            sizes.push(size);
            n -= size;
        }
    }
    sizes
}

/// `$first, …, $(first + n - 1)` in parentheses: one row of a multi-row statement.
fn row_of(first: usize, n: usize) -> String {
    let marks: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("({})", marks.join(", "))
}

/// Ends each attempt's lease and sets the delivery's next step, in one statement; returns, in
/// the batch's order, whether each lease was still held (an attempt whose lease was lost — it
/// expired and another worker took the delivery, or it was redelivered — changes nothing).
async fn schedule_next(
    tx: &mut WriteTx,
    batch: &[&(DueDelivery, AttemptReport)],
    steps: &[(&str, Option<i64>)],
) -> StoreResult<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    const COLUMNS: usize = 9;
    let rows: Vec<String> = (0..batch.len()).map(|i| row_of(i * COLUMNS + 1, COLUMNS)).collect();
    let sql = format!(
        "UPDATE deliveries SET state = v.column1, attempts = v.column2, next_attempt_at = v.column3, \
         lease_id = NULL, lease_until = NULL, updated_at = v.column4 \
         FROM (VALUES {}) AS v \
         WHERE deliveries.webhook_id = v.column5 AND deliveries.event_id = v.column6 \
         AND deliveries.lease_id = v.column7 AND deliveries.space_id = v.column8 \
         AND deliveries.environment = v.column9 \
         RETURNING deliveries.webhook_id, deliveries.event_id",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for ((due, report), (state, next_at)) in batch.iter().zip(steps) {
        query = query
            .bind(*state)
            .bind(i64::from(due.attempt))
            .bind(*next_at)
            .bind(micros(report.finished_at))
            .bind(due.webhook.as_str())
            .bind(due.event.id.as_str())
            .bind(due.lease.as_str())
            .bind(due.tenant.space_id.as_str())
            .bind(due.tenant.environment.as_str());
    }
    let updated = query.fetch_all(&mut *tx.tx).await?;
    let mut held = std::collections::HashSet::new();
    for row in &updated {
        held.insert((text(row, "webhook_id")?, text(row, "event_id")?));
    }
    // A delivery can appear twice in a batch only if its lease expired while this very worker
    // was still attempting it and it was taken again; then only one matched, and the first of
    // the two is the one counted (which one only changes that log entry's `nextAttemptTime`).
    let mut claimed = std::collections::HashSet::new();
    Ok(batch
        .iter()
        .map(|(due, _)| {
            let key = (due.webhook.to_string(), due.event.id.to_string());
            held.contains(&key) && claimed.insert(key)
        })
        .collect())
}

/// Writes every attempt of the batch to the delivery log, in one statement.
async fn log_attempts(
    tx: &mut WriteTx,
    batch: &[&(DueDelivery, AttemptReport)],
    steps: &[(&str, Option<i64>)],
    held: &[bool],
) -> StoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    const COLUMNS: usize = 13;
    let rows: Vec<String> = (0..batch.len()).map(|i| row_of(i * COLUMNS + 1, COLUMNS)).collect();
    let sql = format!(
        "INSERT INTO delivery_attempts (webhook_id, event_id, event_seq, space_id, environment, attempt, \
         started_at, duration_ms, outcome, status_code, response_head, error, next_attempt_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (((due, report), (_, next_at)), held) in batch.iter().zip(steps).zip(held) {
        let status = match report.answer {
            Answer::Status(code) => Some(i64::from(code)),
            _ => None,
        };
        query = query
            .bind(due.webhook.as_str())
            .bind(due.event.id.as_str())
            .bind(due.event.seq)
            .bind(due.tenant.space_id.as_str())
            .bind(due.tenant.environment.as_str())
            .bind(i64::from(due.attempt))
            .bind(micros(report.started_at))
            .bind(report.duration_ms)
            .bind(report.answer.outcome())
            .bind(status)
            .bind(report.response_head.as_deref())
            .bind(report.error.as_deref())
            .bind(if *held { *next_at } else { None });
    }
    query.execute(&mut *tx.tx).await?;
    Ok(())
}

/// Disables the webhook an attempt condemned, journalled; returns what the alert needs.
async fn disable(
    tx: &mut WriteTx,
    hook: &mut HookState,
    due: &DueDelivery,
    report: &AttemptReport,
    reason: DisableReason,
) -> StoreResult<Disabled> {
    let tenant = &due.tenant;
    scoped("UPDATE webhooks SET enabled = 0, updated_at = $1 WHERE id = $2 AND $TENANT", tenant)
        .bind(micros(report.finished_at))
        .bind(due.webhook.as_str())
        .execute(&mut *tx.tx)
        .await?;
    hook.enabled = false;
    let gone = Disabled {
        reason,
        tenant: tenant.clone(),
        webhook: due.webhook.clone(),
        name: hook.name.clone(),
        url: hook.url.clone(),
        alert_emails: hook.alert_emails.clone(),
    };
    let change = Change {
        space: Some(&tenant.space_id),
        environment: Some(tenant.environment),
        action: "webhook.disable",
        subject: due.webhook.as_str(),
        detail: serde_json::json!({
            "reason": reason.as_str(), "name": gone.name, "url": gone.url, "eventId": due.event.id.as_str(),
        }),
    };
    journal::record(tx, &Actor::System(WORKER), change).await?;
    Ok(gone)
}
