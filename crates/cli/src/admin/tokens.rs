//! `admin token …`: create, list, revoke and rotate any Monimeer's tokens as the operator.

use super::{parse, store_err, view};
use clap::{Args, Subcommand};
use openmonime_domain::entities::{AccessToken, TokenStatus};
use openmonime_domain::ids::{MonimeerId, SpaceId, TokenId};
use openmonime_domain::issuance::{self, Expiry, IssueError, Issuer, NotActive, Rotation, TokenRequest};
use openmonime_domain::{review, time_fmt, token};
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
    /// Review every active token that can act in a Space (its members' tokens bound to it or to
    /// no Space): which never made a request, are idle, never expire, carry every permission,
    /// expire soon or were seen in a browser.
    Review {
        #[arg(long)]
        space: String,
        /// No request for this long makes a token idle (default 90d).
        #[arg(long)]
        idle_after: Option<String>,
        /// An expiry within this long is soon (default 7d).
        #[arg(long)]
        expires_within: Option<String>,
        /// List every active token, not only the flagged ones.
        #[arg(long)]
        all: bool,
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
        TokenCommand::Review { space, idle_after, expires_within, all } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.get_space(&space).await.map_err(store_err)?;
            let defaults = review::Spans::default();
            let spans = review::Spans {
                idle_after: idle_after.as_deref().map(parse_lifetime).transpose()?.unwrap_or(defaults.idle_after),
                expires_soon: expires_within
                    .as_deref()
                    .map(parse_lifetime)
                    .transpose()?
                    .unwrap_or(defaults.expires_soon),
            };
            let tokens = store.list_space_tokens(&space).await.map_err(store_err)?;
            review_report(&space, &tokens, spans, all, time_fmt::now())
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

/// `admin token review`: per flag, how many active tokens have it, then the tokens themselves
/// (flagged ones first, most flags first), each with its flags under the report's spans.
fn review_report(
    space: &SpaceId,
    tokens: &[AccessToken],
    spans: review::Spans,
    all: bool,
    now: time::OffsetDateTime,
) -> Value {
    let active: Vec<_> = tokens.iter().filter(|t| t.status(now) == TokenStatus::Active).collect();
    let mut reviewed: Vec<_> =
        active.iter().map(|t| (*t, review::flags(t, now, spans))).filter(|(_, f)| all || !f.is_empty()).collect();
    reviewed.sort_by_key(|(_, flags)| std::cmp::Reverse(flags.len()));
    let summary: serde_json::Map<String, Value> = review::Flag::ALL
        .iter()
        .map(|flag| {
            let n = active.iter().filter(|t| review::flags(t, now, spans).contains(flag)).count();
            (flag.word().to_owned(), json!(n))
        })
        .collect();
    let entries: Vec<Value> = reviewed
        .iter()
        .map(|(t, flags)| {
            let mut value = token_json(t, None);
            value["reviewFlags"] = json!(flags.iter().map(|f| f.word()).collect::<Vec<_>>());
            value
        })
        .collect();
    json!({
        "space": space,
        "reviewTime": time_fmt::rfc3339(now),
        "idleAfterSeconds": spans.idle_after.whole_seconds(),
        "expiresWithinSeconds": spans.expires_soon.whole_seconds(),
        "activeTokens": active.len(),
        "flagged": summary,
        "tokens": entries,
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
        amount_limits: None,
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
