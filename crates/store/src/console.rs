//! The web console's sign-in state: Monimeers' passwords, one-time sign-in links and server-side
//! sessions. Secrets arrive already hashed (see `domain::console_auth`); the store never sees a
//! password, a link or a cookie.

use crate::backend::Store;
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use openmonime_domain::ids::{ConsoleSessionId, MonimeerId, SpaceId};
use openmonime_domain::time_fmt;
use time::{Duration, OffsetDateTime};

/// How long a sign-in link works.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);
/// How long a session lasts from sign-in, whatever happens in it.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// A signed-in Monimeer, as each console request finds them.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub id: ConsoleSessionId,
    pub monimeer_id: MonimeerId,
    pub monimeer_name: String,
    /// The session's CSRF value, echoed by every form.
    pub csrf: String,
    pub expires_at: OffsetDateTime,
}

/// A Space a Monimeer belongs to, for the console's Space switcher.
#[derive(Debug, Clone)]
pub struct SpaceChoice {
    pub id: SpaceId,
    pub name: String,
    pub role: String,
}

impl Store {
    /// Sets (or replaces) the console password of a Monimeer, who must have an email address and
    /// not be offboarded; the address is the sign-in name, one Monimeer per address.
    pub async fn set_console_password(&self, monimeer: &MonimeerId, hash: &str) -> StoreResult<String> {
        let found = self.get_monimeer(monimeer).await?;
        if found.offboarded_at.is_some() {
            return Err(StoreError::Conflict(Conflict::MonimeerOffboarded));
        }
        let email =
            found.email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()).ok_or(StoreError::NotFound)?;
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT monimeer_id FROM monimeer_passwords WHERE email = $1 AND monimeer_id <> $2")
            .bind(&email)
            .bind(monimeer.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(Conflict::EmailInUse));
        }
        sqlx::query("DELETE FROM monimeer_passwords WHERE monimeer_id = $1")
            .bind(monimeer.as_str())
            .execute(&mut *tx.tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO monimeer_passwords (monimeer_id, email, hash, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(monimeer.as_str())
        .bind(&email)
        .bind(hash)
        .bind(micros(time_fmt::now()))
        .execute(&mut *tx.tx)
        .await;
        match inserted {
            Err(e) if StoreError::is_unique_violation(&e) => return Err(StoreError::Conflict(Conflict::EmailInUse)),
            other => other?,
        };
        // A new password ends every session the old one opened.
        end_sessions(&mut tx, monimeer).await?;
        tx.commit().await?;
        Ok(email)
    }

    /// The Monimeer and password hash for a sign-in address (lower-cased), if an active Monimeer
    /// signs in with it.
    pub async fn console_password(&self, email: &str) -> StoreResult<Option<(MonimeerId, String)>> {
        let row = sqlx::query(
            "SELECT p.monimeer_id, p.hash FROM monimeer_passwords p JOIN monimeers m ON m.id = p.monimeer_id \
             WHERE p.email = $1 AND m.offboarded_at IS NULL",
        )
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((id(&r, "monimeer_id", MonimeerId::parse)?, text(&r, "hash")?))).transpose()
    }

    /// Records a one-time sign-in link (its secret's hash) for a Monimeer.
    pub async fn create_sign_in_link(&self, monimeer: &MonimeerId, secret_hash: &str) -> StoreResult<OffsetDateTime> {
        let found = self.get_monimeer(monimeer).await?;
        if found.offboarded_at.is_some() {
            return Err(StoreError::Conflict(Conflict::MonimeerOffboarded));
        }
        let now = time_fmt::now();
        let expires = now + LINK_LIFETIME;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_sign_in_links (secret_hash, monimeer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(secret_hash)
        .bind(monimeer.as_str())
        .bind(micros(now))
        .bind(micros(expires))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(expires)
    }

    /// The Monimeer's name a sign-in link would sign in as, while it is unused and unexpired.
    pub async fn peek_sign_in_link(&self, secret_hash: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT m.name FROM console_sign_in_links l JOIN monimeers m ON m.id = l.monimeer_id \
             WHERE l.secret_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2 AND m.offboarded_at IS NULL",
        )
        .bind(secret_hash)
        .bind(micros(time_fmt::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| text(&r, "name")).transpose()
    }

    /// Uses a sign-in link, once: compare-and-set on `used_at`, so two clicks (or two nodes)
    /// cannot both sign in with it. `None` when it is unknown, used, expired or its Monimeer gone.
    pub async fn use_sign_in_link(&self, secret_hash: &str) -> StoreResult<Option<MonimeerId>> {
        let now = micros(time_fmt::now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE console_sign_in_links SET used_at = $1 WHERE secret_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 RETURNING monimeer_id",
        )
        .bind(now)
        .bind(secret_hash)
        .fetch_optional(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        row.map(|r| id(&r, "monimeer_id", MonimeerId::parse)).transpose()
    }

    /// Opens a session for a Monimeer; the cookie secret's hash identifies it from then on.
    pub async fn open_console_session(
        &self,
        monimeer: &MonimeerId,
        secret_hash: &str,
        csrf: &str,
        ip: &str,
    ) -> StoreResult<ConsoleSessionId> {
        let id = ConsoleSessionId::generate();
        let now = time_fmt::now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_sessions (id, secret_hash, monimeer_id, csrf, created_at, expires_at, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(secret_hash)
        .bind(monimeer.as_str())
        .bind(csrf)
        .bind(micros(now))
        .bind(micros(now + SESSION_LIFETIME))
        .bind(ip)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The live session a cookie's hash names: not ended, not expired, its Monimeer not
    /// offboarded. One primary-key read.
    pub async fn console_session(&self, secret_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        let row = sqlx::query(
            "SELECT s.id, s.monimeer_id, s.csrf, s.expires_at, m.name FROM console_sessions s \
             JOIN monimeers m ON m.id = s.monimeer_id \
             WHERE s.secret_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND m.offboarded_at IS NULL",
        )
        .bind(secret_hash)
        .bind(micros(time_fmt::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConsoleSession {
                id: id(&r, "id", ConsoleSessionId::parse)?,
                monimeer_id: id(&r, "monimeer_id", MonimeerId::parse)?,
                monimeer_name: text(&r, "name")?,
                csrf: text(&r, "csrf")?,
                expires_at: time(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends one session (sign out).
    pub async fn end_console_session(&self, session: &ConsoleSessionId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE console_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(micros(time_fmt::now()))
            .bind(session.as_str())
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of a Monimeer (sign out everywhere); returns how many were open.
    pub async fn end_console_sessions(&self, monimeer: &MonimeerId) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let ended = end_sessions(&mut tx, monimeer).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// The Spaces a Monimeer belongs to, with their role in each, by name.
    pub async fn spaces_of_monimeer(&self, monimeer: &MonimeerId) -> StoreResult<Vec<SpaceChoice>> {
        let rows = sqlx::query(
            "SELECT s.id, s.name, m.role FROM memberships m JOIN spaces s ON s.id = m.space_id \
             WHERE m.monimeer_id = $1 ORDER BY s.name, s.id",
        )
        .bind(monimeer.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SpaceChoice { id: id(r, "id", SpaceId::parse)?, name: text(r, "name")?, role: text(r, "role")? })
            })
            .collect()
    }
}

async fn end_sessions(tx: &mut crate::backend::WriteTx, monimeer: &MonimeerId) -> StoreResult<u64> {
    let done = sqlx::query("UPDATE console_sessions SET ended_at = $1 WHERE monimeer_id = $2 AND ended_at IS NULL")
        .bind(micros(time_fmt::now()))
        .bind(monimeer.as_str())
        .execute(&mut *tx.tx)
        .await?;
    Ok(done.rows_affected())
}
