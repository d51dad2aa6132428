//! Tokens about to stop: `access_token.expiring` a week before a token's expiry or a Space's
//! idle expiry, and the idle expiry itself. Every node sweeps; each announcement and each expiry
//! happens once, by compare-and-set on the token's row, in one transaction with its events.

use crate::backend::Store;
use crate::codec::*;
use crate::error::StoreResult;
use crate::identity::{record_change, spaces_of, token_change, token_from_row, AuthChange, TOKEN_COLUMNS};
use crate::journal::{self, Actor, Change};
use openmonime_domain::entities::{AccessToken, Tenant, TokenStatus};
use openmonime_domain::event::{EventName, Snapshot, TokenNotice};
use openmonime_domain::ids::{SpaceId, TokenId};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// How far ahead a token's stop is announced.
pub const NOTICE_AHEAD: Duration = Duration::days(7);
/// Tokens handled per sweep and kind; the rest wait for the next sweep.
const BATCH: i64 = 200;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleSwept {
    pub announced: usize,
    pub idle_expired: usize,
}

/// Why a token is about to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Expiry,
    Idle,
}

impl Stop {
    fn word(self) -> &'static str {
        match self {
            Stop::Expiry => "expiry",
            Stop::Idle => "idle",
        }
    }
}

impl Store {
    /// Announces tokens that stop within [`NOTICE_AHEAD`] and expires those idle past their
    /// Spaces' idle expiry (the shortest, for an unbound token in several Spaces).
    pub async fn sweep_token_lifecycle(&self, now: OffsetDateTime) -> StoreResult<LifecycleSwept> {
        let mut swept = LifecycleSwept::default();
        let now_us = micros(now);
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.expiring_notified_at IS NULL \
             AND t.expires_at > $1 AND t.expires_at <= $2 AND (t.revoked_at IS NULL OR t.revoked_at > $1) \
             ORDER BY t.seq LIMIT {BATCH}"
        );
        let rows = sqlx::query(&sql).bind(now_us).bind(micros(now + NOTICE_AHEAD)).fetch_all(&self.pool).await?;
        for row in &rows {
            let token = token_from_row(row)?;
            let Some(expires_at) = token.expires_at else { continue };
            let claim =
                "UPDATE access_tokens SET expiring_notified_at = $1 WHERE id = $2 AND expiring_notified_at IS NULL";
            if self.announce(&token, claim, None, expires_at, Stop::Expiry, now).await? {
                swept.announced += 1;
            }
        }
        for (token, period) in self.idle_candidates(now).await? {
            let last = token.usage.last_used_at.unwrap_or(token.created_at);
            let deadline = last + Duration::seconds(period);
            if now >= deadline {
                if self.expire_idle(&token, last, period, now).await? {
                    swept.idle_expired += 1;
                }
            } else if now >= deadline - NOTICE_AHEAD {
                // Announced once per stretch of idleness: a use after the announcement starts a
                // new stretch, announced again if it too runs long.
                let claim = "UPDATE access_tokens SET idle_notified_at = $1 WHERE id = $2 \
                             AND (idle_notified_at IS NULL OR idle_notified_at < $3)";
                if self.announce(&token, claim, Some(micros(last)), deadline, Stop::Idle, now).await? {
                    swept.announced += 1;
                }
            }
        }
        Ok(swept)
    }

    /// Active tokens that can act in a Space with an idle expiry, with the shortest one that applies.
    async fn idle_candidates(&self, now: OffsetDateTime) -> StoreResult<Vec<(AccessToken, i64)>> {
        let rows = sqlx::query(
            "SELECT space_id, idle_token_expiry_seconds FROM space_policies WHERE idle_token_expiry_seconds IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut shortest: HashMap<TokenId, (AccessToken, i64)> = HashMap::new();
        for row in &rows {
            let space = id(row, "space_id", SpaceId::parse)?;
            let period = int(row, "idle_token_expiry_seconds")?;
            for token in self.list_space_tokens(&space).await? {
                if token.status(now) != TokenStatus::Active {
                    continue;
                }
                let entry = shortest.entry(token.id.clone()).or_insert((token, period));
                entry.1 = entry.1.min(period);
            }
        }
        Ok(shortest.into_values().collect())
    }

    /// Claims the announcement with `claim` (`$1` now, `$2` the token, `$3` the idle stretch's
    /// start) and, when this sweep won it, queues `access_token.expiring` for every Space the
    /// token can act in, in the same transaction.
    async fn announce(
        &self,
        token: &AccessToken,
        claim: &str,
        stretch: Option<i64>,
        stops_at: OffsetDateTime,
        why: Stop,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let mut query = sqlx::query(claim).bind(micros(now)).bind(token.id.as_str());
        if let Some(stretch) = stretch {
            query = query.bind(stretch);
        }
        if query.execute(&mut *tx.tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        let notice = Snapshot::AccessToken(Box::new(TokenNotice {
            expires_at: Some(stops_at),
            reason: Some(why.word().to_owned()),
            ..TokenNotice::of(token)
        }));
        for space in spaces_of(&mut tx, token).await? {
            let tenant = Tenant { space_id: space, environment: token.environment };
            journal::publish(&mut tx, &tenant, EventName::AccessTokenExpiring, &notice).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Expires an idle token now, unless it was used since `last` (a use the sweep did not see
    /// wins) or its expiry changed since it was read (another node's sweep got there first: the
    /// compare is on the exact expiry read, not on "later than now", which two sweeps reading
    /// slightly different clocks would both pass), with a `token.expire_idle` record in each of
    /// its Spaces and the change feed.
    async fn expire_idle(
        &self,
        token: &AccessToken,
        last: OffsetDateTime,
        period: i64,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let expired = sqlx::query(
            "UPDATE access_tokens SET expires_at = $1 WHERE id = $2 AND COALESCE(expires_at, -1) = $4 \
             AND (revoked_at IS NULL OR revoked_at > $1) AND COALESCE(last_used_at, created_at) = $3",
        )
        .bind(micros(now))
        .bind(token.id.as_str())
        .bind(micros(last))
        .bind(token.expires_at.map_or(-1, micros))
        .execute(&mut *tx.tx)
        .await?
        .rows_affected()
            == 1;
        if !expired {
            return Ok(false);
        }
        record_change(&mut tx, &AuthChange::Token(token.id.clone())).await?;
        let actor = Actor::System("idle expiry");
        let detail = serde_json::json!({
            "name": token.name, "monimeer": token.monimeer_id, "idleSeconds": period,
            "lastUsed": token.usage.last_used_at.map(openmonime_domain::time_fmt::rfc3339),
        });
        for space in spaces_of(&mut tx, token).await? {
            let change =
                Change { space: Some(&space), ..token_change(token, &actor, "token.expire_idle", detail.clone()) };
            journal::record(&mut tx, &actor, change).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
