//! Issue 5: several nodes on one database — authorization changes made on one node (or by the
//! admin CLI) are honoured by the others within a second, and the ledger and idempotency hold
//! when requests for the same accounts and keys land on different nodes.

use crate::support::*;
use openmonime_domain::Environment;
use openmonime_http::ServerConfig;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// Polls `node` with `token` until it answers 401, returning how long that took.
async fn time_until_rejected(
    node: &TestApp,
    token: &str,
    space: &openmonime_domain::ids::SpaceId,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        let status = node.req(Method::GET, "/v1/financial-accounts", token, space).send().await.unwrap().status();
        if status == 401 || status == 403 {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("node still accepted the token after {within:?}");
}

fn no_limits() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.rate_limits.enabled = false;
    config
}

#[tokio::test]
async fn a_revocation_on_one_node_is_honoured_by_another_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_node(no_limits()).await;
    let owner = a.owner().await;
    let admin = a.token(&owner.monimeer).await;
    let (victim, victim_id) = a.token_with(&owner.monimeer, TokenSpec::default()).await;
    assert_eq!(
        b.req(Method::GET, "/v1/financial-accounts", &victim, &owner.space).send().await.unwrap().status(),
        200,
        "cached on B"
    );
    let res = a
        .client
        .post(a.url(&format!("/v1/access-tokens/{victim_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let took = time_until_rejected(&b, &victim, &owner.space, Duration::from_secs(1)).await;
    assert!(took <= Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn membership_removal_on_one_node_is_honoured_by_another() {
    let a = TestApp::spawn().await;
    let b = a.another_node(no_limits()).await;
    let owner = a.owner().await;
    let dev = a.member(&owner.space, "developer").await;
    let token = a.token(&dev).await;
    assert_eq!(b.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap().status(), 200);
    a.store().remove_member(&owner.space, &dev, &Actor::Operator).await.unwrap();
    time_until_rejected(&b, &token, &owner.space, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn postgres_notices_reach_other_nodes_faster_than_their_poll() {
    if postgres_or_skip("postgres_notices_reach_other_nodes_faster_than_their_poll").is_none() {
        return;
    }
    let a = TestApp::spawn().await;
    // B polls only every 30 s: only a LISTEN/NOTIFY push can reach it in time.
    let b = a.another_node(ServerConfig { change_poll: Duration::from_secs(30), ..no_limits() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let owner = a.owner().await;
    let (victim, victim_id) = a.token_with(&owner.monimeer, TokenSpec::default()).await;
    assert_eq!(b.req(Method::GET, "/v1/financial-accounts", &victim, &owner.space).send().await.unwrap().status(), 200);
    a.store().revoke_token(&victim_id, &Actor::Operator).await.unwrap();
    let took = time_until_rejected(&b, &victim, &owner.space, Duration::from_secs(1)).await;
    assert!(took < Duration::from_secs(1));
}

#[tokio::test]
async fn transfers_through_two_nodes_keep_every_ledger_invariant_and_keys_have_one_effect() {
    let a = TestApp::spawn().await;
    let b = a.another_node(no_limits()).await;
    let owner = a.owner().await;
    let token = a.token(&owner.monimeer).await;
    let mut accounts = vec![a.main_account(&owner.space, Environment::Test).await];
    for i in 0..3 {
        let (status, _, body) = send(
            a.req(Method::POST, "/v1/financial-accounts", &token, &owner.space)
                .header("Idempotency-Key", format!("acct-{i}"))
                .json(&json!({"name": format!("a{i}"), "currency": "SLE"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        accounts.push(body["result"]["id"].as_str().unwrap().to_owned().try_into().unwrap());
    }
    for acct in &accounts {
        a.fund(&owner.space, Environment::Test, acct, 1_000).await;
    }
    // This Space's money, not the database's: other tests fund their own Spaces concurrently.
    let held = || async {
        let mut total = 0;
        for acct in &accounts {
            total += a.balance(&token, &owner.space, acct.as_str()).await;
        }
        total
    };
    let before = held().await;

    let mut tasks = Vec::new();
    for i in 0..60usize {
        let node = if i % 2 == 0 { a.url("/v1/internal-transfers") } else { b.url("/v1/internal-transfers") };
        let twin = if i % 2 == 0 { b.url("/v1/internal-transfers") } else { a.url("/v1/internal-transfers") };
        let body = json!({
            "amount": {"currency": "SLE", "value": 37 + (i as i64 % 5) * 50},
            "sourceFinancialAccount": {"id": accounts[i % 4]},
            "destinationFinancialAccount": {"id": accounts[(i % 4 + 1 + (i / 4) % 3) % 4]},
        });
        let client = a.client.clone();
        let (token, space, key) = (token.clone(), owner.space.to_string(), format!("t-{i}"));
        tasks.push(tokio::spawn(async move {
            // The same key is sent to both nodes at once.
            let send_to = |url: String| {
                client
                    .post(url)
                    .bearer_auth(&token)
                    .header("Monime-Space-Id", &space)
                    .header("Idempotency-Key", &key)
                    .json(&body)
                    .send()
            };
            let (x, y) = tokio::join!(send_to(node), send_to(twin));
            let (x, y): (serde_json::Value, serde_json::Value) =
                (x.unwrap().json().await.unwrap(), y.unwrap().json().await.unwrap());
            assert_eq!(x["success"], true, "{x}");
            assert_eq!(x, y, "the twin request replays the first response");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = a.store().verify_ledger().await.unwrap();
    assert!(after.is_consistent(), "{after:?}");
    assert_eq!(held().await, before, "transfers move money, they do not make it");
    let tenant = openmonime_domain::entities::Tenant { space_id: owner.space.clone(), environment: Environment::Test };
    let mut transfers = 0;
    let mut after_cursor = None;
    loop {
        let page = a
            .store()
            .list_transfers(
                &tenant,
                &Default::default(),
                openmonime_store::PageRequest { after: after_cursor, limit: 50 },
            )
            .await
            .unwrap();
        transfers += page.items.len();
        match page.next_after {
            Some(n) => after_cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(transfers, 60, "each key had exactly one effect across the two nodes");
}
