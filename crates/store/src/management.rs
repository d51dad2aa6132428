//! Self-service management: Space policies, custom roles, token rotation and usage counters.

use crate::backend::Store;
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::identity::{
    insert_token, policy_from_row, record_change, token_change, token_from_row, AuthChange, POLICY_COLUMNS,
    TOKEN_COLUMNS,
};
use crate::journal::{self, Actor, Change};
use openmonime_domain::entities::{AccessToken, NewAccessToken, PolicyPatch, SpacePolicy};
use openmonime_domain::ids::*;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::role::{BuiltinRole, RoleName};
use openmonime_domain::time_fmt;
use openmonime_domain::token::TokenHash;
use time::OffsetDateTime;

/// A role as the roles list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub name: String,
    pub builtin: bool,
    pub permissions: PermissionSet,
    pub members: i64,
}

/// Who a role edit reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleImpact {
    pub members: i64,
    /// Active tokens of those members usable in this Space (bound to it, or unbound).
    pub tokens: i64,
}

/// A batch of token usage gathered in memory.
#[derive(Debug, Clone)]
pub struct UsageDelta {
    pub token_id: TokenId,
    pub last_used_at: OffsetDateTime,
    pub last_used_ip: String,
    pub requests: i64,
}

impl Store {
    pub async fn get_policy(&self, space: &SpaceId) -> StoreResult<SpacePolicy> {
        let mut conn = self.pool.acquire().await?;
        read_policy(&mut conn, space).await
    }

