//! The write path's record of who changed what: every change a `Store` method makes is journalled
//! by [`record`] inside the transaction of the change, so the two commit or roll back together.
//!
//! A change that the outside world hears of also calls [`publish`], which writes its event to the
//! outbox (`events`) in the same transaction: a committed change always has its events, and a
//! rolled-back one never does, and queues its deliveries to the webhooks subscribed to it.

use crate::audit::{insert_audit, AuditEvent};
use crate::backend::WriteTx;
use crate::codec::micros;
use crate::error::StoreResult;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::grant::Authority;
use openmonime_domain::ids::{ConsoleSessionId, EventId, MonimeerId, SpaceId, TokenId};
use openmonime_domain::time_fmt;
use openmonime_domain::Environment;
use serde_json::Value;
use std::net::IpAddr;

/// The operator's name in the audit log.
pub const OPERATOR: &str = "admin-cli";

/// Who makes a change.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// An API request: what its token may hand out, whose token it is, and where it came from.
    Request {
        authority: Authority,
        token: &'a TokenId,
        monimeer: &'a MonimeerId,
        ip: IpAddr,
        /// The Space the request named, where the change has none of its own (a token's).
        space: Option<&'a SpaceId>,
    },
    /// A Monimeer in the web console: what their role lets them hand out (their session is
    /// them, like a live token holding every permission, ∩ their role), and where they are.
    Console {
        authority: Authority,
        session: &'a ConsoleSessionId,
        monimeer: &'a MonimeerId,
        ip: IpAddr,
        space: Option<&'a SpaceId>,
    },
    /// The operator, at the admin CLI: trusted with everything, checked against nothing.
    Operator,
    /// The server itself, on its own initiative (the delivery worker disabling a webhook); only
    /// the methods such work calls take it, and it grants nothing.
    System(&'static str),
}

impl<'a> Actor<'a> {
    /// The authority a grant is checked against; `None` for the operator.
    pub fn authority(&self) -> Option<&Authority> {
        match self {
            Actor::Request { authority, .. } | Actor::Console { authority, .. } => Some(authority),
            Actor::Operator | Actor::System(_) => None,
        }
    }

    /// The person behind a request; `None` for the operator.
    pub fn monimeer(&self) -> Option<&'a MonimeerId> {
        match self {
            Actor::Request { monimeer, .. } | Actor::Console { monimeer, .. } => Some(monimeer),
            Actor::Operator | Actor::System(_) => None,
        }
    }

    /// The actor's name in the log: the Monimeer behind a request, or the operator.
    pub fn name(&self) -> String {
        match self {
            Actor::Request { monimeer, .. } | Actor::Console { monimeer, .. } => monimeer.to_string(),
            Actor::Operator => OPERATOR.to_owned(),
            Actor::System(name) => (*name).to_owned(),
        }
    }

    /// The Space the request named, if any.
    pub fn space(&self) -> Option<&'a SpaceId> {
        match self {
            Actor::Request { space, .. } | Actor::Console { space, .. } => *space,
            Actor::Operator | Actor::System(_) => None,
        }
    }
}

/// One change, as the log records it.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    pub space: Option<&'a SpaceId>,
    /// `None` for a change that concerns the whole Space (both environments).
    pub environment: Option<Environment>,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: Value,
}

/// Journals `change` by `actor` in the change's own transaction.
pub(crate) async fn record(tx: &mut WriteTx, actor: &Actor<'_>, change: Change<'_>) -> StoreResult<()> {
    let mut detail = change.detail;
    let ip = match actor {
        Actor::Request { token, ip, .. } => {
            if let Value::Object(map) = &mut detail {
                map.insert("byToken".into(), Value::String(token.to_string()));
            }
            Some(ip.to_string())
        }
        Actor::Console { session, ip, .. } => {
            if let Value::Object(map) = &mut detail {
                map.insert("bySession".into(), Value::String(session.to_string()));
                map.insert("via".into(), Value::String("console".into()));
            }
            Some(ip.to_string())
        }
        Actor::Operator | Actor::System(_) => None,
    };
    let name = actor.name();
    let event = AuditEvent {
        space_id: change.space,
        environment: change.environment,
        actor: &name,
        action: change.action,
        subject: change.subject,
        detail: Some(detail),
        ip: ip.as_deref(),
    };
    insert_audit(tx, &event).await
}

/// Writes an event about `snapshot` to the outbox, in the transaction of the change it reports.
pub(crate) async fn publish(
    tx: &mut WriteTx,
    tenant: &Tenant,
    name: EventName,
    snapshot: &Snapshot,
) -> StoreResult<EventId> {
    if name.object_type() != snapshot.object_type() {
        return Err(crate::error::StoreError::Invariant("an event's name and its object disagree"));
    }
    let id = EventId::generate();
    let now = micros(time_fmt::now());
    let encoded =
        serde_json::to_string(snapshot).map_err(|_| crate::error::StoreError::Invariant("a snapshot serializes"))?;
    let inserted = sqlx::query(
        "INSERT INTO events (id, space_id, environment, name, object_id, object_type, snapshot, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
    )
    .bind(id.as_str())
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(name.as_str())
    .bind(snapshot.object_id())
    .bind(snapshot.object_type())
    .bind(encoded)
    .bind(now)
    .fetch_one(&mut *tx.tx)
    .await?;
    let seq = crate::codec::int(&inserted, "seq")?;
    crate::deliveries::fan_out(tx, tenant, (seq, &id), name, now).await?;
    Ok(id)
}
