//! Money limits per token, charged inside the moving transaction (an internal transfer or a
//! payout's hold), so concurrent movements by one token cannot pass its 24-hour total together.

use crate::backend::{Backend, WriteTx};
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use openmonime_domain::amount_limit::{self, AmountLimit, LimitBreach};
use openmonime_domain::ids::TokenId;
use openmonime_domain::money::{Currency, Money};
use sqlx::Row;

/// A movement a token's limits refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRefusal {
    pub currency: Currency,
    pub breach: LimitBreach,
}

/// Charges `amount`, moved by `spender` at `now_us`, to the limits of `spender` and of every token
/// above it (the tokens that minted it, and theirs): a child's or a rotation's successor's
/// movements count against its ancestors' totals too, so minting or rotating never resets a
/// window. Inside `tx`, the chain's rows are read (locked on PostgreSQL, in id order, so movements
/// anywhere in one lineage are serialized across nodes; SQLite's writer already is), each limited
/// token's movements of the last 24 hours summed, and the movement recorded for each of them.
/// A chain without a limit in the currency writes nothing.
pub(crate) async fn charge(
    tx: &mut WriteTx,
    backend: Backend,
    spender: &TokenId,
    amount: Money,
    now_us: i64,
) -> StoreResult<()> {
    // Escalation keeps every token minted or rotated by a limited token limited in the same
    // currencies (`amount_limit::within`), so a spender without a limit in this currency has no
    // limited ancestor: one primary-key read settles the common, unlimited case.
    let own = sqlx::query("SELECT amount_limits FROM access_tokens WHERE id = $1")
        .bind(spender.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let own: Vec<AmountLimit> =
        serde_json::from_str(&text(&own, "amount_limits")?).map_err(|_| corrupt("amount_limits"))?;
    if amount_limit::limit_for(&own, amount.currency).is_none() {
        return Ok(());
    }
    let chain: Vec<String> = sqlx::query(
        "WITH RECURSIVE chain(id, depth) AS ( \
           SELECT CAST($1 AS TEXT), 0 \
           UNION ALL SELECT t.created_by, c.depth + 1 FROM access_tokens t JOIN chain c ON t.id = c.id \
           WHERE t.created_by IS NOT NULL AND c.depth < 64) \
         SELECT id FROM chain",
    )
    .bind(spender.as_str())
    .fetch_all(&mut *tx.tx)
    .await?
    .iter()
    .map(|r| text(r, "id"))
    .collect::<StoreResult<_>>()?;
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let marks: Vec<String> = (1..=chain.len()).map(|i| format!("${i}")).collect();
    let sql =
        format!("SELECT id, amount_limits FROM access_tokens WHERE id IN ({}) ORDER BY id{lock}", marks.join(", "));
    let mut query = sqlx::query(&sql);
    for id in &chain {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(&mut *tx.tx).await?;
    let since = now_us - amount_limit::WINDOW.whole_microseconds() as i64;
    let mut limited = Vec::new();
    for row in &rows {
        let limits: Vec<AmountLimit> =
            serde_json::from_str(&text(row, "amount_limits")?).map_err(|_| corrupt("amount_limits"))?;
        if amount_limit::limit_for(&limits, amount.currency).is_none() {
            continue;
        }
        let id = text(row, "id")?;
        let spent = spent_since(&mut tx.tx, &id, amount.currency, since).await?;
        amount_limit::check(&limits, amount, spent)
            .map_err(|breach| StoreError::AmountLimit(LimitRefusal { currency: amount.currency, breach }))?;
        limited.push(id);
    }
    for id in &limited {
        sqlx::query("INSERT INTO token_movements (token_id, currency, amount, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.as_str())
            .bind(amount.currency.code())
            .bind(amount.value)
            .bind(now_us)
            .execute(&mut *tx.tx)
            .await?;
    }
    Ok(())
}

async fn spent_since(conn: &mut sqlx::AnyConnection, token: &str, currency: Currency, since: i64) -> StoreResult<i64> {
    Ok(sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS spent FROM token_movements \
         WHERE token_id = $1 AND currency = $2 AND created_at > $3",
    )
    .bind(token)
    .bind(currency.code())
    .bind(since)
    .fetch_one(conn)
    .await?
    .try_get("spent")?)
}

/// Copies `from`'s movements of the current window to `to` (a rotation's successor).
pub(crate) async fn carry_window(tx: &mut WriteTx, from: &TokenId, to: &TokenId) -> StoreResult<()> {
    let since = openmonime_domain::time_fmt::to_micros(openmonime_domain::time_fmt::now())
        - amount_limit::WINDOW.whole_microseconds() as i64;
    sqlx::query(
        "INSERT INTO token_movements (token_id, currency, amount, created_at) \
         SELECT $1, currency, amount, created_at FROM token_movements WHERE token_id = $2 AND created_at > $3",
    )
    .bind(to.as_str())
    .bind(from.as_str())
    .bind(since)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

/// What `spender` and the tokens it minted have moved in `currency` in the 24 hours before `now_us`.
pub async fn spent_in_window(
    pool: &sqlx::AnyPool,
    spender: &TokenId,
    currency: Currency,
    now_us: i64,
) -> StoreResult<i64> {
    let mut conn = pool.acquire().await?;
    spent_since(&mut conn, spender.as_str(), currency, now_us - amount_limit::WINDOW.whole_microseconds() as i64).await
}
