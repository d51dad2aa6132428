//! `admin audit list`: a Space's audit log, or every change to a Monimeer's tokens.

use super::{env_of, parse, store_err, view};
use clap::Subcommand;
use openmonime_domain::ids::{MonimeerId, SpaceId};
use openmonime_http::views::space::AuditEvent as AuditView;
use openmonime_store::Store;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(super) enum AuditCommand {
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

pub(super) async fn run(store: &Store, cmd: AuditCommand) -> Result<Value, String> {
    let AuditCommand::List { space, monimeer, env, limit, action } = cmd;
    if !(1..=1000).contains(&limit) {
        return Err("--limit must be from 1 to 1000".into());
    }
    let page_request = openmonime_store::PageRequest { after: None, limit };
    let page = match (space, monimeer) {
        (_, Some(monimeer)) => {
            let monimeer = parse("Monimeer id", &monimeer, MonimeerId::parse)?;
            let filter =
                openmonime_store::audit::TokenAuditFilter { monimeer, environment: env_of(&env)?, within: None };
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
    let events: Vec<Value> = page.items.into_iter().map(|e| view(AuditView::new(e))).collect();
    Ok(json!({"events": events}))
}