    /// Applies `patch` to a Space's policy as it is inside the write, under the Space's lock, so
    /// two concurrent patches of different fields both hold. A request's authority must govern:
    /// policies reach both environments.
    pub async fn update_policy(
        &self,
        space: &SpaceId,
        patch: PolicyPatch,
        actor: &Actor<'_>,
    ) -> StoreResult<SpacePolicy> {
        if let Some(by) = actor.authority() {
            by.governs().map_err(StoreError::Refused)?;
        }
        let mut tx = self.begin_write().await?;
        Store::lock_space(&mut tx, space).await?;
        let policy = patch.apply(read_policy(&mut tx.tx, space).await?);
        let now = micros(time_fmt::now());
        sqlx::query(
            "INSERT INTO space_policies (space_id, max_token_lifetime_seconds, allow_unbound_tokens, revoke_exposed_tokens, \
             idle_token_expiry_seconds, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (space_id) DO UPDATE SET \
             max_token_lifetime_seconds = $2, allow_unbound_tokens = $3, revoke_exposed_tokens = $4, \
             idle_token_expiry_seconds = $5, updated_at = $6",
        )
        .bind(space.as_str())
        .bind(policy.max_token_lifetime_seconds)
        .bind(policy.allow_unbound_tokens as i64)
        .bind(policy.revoke_exposed_tokens as i64)
        .bind(policy.idle_token_expiry_seconds)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
        record_change(&mut tx, &AuthChange::SpaceRoles(space.clone())).await?;
        let detail = serde_json::json!({
            "maxTokenLifetimeSeconds": policy.max_token_lifetime_seconds,
            "allowUnboundTokens": policy.allow_unbound_tokens,
            "revokeExposedTokens": policy.revoke_exposed_tokens,
            "idleTokenExpirySeconds": policy.idle_token_expiry_seconds,
        });
        journal::record(&mut tx, actor, space_change(space, "policy.update", space.as_str(), detail)).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Built-in roles first, then custom roles by name, each with its member count.
    pub async fn list_roles(&self, space: &SpaceId) -> StoreResult<Vec<RoleInfo>> {
        let counts = sqlx::query("SELECT role, COUNT(*) AS n FROM memberships WHERE space_id = $1 GROUP BY role")
            .bind(space.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut members = std::collections::HashMap::new();
        for r in &counts {
            members.insert(text(r, "role")?, int(r, "n")?);
        }
        let mut out: Vec<RoleInfo> = BuiltinRole::ALL
            .iter()
            .map(|b| RoleInfo {
                name: b.name().into(),
                builtin: true,
                permissions: b.permissions(),
                members: *members.get(b.name()).unwrap_or(&0),
            })
            .collect();
        let rows = sqlx::query("SELECT name, permissions FROM space_roles WHERE space_id = $1 ORDER BY name")
            .bind(space.as_str())
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let name = text(r, "name")?;
            out.push(RoleInfo {
                members: *members.get(&name).unwrap_or(&0),
                name,
                builtin: false,
                permissions: permissions(r, "permissions")?,
            });
        }
        Ok(out)
    }

    /// Defines a custom role; a request's authority must hold every permission it grants.
    pub async fn create_role(
        &self,
        space: &SpaceId,
        role: &RoleName,
        set: PermissionSet,
        actor: &Actor<'_>,
    ) -> StoreResult<RoleInfo> {
        if let Some(by) = actor.authority() {
            by.change_role(None, set).map_err(StoreError::Refused)?;
        }
        let RoleName::Custom(name) = role else { return Err(StoreError::Conflict(Conflict::RoleExists)) };
        let mut tx = self.begin_write().await?;
        Store::lock_space(&mut tx, space).await?;
        let result =
            sqlx::query("INSERT INTO space_roles (space_id, name, permissions, created_at) VALUES ($1, $2, $3, $4)")
                .bind(space.as_str())
                .bind(name)
                .bind(encode_permissions(set))
                .bind(micros(time_fmt::now()))
                .execute(&mut *tx.tx)
                .await;
        match result {
            Err(e) if StoreError::is_unique_violation(&e) => return Err(StoreError::Conflict(Conflict::RoleExists)),
            other => other?,
        };
        let detail = serde_json::json!({"permissions": set});
        journal::record(&mut tx, actor, space_change(space, "role.create", name, detail)).await?;
        tx.commit().await?;
        Ok(RoleInfo { name: name.into(), builtin: false, permissions: set, members: 0 })
    }

    /// How many members hold `role`, and how many active tokens they could use in this Space.
    pub async fn role_impact(&self, space: &SpaceId, role: &str) -> StoreResult<RoleImpact> {
        let mut conn = self.pool.acquire().await?;
        role_impact(&mut conn, space, role).await
    }

    /// Replaces a custom role's permissions; every member holding it is affected on the next
    /// request. The impact is counted in the same transaction, so it describes this very change.
    /// A request's authority must hold both the old and the new set (a role above one's own is
    /// not one's to edit).
    pub async fn update_role(
        &self,
        space: &SpaceId,
        role: &RoleName,
        set: PermissionSet,
        actor: &Actor<'_>,
    ) -> StoreResult<(RoleInfo, RoleImpact)> {
        let RoleName::Custom(name) = role else { return Err(StoreError::Conflict(Conflict::RoleBuiltin)) };
        let mut tx = self.begin_write().await?;
        Store::lock_space(&mut tx, space).await?;
        if let Some(by) = actor.authority() {
            let old = Store::grantable(&mut tx, space, role).await?.ok_or(StoreError::NotFound)?;
            by.change_role(Some(old.permissions), set).map_err(StoreError::Refused)?;
        }
        let done = sqlx::query("UPDATE space_roles SET permissions = $1 WHERE space_id = $2 AND name = $3")
            .bind(encode_permissions(set))
            .bind(space.as_str())
            .bind(name)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        record_change(&mut tx, &AuthChange::SpaceRoles(space.clone())).await?;
        let impact = role_impact(&mut tx.tx, space, name).await?;
        let detail = serde_json::json!({"permissions": set});
        journal::record(&mut tx, actor, space_change(space, "role.update", name, detail)).await?;
        tx.commit().await?;
        Ok((RoleInfo { name: name.into(), builtin: false, permissions: set, members: impact.members }, impact))
    }

    /// Deletes a custom role nobody holds, under the Space's lock so no concurrent write can grant
    /// it meanwhile; a request's authority must hold everything the role grants.
    pub async fn delete_role(&self, space: &SpaceId, role: &RoleName, actor: &Actor<'_>) -> StoreResult<()> {
        let RoleName::Custom(name) = role else { return Err(StoreError::Conflict(Conflict::RoleBuiltin)) };
        let mut tx = self.begin_write().await?;
        Store::lock_space(&mut tx, space).await?;
        if let Some(by) = actor.authority() {
            let old = Store::grantable(&mut tx, space, role).await?.ok_or(StoreError::NotFound)?;
            by.change_role(Some(old.permissions), PermissionSet::EMPTY).map_err(StoreError::Refused)?;
        }
        let held = sqlx::query("SELECT 1 FROM memberships WHERE space_id = $1 AND role = $2")
            .bind(space.as_str())
            .bind(name)
            .fetch_optional(&mut *tx.tx)
            .await?;
        if held.is_some() {
            return Err(StoreError::Conflict(Conflict::RoleInUse));
        }
        let done = sqlx::query("DELETE FROM space_roles WHERE space_id = $1 AND name = $2")
            .bind(space.as_str())
            .bind(name)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        record_change(&mut tx, &AuthChange::SpaceRoles(space.clone())).await?;
        journal::record(&mut tx, actor, space_change(space, "role.delete", name, serde_json::json!({}))).await?;
        tx.commit().await
    }

    /// Issues a replacement for `old` and schedules the old one to stop at `old_stops_at`
    /// (never later than its own expiry), atomically.
    pub async fn rotate_token(
        &self,
        old: &AccessToken,
        new: &NewAccessToken,
        hash: &TokenHash,
        hint: &str,
        stops: OffsetDateTime,
        actor: &Actor<'_>,
    ) -> StoreResult<AccessToken> {
        let mut tx = self.begin_write().await?;
        // The successor first: its creator (often `old` itself) must still be active, which the
        // stop time set just below would otherwise hide.
        let token = insert_token(&mut tx, new, hash, hint).await?;
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND monimeer_id = $3 AND revoked_at IS NULL",
        )
        .bind(micros(stops))
        .bind(old.id.as_str())
        .bind(old.monimeer_id.as_str())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::TokenAlreadyRevoked));
        }
        sqlx::query("UPDATE access_tokens SET rotated_to = $1 WHERE id = $2")
            .bind(token.id.as_str())
            .bind(old.id.as_str())
            .execute(&mut *tx.tx)
            .await?;
        // The successor carries the old token's money window: a rotation (by the API or the
        // operator) never resets what a limited token may still move today.
        crate::amount_limits::carry_window(&mut tx, &old.id, &token.id).await?;
        record_change(&mut tx, &AuthChange::Token(old.id.clone())).await?;
        let detail = serde_json::json!({"name": old.name, "replacement": token.id});
        journal::record(&mut tx, actor, token_change(old, actor, "token.rotate", detail)).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// A Monimeer's own token; another person's is `NotFound`.
    pub async fn get_own_token(&self, monimeer: &MonimeerId, id: &str) -> StoreResult<AccessToken> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.id = $1 AND t.monimeer_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(monimeer.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        token_from_row(&row)
    }

    /// Applies a batch of usage counters in one transaction.
    pub async fn record_usage(&self, batch: &[UsageDelta]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for d in batch {
            sqlx::query(
                "UPDATE access_tokens SET request_count = request_count + $1, last_used_ip = $2, \
                 last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $3 THEN $3 ELSE last_used_at END WHERE id = $4",
            )
            .bind(d.requests)
            .bind(&d.last_used_ip)
            .bind(micros(d.last_used_at))
            .bind(d.token_id.as_str())
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }
}

