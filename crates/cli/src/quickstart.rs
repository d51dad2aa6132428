//! First start on an empty database: create an owner, a Space and a test token, print them once,
//! so the README's single command yields a usable server.

use openmonime_domain::entities::NewAccessToken;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token, Environment};
use openmonime_store::{Store, StoreError};

/// Lifetime of the quick-start token: short, because it is printed to a terminal.
const QUICKSTART_TOKEN_DAYS: i64 = 30;

pub async fn ensure(store: &Store, base_url: &str) -> Result<(), StoreError> {
    if store.count_monimeers().await? > 0 {
        return Ok(());
    }
    let owner = store.create_monimeer("Quick-start owner", None).await?;
    let space = store.create_space("Quick-start Space", &owner.id).await?;
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
    };
    let stored = store.create_token(&new, &minted.hash, &minted.hint).await?;
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
    Ok(())
}
