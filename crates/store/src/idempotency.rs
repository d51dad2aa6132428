//! Idempotent creates: the key's record is written in the same transaction as the effects.
//!
//! A create first claims `(Space, environment, Monimeer, key)` with an insert that does nothing
//! on conflict. On PostgreSQL a concurrent claim of the same key waits for the first transaction
//! to finish, then sees its record; on SQLite writers are serialized. Either way exactly one
//! request performs the effects, and every other one replays its response or is refused.
//!
//! Internal transfers, the hottest write, record the key last instead ([`record`]): the same
//! insert, carrying the response, saves the claim's later update. A duplicate then does the work
//! and finds the key taken at the end, so its transaction is rolled back and it replays
//! ([`recorded`]). It holds every lock it needs before it inserts the key, so waiting on a
//! concurrent duplicate's key cannot deadlock.

use crate::backend::WriteTx;
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::tenant::scoped;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::MonimeerId;
use openmonime_domain::time_fmt;
use sqlx::AnyConnection;

/// How long records are kept before `purge_idempotency` may delete them.
pub const RETENTION: time::Duration = time::Duration::hours(24);

/// An `Idempotency-Key` as a create presents it.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub monimeer_id: MonimeerId,
    pub key: String,
    /// Checksum of method, path and body: a different request under the same key is refused.
    pub fingerprint: String,
}

/// What a create did.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The effects happened now; `body` is the response recorded for replays.
    Fresh { value: T, body: String },
    /// The key was seen before with the same request: the first response, verbatim.
    Replayed { body: String },
}

/// Claims the key inside `tx`. `Ok(None)`: this request owns it and must perform the effects.
/// `Ok(Some(body))`: replay. `Err(IdempotencyKeyInUse)`: same key, different request.
pub(crate) async fn claim(tx: &mut WriteTx, tenant: &Tenant, claim: &IdempotencyClaim) -> StoreResult<Option<String>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_records (space_id, environment, monimeer_id, idem_key, fingerprint, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, '', $6) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(claim.monimeer_id.as_str())
    .bind(&claim.key)
    .bind(&claim.fingerprint)
    .bind(micros(time_fmt::now()))
    .execute(&mut *tx.tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    // The conflicting record is committed (PostgreSQL waited for it) or ours to see (SQLite).
    lookup(&mut tx.tx, tenant, claim).await?.map(Some).ok_or(StoreError::Invariant("a claimed key holds no record"))
}

/// The recorded answer for a key: the first response, `IdempotencyKeyInUse` when the key was
/// used for a different request, or `None` when it was never recorded.
async fn lookup(conn: &mut AnyConnection, tenant: &Tenant, claim: &IdempotencyClaim) -> StoreResult<Option<String>> {
    let row = scoped(
        "SELECT fingerprint, response_body FROM idempotency_records \
         WHERE $TENANT AND monimeer_id = $1 AND idem_key = $2",
        tenant,
    )
    .bind(claim.monimeer_id.as_str())
    .bind(&claim.key)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if text(&row, "fingerprint")? != claim.fingerprint {
        return Err(StoreError::IdempotencyKeyInUse);
    }
    text(&row, "response_body").map(Some)
}

/// Stores the response of the request that owns the claim, in the same transaction.
pub(crate) async fn complete(
    tx: &mut WriteTx,
    tenant: &Tenant,
    claim: &IdempotencyClaim,
    body: &str,
) -> StoreResult<()> {
    scoped(
        "UPDATE idempotency_records SET response_body = $1 \
         WHERE $TENANT AND monimeer_id = $2 AND idem_key = $3",
        tenant,
    )
    .bind(body)
    .bind(claim.monimeer_id.as_str())
    .bind(&claim.key)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

/// Records the key with its response at the end of the transaction that performed the effects.
/// `false`: the key is taken (by a committed duplicate); the caller must roll back and call
/// [`recorded`].
pub(crate) async fn record(
    tx: &mut WriteTx,
    tenant: &Tenant,
    claim: &IdempotencyClaim,
    body: &str,
) -> StoreResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_records (space_id, environment, monimeer_id, idem_key, fingerprint, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(claim.monimeer_id.as_str())
    .bind(&claim.key)
    .bind(&claim.fingerprint)
    .bind(body)
    .bind(micros(time_fmt::now()))
    .execute(&mut *tx.tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

impl crate::Store {
    /// What a key recorded by [`record`] answers (see [`lookup`]).
    pub(crate) async fn recorded(&self, tenant: &Tenant, claim: &IdempotencyClaim) -> StoreResult<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        lookup(&mut conn, tenant, claim).await
    }

    /// Ends a create that recorded its key last ([`record`]): records `body` under `claim` and
    /// commits; if a committed duplicate took the key meanwhile, undoes this one and replays it.
    pub(crate) async fn commit_recording<T>(
        &self,
        mut tx: WriteTx,
        tenant: &Tenant,
        claim: Option<&IdempotencyClaim>,
        value: T,
        body: String,
    ) -> StoreResult<Outcome<T>> {
        if let Some(c) = claim {
            if !record(&mut tx, tenant, c, &body).await? {
                tx.rollback().await?;
                let body = self.recorded(tenant, c).await?;
                let body = body.ok_or(StoreError::Invariant("an idempotency key conflicted but holds no record"))?;
                return Ok(Outcome::Replayed { body });
            }
        }
        tx.commit().await?;
        Ok(Outcome::Fresh { value, body })
    }

    /// A create refused before any effect (its transaction already rolled back). A key used
    /// before still answers as it did, as when it is claimed up front.
    pub(crate) async fn refuse_recording<T, R>(
        &self,
        tenant: &Tenant,
        claim: Option<&IdempotencyClaim>,
        rejection: R,
    ) -> StoreResult<Result<Outcome<T>, R>> {
        if let Some(c) = claim {
            if let Some(body) = self.recorded(tenant, c).await? {
                return Ok(Ok(Outcome::Replayed { body }));
            }
        }
        Ok(Err(rejection))
    }

    /// Deletes records older than the retention period; returns how many.
    pub async fn purge_idempotency(&self) -> StoreResult<u64> {
        let cutoff = micros(time_fmt::now() - RETENTION);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