async fn role_impact(conn: &mut sqlx::AnyConnection, space: &SpaceId, role: &str) -> StoreResult<RoleImpact> {
    let now = micros(time_fmt::now());
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE space_id = $1 AND role = $2) AS members, \
         (SELECT COUNT(*) FROM access_tokens t JOIN memberships m ON m.monimeer_id = t.monimeer_id \
          WHERE m.space_id = $1 AND m.role = $2 AND (t.space_id IS NULL OR t.space_id = $1) \
          AND (t.revoked_at IS NULL OR t.revoked_at > $3) AND (t.expires_at IS NULL OR t.expires_at > $3)) AS tokens",
    )
    .bind(space.as_str())
    .bind(role)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(RoleImpact { members: int(&row, "members")?, tokens: int(&row, "tokens")? })
}

/// A change to the Space's governance (its policy or roles), for both environments.
fn space_change<'a>(space: &'a SpaceId, action: &'a str, subject: &'a str, detail: serde_json::Value) -> Change<'a> {
    Change { space: Some(space), environment: None, action, subject, detail }
}

async fn read_policy(conn: &mut sqlx::AnyConnection, space: &SpaceId) -> StoreResult<SpacePolicy> {
    let sql = format!("SELECT {POLICY_COLUMNS} FROM space_policies p WHERE p.space_id = $1");
    let row = sqlx::query(&sql).bind(space.as_str()).fetch_optional(&mut *conn).await?;
    row.map_or(Ok(SpacePolicy::default()), |r| policy_from_row(&r))
}
