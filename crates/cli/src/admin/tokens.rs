//! `admin token …`: create, list, revoke and rotate any Monimeer's tokens as the operator.

use super::{audit, env_of, parse, store_err};
use clap::{Args, Subcommand};
use ipnet::IpNet;
use openmonime_domain::entities::{AccessToken, NewAccessToken, TokenStatus};
use openmonime_domain::ids::{MonimeerId, SpaceId, TokenId};
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token};
use openmonime_store::Store;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(super) enum TokenCommand {
    /// Create a token; the plaintext is printed this once.
    Create(TokenCreate),
    /// List a Monimeer's tokens.
    List {
        #[arg(long)]
        monimeer: String,
    },
    /// Revoke a token at once (also one still in its rotation grace).
    Revoke {
        id: String,
        /// Also revoke every token it created, and theirs, transitively (for a leaked token).
        #[arg(long)]
        descendants: bool,
    },
    /// Replace a token with a new one carrying the same settings; the old one keeps working for
    /// the grace period (default: stops at once). The new plaintext is printed this once.
    Rotate {
        id: String,
        /// How long the old token keeps working, like `1h` or `2d`.
        #[arg(long)]
        grace: Option<String>,
    },
}

#[derive(Args)]
pub(super) struct TokenCreate {
    #[arg(long)]
    monimeer: String,
    #[arg(long)]
    name: String,
    /// `test` or `live`.
    #[arg(long)]
    env: String,
    /// Comma-separated permissions (`financial-accounts:read`, `payouts:*`, `*`).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_permissions")]
    permissions: Vec<String>,
    /// Every permission.
    #[arg(long)]
    all_permissions: bool,
    /// Bind the token to one Space.
    #[arg(long)]
    space: Option<String>,
    /// Allow calls only from this CIDR (repeatable).
    #[arg(long = "allow-ip")]
    allow_ip: Vec<IpNet>,
    /// Lifetime such as `60d`, `12h`, `2w`, `1y` (default 60d).
    #[arg(long, conflicts_with_all = ["expires_at", "no_expiry"])]
    expires_in: Option<String>,
    /// Expiry as an RFC 3339 time.
    #[arg(long, conflicts_with = "no_expiry")]
    expires_at: Option<String>,
    /// Never expire.
    #[arg(long)]
    no_expiry: bool,
    /// Default API release for requests without `Monime-Version`.
    #[arg(long)]
    api_version: Option<String>,
}

pub(super) async fn run(store: &Store, cmd: TokenCommand) -> Result<Value, String> {
    Ok(match cmd {
        TokenCommand::Create(c) => create_token(store, c).await?,
        TokenCommand::List { monimeer } => {
            let monimeer = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
            let tokens = store.list_tokens(&monimeer).await.map_err(store_err)?;
            json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})
        }
        TokenCommand::Revoke { id, descendants } => {
            let id = parse("token id", &id, TokenId::parse)?;
            let (t, stopped) = store.revoke_lineage(&id, descendants).await.map_err(store_err)?;
            let detail = json!({"monimeer": t.monimeer_id, "descendants": stopped});
            audit(store, t.space_id.as_ref(), "token.revoke", id.as_str(), detail).await?;
            let mut out = token_json(&t);
            if descendants {
                out["revokedDescendants"] = json!(stopped);
            }
            out
        }
        TokenCommand::Rotate { id, grace } => {
            let id = parse("token id", &id, TokenId::parse)?;
            let old = store.get_token(&id).await.map_err(store_err)?;
            let now = time_fmt::now();
            if old.status(now) != TokenStatus::Active {
                return Err("only an active token can be rotated".into());
            }
            let grace = grace.as_deref().map(parse_lifetime).transpose()?.unwrap_or(time::Duration::ZERO);
            let new = old.replacement();
            let minted = token::generate(new.environment);
            let stops = old.rotation_stop(now.checked_add(grace).ok_or("--grace is too long")?);
            let stored = store.rotate_token(&old, &new, &minted.hash, &minted.hint, stops).await.map_err(store_err)?;
            audit(store, old.space_id.as_ref(), "token.rotate", old.id.as_str(), json!({"replacement": stored.id}))
                .await?;
            let mut value = token_json(&stored);
            value["token"] = json!(minted.plaintext.expose());
            value["replaces"] = json!(old.id);
            value
        }
    })
}

