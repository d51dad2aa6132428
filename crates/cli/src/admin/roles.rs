//! `admin role …`: a Space's custom roles.

use super::{parse, store_err, view};
use clap::{Args, Subcommand};
use openmonime_domain::ids::SpaceId;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::role::RoleName;
use openmonime_http::views::space::SpaceRole;
use openmonime_store::journal::Actor;
use openmonime_store::Store;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(super) enum RoleCommand {
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
pub(super) struct RoleSpec {
    #[arg(long)]
    space: String,
    #[arg(long)]
    name: String,
    #[arg(long, value_delimiter = ',')]
    permissions: Vec<String>,
}

pub(super) async fn run(store: &Store, cmd: RoleCommand) -> Result<Value, String> {
    let expand = |words: &[String]| PermissionSet::expand(words).map_err(|w| format!("unknown permission `{w}`"));
    Ok(match cmd {
        RoleCommand::List { space } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            let roles = store.list_roles(&space).await.map_err(store_err)?;
            json!({"roles": roles.into_iter().map(|r| view(SpaceRole::new(r))).collect::<Vec<_>>()})
        }
        RoleCommand::Create(RoleSpec { space, name, permissions }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            if !openmonime_domain::role::is_valid_custom_name(&name) {
                return Err(
                    "--name must be 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter".into()
                );
            }
            store.get_space(&space).await.map_err(store_err)?;
            let role = store
                .create_role(&space, &RoleName::stored(&name), expand(&permissions)?, &Actor::Operator)
                .await
                .map_err(store_err)?;
            view(SpaceRole::new(role))
        }
        RoleCommand::Update(RoleSpec { space, name, permissions }) => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            let (role, impact) = store
                .update_role(&space, &RoleName::stored(&name), expand(&permissions)?, &Actor::Operator)
                .await
                .map_err(store_err)?;
            view(SpaceRole::updated(role, &impact))
        }
        RoleCommand::Delete { space, name } => {
            let space = parse("Space id", &space, SpaceId::parse)?;
            store.delete_role(&space, &RoleName::stored(&name), &Actor::Operator).await.map_err(store_err)?;
            json!({"deleted": name})
        }
    })
}
