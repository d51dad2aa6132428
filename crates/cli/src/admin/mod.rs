//! `openmonime admin …`: operator commands on the database directly (no server needed).
//! Every command prints its result; `--json` prints one JSON object for scripts. One module per
//! subcommand group; this one parses the command line, opens the store and prints.

mod audit_log;
mod ledger;
mod people;
mod policy;
mod roles;
mod tokens;

use crate::config::DatabaseArgs;
use clap::{Args, Subcommand};
use openmonime_domain::Environment;
use openmonime_store::backend::StoreOptions;
use openmonime_store::{Store, StoreError};
use serde_json::Value;

use tokens::parse_lifetime;

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
    Monimeer(people::MonimeerCommand),
    /// Tenants.
    #[command(subcommand)]
    Space(people::SpaceCommand),
    /// Space membership and roles.
    #[command(subcommand)]
    Member(people::MemberCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Money entering the ledger, and ledger checks.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// A Space's custom roles.
    #[command(subcommand)]
    Role(roles::RoleCommand),
    /// A Space's token policy.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// A Space's audit log.
    #[command(subcommand)]
    Audit(audit_log::AuditCommand),
}

/// What a command printed, and whether the process exits successfully.
pub(super) struct Outcome {
    value: Value,
    ok: bool,
}

impl From<Value> for Outcome {
    fn from(value: Value) -> Self {
        Outcome { value, ok: true }
    }
}

pub async fn run(args: AdminArgs) -> Result<(), String> {
    let settings = args.db.resolve()?;
    let store = Store::open(settings.database.expose(), StoreOptions { max_connections: 2, ..StoreOptions::default() })
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    let result = execute(&store, &settings.public_url, args.command).await;
    store.close().await;
    let Outcome { value, ok } = result?;
    print(&value, args.json);
    if ok {
        Ok(())
    } else {
        Err("the ledger is inconsistent".into())
    }
}

async fn execute(store: &Store, public_url: &str, command: AdminCommand) -> Result<Outcome, String> {
    Ok(match command {
        AdminCommand::Monimeer(cmd) => people::monimeer(store, public_url, cmd).await?.into(),
        AdminCommand::Space(cmd) => people::space(store, cmd).await?.into(),
        AdminCommand::Member(cmd) => people::member(store, cmd).await?.into(),
        AdminCommand::Token(cmd) => tokens::run(store, cmd).await?.into(),
        AdminCommand::Ledger(cmd) => ledger::run(store, cmd).await?,
        AdminCommand::Role(cmd) => roles::run(store, cmd).await?.into(),
        AdminCommand::Policy(cmd) => policy::run(store, cmd).await?.into(),
        AdminCommand::Audit(cmd) => audit_log::run(store, cmd).await?.into(),
    })
}

fn parse<T>(what: &str, raw: &str, f: fn(&str) -> Option<T>) -> Result<T, String> {
    f(raw).ok_or_else(|| format!("`{raw}` is not a valid {what}"))
}

fn env_of(raw: &str) -> Result<Environment, String> {
    Environment::parse(raw).ok_or_else(|| format!("--env must be `test` or `live`, not `{raw}`"))
}

/// A wire view (the API's own, from `openmonime_http::views`) as the value the CLI prints.
fn view(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("a view serializes")
}

fn store_err(e: StoreError) -> String {
    match e {
        StoreError::NotFound => "not found".into(),
        StoreError::Conflict(conflict) => format!("refused: {}: {}", conflict.reason(), conflict.message()),
        other => other.to_string(),
    }
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
