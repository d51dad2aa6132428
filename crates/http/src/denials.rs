//! Refused requests in the audit log, coalesced: one row per (Space, environment, token, reason)
//! per flush window per node, with a count, written in one batch off the request path.
//!
//! A refusal must cost the server no more than the answer. Writing one audit row per denial put
//! every refused request on the writers' path (SQLite has one writer), so a token hammering a
//! route it may not call slowed every other tenant's writes. Here a denial is a counter bump under
//! a short lock; a background task writes what gathered every `denial_flush` interval, so the log
//! grows by at most (distinct keys) rows per window, however many requests were refused. The map
//! is bounded: past `MAX_KEYS` distinct keys in one window, further new keys are only counted as
//! dropped (and the count is logged), so memory cannot be grown by a flood of distinct tokens.

use openmonime_domain::ids::{MonimeerId, SpaceId, TokenId};
use openmonime_domain::{time_fmt, Environment};
use openmonime_store::audit::AuditEvent;
use openmonime_store::Store;
use serde_json::json;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Distinct keys held per window.
pub const MAX_KEYS: usize = 10_000;

#[derive(Hash, PartialEq, Eq)]
struct Key {
    space: SpaceId,
    environment: Environment,
    token: TokenId,
    reason: &'static str,
}

struct Tally {
    actor: MonimeerId,
    count: u64,
    first: OffsetDateTime,
    last: OffsetDateTime,
    ip: IpAddr,
}

/// The gathered denials of the current window.
#[derive(Default)]
pub struct DenialLog {
    window: Mutex<(HashMap<Key, Tally>, u64)>,
}

impl DenialLog {
    /// Counts one refused request.
    pub fn record(
        &self,
        space: &SpaceId,
        environment: Environment,
        token: &TokenId,
        actor: &MonimeerId,
        reason: &'static str,
        ip: IpAddr,
    ) {
        let now = time_fmt::now();
        let key = Key { space: space.clone(), environment, token: token.clone(), reason };
        let mut guard = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (map, dropped) = &mut *guard;
        if let Some(t) = map.get_mut(&key) {
            t.count += 1;
            t.last = now;
            t.ip = ip;
        } else if map.len() < MAX_KEYS {
            map.insert(key, Tally { actor: actor.clone(), count: 1, first: now, last: now, ip });
        } else {
            *dropped += 1;
        }
    }

    /// Writes the window's rows in one transaction and starts a new window.
    pub async fn flush(&self, store: &Store) {
        let (map, dropped) = {
            let mut guard = self.window.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *guard)
        };
        if dropped > 0 {
            tracing::warn!(dropped, "denials not audited: too many distinct refused tokens in one window");
        }
        if map.is_empty() {
            return;
        }
        let owned: Vec<(Key, Tally, String, String, String)> = map
            .into_iter()
            .map(|(k, t)| {
                let (actor, token, ip) = (t.actor.to_string(), k.token.to_string(), t.ip.to_string());
                (k, t, actor, token, ip)
            })
            .collect();
        let events: Vec<AuditEvent<'_>> = owned
            .iter()
            .map(|(k, t, actor, token, ip)| AuditEvent {
                space_id: Some(&k.space),
                environment: Some(k.environment),
                actor,
                action: "request.denied",
                subject: token,
                detail: Some(json!({
                    "reason": k.reason,
                    "count": t.count,
                    "from": time_fmt::rfc3339(t.first),
                    "to": time_fmt::rfc3339(t.last),
                })),
                ip: Some(ip),
            })
            .collect();
        if let Err(e) = store.audit_many(&events).await {
            tracing::warn!(error = %e, rows = events.len(), "could not record denials in the audit log");
        }
    }
}
