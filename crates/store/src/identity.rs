//! Monimeers, Spaces, roles, memberships and access tokens, and the change feed that tells every
//! node which cached authorizations went stale.

use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::journal::{self, Actor, Change};
use crate::ledger;
use ipnet::IpNet;
use openmonime_domain::entities::*;
use openmonime_domain::event::{EventName, Snapshot, TokenNotice};
use openmonime_domain::grant::Grantable;
use openmonime_domain::ids::*;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::role::{BuiltinRole, RoleName};
use openmonime_domain::time_fmt;
use openmonime_domain::token::TokenHash;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::Environment;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What changed, as the change feed reports it to other nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChange {
    /// A token was revoked (or otherwise changed): subject is its id.
    Token(TokenId),
    /// A Monimeer was offboarded: every token they own is affected.
    Monimeer(MonimeerId),
    /// A membership was added, changed or removed.
    Membership(SpaceId, MonimeerId),
    /// A Space's roles or policy changed: every membership in it is affected.
    SpaceRoles(SpaceId),
}

impl AuthChange {
    fn encode(&self) -> (&'static str, String) {
        match self {
            AuthChange::Token(id) => ("token", id.to_string()),
            AuthChange::Monimeer(id) => ("monimeer", id.to_string()),
            AuthChange::Membership(s, m) => ("membership", format!("{s} {m}")),
            AuthChange::SpaceRoles(s) => ("space_roles", s.to_string()),
        }
    }

    fn decode(kind: &str, subject: &str) -> Option<AuthChange> {
        Some(match kind {
            "token" => AuthChange::Token(TokenId::parse(subject)?),
            "monimeer" => AuthChange::Monimeer(MonimeerId::parse(subject)?),
            "membership" => {
                let (s, m) = subject.split_once(' ')?;
                AuthChange::Membership(SpaceId::parse(s)?, MonimeerId::parse(m)?)
            }
            "space_roles" => AuthChange::SpaceRoles(SpaceId::parse(subject)?),
            _ => return None,
        })
    }
}

/// A token found by its hash, with what the pipeline needs about its owner.
#[derive(Debug, Clone)]
pub struct TokenLookup {
    pub token: AccessToken,
    pub owner_offboarded: bool,
}

/// A member's role in a Space, resolved to its permissions, with the Space's token policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRole {
    pub name: String,
    pub permissions: PermissionSet,
    pub policy: SpacePolicy,
}

pub(crate) const TOKEN_COLUMNS: &str = "t.id, t.hint, t.monimeer_id, t.name, t.environment, t.permissions, t.space_id, \
     t.allowed_ips, t.expires_at, t.api_version, t.created_by, t.created_at, t.revoked_at, t.last_used_at, t.last_used_ip, \
     t.request_count, t.exposed_at, t.exposed_origin, t.amount_limits";

pub(crate) fn token_from_row<R: Columns + ?Sized>(row: &R) -> StoreResult<AccessToken> {
    let ips = text(row, "allowed_ips")?;
    let allowed_ips = ips
        .split_whitespace()
        .map(|s| s.parse::<IpNet>().map_err(|_| corrupt("allowed_ips")))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(AccessToken {
        id: id(row, "id", TokenId::parse)?,
        monimeer_id: id(row, "monimeer_id", MonimeerId::parse)?,
        name: text(row, "name")?,
        environment: environment(row, "environment")?,
        permissions: permissions(row, "permissions")?,
        space_id: opt_id(row, "space_id", SpaceId::parse)?,
        allowed_ips,
        expires_at: opt_time(row, "expires_at")?,
        api_version: ApiVersion::parse(&text(row, "api_version")?).ok_or_else(|| corrupt("api_version"))?,
        created_by: opt_id(row, "created_by", TokenId::parse)?,
        amount_limits: serde_json::from_str(&text(row, "amount_limits")?).map_err(|_| corrupt("amount_limits"))?,
        hint: text(row, "hint")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        usage: TokenUsage {
            last_used_at: opt_time(row, "last_used_at")?,
            last_used_ip: opt_text(row, "last_used_ip")?,
            request_count: int(row, "request_count")?,
        },
        exposure: match opt_time(row, "exposed_at")? {
            Some(detected_at) => Some(TokenExposure { detected_at, origin: opt_text(row, "exposed_origin")? }),
            None => None,
        },
    })
}

/// The policy columns of `space_policies` (`p.`), NULL when a join found no row: the defaults.
pub(crate) const POLICY_COLUMNS: &str =
    "p.max_token_lifetime_seconds, p.allow_unbound_tokens, p.revoke_exposed_tokens, p.idle_token_expiry_seconds";

