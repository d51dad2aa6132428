//! One-time facts about the deployment, shared by every node through the database: the key that
//! seals list cursors, and whether the quick start has run. Each is an insert that only one node
//! can win (the `deployment` table's primary key), so nodes starting together agree.

use crate::codec::{int, micros, text};
use crate::error::{StoreError, StoreResult};
use crate::Store;
use openmonime_domain::cursor::CursorKey;
use openmonime_domain::time_fmt;

const CURSOR_KEY: &str = "cursor_key";
const QUICKSTART: &str = "quickstart";

impl Store {
    /// The deployment's list-cursor key: created by the first node that asks (a random key from
    /// the operating system), read by every other, then kept in memory. Not a setting: cursors
    /// issued by one node must open on every other, and an operator has nothing to configure.
    pub async fn cursor_key(&self) -> StoreResult<CursorKey> {
        let key = self
            .cursor_key
            .get_or_try_init(|| async {
                let stored = match self.deployment_value(CURSOR_KEY).await? {
                    Some(hex) => hex,
                    None => {
                        let fresh = hex::encode(CursorKey::generate());
                        self.insert_deployment_value(CURSOR_KEY, &fresh).await?;
                        // Whichever node won the insert, every node now reads the same row.
                        self.deployment_value(CURSOR_KEY).await?.ok_or(StoreError::Invariant("cursor key vanished"))?
                    }
                };
                let bytes: [u8; CursorKey::LEN] = hex::decode(&stored)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| crate::codec::corrupt("deployment.cursor_key"))?;
                Ok::<_, StoreError>(CursorKey::from_bytes(&bytes))
            })
            .await?;
        Ok(key.clone())
    }

    /// True for exactly one caller, ever, and only while the database has no Monimeer: that
    /// caller sets up the quick start. The emptiness check and the claim are one transaction and
    /// the claim is a primary-key insert, so of several nodes starting at once on an empty
    /// database one wins and the others (blocked on its uncommitted row, then finding it) do not.
    pub async fn claim_quickstart(&self) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM monimeers").fetch_one(&mut *tx.tx).await?;
        if int(&row, "n")? > 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let claimed = sqlx::query(
            "INSERT INTO deployment (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(QUICKSTART)
        .bind(time_fmt::rfc3339(time_fmt::now()))
        .bind(micros(time_fmt::now()))
        .execute(&mut *tx.tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(claimed)
    }

    async fn deployment_value(&self, name: &str) -> StoreResult<Option<String>> {
        let row =
            sqlx::query("SELECT value FROM deployment WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| text(&r, "value")).transpose()
    }

    /// Inserts `name` unless some node already did; never overwrites.
    async fn insert_deployment_value(&self, name: &str, value: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO deployment (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .bind(micros(time_fmt::now()))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }
}
