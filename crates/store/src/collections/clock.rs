//! Each Space's test clock: how far its test environment runs ahead of the system's time, so a
//! test can make an expiry or a late confirmation happen without waiting. Live time is always
//! the system's.

use crate::backend::Store;
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::SpaceId;
use openmonime_domain::{time_fmt, Environment};
use time::OffsetDateTime;

/// The furthest a Space's test clock may run ahead: ten years (the sum of every advance).
pub const MAX_OFFSET_US: i64 = 10 * 366 * 86_400 * 1_000_000;

/// The tenant's time on `conn`: the system's, plus the Space's offset in the test environment.
pub(crate) async fn tenant_now(conn: &mut sqlx::AnyConnection, tenant: &Tenant) -> StoreResult<OffsetDateTime> {
    let now = micros(time_fmt::now());
    if tenant.environment == Environment::Live {
        return Ok(time_fmt::from_micros(now));
    }
    let offset = sqlx::query("SELECT offset_us FROM test_clocks WHERE space_id = $1")
        .bind(tenant.space_id.as_str())
        .fetch_optional(conn)
        .await?
        .map(|row| int(&row, "offset_us"))
        .transpose()?
        .unwrap_or(0);
    Ok(time_fmt::from_micros(now.saturating_add(offset)))
}

impl Store {
    /// The tenant's current time (see [`tenant_now`]).
    pub async fn tenant_now(&self, tenant: &Tenant) -> StoreResult<OffsetDateTime> {
        let mut conn = self.pool.acquire().await?;
        tenant_now(&mut conn, tenant).await
    }

    /// Moves `space`'s test clock `seconds` ahead; answers its new time. Refused past
    /// [`MAX_OFFSET_US`] (`Conflict::ClockLimit`), and then nothing moves.
    pub async fn advance_test_clock(&self, space: &SpaceId, seconds: i64) -> StoreResult<OffsetDateTime> {
        let by = seconds.checked_mul(1_000_000).filter(|us| (1..=MAX_OFFSET_US).contains(us));
        let by = by.ok_or(StoreError::Conflict(crate::error::Conflict::ClockLimit))?;
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "INSERT INTO test_clocks (space_id, offset_us) VALUES ($1, $2) \
             ON CONFLICT (space_id) DO UPDATE SET offset_us = test_clocks.offset_us + $2 \
             WHERE test_clocks.offset_us <= $3 - $2 RETURNING offset_us",
        )
        .bind(space.as_str())
        .bind(by)
        .bind(MAX_OFFSET_US)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(row) = moved else {
            tx.rollback().await?;
            return Err(StoreError::Conflict(crate::error::Conflict::ClockLimit));
        };
        let offset = int(&row, "offset_us")?;
        tx.commit().await?;
        Ok(time_fmt::from_micros(micros(time_fmt::now()).saturating_add(offset)))
    }
}
