//! First start on an empty database: create an owner, a Space and a test token, print them once,
//! so the README's single command yields a usable server.
//!
//! Once per database, whatever the number of nodes: the store's claim (an emptiness check and a
//! primary-key insert in one transaction) lets exactly one starting node do it. With
//! `--log-format json` no token is created at all: stdout and stderr are then machine log streams,
//! kept and shipped by whatever collects them, and an all-permission secret must not be among
//! their lines. The owner and Space are still created, and one JSON log line says how to mint a
//! token with the admin CLI, which shows it only to the operator who asked.

use openmonime_domain::entities::NewAccessToken;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token, Environment};
use openmonime_store::journal::Actor;
use openmonime_store::{Store, StoreError};

/// Lifetime of the quick-start token: short, because it is printed to a terminal.
const QUICKSTART_TOKEN_DAYS: i64 = 30;

/// `log_format` is the server's (`human` or `json`).
pub async fn ensure(store: &Store, base_url: &str, log_format: &str) -> Result<(), StoreError> {
    if !store.claim_quickstart().await? {
        return Ok(());
    }
    let owner = store.create_monimeer("Quick-start owner", None).await?;
    let space = store.create_space("Quick-start Space", &owner.id, &Actor::Operator).await?;
    if log_format == "json" {
        // The command names no database: the operator runs it with the `--database` they gave
        // `serve`, which may carry a password and so is not repeated into the log.
        let command = format!(
            "openmonime admin token create --monimeer {} --space {} --name quick-start --env test \
             --all-permissions --expires-in {QUICKSTART_TOKEN_DAYS}d",
            owner.id, space.id
        );
        tracing::info!(
            monimeer = %owner.id,
            space = %space.id,
            create_token = %command,
            "quick start: this database was empty, so an owner and a Space were created; no token \
             was, because with --log-format json stdout and stderr are log streams. Create one with \
             `create_token` (and serve's --database); it is shown only to you. Sign in to the \
             console with a link from `openmonime admin monimeer sign-in-link --monimeer <monimeer>`"
        );
        return Ok(());
    }
    let minted = token::generate(Environment::Test);
    let new = NewAccessToken {
        monimeer_id: owner.id.clone(),
        name: "quick-start".into(),
        environment: Environment::Test,
        permissions: PermissionSet::all(),
        space_id: Some(space.id.clone()),
        allowed_ips: Vec::new(),
        expires_at: Some(time_fmt::now() + time::Duration::days(QUICKSTART_TOKEN_DAYS)),
        api_version: ApiVersion::LATEST,
        created_by: None,
        amount_limits: Vec::new(),
    };
    let stored = store.create_token(&new, &minted.hash, &minted.hint, &Actor::Operator).await?;
    println!("openmonime quick-start (shown once; this database was empty):");
    println!("  Monimeer (owner): {}", owner.id);
    println!("  Space:            {}", space.id);
    println!(
        "  Test token ({}, all permissions, bound to the Space, expires in {QUICKSTART_TOKEN_DAYS} days):",
        stored.id
    );
    println!("    {}", minted.plaintext.expose());
    println!(
        "  Try: curl -H 'Authorization: Bearer <token>' -H 'Monime-Space-Id: {}' {base_url}/v1/financial-accounts",
        space.id
    );
    let (link, _) = openmonime_http::pages::console::issue_sign_in_link(store, base_url, &owner.id).await?;
    println!("  Console (a one-time sign-in link, valid 15 minutes):");
    println!("    {link}");
    println!("    another: openmonime admin monimeer sign-in-link --monimeer {} (with this --database)", owner.id);
    Ok(())
}
