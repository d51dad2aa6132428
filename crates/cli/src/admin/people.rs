//! `admin monimeer|space|member`: people, tenants and who belongs to which Space.

use super::{parse, store_err};
use clap::Subcommand;
use openmonime_domain::ids::{MonimeerId, SpaceId};
use openmonime_domain::role::RoleName;
use openmonime_domain::time_fmt;
use openmonime_store::journal::Actor;
use openmonime_store::Store;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(super) enum MonimeerCommand {
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
pub(super) enum SpaceCommand {
    /// Create a Space with an owner (and a `main` SLE account per environment).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner: String,
    },
}

#[derive(Subcommand)]
pub(super) enum MemberCommand {
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

pub(super) async fn monimeer(store: &Store, cmd: MonimeerCommand) -> Result<Value, String> {
    Ok(match cmd {
        MonimeerCommand::Create { name, email } => {
            if name.trim().is_empty() {
                return Err("--name must not be empty".into());
            }
            let m = store.create_monimeer(&name, email.as_deref()).await.map_err(store_err)?;
            json!({"id": m.id, "name": m.name, "email": m.email})
        }
        MonimeerCommand::Offboard { id } => {
            let id = parse("Monimeer id", &id, MonimeerId::parse)?;
            let m = store.offboard_monimeer(&id, &Actor::Operator).await.map_err(store_err)?;
            json!({"id": m.id, "offboardTime": m.offboarded_at.map(time_fmt::rfc3339)})
        }
    })
}

pub(super) async fn space(store: &Store, cmd: SpaceCommand) -> Result<Value, String> {
    let SpaceCommand::Create { name, owner } = cmd;
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    let owner = parse("Monimeer id", &owner, MonimeerId::parse)?;
    let space = store.create_space(&name, &owner, &Actor::Operator).await.map_err(store_err)?;
    Ok(json!({"id": space.id, "name": space.name}))
}

pub(super) async fn member(store: &Store, cmd: MemberCommand) -> Result<Value, String> {
    let (space, monimeer, role) = match &cmd {
        MemberCommand::Add { space, monimeer, role } | MemberCommand::SetRole { space, monimeer, role } => {
            (space, monimeer, Some(role))
        }
        MemberCommand::Remove { space, monimeer } => (space, monimeer, None),
    };
    let space = parse("Space id", space, SpaceId::parse)?;
    let monimeer = parse("Monimeer id", monimeer, MonimeerId::parse)?;
    match (&cmd, role) {
        (MemberCommand::Add { .. }, Some(role)) => {
            store.add_member(&space, &monimeer, &RoleName::stored(role), &Actor::Operator).await.map(|_| ())
        }
        (MemberCommand::SetRole { .. }, Some(role)) => {
            store.set_member_role(&space, &monimeer, &RoleName::stored(role), &Actor::Operator).await.map(|_| ())
        }
        _ => store.remove_member(&space, &monimeer, &Actor::Operator).await,
    }
    .map_err(store_err)?;
    Ok(json!({"spaceId": space, "monimeerId": monimeer, "role": role}))
}