/// Parses `60d`, `12h`, `2w`, `1y`.
pub fn parse_lifetime(raw: &str) -> Result<time::Duration, String> {
    use openmonime_domain::duration::{parse_time, Unit};
    parse_time(raw, &[Unit::Hours, Unit::Days, Unit::Weeks, Unit::Years], None)
        .ok_or_else(|| format!("`{raw}` is not a lifetime like 60d, 12h, 2w or 1y"))
}

pub fn token_json(t: &AccessToken) -> Value {
    json!({
        "id": t.id,
        "monimeerId": t.monimeer_id,
        "name": t.name,
        "environment": t.environment.as_str(),
        "permissions": t.permissions,
        "spaceId": t.space_id,
        "allowedIps": t.allowed_ips.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "expireTime": t.expires_at.map(time_fmt::rfc3339),
        "apiVersion": t.api_version.id(),
        "hint": t.hint,
        "status": t.status(time_fmt::now()),
        "createTime": time_fmt::rfc3339(t.created_at),
        "revokeTime": t.revoked_at.map(time_fmt::rfc3339),
    })
}

async fn create_token(store: &Store, c: TokenCreate) -> Result<Value, String> {
    let monimeer_id = parse("Monimeer id", &c.monimeer, MonimeerId::parse)?;
    if c.name.trim().is_empty() || c.name.chars().count() > 100 {
        return Err("--name must be 1 to 100 characters".into());
    }
    let environment = env_of(&c.env)?;
    let permissions = if c.all_permissions {
        PermissionSet::all()
    } else if c.permissions.is_empty() {
        return Err("choose the token's permissions: --permissions p1,p2 or --all-permissions".into());
    } else {
        PermissionSet::expand(&c.permissions).map_err(|w| format!("unknown permission `{w}`"))?
    };
    let space_id = c.space.as_deref().map(|s| parse("Space id", s, SpaceId::parse)).transpose()?;
    let now = time_fmt::now();
    let expires_at = if c.no_expiry {
        None
    } else if let Some(at) = &c.expires_at {
        let at = time_fmt::parse_rfc3339(at).ok_or_else(|| format!("--expires-at `{at}` is not an RFC 3339 time"))?;
        if at <= now {
            return Err("--expires-at must be in the future".into());
        }
        Some(at)
    } else {
        let lifetime = match &c.expires_in {
            Some(raw) => parse_lifetime(raw)?,
            None => time::Duration::days(openmonime_domain::token::DEFAULT_LIFETIME_DAYS), // `--no-expiry` opts out,
        };
        Some(now.checked_add(lifetime).ok_or("--expires-in is too far in the future")?)
    };
    let api_version = match &c.api_version {
        Some(v) => ApiVersion::parse(v)
            .ok_or_else(|| format!("--api-version must be one of {}", ApiVersion::supported_ids().join(", ")))?,
        None => ApiVersion::LATEST,
    };
    let minted = token::generate(environment);
    let new = NewAccessToken {
        monimeer_id,
        name: c.name,
        environment,
        permissions,
        space_id,
        allowed_ips: c.allow_ip,
        expires_at,
        api_version,
        created_by: None, // the operator
    };
    let stored = store.create_token(&new, &minted.hash, &minted.hint).await.map_err(store_err)?;
    audit(
        store,
        stored.space_id.as_ref(),
        "token.create",
        stored.id.as_str(),
        json!({"monimeer": stored.monimeer_id, "environment": environment.as_str()}),
    )
    .await?;
    let mut value = token_json(&stored);
    value["token"] = json!(minted.plaintext.expose());
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("60d").unwrap(), time::Duration::days(60));
        assert_eq!(parse_lifetime("2w").unwrap(), time::Duration::days(14));
        assert_eq!(parse_lifetime("12h").unwrap(), time::Duration::hours(12));
        assert!(parse_lifetime("").is_err());
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("5x").is_err());
        assert!(parse_lifetime("99999999999999999y").is_err());
        assert!(parse_lifetime("99999999999999y").is_err());
        assert!(parse_lifetime("9999999999999999h").is_err());
        assert!(parse_lifetime("3é").is_err());
        assert_eq!(parse_lifetime("1y").unwrap(), time::Duration::days(365));
    }
}
