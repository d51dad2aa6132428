//! Token usage (last used time and IP, request count) gathered in memory and written in batches,
//! so authenticated requests never wait on a database write.

use openmonime_domain::ids::TokenId;
use openmonime_domain::time_fmt;
use openmonime_store::management::UsageDelta;
use openmonime_store::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// How often gathered usage is written; the figures a client sees are at most this far behind.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

/// Usage of one token since the last flush.
struct Pending {
    last_used_at: time::OffsetDateTime,
    last_used_ip: IpAddr,
    requests: i64,
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<TokenId, Pending>>,
}

impl UsageRecorder {
    /// Counts one authenticated request: a map update under a short lock.
    pub fn record(&self, token: &TokenId, ip: IpAddr) {
        let now = time_fmt::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(token) {
            Some(p) => {
                p.requests += 1;
                p.last_used_at = now;
                p.last_used_ip = ip;
            }
            None => {
                pending.insert(token.clone(), Pending { last_used_at: now, last_used_ip: ip, requests: 1 });
            }
        }
    }

    /// Adds this node's usage not yet written to `token`'s stored figures, so a page shows a use
    /// at once rather than after the next flush.
    pub fn overlay(&self, token: &mut openmonime_domain::entities::AccessToken) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pending.get(&token.id) {
            token.usage.request_count += p.requests;
            if token.usage.last_used_at.is_none_or(|stored| stored < p.last_used_at) {
                token.usage.last_used_at = Some(p.last_used_at);
                token.usage.last_used_ip = Some(p.last_used_ip.to_string());
            }
        }
    }

    /// Writes everything gathered so far; on failure the counts are kept for the next flush.
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<UsageDelta> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending
                .drain()
                .map(|(token_id, p)| UsageDelta {
                    token_id,
                    last_used_at: p.last_used_at,
                    last_used_ip: p.last_used_ip.to_string(),
                    requests: p.requests,
                })
                .collect()
        };
        if let Err(e) = store.record_usage(&batch).await {
            tracing::warn!(error = %e, tokens = batch.len(), "could not record token usage; will retry");
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for d in batch {
                let ip = d.last_used_ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                let back = Pending { last_used_at: d.last_used_at, last_used_ip: ip, requests: d.requests };
                pending.entry(d.token_id).and_modify(|p| p.requests += back.requests).or_insert(back);
            }
        }
    }
}
