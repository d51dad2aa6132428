//! `admin policy …`: a Space's token policy.

use super::{parse, parse_lifetime, store_err, view};
use clap::Subcommand;
use openmonime_domain::entities::PolicyPatch;
use openmonime_domain::ids::SpaceId;
use openmonime_http::views::space::SpacePolicy;
use openmonime_store::journal::Actor;
use openmonime_store::Store;
use serde_json::Value;

#[derive(Subcommand)]
pub(super) enum PolicyCommand {
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
        /// Whether a token seen in a browser's request is revoked at once, with its descendants.
        #[arg(long)]
        revoke_exposed_tokens: Option<bool>,
        /// Expire a token that makes no request for this long, like `90d` (at least `1d`), or `none`.
        #[arg(long)]
        idle_token_expiry: Option<String>,
    },
}

pub(super) async fn run(store: &Store, cmd: PolicyCommand) -> Result<Value, String> {
    Ok(match cmd {
        PolicyCommand::Show { space } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            view(SpacePolicy::from(&store.get_policy(&space).await.map_err(store_err)?))
        }
        PolicyCommand::Set {
            space,
            max_token_lifetime,
            allow_unbound_tokens,
            revoke_exposed_tokens,
            idle_token_expiry,
        } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.get_space(&space).await.map_err(store_err)?;
            let max_token_lifetime_seconds = match max_token_lifetime.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(raw) => Some(Some(parse_lifetime(raw)?.whole_seconds())),
            };
            let idle_token_expiry_seconds = match idle_token_expiry.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(raw) => match parse_lifetime(raw)?.whole_seconds() {
                    s if s < 86_400 => return Err("--idle-token-expiry must be at least 1d".into()),
                    s => Some(Some(s)),
                },
            };
            let patch = PolicyPatch {
                max_token_lifetime_seconds,
                allow_unbound_tokens,
                revoke_exposed_tokens,
                idle_token_expiry_seconds,
            };
            let policy = store.update_policy(&space, patch, &Actor::Operator).await.map_err(store_err)?;
            view(SpacePolicy::from(&policy))
        }
    })
}
