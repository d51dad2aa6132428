//! `openmonime admin …`: operator commands on the database directly (no server needed).
//! Every command prints its result; `--json` prints one JSON object for scripts.

use crate::config::DatabaseArgs;
use clap::{Args, Subcommand};
use ipnet::IpNet;
use openmonime_domain::entities::{AccessToken, NewAccessToken, Tenant};
use openmonime_domain::ids::{FinancialAccountId, MonimeerId, SpaceId, TokenId};
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token, Environment};
use openmonime_store::audit::AuditEvent;
use openmonime_store::backend::StoreOptions;
use openmonime_store::{Store, StoreError};
use serde_json::{json, Value};

#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// People.
    #[command(subcommand)]
    Monimeer(MonimeerCommand),
    /// Tenants.
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Space membership and roles.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Money entering the ledger, and ledger checks.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// A Space's custom roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// A Space's token policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// A Space's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum RoleCommand {
    /// Built-in and custom roles with their permissions and member counts.
    List {
        #[arg(long)]
        space: String,
    },
    /// Create a custom role (a named permission set).
    Create(RoleSpec),
    /// Replace a custom role's permissions; holders are affected on their next request.
    Update(RoleSpec),
    /// Delete a custom role nobody holds.
    Delete {
        #[arg(long)]
        space: String,
        #[arg(long)]
        name: String,
    },
}