pub(crate) fn policy_from_row(row: &AnyRow) -> StoreResult<SpacePolicy> {
    let defaults = SpacePolicy::default();
    let flag = |column: &str, default: bool| -> StoreResult<bool> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map_or(default, |v| v != 0))
    };
    Ok(SpacePolicy {
        max_token_lifetime_seconds: row.try_get::<Option<i64>, _>("max_token_lifetime_seconds")?,
        allow_unbound_tokens: flag("allow_unbound_tokens", defaults.allow_unbound_tokens)?,
        revoke_exposed_tokens: flag("revoke_exposed_tokens", defaults.revoke_exposed_tokens)?,
        idle_token_expiry_seconds: row.try_get::<Option<i64>, _>("idle_token_expiry_seconds")?,
    })
}

fn monimeer_from_row(row: &AnyRow) -> StoreResult<Monimeer> {
    Ok(Monimeer {
        id: id(row, "id", MonimeerId::parse)?,
        name: text(row, "name")?,
        email: opt_text(row, "email")?,
        created_at: time(row, "created_at")?,
        offboarded_at: opt_time(row, "offboarded_at")?,
    })
}

/// Inserts a token inside the caller's transaction, after checking its owner and Space exist.
pub(crate) async fn insert_token(
    tx: &mut WriteTx,
    new: &NewAccessToken,
    hash: &TokenHash,
    hint: &str,
) -> StoreResult<AccessToken> {
    if let Some(creator) = &new.created_by {
        // The creator as this transaction sees it, not as a node's cache does: a token rotated or
        // revoked a moment ago (on another node, say) mints nothing.
        let row = sqlx::query("SELECT revoked_at FROM access_tokens WHERE id = $1")
            .bind(creator.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if opt_time(&row, "revoked_at")?.is_some() {
            return Err(StoreError::Refused(openmonime_domain::grant::GrantRefusal::TokenRetiring));
        }
    }
    let token = AccessToken {
        id: TokenId::generate(),
        monimeer_id: new.monimeer_id.clone(),
        name: new.name.clone(),
        environment: new.environment,
        permissions: new.permissions,
        space_id: new.space_id.clone(),
        allowed_ips: new.allowed_ips.clone(),
        expires_at: new.expires_at,
        api_version: new.api_version,
        created_by: new.created_by.clone(),
        amount_limits: new.amount_limits.clone(),
        hint: hint.to_owned(),
        created_at: time_fmt::now(),
        revoked_at: None,
        usage: TokenUsage::default(),
        exposure: None,
    };
    let owner = sqlx::query("SELECT offboarded_at FROM monimeers WHERE id = $1")
        .bind(token.monimeer_id.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    if opt_time(&owner, "offboarded_at")?.is_some() {
        return Err(StoreError::Conflict(Conflict::MonimeerOffboarded));
    }
    if let Some(space) = &token.space_id {
        // Binding needs membership: a Space one does not belong to and a Space that does not
        // exist are the same `NotFound`, so ids cannot be probed.
        sqlx::query("SELECT 1 FROM memberships WHERE space_id = $1 AND monimeer_id = $2")
            .bind(space.as_str())
            .bind(token.monimeer_id.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    }
    let ips: Vec<String> = token.allowed_ips.iter().map(|n| n.to_string()).collect();
    sqlx::query(
        "INSERT INTO access_tokens (id, token_hash, hint, monimeer_id, name, environment, permissions, space_id, \
         allowed_ips, expires_at, api_version, created_at, created_by, amount_limits) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(token.id.as_str())
    .bind(hash.to_hex())
    .bind(&token.hint)
    .bind(token.monimeer_id.as_str())
    .bind(&token.name)
    .bind(token.environment.as_str())
    .bind(encode_permissions(token.permissions))
    .bind(token.space_id.as_ref().map(|s| s.as_str().to_owned()))
    .bind(ips.join(" "))
    .bind(token.expires_at.map(micros))
    .bind(token.api_version.id())
    .bind(micros(token.created_at))
    .bind(token.created_by.as_ref().map(|t| t.as_str().to_owned()))
    .bind(serde_json::to_string(&token.amount_limits).map_err(|_| StoreError::Invariant("limits serialize"))?)
    .execute(&mut *tx.tx)
    .await?;
    Ok(token)
}

/// A membership change, as the log records it: in the Space, for both environments.
fn member_change<'a>(
    space: &'a SpaceId,
    monimeer: &'a MonimeerId,
    action: &'a str,
    detail: serde_json::Value,
) -> Change<'a> {
    Change { space: Some(space), environment: None, action, subject: monimeer.as_str(), detail }
}

/// A token change, as the log records it: in the token's Space (or the one the request named,
/// for an unbound token) and environment.
pub(crate) fn token_change<'a>(
    token: &'a AccessToken,
    actor: &Actor<'a>,
    action: &'a str,
    detail: serde_json::Value,
) -> Change<'a> {
    Change {
        space: token.space_id.as_ref().or(actor.space()),
        environment: Some(token.environment),
        action,
        subject: token.id.as_str(),
        detail,
    }
}

