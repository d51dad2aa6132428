//! `admin token …`: create, list, revoke and rotate any Monimeer's tokens as the operator.

use super::{parse, store_err, view};
use clap::{Args, Subcommand};
use openmonime_domain::entities::AccessToken;
use openmonime_domain::ids::{MonimeerId, TokenId};
use openmonime_domain::issuance::{self, Expiry, IssueError, Issuer, NotActive, Rotation, TokenRequest};
use openmonime_domain::{time_fmt, token};
use openmonime_http::views::access::AccessToken as TokenView;
use openmonime_store::journal::Actor;
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
    allow_ip: Vec<String>,
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
            json!({"tokens": tokens.iter().map(|t| token_json(t, None)).collect::<Vec<_>>()})
        }
        TokenCommand::Revoke { id, descendants } => {
            let id = parse("token id", &id, TokenId::parse)?;
            let (t, stopped) = store.revoke_lineage(&id, descendants, &Actor::Operator).await.map_err(store_err)?;
            let mut out = token_json(&t, None);
            if descendants {
                out["revokedDescendants"] = json!(stopped);
            }
            out
        }
        TokenCommand::Rotate { id, grace } => {
            let id = parse("token id", &id, TokenId::parse)?;
            let old = store.get_token(&id).await.map_err(store_err)?;
            let grace = grace.as_deref().map(parse_lifetime).transpose()?.unwrap_or(time::Duration::ZERO);
            let grace = issuance::grace(grace).map_err(issue_error)?;
            let Rotation { successor: new, old_stops_at: stops } =
                issuance::rotation(&old, grace, None, time_fmt::now())
                    .map_err(|NotActive| "only an active token can be rotated".to_owned())?;
            let minted = token::generate(new.environment);
            let stored = store
                .rotate_token(&old, &new, &minted.hash, &minted.hint, stops, &Actor::Operator)
                .await
                .map_err(store_err)?;
            let mut value = token_json(&stored, Some(minted.plaintext.expose()));
            value["replaces"] = json!(old.id);
            value
        }
    })
}

/// A lifetime or grace period, in the syntax the API takes too (`60d`, `12h`, `2w`, `1y`, `3600s`).
pub fn parse_lifetime(raw: &str) -> Result<time::Duration, String> {
    issuance::parse_span(raw).ok_or_else(|| format!("`{raw}` is not a lifetime like 60d, 12h, 2w or 1y"))
}

/// A token as the API shows it, plus whose it is (the operator sees everyone's), and its secret
/// when it was just minted.
pub fn token_json(t: &AccessToken, secret: Option<&str>) -> Value {
    let mut value = view(match secret {
        Some(secret) => TokenView::with_secret(t, secret),
        None => TokenView::new(t),
    });
    value["monimeerId"] = json!(t.monimeer_id);
    value
}

/// A refusal of the one token-issuing rule, in the CLI's spelling of its fields.
fn issue_error(e: IssueError) -> String {
    e.message(|f| f.flag().to_owned())
}

async fn create_token(store: &Store, c: TokenCreate) -> Result<Value, String> {
    let monimeer = parse("Monimeer id", &c.monimeer, MonimeerId::parse)?;
    if !c.all_permissions && c.permissions.is_empty() {
        return Err("choose the token's permissions: --permissions p1,p2 or --all-permissions".into());
    }
    let every = ["*".to_owned()];
    let expiry = match (c.no_expiry, &c.expires_at, &c.expires_in) {
        (true, ..) => Expiry::Never,
        (false, Some(at), _) => Expiry::At(at),
        (false, None, Some(span)) => Expiry::In(span),
        (false, None, None) => Expiry::Default,
    };
    let request = TokenRequest {
        name: &c.name,
        permissions: if c.all_permissions { &every } else { &c.permissions },
        environment: Some(&c.env),
        space_id: c.space.as_deref(),
        allowed_ips: &c.allow_ip,
        expiry,
        api_version: c.api_version.as_deref(),
    };
    let new =
        issuance::validate(&request, Issuer::Operator { monimeer: &monimeer }, time_fmt::now()).map_err(issue_error)?;
    let minted = token::generate(new.environment);
    let stored = store.create_token(&new, &minted.hash, &minted.hint, &Actor::Operator).await.map_err(store_err)?;
    Ok(token_json(&stored, Some(minted.plaintext.expose())))
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
