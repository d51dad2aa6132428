//! The in-memory authorization cache: tokens by hash, roles by (Space, Monimeer).
//!
//! Warm requests never touch the database. Staleness is closed from three sides:
//! - changes made through this node evict synchronously, before the response that made them;
//! - changes made elsewhere (another node, the admin CLI) arrive through the store's change feed,
//!   which [`follow_changes`] polls;
//! - every eviction bumps an epoch; a cold load that started before the bump does not keep its
//!   result, so a slow miss cannot re-insert a stale positive after an invalidation.
//!
//! Unknown tokens are cached as negative entries, loads of one key are single-flight, and cold
//! loads share a small semaphore, so a flood of made-up tokens cannot stampede the database.

use openmonime_domain::ids::{MonimeerId, SpaceId};
use openmonime_domain::token::TokenHash;
use openmonime_store::identity::{AuthChange, ResolvedRole, TokenLookup};
use openmonime_store::{Store, StoreError};
use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How many cold lookups may run against the database at once.
const COLD_LOAD_CONCURRENCY: usize = 8;

type TokenEntry = Option<Arc<TokenLookup>>;
type RoleEntry = Option<Arc<ResolvedRole>>;

/// Shared by every request on a node.
pub struct AuthCache {
    store: Store,
    tokens: Cache<TokenHash, TokenEntry>,
    roles: Cache<(SpaceId, MonimeerId), RoleEntry>,
    epoch: AtomicU64,
    cold_loads: Semaphore,
}

impl AuthCache {
    pub fn new(store: Store, capacity: usize) -> Self {
        AuthCache {
            store,
            tokens: Cache::new(capacity),
            roles: Cache::new(capacity),
            epoch: AtomicU64::new(0),
            cold_loads: Semaphore::new(COLD_LOAD_CONCURRENCY),
        }
    }

    /// The token with this hash, or `None` if no such token exists.
    pub async fn token(&self, hash: &TokenHash) -> Result<TokenEntry, StoreError> {
        if let Some(hit) = self.tokens.get(hash) {
            return Ok(hit);
        }
        self.load(&self.tokens, *hash, || async { Ok(self.store.find_token_by_hash(hash).await?.map(Arc::new)) }).await
    }

    /// The Monimeer's role in the Space, or `None` if not a member / no such Space.
    pub async fn role(&self, space: &SpaceId, monimeer: &MonimeerId) -> Result<RoleEntry, StoreError> {
        let key = (space.clone(), monimeer.clone());
        if let Some(hit) = self.roles.get(&key) {
            return Ok(hit);
        }
        self.load(&self.roles, key, || async { Ok(self.store.resolve_role(space, monimeer).await?.map(Arc::new)) })
            .await
    }

    async fn load<K, V, F, Fut>(&self, cache: &Cache<K, V>, key: K, fetch: F) -> Result<V, StoreError>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, StoreError>>,
    {
        let guard = match cache.get_value_or_guard_async(&key).await {
            Ok(value) => return Ok(value),
            Err(guard) => guard,
        };
        let _permit = self.cold_loads.acquire().await.expect("semaphore never closed");
        let epoch = self.epoch.load(Ordering::Acquire);
        let value = fetch().await?;
        if self.epoch.load(Ordering::Acquire) == epoch {
            let _ = guard.insert(value.clone());
            // An eviction may have landed between the check and the insert: look again.
            if self.epoch.load(Ordering::Acquire) != epoch {
                cache.remove(&key);
            }
        }
        Ok(value)
    }

    /// Evicts whatever `change` makes stale.
    pub fn invalidate(&self, change: &AuthChange) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match change {
            AuthChange::Token(id) => self.tokens.retain(|_, v| v.as_ref().is_none_or(|t| &t.token.id != id)),
            AuthChange::Monimeer(id) => {
                self.tokens.retain(|_, v| v.as_ref().is_none_or(|t| &t.token.monimeer_id != id));
                self.roles.retain(|(_, m), _| m != id);
            }
            AuthChange::Membership(space, monimeer) => {
                self.roles.remove(&(space.clone(), monimeer.clone()));
            }
            AuthChange::SpaceRoles(space) => self.roles.retain(|(s, _), _| s != space),
        }
    }

    /// Drops everything (used when the change feed cannot be trusted to be complete).
    pub fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.roles.clear();
    }
}

/// How far behind the newest seen position the follower re-reads the feed. PostgreSQL assigns
/// sequence numbers at insert, not at commit, so an entry can become visible after a higher one;
/// re-reading a window (and skipping entries already applied) catches such late commits.
const LATE_COMMIT_WINDOW: i64 = 1000;

/// Follows the store's change feed forever, evicting what other processes changed: on every
/// PostgreSQL notice at once, and by polling every `every` regardless (the bound on staleness if
/// notices are lost). After a failed poll it flushes the whole cache once the store answers again.
/// Whatever happens to the feed, the whole cache is dropped every `ttl`: a change that somehow
/// never reached the feed (a hand-made database edit, a bug) is stale for at most that long.
pub async fn follow_changes(cache: Arc<AuthCache>, store: Store, every: Duration, ttl: Duration) {
    let mut last_flush = tokio::time::Instant::now();
    let mut position = loop {
        match store.latest_change().await {
            Ok(p) => break p,
            Err(e) => {
                tracing::warn!(error = %e, "change feed unavailable; retrying");
                tokio::time::sleep(every).await;
            }
        }
    };
    let mut applied: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
    let mut listener = match store.listen_changes().await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "change notices unavailable; polling only");
            None
        }
    };
    let mut lost_track = false;
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        match listener.as_mut() {
            Some(l) => {
                tokio::select! {
                    _ = ticker.tick() => {}
                    notice = l.recv() => {
                        if let Err(e) = notice {
                            tracing::warn!(error = %e, "change notice connection dropped; polling until it reconnects");
                            tokio::time::sleep(every).await;
                        }
                    }
                }
            }
            None => {
                ticker.tick().await;
            }
        }
        if last_flush.elapsed() >= ttl {
            cache.flush();
            last_flush = tokio::time::Instant::now();
        }
        match store.changes_since(position - LATE_COMMIT_WINDOW).await {
            Ok(changes) => {
                if lost_track {
                    cache.flush();
                    lost_track = false;
                }
                for (seq, change) in changes {
                    if !applied.insert(seq) {
                        continue;
                    }
                    match change {
                        Some(change) => cache.invalidate(&change),
                        None => cache.flush(),
                    }
                    position = position.max(seq);
                }
                let keep_from = position - LATE_COMMIT_WINDOW;
                applied = applied.split_off(&keep_from);
            }
            Err(e) => {
                tracing::warn!(error = %e, "change feed poll failed; will flush the cache when it recovers");
                lost_track = true;
            }
        }
    }
}
