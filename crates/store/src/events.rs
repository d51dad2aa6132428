//! Reading the events outbox: a tenant's events in the order they committed.

use crate::backend::Store;
use crate::codec::*;
use crate::error::StoreResult;
use crate::tenant::scoped;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::EventId;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// An event as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The outbox position: events of a tenant commit in this order.
    pub seq: i64,
    pub id: EventId,
    pub name: EventName,
    pub snapshot: Snapshot,
    pub created_at: OffsetDateTime,
}

fn event_from_row(row: &AnyRow) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        seq: int(row, "seq")?,
        id: id(row, "id", EventId::parse)?,
        name: EventName::parse(&text(row, "name")?).ok_or_else(|| corrupt("name"))?,
        snapshot: json_column(row, "snapshot")?,
        created_at: time(row, "created_at")?,
    })
}

impl Store {
    /// A tenant's events after outbox position `after` (from the start when `None`), oldest first.
    pub async fn list_events(&self, tenant: &Tenant, after: Option<i64>, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let rows = scoped(
            "SELECT seq, id, name, snapshot, created_at FROM events WHERE $TENANT AND ($1 IS NULL OR seq > $1) \
             ORDER BY seq LIMIT $2",
            tenant,
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}