/// A custom role as `role create` and `role update` take it.
#[derive(Args)]
struct RoleSpec {
    #[arg(long)]
    space: String,
    #[arg(long)]
    name: String,
    #[arg(long, value_delimiter = ',')]
    permissions: Vec<String>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Show the Space's token policy.
    Show {
        #[arg(long)]
        space: String,
    },
    /// Change the Space's token policy.
    Set {
        #[arg(long)]
        space: String,
        /// Longest accepted token lifetime, like `30d`, or `none`.
        #[arg(long)]
        max_token_lifetime: Option<String>,
        /// Whether tokens not bound to this Space may be used against it.
        #[arg(long)]
        allow_unbound_tokens: Option<bool>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// The newest events of a Space in one environment, or (`--monimeer`) every change to a
    /// Monimeer's tokens of that environment, including those recorded in no Space.
    List {
        #[arg(long, required_unless_present = "monimeer")]
        space: Option<String>,
        #[arg(long, conflicts_with_all = ["space", "action"])]
        monimeer: Option<String>,
        #[arg(long)]
        env: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        action: Option<String>,
    },
}

#[derive(Subcommand)]
enum MonimeerCommand {
    /// Create a Monimeer.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// Offboard a Monimeer: every token they own stops working.
    Offboard { id: String },
}

#[derive(Subcommand)]
enum SpaceCommand {
    /// Create a Space with an owner (and a `main` SLE account per environment).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a Monimeer to a Space with a role.
    Add {
        #[arg(long)]
        space: String,
        #[arg(long)]
        monimeer: String,
        #[arg(long)]
        role: String,
    },
    /// Change a member's role.
    SetRole {
        #[arg(long)]
        space: String,
        #[arg(long)]
        monimeer: String,
        #[arg(long)]
        role: String,
    },
    /// Remove a member.
    Remove {
        #[arg(long)]
        space: String,
        #[arg(long)]
        monimeer: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
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
struct TokenCreate {
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

#[derive(Subcommand)]
enum LedgerCommand {
    /// Credit an account (minor units): the only way money enters the ledger. Audited.
    Credit {
        #[arg(long)]
        space: String,
        #[arg(long)]
        env: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        reference: Option<String>,
    },
    /// Check every ledger invariant; exits non-zero if one is broken.
    Verify,
}

fn parse<T>(what: &str, raw: &str, f: fn(&str) -> Option<T>) -> Result<T, String> {
    f(raw).ok_or_else(|| format!("`{raw}` is not a valid {what}"))
}

fn env_of(raw: &str) -> Result<Environment, String> {
    Environment::parse(raw).ok_or_else(|| format!("--env must be `test` or `live`, not `{raw}`"))
}

/// Parses `60d`, `12h`, `2w`, `1y`.
pub fn parse_lifetime(raw: &str) -> Result<time::Duration, String> {
    use openmonime_domain::duration::{parse_time, Unit};
    parse_time(raw, &[Unit::Hours, Unit::Days, Unit::Weeks, Unit::Years], None)
        .ok_or_else(|| format!("`{raw}` is not a lifetime like 60d, 12h, 2w or 1y"))
}

fn store_err(e: StoreError) -> String {
    match e {
        StoreError::NotFound => "not found".into(),
        StoreError::Conflict(reason) => format!("refused: {reason}"),
        other => other.to_string(),
    }
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

fn print(value: &Value, as_json: bool) {
    if as_json {
        println!("{value}");
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => println!("{k}: {s}"),
                    other => println!("{k}: {other}"),
                }
            }
        }
        other => println!("{}", serde_json::to_string_pretty(other).unwrap_or_default()),
    }
}

async fn audit(
    store: &Store,
    space: Option<&SpaceId>,
    action: &str,
    subject: &str,
    detail: Value,
) -> Result<(), String> {
    let event = AuditEvent {
        space_id: space,
        environment: None,
        actor: "admin-cli",
        action,
        subject,
        detail: Some(detail),
        ip: None,
    };
    store.audit(&event).await.map_err(store_err)
}

pub async fn run(args: AdminArgs) -> Result<(), String> {
    let settings = args.db.resolve()?;
    let store = Store::open(&settings.database, StoreOptions { max_connections: 2, ..StoreOptions::default() })
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    let result = execute(&store, args.command).await;
    store.close().await;
    let (value, ok) = result?;
    print(&value, args.json);
    if ok {
        Ok(())
    } else {
        Err("the ledger is inconsistent".into())
    }
}

async fn execute(store: &Store, command: AdminCommand) -> Result<(Value, bool), String> {
    let value = match command {
        AdminCommand::Monimeer(MonimeerCommand::Create { name, email }) => {
            if name.trim().is_empty() {
                return Err("--name must not be empty".into());
            }
            let m = store.create_monimeer(&name, email.as_deref()).await.map_err(store_err)?;
            json!({"id": m.id, "name": m.name, "email": m.email})
        }
        AdminCommand::Monimeer(MonimeerCommand::Offboard { id }) => {
            let id = parse("Monimeer id", &id, MonimeerId::parse)?;
            let m = store.offboard_monimeer(&id).await.map_err(store_err)?;
            audit(store, None, "monimeer.offboard", id.as_str(), json!({})).await?;
            json!({"id": m.id, "offboardTime": m.offboarded_at.map(time_fmt::rfc3339)})
        }
        AdminCommand::Space(SpaceCommand::Create { name, owner }) => {
            if name.trim().is_empty() {
                return Err("--name must not be empty".into());
            }
            let owner = parse("Monimeer id", &owner, MonimeerId::parse)?;
            let space = store.create_space(&name, &owner).await.map_err(store_err)?;
            audit(store, Some(&space.id), "space.create", space.id.as_str(), json!({"owner": owner})).await?;
            json!({"id": space.id, "name": space.name})
        }
        AdminCommand::Member(cmd) => {
            let (space, monimeer, role, action) = match &cmd {
                MemberCommand::Add { space, monimeer, role } => (space, monimeer, Some(role), "member.add"),
                MemberCommand::SetRole { space, monimeer, role } => (space, monimeer, Some(role), "member.set_role"),
                MemberCommand::Remove { space, monimeer } => (space, monimeer, None, "member.remove"),
            };
            let space = parse("Space id", space, SpaceId::parse)?;
            let monimeer = parse("Monimeer id", monimeer, MonimeerId::parse)?;
            match (&cmd, role) {
                (MemberCommand::Add { .. }, Some(role)) => store.add_member(&space, &monimeer, role).await.map(|_| ()),
                (MemberCommand::SetRole { .. }, Some(role)) => {
                    store.set_member_role(&space, &monimeer, role).await.map(|_| ())
                }
                _ => store.remove_member(&space, &monimeer).await,
            }
            .map_err(store_err)?;
            audit(store, Some(&space), action, monimeer.as_str(), json!({"role": role})).await?;
            json!({"spaceId": space, "monimeerId": monimeer, "role": role})
        }
        AdminCommand::Token(TokenCommand::Create(c)) => create_token(store, c).await?,
        AdminCommand::Token(TokenCommand::List { monimeer }) => {
            let monimeer = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
            let tokens = store.list_tokens(&monimeer).await.map_err(store_err)?;
            json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})
        }
        AdminCommand::Token(TokenCommand::Revoke { id, descendants }) => {
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
        AdminCommand::Ledger(LedgerCommand::Credit { space, env, account, amount, reference }) => {
            let tenant = Tenant { space_id: parse("Space id", &space, SpaceId::parse)?, environment: env_of(&env)? };
            let account = parse("financial account id", &account, FinancialAccountId::parse)?;
            if amount <= 0 {
                return Err("--amount must be a positive integer in minor units".into());
            }
            if reference.as_ref().is_some_and(|r| r.is_empty() || r.len() > 64) {
                return Err("--reference must be 1 to 64 characters".into());
            }
            let entry = store
                .credit_account(&tenant, &account, amount, reference.as_deref(), "admin-cli")
                .await
                .map_err(store_err)?;
            json!({
                "id": entry.id,
                "type": entry.kind.as_str(),
                "amount": {"currency": entry.amount.currency.code(), "value": entry.amount.value},
                "reference": entry.reference,
                "financialAccountId": entry.account_id,
                "balanceAfter": entry.balance_after,
                "ownershipGraph": {"owner": {"id": entry.owner.id, "type": entry.owner.kind}},
            })
        }
        AdminCommand::Token(TokenCommand::Rotate { id, grace }) => {
            let id = parse("token id", &id, TokenId::parse)?;
            let old = store.get_token(&id).await.map_err(store_err)?;
            let now = time_fmt::now();
            if old.status(now) != openmonime_domain::entities::TokenStatus::Active {
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
        AdminCommand::Role(cmd) => role(store, cmd).await?,
        AdminCommand::Policy(PolicyCommand::Show { space }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            openmonime_http::handlers::render::policy(&store.get_policy(&space).await.map_err(store_err)?)
        }
        AdminCommand::Policy(PolicyCommand::Set { space, max_token_lifetime, allow_unbound_tokens }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.get_space(&space).await.map_err(store_err)?;
            let mut policy = store.get_policy(&space).await.map_err(store_err)?;
            match max_token_lifetime.as_deref() {
                None => {}
                Some("none") => policy.max_token_lifetime_seconds = None,
                Some(raw) => policy.max_token_lifetime_seconds = Some(parse_lifetime(raw)?.whole_seconds()),
            }
            if let Some(allow) = allow_unbound_tokens {
                policy.allow_unbound_tokens = allow;
            }
            let policy = store.set_policy(&space, policy).await.map_err(store_err)?;
            audit(
                store,
                Some(&space),
                "policy.update",
                space.as_str(),
                openmonime_http::handlers::render::policy(&policy),
            )
            .await?;
            openmonime_http::handlers::render::policy(&policy)
        }
        AdminCommand::Audit(AuditCommand::List { space, monimeer, env, limit, action }) => {
            if !(1..=1000).contains(&limit) {
                return Err("--limit must be from 1 to 1000".into());
            }
            let page_request = openmonime_store::PageRequest { after: None, limit };
            let page = match (space, monimeer) {
                (_, Some(monimeer)) => {
                    let monimeer = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
                    let filter = openmonime_store::audit::TokenAuditFilter {
                        monimeer,
                        environment: env_of(&env)?,
                        within: None,
                    };
                    store.list_token_audit(&filter, page_request).await
                }
                (Some(space), None) => {
                    let space = parse("Space id", &space, SpaceId::parse)?;
                    let filter = openmonime_store::audit::AuditFilter { action, actor: None };
                    store.list_audit(&space, env_of(&env)?, &filter, page_request).await
                }
                (None, None) => return Err("give --space or --monimeer".into()),
            }
            .map_err(store_err)?;
            let events: Vec<Value> = page.items.iter().map(openmonime_http::handlers::render::audit_event).collect();
            json!({"events": events})
        }
        AdminCommand::Ledger(LedgerCommand::Verify) => {
            let report = store.verify_ledger().await.map_err(store_err)?;
            let ok = report.is_consistent();
            let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
            value["consistent"] = json!(ok);
            return Ok((value, ok));
        }
    };
    Ok((value, true))
}

async fn role(store: &Store, cmd: RoleCommand) -> Result<Value, String> {
    let expand = |words: &[String]| PermissionSet::expand(words).map_err(|w| format!("unknown permission `{w}`"));
    Ok(match cmd {
        RoleCommand::List { space } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            let roles = store.list_roles(&space).await.map_err(store_err)?;
            json!({"roles": roles.iter().map(openmonime_http::handlers::space_roles::render).collect::<Vec<_>>()})
        }
        RoleCommand::Create(RoleSpec { space, name, permissions }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            if !openmonime_domain::role::is_valid_custom_name(&name) {
                return Err(
                    "--name must be 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter".into()
                );
            }
            store.get_space(&space).await.map_err(store_err)?;
            let role = store.create_role(&space, &name, expand(&permissions)?).await.map_err(store_err)?;
            audit(store, Some(&space), "role.create", &name, json!({"permissions": role.permissions})).await?;
            openmonime_http::handlers::space_roles::render(&role)
        }
        RoleCommand::Update(RoleSpec { space, name, permissions }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            let (role, impact) = store.update_role(&space, &name, expand(&permissions)?).await.map_err(store_err)?;
            audit(store, Some(&space), "role.update", &name, json!({"permissions": role.permissions})).await?;
            openmonime_http::handlers::space_roles::render_updated(&role, &impact)
        }
        RoleCommand::Delete { space, name } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.delete_role(&space, &name).await.map_err(store_err)?;
            audit(store, Some(&space), "role.delete", &name, json!({})).await?;
            json!({"deleted": name})
        }
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
