//! `admin monimeer|space|member`: people, tenants and who belongs to which Space.

use super::{parse, store_err};
use clap::Subcommand;
use openmonime_domain::console_auth;
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
    /// Set (or reset) a Monimeer's console password, read from the first line of stdin; their
    /// email address is the sign-in name. Ends their open console sessions.
    SetPassword {
        #[arg(long)]
        monimeer: String,
    },
    /// Print a one-time console sign-in link for a Monimeer (valid 15 minutes, once).
    SignInLink {
        #[arg(long)]
        monimeer: String,
        /// The server's public URL the link starts with (default: `OPENMONIME_PUBLIC_URL`, the
        /// configuration file's `public_url`, or `http://LISTEN`).
        #[arg(long)]
        public_url: Option<String>,
    },
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

pub(super) async fn monimeer(store: &Store, public_url: &str, cmd: MonimeerCommand) -> Result<Value, String> {
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
        MonimeerCommand::SetPassword { monimeer } => {
            let id = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
            let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
            console_auth::check_password(password).map_err(|why| why.message())?;
            let hash = console_auth::hash_password(password);
            let email = store.set_console_password(&id, &hash).await.map_err(|e| match e {
                openmonime_store::StoreError::NotFound => {
                    "no such Monimeer, or they have no email address to sign in with".to_owned()
                }
                other => store_err(other),
            })?;
            json!({"id": id, "email": email, "passwordSet": true})
        }
        MonimeerCommand::SignInLink { monimeer, public_url: flag } => {
            let id = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
            let (url, expires) =
                openmonime_http::pages::console::issue_sign_in_link(store, flag.as_deref().unwrap_or(public_url), &id)
                    .await
                    .map_err(store_err)?;
            json!({"url": url, "expireTime": time_fmt::rfc3339(expires)})
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