/// What [`Store::record_token_exposure`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExposureRecorded {
    /// This call recorded the exposure (false: it was already known).
    pub first: bool,
    /// A Space's policy revoked the token; with the descendants stopped with it.
    pub revoked: Option<Vec<TokenId>>,
}

/// What [`Store::record_token_leak`] did to the reported token.
#[derive(Debug)]
pub struct LeakRecorded {
    /// The token as it was before the report.
    pub token: AccessToken,
    /// `None`: it had already stopped. Otherwise the descendants stopped with it.
    pub stopped: Option<Vec<TokenId>>,
}

/// The Spaces `token` can act in: the one it is bound to, or every Space its owner belongs to.
pub(crate) async fn spaces_of(tx: &mut WriteTx, token: &AccessToken) -> StoreResult<Vec<SpaceId>> {
    Ok(match &token.space_id {
        Some(space) => vec![space.clone()],
        None => sqlx::query("SELECT space_id FROM memberships WHERE monimeer_id = $1 ORDER BY space_id")
            .bind(token.monimeer_id.as_str())
            .fetch_all(&mut *tx.tx)
            .await?
            .iter()
            .map(|r| crate::codec::id(r, "space_id", SpaceId::parse))
            .collect::<StoreResult<_>>()?,
    })
}

/// A token as the caller's transaction sees it.
async fn token_in(tx: &mut WriteTx, id: &TokenId) -> StoreResult<AccessToken> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.id = $1");
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut *tx.tx).await?;
    token_from_row(&row.ok_or(StoreError::NotFound)?)
}

