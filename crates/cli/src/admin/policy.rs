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
    },
}

pub(super) async fn run(store: &Store, cmd: PolicyCommand) -> Result<Value, String> {
    Ok(match cmd {
        PolicyCommand::Show { space } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            view(SpacePolicy::from(&store.get_policy(&space).await.map_err(store_err)?))
        }
        PolicyCommand::Set { space, max_token_lifetime, allow_unbound_tokens, revoke_exposed_tokens } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.get_space(&space).await.map_err(store_err)?;
            let max_token_lifetime_seconds = match max_token_lifetime.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(raw) => Some(Some(parse_lifetime(raw)?.whole_seconds())),
            };
            let patch = PolicyPatch { max_token_lifetime_seconds, allow_unbound_tokens, revoke_exposed_tokens };
            let policy = store.update_policy(&space, patch, &Actor::Operator).await.map_err(store_err)?;
            view(SpacePolicy::from(&policy))
        }
    })
}