/// Stops token `id` now and, with `descendants`, every token minted by it or its descendants,
/// in the caller's transaction, each on the change feed. `None` when `id` had already stopped;
/// otherwise the descendants stopped.
async fn revoke_in(tx: &mut WriteTx, id: &TokenId, descendants: bool) -> StoreResult<Option<Vec<TokenId>>> {
    let now = micros(time_fmt::now());
    let done = sqlx::query(
        "UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $1)",
    )
    .bind(now)
    .bind(id.as_str())
    .execute(&mut *tx.tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    record_change(tx, &AuthChange::Token(id.clone())).await?;
    let mut stopped = Vec::new();
    if descendants {
        let rows = sqlx::query(
            "WITH RECURSIVE lineage(id) AS ( \
               SELECT id FROM access_tokens WHERE created_by = $1 \
               UNION SELECT t.id FROM access_tokens t JOIN lineage l ON t.created_by = l.id) \
             SELECT t.id FROM access_tokens t JOIN lineage l ON l.id = t.id \
             WHERE t.revoked_at IS NULL OR t.revoked_at > $2 ORDER BY t.id",
        )
        .bind(id.as_str())
        .bind(now)
        .fetch_all(&mut *tx.tx)
        .await?;
        for row in &rows {
            let child = crate::codec::id(row, "id", TokenId::parse)?;
            sqlx::query("UPDATE access_tokens SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(child.as_str())
                .execute(&mut *tx.tx)
                .await?;
            record_change(tx, &AuthChange::Token(child.clone())).await?;
            stopped.push(child);
        }
    }
    Ok(Some(stopped))
}

/// Appends to the change feed inside the caller's transaction.
pub(crate) async fn record_change(tx: &mut WriteTx, change: &AuthChange) -> StoreResult<()> {
    let (kind, subject) = change.encode();
    sqlx::query("INSERT INTO auth_changes (kind, subject, created_at) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(subject)
        .bind(micros(time_fmt::now()))
        .execute(&mut *tx.tx)
        .await?;
    if tx.backend == crate::Backend::Postgres {
        // Delivered at commit, to every node listening: they poll the feed at once.
        sqlx::query("SELECT pg_notify($1, '')").bind(crate::backend::CHANGES_CHANNEL).execute(&mut *tx.tx).await?;
    }
    Ok(())
}

impl Store {
    pub async fn create_monimeer(&self, name: &str, email: Option<&str>) -> StoreResult<Monimeer> {
        let m = Monimeer {
            id: MonimeerId::generate(),
            name: name.to_owned(),
            email: email.map(str::to_owned),
            created_at: time_fmt::now(),
            offboarded_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO monimeers (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(m.id.as_str())
            .bind(&m.name)
            .bind(m.email.as_deref())
            .bind(micros(m.created_at))
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(m)
    }

    pub async fn get_monimeer(&self, id: &MonimeerId) -> StoreResult<Monimeer> {
        let row = sqlx::query("SELECT id, name, email, created_at, offboarded_at FROM monimeers WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        monimeer_from_row(&row)
    }

    /// Offboards a Monimeer: every token they own stops working on the next request.
    pub async fn offboard_monimeer(&self, id: &MonimeerId, actor: &Actor<'_>) -> StoreResult<Monimeer> {
        let mut tx = self.begin_write().await?;
        // Offboarding a Space's last active owner would leave it ungoverned: refused, under the
        // same per-Space lock that member changes take (in id order, so two offboardings cannot
        // deadlock).
        let owned =
            sqlx::query("SELECT space_id FROM memberships WHERE monimeer_id = $1 AND role = 'owner' ORDER BY space_id")
                .bind(id.as_str())
                .fetch_all(&mut *tx.tx)
                .await?;
        for row in &owned {
            let space = crate::codec::id(row, "space_id", SpaceId::parse)?;
            Self::lock_space(&mut tx, &space).await?;
            Self::keep_an_owner(&mut tx, &space, true).await?;
        }
        let done = sqlx::query("UPDATE monimeers SET offboarded_at = $1 WHERE id = $2 AND offboarded_at IS NULL")
            .bind(micros(time_fmt::now()))
            .bind(id.as_str())
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 FROM monimeers WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx.tx)
                .await?;
            return Err(if exists.is_some() {
                StoreError::Conflict(Conflict::MonimeerAlreadyOffboarded)
            } else {
                StoreError::NotFound
            });
        }
        record_change(&mut tx, &AuthChange::Monimeer(id.clone())).await?;
        let change = Change {
            space: None,
            environment: None,
            action: "monimeer.offboard",
            subject: id.as_str(),
            detail: serde_json::json!({}),
        };
        journal::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        self.get_monimeer(id).await
    }

    /// How many Monimeers exist: zero means a fresh database.
    pub async fn count_monimeers(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM monimeers").fetch_one(&self.pool).await?;
        int(&row, "n")
    }

    /// Creates a Space with `owner` as its first owner and a default `main` SLE account in each
    /// environment, atomically.
    pub async fn create_space(&self, name: &str, owner: &MonimeerId, actor: &Actor<'_>) -> StoreResult<Space> {
        let space = Space { id: SpaceId::generate(), name: name.to_owned(), created_at: time_fmt::now() };
        let mut tx = self.begin_write().await?;
        let owner_ok = sqlx::query("SELECT 1 FROM monimeers WHERE id = $1 AND offboarded_at IS NULL")
            .bind(owner.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?;
        if owner_ok.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("INSERT INTO spaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(space.id.as_str())
            .bind(&space.name)
            .bind(micros(space.created_at))
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("INSERT INTO memberships (space_id, monimeer_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(space.id.as_str())
            .bind(owner.as_str())
            .bind(BuiltinRole::Owner.name())
            .bind(micros(space.created_at))
            .execute(&mut *tx.tx)
            .await?;
        for environment in Environment::ALL {
            let tenant = Tenant { space_id: space.id.clone(), environment };
            ledger::insert_main_account(&mut tx, &tenant).await?;
        }
        record_change(&mut tx, &AuthChange::Membership(space.id.clone(), owner.clone())).await?;
        let change = Change {
            space: Some(&space.id),
            environment: None,
            action: "space.create",
            subject: space.id.as_str(),
            detail: serde_json::json!({"owner": owner}),
        };
        journal::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(space)
    }

    pub async fn get_space(&self, space_id: &SpaceId) -> StoreResult<Space> {
        let row = sqlx::query("SELECT id, name, created_at FROM spaces WHERE id = $1")
            .bind(space_id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Space {
            id: id(&row, "id", SpaceId::parse)?,
            name: text(&row, "name")?,
            created_at: time(&row, "created_at")?,
        })
    }

    /// The caller's role in a Space resolved to permissions; `None` when not a member (or the
    /// Space does not exist: the two are deliberately indistinguishable).
    pub async fn resolve_role(&self, space: &SpaceId, monimeer: &MonimeerId) -> StoreResult<Option<ResolvedRole>> {
        let sql = format!(
            "SELECT m.role, r.permissions, {POLICY_COLUMNS} FROM memberships m \
             LEFT JOIN space_roles r ON r.space_id = m.space_id AND r.name = m.role \
             LEFT JOIN space_policies p ON p.space_id = m.space_id \
             WHERE m.space_id = $1 AND m.monimeer_id = $2"
        );
        let row = sqlx::query(&sql).bind(space.as_str()).bind(monimeer.as_str()).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let name = text(&row, "role")?;
        let permissions = match BuiltinRole::parse(&name) {
            Some(builtin) => builtin.permissions(),
            None if opt_text(&row, "permissions")?.is_some() => permissions(&row, "permissions")?,
            // A membership naming a role that no longer exists grants nothing.
            None => PermissionSet::EMPTY,
        };
        let policy = policy_from_row(&row)?;
        Ok(Some(ResolvedRole { name, permissions, policy }))
    }

    pub async fn list_members(&self, space: &SpaceId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT space_id, monimeer_id, role FROM memberships WHERE space_id = $1 ORDER BY created_at, monimeer_id",
        )
        .bind(space.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    space_id: id(r, "space_id", SpaceId::parse)?,
                    monimeer_id: id(r, "monimeer_id", MonimeerId::parse)?,
                    role: RoleName::stored(&text(r, "role")?),
                })
            })
            .collect()
    }

    /// Takes the Space's governance lock for the rest of the transaction, so membership and role
    /// changes in one Space are serialized (no two owners demote each other into an ownerless
    /// Space; no role is deleted while a concurrent write grants it). SQLite's write transaction
    /// is already exclusive.
    pub(crate) async fn lock_space(tx: &mut WriteTx, space: &SpaceId) -> StoreResult<()> {
        let sql = match tx.backend {
            crate::Backend::Postgres => "SELECT id FROM spaces WHERE id = $1 FOR UPDATE",
            crate::Backend::Sqlite => "SELECT id FROM spaces WHERE id = $1",
        };
        sqlx::query(sql).bind(space.as_str()).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        Ok(())
    }

    /// What a role name grants in a Space, `None` when the Space has no such role.
    pub(crate) async fn grantable(
        tx: &mut WriteTx,
        space: &SpaceId,
        role: &RoleName,
    ) -> StoreResult<Option<Grantable>> {
        let name = match role {
            RoleName::Builtin(b) => return Ok(Some(Grantable::new(b.permissions(), *b == BuiltinRole::Owner))),
            RoleName::Custom(name) => name,
        };
        let row = sqlx::query("SELECT permissions FROM space_roles WHERE space_id = $1 AND name = $2")
            .bind(space.as_str())
            .bind(name)
            .fetch_optional(&mut *tx.tx)
            .await?;
        row.map(|r| Ok(Grantable::new(permissions(&r, "permissions")?, false))).transpose()
    }

    /// What a member's current role grants; a membership naming a deleted role grants nothing.
    async fn held(tx: &mut WriteTx, space: &SpaceId, role: &RoleName) -> StoreResult<Grantable> {
        Ok(Self::grantable(tx, space, role).await?.unwrap_or(Grantable::new(PermissionSet::EMPTY, false)))
    }

    /// Owners whose person is not offboarded: the ones who can actually govern the Space.
    async fn active_owner_count(tx: &mut WriteTx, space: &SpaceId) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM memberships ms JOIN monimeers m ON m.id = ms.monimeer_id \
             WHERE ms.space_id = $1 AND ms.role = 'owner' AND m.offboarded_at IS NULL",
        )
        .bind(space.as_str())
        .fetch_one(&mut *tx.tx)
        .await?;
        int(&row, "n")
    }

    /// The member's role and whether the person is still active.
    async fn current_role(
        tx: &mut WriteTx,
        space: &SpaceId,
        monimeer: &MonimeerId,
    ) -> StoreResult<Option<(RoleName, bool)>> {
        let row = sqlx::query(
            "SELECT ms.role, m.offboarded_at FROM memberships ms JOIN monimeers m ON m.id = ms.monimeer_id \
             WHERE ms.space_id = $1 AND ms.monimeer_id = $2",
        )
        .bind(space.as_str())
        .bind(monimeer.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?;
        row.map(|r| Ok((RoleName::stored(&text(&r, "role")?), opt_time(&r, "offboarded_at")?.is_none()))).transpose()
    }

    /// Refuses a change that would leave the Space without an active owner.
    async fn keep_an_owner(tx: &mut WriteTx, space: &SpaceId, losing_active_owner: bool) -> StoreResult<()> {
        if losing_active_owner && Self::active_owner_count(tx, space).await? <= 1 {
            return Err(StoreError::Conflict(Conflict::LastOwner));
        }
        Ok(())
    }

    /// Adds an existing Monimeer to a Space with a role; a request's authority is checked inside
    /// the write against the role as it is now.
    pub async fn add_member(
        &self,
        space: &SpaceId,
        monimeer: &MonimeerId,
        role: &RoleName,
        actor: &Actor<'_>,
    ) -> StoreResult<Membership> {
        let mut tx = self.begin_write().await?;
        Self::lock_space(&mut tx, space).await?;
        let granted =
            Self::grantable(&mut tx, space, role).await?.ok_or(StoreError::Conflict(Conflict::RoleUnknown))?;
        if let Some(by) = actor.authority() {
            by.change_member(None, Some(granted), false).map_err(StoreError::Refused)?;
        }
        let person = sqlx::query("SELECT offboarded_at FROM monimeers WHERE id = $1")
            .bind(monimeer.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if opt_time(&person, "offboarded_at")?.is_some() {
            return Err(StoreError::Conflict(Conflict::MonimeerOffboarded));
        }
        if Self::current_role(&mut tx, space, monimeer).await?.is_some() {
            return Err(StoreError::Conflict(Conflict::AlreadyAMember));
        }
        let inserted =
            sqlx::query("INSERT INTO memberships (space_id, monimeer_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(space.as_str())
                .bind(monimeer.as_str())
                .bind(role.as_str())
                .bind(micros(time_fmt::now()))
                .execute(&mut *tx.tx)
                .await;
        match inserted {
            // Another transaction added the same person first (a Space's lock makes this rare).
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(Conflict::AlreadyAMember))
            }
            other => other?,
        };
        record_change(&mut tx, &AuthChange::Membership(space.clone(), monimeer.clone())).await?;
        let detail = serde_json::json!({"role": role.as_str()});
        journal::record(&mut tx, actor, member_change(space, monimeer, "member.add", detail)).await?;
        tx.commit().await?;
        Ok(Membership { space_id: space.clone(), monimeer_id: monimeer.clone(), role: role.clone() })
    }

    /// Changes a member's role; the last active owner cannot be demoted.
    pub async fn set_member_role(
        &self,
        space: &SpaceId,
        monimeer: &MonimeerId,
        role: &RoleName,
        actor: &Actor<'_>,
    ) -> StoreResult<Membership> {
        let mut tx = self.begin_write().await?;
        Self::lock_space(&mut tx, space).await?;
        let (current, active) = Self::current_role(&mut tx, space, monimeer).await?.ok_or(StoreError::NotFound)?;
        let granted =
            Self::grantable(&mut tx, space, role).await?.ok_or(StoreError::Conflict(Conflict::RoleUnknown))?;
        if let Some(by) = actor.authority() {
            let had = Self::held(&mut tx, space, &current).await?;
            by.change_member(Some(had), Some(granted), false).map_err(StoreError::Refused)?;
        }
        Self::keep_an_owner(&mut tx, space, current.is_owner() && !role.is_owner() && active).await?;
        sqlx::query("UPDATE memberships SET role = $1 WHERE space_id = $2 AND monimeer_id = $3")
            .bind(role.as_str())
            .bind(space.as_str())
            .bind(monimeer.as_str())
            .execute(&mut *tx.tx)
            .await?;
        record_change(&mut tx, &AuthChange::Membership(space.clone(), monimeer.clone())).await?;
        let detail = serde_json::json!({"from": current.as_str(), "to": role.as_str()});
        journal::record(&mut tx, actor, member_change(space, monimeer, "member.set_role", detail)).await?;
        tx.commit().await?;
        Ok(Membership { space_id: space.clone(), monimeer_id: monimeer.clone(), role: role.clone() })
    }

    /// Removes a member; the last active owner cannot leave. Leaving oneself needs no authority
    /// over one's own role, but still a live, active token.
    pub async fn remove_member(&self, space: &SpaceId, monimeer: &MonimeerId, actor: &Actor<'_>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        Self::lock_space(&mut tx, space).await?;
        let (current, active) = Self::current_role(&mut tx, space, monimeer).await?.ok_or(StoreError::NotFound)?;
        if let Some(by) = actor.authority() {
            let had = Self::held(&mut tx, space, &current).await?;
            by.change_member(Some(had), None, actor.monimeer() == Some(monimeer)).map_err(StoreError::Refused)?;
        }
        Self::keep_an_owner(&mut tx, space, current.is_owner() && active).await?;
        sqlx::query("DELETE FROM memberships WHERE space_id = $1 AND monimeer_id = $2")
            .bind(space.as_str())
            .bind(monimeer.as_str())
            .execute(&mut *tx.tx)
            .await?;
        record_change(&mut tx, &AuthChange::Membership(space.clone(), monimeer.clone())).await?;
        let detail = serde_json::json!({"role": current.as_str()});
        journal::record(&mut tx, actor, member_change(space, monimeer, "member.remove", detail)).await?;
        tx.commit().await
    }

    /// Stores a new token (its hash only) for an active Monimeer.
    pub async fn create_token(
        &self,
        new: &NewAccessToken,
        hash: &TokenHash,
        hint: &str,
        actor: &Actor<'_>,
    ) -> StoreResult<AccessToken> {
        let mut tx = self.begin_write().await?;
        let token = insert_token(&mut tx, new, hash, hint).await?;
        let detail = serde_json::json!({"name": token.name, "monimeer": token.monimeer_id});
        journal::record(&mut tx, actor, token_change(&token, actor, "token.create", detail)).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The authentication lookup: a token by the hash of its plaintext.
    pub async fn find_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<TokenLookup>> {
        fn lookup<R: Columns + ?Sized>(row: &R) -> StoreResult<TokenLookup> {
            Ok(TokenLookup { token: token_from_row(row)?, owner_offboarded: opt_time(row, "offboarded_at")?.is_some() })
        }
        // Built once: the text is the prepared-statement cache's key on every look-up.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {TOKEN_COLUMNS}, m.offboarded_at FROM access_tokens t JOIN monimeers m ON m.id = t.monimeer_id \
                 WHERE t.token_hash = $1"
            )
        });
        if let Some(fast) = &self.fast_reads {
            // SQLite: on this thread (see `fast_read`), the same text (SQLite numbers `$1` as
            // the first parameter, as sqlx relies on). A revocation committed before this read is
            // seen by it.
            return fast.row(&SQL, rusqlite::params![hash.to_hex()], |row| lookup(row));
        }
        let row = sqlx::query(&SQL).bind(hash.to_hex()).fetch_optional(&self.pool).await?;
        row.map(|r| lookup(&r)).transpose()
    }

    pub async fn get_token(&self, id: &TokenId) -> StoreResult<AccessToken> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        token_from_row(&row)
    }

    pub async fn list_tokens(&self, monimeer: &MonimeerId) -> StoreResult<Vec<AccessToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.monimeer_id = $1 ORDER BY t.seq DESC");
        let rows = sqlx::query(&sql).bind(monimeer.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Every token that can act in `space`: its members' tokens bound to it or to no Space,
    /// newest first (what a review of the Space looks at).
    pub async fn list_space_tokens(&self, space: &SpaceId) -> StoreResult<Vec<AccessToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens t JOIN memberships m ON m.monimeer_id = t.monimeer_id AND m.space_id = $1 \
             WHERE t.space_id IS NULL OR t.space_id = $1 ORDER BY t.seq DESC"
        );
        let rows = sqlx::query(&sql).bind(space.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Stops a token now: an active one, or one still in its rotation grace (a leaked token
    /// that was rotated must be stoppable before its grace ends).
    pub async fn revoke_token(&self, id: &TokenId, actor: &Actor<'_>) -> StoreResult<AccessToken> {
        self.revoke_lineage(id, false, actor).await.map(|(token, _)| token)
    }

    /// Stops a token and, with `descendants`, every token minted by it or by its descendants
    /// (children and the successors of rotations it made), in one transaction. Returns the token
    /// and the descendants that were stopped by this call.
    pub async fn revoke_lineage(
        &self,
        id: &TokenId,
        descendants: bool,
        actor: &Actor<'_>,
    ) -> StoreResult<(AccessToken, Vec<TokenId>)> {
        let mut tx = self.begin_write().await?;
        let token = token_in(&mut tx, id).await?;
        let stopped =
            revoke_in(&mut tx, id, descendants).await?.ok_or(StoreError::Conflict(Conflict::TokenAlreadyRevoked))?;
        let detail = serde_json::json!({"name": token.name, "monimeer": token.monimeer_id, "descendants": stopped});
        journal::record(&mut tx, actor, token_change(&token, actor, "token.revoke", detail)).await?;
        tx.commit().await?;
        Ok((self.get_token(id).await?, stopped))
    }

    /// Records that token `id` arrived in a request a browser made, from `origin`. The first time,
    /// in one transaction: the exposure on the token, a `token.exposed` audit record and, when a
    /// Space the token could act in (its own, or any of its owner's when it is unbound) has
    /// `revokeExposedTokens`, its revocation with every token it minted (alone, when it is in its
    /// rotation grace), audited in that Space.
    /// Later calls change nothing. The change feed carries it to every node's cache.
    pub async fn record_token_exposure(
        &self,
        id: &TokenId,
        origin: Option<&str>,
        actor: &Actor<'_>,
    ) -> StoreResult<ExposureRecorded> {
        let mut tx = self.begin_write().await?;
        let token = token_in(&mut tx, id).await?;
        let now = micros(time_fmt::now());
        let first = sqlx::query(
            "UPDATE access_tokens SET exposed_at = $1, exposed_origin = $2 WHERE id = $3 AND exposed_at IS NULL",
        )
        .bind(now)
        .bind(origin)
        .bind(id.as_str())
        .execute(&mut *tx.tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(ExposureRecorded::default());
        }
        record_change(&mut tx, &AuthChange::Token(id.clone())).await?;
        let detail = serde_json::json!({"name": token.name, "monimeer": token.monimeer_id, "origin": origin});
        journal::record(&mut tx, actor, token_change(&token, actor, "token.exposed", detail)).await?;
        let strict = sqlx::query(
            "SELECT p.space_id FROM space_policies p WHERE p.revoke_exposed_tokens <> 0 AND ( \
               p.space_id = $1 OR ($1 IS NULL AND p.space_id IN (SELECT space_id FROM memberships WHERE monimeer_id = $2))) \
             ORDER BY p.space_id LIMIT 1",
        )
        .bind(token.space_id.as_ref().map(SpaceId::as_str))
        .bind(token.monimeer_id.as_str())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let mut revoked = None;
        if let Some(row) = strict {
            let space = crate::codec::id(&row, "space_id", SpaceId::parse)?;
            // A token in its rotation grace stops alone: its successor was minted to replace it,
            // and whoever holds the old one must not be able to stop the new one.
            let lineage = token.revoked_at.is_none();
            if let Some(stopped) = revoke_in(&mut tx, id, lineage).await? {
                let detail = serde_json::json!({
                    "name": token.name, "monimeer": token.monimeer_id, "descendants": stopped,
                    "reason": "exposed", "policySpace": space,
                });
                let change = Change { space: Some(&space), ..token_change(&token, actor, "token.revoke", detail) };
                journal::record(&mut tx, actor, change).await?;
                revoked = Some(stopped);
            }
        }
        tx.commit().await?;
        Ok(ExposureRecorded { first: true, revoked })
    }

    /// A report that the token whose hash is `hash` was published at `url`, by `reporter` (GitHub's
    /// scanner, or anyone through the public form). When a token has this hash, in one
    /// transaction: it stops now with every token it minted (alone when it is in its rotation
    /// grace; nothing at all is written when it had already stopped, so repeated reports cost a
    /// lookup), and a `token.leaked` record with the
    /// URL goes to its Space — to each of its owner's Spaces when it is unbound, or to the
    /// owner's log alone when they have none — with an `access_token.leaked` event for each of
    /// those Spaces' webhooks in the token's environment. `None` when no token has this hash.
    pub async fn record_token_leak(
        &self,
        hash: &TokenHash,
        url: Option<&str>,
        reporter: &'static str,
    ) -> StoreResult<Option<LeakRecorded>> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.token_hash = $1");
        let Some(row) = sqlx::query(&sql).bind(hash.to_hex()).fetch_optional(&mut *tx.tx).await? else {
            return Ok(None);
        };
        let token = token_from_row(&row)?;
        let lineage = token.revoked_at.is_none();
        let Some(stopped) = revoke_in(&mut tx, &token.id, lineage).await? else {
            // Already stopped: reporting it again (GitHub re-scans; anyone may repeat a report)
            // writes nothing, so repeats cannot flood a Space's log or its webhooks.
            tx.rollback().await?;
            return Ok(Some(LeakRecorded { token, stopped: None }));
        };
        let spaces = spaces_of(&mut tx, &token).await?;
        let actor = Actor::System(reporter);
        let detail = serde_json::json!({
            "name": token.name, "monimeer": token.monimeer_id, "url": url, "descendants": stopped,
        });
        if spaces.is_empty() {
            journal::record(&mut tx, &actor, token_change(&token, &actor, "token.leaked", detail.clone())).await?;
        }
        let notice = Snapshot::AccessToken(Box::new(TokenNotice {
            url: url.map(str::to_owned),
            revoked: true,
            ..TokenNotice::of(&token)
        }));
        for space in &spaces {
            let change = Change { space: Some(space), ..token_change(&token, &actor, "token.leaked", detail.clone()) };
            journal::record(&mut tx, &actor, change).await?;
            // The Space's webhooks of the token's environment hear of it, in the same transaction.
            let tenant = Tenant { space_id: space.clone(), environment: token.environment };
            journal::publish(&mut tx, &tenant, EventName::AccessTokenLeaked, &notice).await?;
        }
        tx.commit().await?;
        Ok(Some(LeakRecorded { token, stopped: Some(stopped) }))
    }

    /// The newest change-feed position.
    pub async fn latest_change(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS n FROM auth_changes")
            .fetch_one(&self.pool)
            .await?;
        int(&row, "n")
    }

    /// Changes after `seq`, oldest first, with the position of each. `None` is an entry this
    /// version does not understand: the caller should drop every cached authorization.
    pub async fn changes_since(&self, seq: i64) -> StoreResult<Vec<(i64, Option<AuthChange>)>> {
        let rows = sqlx::query("SELECT seq, kind, subject FROM auth_changes WHERE seq > $1 ORDER BY seq LIMIT 5000")
            .bind(seq)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let change = AuthChange::decode(&text(row, "kind")?, &text(row, "subject")?);
            out.push((int(row, "seq")?, change));
        }
        Ok(out)
    }
}
