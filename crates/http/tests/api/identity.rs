//! Issue 3, identity and access: every 401 and 403 cause of the authorization pipeline, the Space
//! header, IP allowlists (and spoofing through an untrusted proxy), test vs live on `GET /`,
//! authorization changes reaching a running server, and every route's declared permission.

use crate::support::*;
use openmonime_domain::ids::SpaceId;
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::token;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::Environment;
use openmonime_http::auth::Access;
use openmonime_http::ServerConfig;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const ACCOUNTS: &str = "/v1/financial-accounts";

/// How long a change made directly in the store may take to reach the server: the change feed
/// is polled every 250 ms.
const FEED_DELAY: Duration = Duration::from_secs(2);

async fn list_accounts(app: &TestApp, token: &str, space: &SpaceId) -> (u16, Value) {
    let (status, _, body) = send(app.get(ACCOUNTS, token, space)).await;
    (status, body)
}

async fn create_account(app: &TestApp, token: &str, space: &SpaceId) -> (u16, Value) {
    let (status, _, body) = send(app.post(ACCOUNTS, token, space, &json!({"name": "Float", "currency": "SLE"}))).await;
    (status, body)
}

fn assert_permission_denied(status: u16, body: &Value, permission: &str, missing_from: &str) {
    let err = assert_error(status, body, 403, "permission_denied");
    assert_eq!(err["details"][0]["permission"], permission, "{body}");
    assert_eq!(err["details"][0]["missingFrom"], missing_from, "{body}");
    assert!(err["message"].as_str().unwrap().contains(permission), "{body}");
}

// ---------------------------------------------------------------- 401

#[tokio::test]
async fn missing_or_malformed_authorization_is_401() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let good = app.token(&o.monimeer).await;
    let request = |authorization: Option<String>| {
        let mut req = app.client.get(app.url(ACCOUNTS)).header("monime-space-id", o.space.as_str());
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req
    };
    let (status, _, body) = send(request(None)).await;
    assert_error(status, &body, 401, "authorization_missing");
    for malformed in [
        format!("Basic {good}"),
        good.clone(),
        "Bearer".into(),
        "Bearer ".into(),
        "Bearer    ".into(),
        format!("Token {good}"),
    ] {
        let (status, _, body) = send(request(Some(malformed.clone()))).await;
        assert_error(status, &body, 401, "authorization_malformed");
    }
    for not_a_token in [
        "abc",
        "sk_live_123",
        "mon_",
        "mon_test_short",
        &format!("{good}x"),
        &good[..good.len() - 1],
        &good.replace("mon_test_", "mon_live_"),
    ] {
        let (status, _, body) = send(request(Some(format!("Bearer {not_a_token}")))).await;
        assert_error(status, &body, 401, "token_malformed");
    }
    // Sanity: the well-formed header works, with either capitalisation of the scheme.
    for scheme in ["Bearer", "bearer"] {
        let (status, _, body) = send(request(Some(format!("{scheme} {good}")))).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn a_mistyped_token_fails_its_checksum() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let good = app.token(&o.monimeer).await;
    // Change one character of the random part, keeping the alphabet and length.
    let mut chars: Vec<char> = good.chars().collect();
    let i = "mon_test_".len() + 3;
    chars[i] = if chars[i] == 'Q' { 'R' } else { 'Q' };
    let typo: String = chars.into_iter().collect();
    let (status, body) = list_accounts(&app, &typo, &o.space).await;
    assert_error(status, &body, 401, "token_checksum_invalid");
    // A live body behind a test prefix fails too: the prefix is covered by the checksum.
    let live = token::generate(Environment::Live).plaintext.expose().to_owned();
    let swapped = live.replacen("mon_", "mon_test_", 1);
    let (status, body) = list_accounts(&app, &swapped, &o.space).await;
    assert_error(status, &body, 401, "token_checksum_invalid");
}

#[tokio::test]
async fn a_well_formed_token_nobody_issued_is_unknown() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    for env in [Environment::Test, Environment::Live] {
        let stranger = token::generate(env).plaintext.expose().to_owned();
        // Twice: the second answer comes from the negative cache and must be the same.
        for _ in 0..2 {
            let (status, body) = list_accounts(&app, &stranger, &o.space).await;
            assert_error(status, &body, 401, "token_unknown");
        }
    }
}

#[tokio::test]
async fn revoked_expired_and_offboarded_tokens_are_401() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (revoked, revoked_id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    app.store().revoke_token(&revoked_id, &Actor::Operator).await.unwrap();
    let (status, body) = list_accounts(&app, &revoked, &o.space).await;
    assert_error(status, &body, 401, "token_revoked");

    let (expired, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { expires_at: now_plus(time::Duration::seconds(-1)), ..TokenSpec::default() },
        )
        .await;
    let (status, body) = list_accounts(&app, &expired, &o.space).await;
    assert_error(status, &body, 401, "token_expired");

    // A second owner keeps the Space alive; the first one is offboarded.
    let leaver = app.member(&o.space, "owner").await;
    let leaver_token = app.token(&leaver).await;
    app.store().offboard_monimeer(&leaver, &Actor::Operator).await.unwrap();
    let (status, body) = list_accounts(&app, &leaver_token, &o.space).await;
    assert_error(status, &body, 401, "token_owner_offboarded");

    // The token check comes first: a dead token is 401 even without a Space header.
    let (status, _, body) = send(app.client.get(app.url(ACCOUNTS)).bearer_auth(&revoked)).await;
    assert_error(status, &body, 401, "token_revoked");
}

#[tokio::test]
async fn a_token_expiring_soon_works_until_it_expires() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let expires = openmonime_domain::time_fmt::now() + time::Duration::milliseconds(1_500);
    let (t, _) = app.token_with(&o.monimeer, TokenSpec { expires_at: Some(expires), ..TokenSpec::default() }).await;
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space)).await;
    assert_eq!(status, 200, "{body}");
    assert!(openmonime_domain::time_fmt::now() < expires, "too slow to observe the token before it expired");
    // The token is now cached; expiry is still checked on every request.
    let left = expires - openmonime_domain::time_fmt::now() + time::Duration::milliseconds(100);
    tokio::time::sleep(left.try_into().unwrap_or_default()).await;
    let (status, body) = list_accounts(&app, &t, &o.space).await;
    assert_error(status, &body, 401, "token_expired");
}

#[tokio::test]
async fn the_expiry_is_announced_in_a_header() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let expires = openmonime_domain::time_fmt::now() + time::Duration::days(3);
    let (t, _) = app.token_with(&o.monimeer, TokenSpec { expires_at: Some(expires), ..TokenSpec::default() }).await;
    let (status, headers, _) = send(app.get(ACCOUNTS, &t, &o.space)).await;
    assert_eq!(status, 200);
    let announced = headers["monime-token-expiration"].to_str().unwrap();
    assert_eq!(openmonime_domain::time_fmt::parse_rfc3339(announced), Some(expires));
}

// ---------------------------------------------------------------- the Space header

#[tokio::test]
async fn a_missing_or_malformed_space_header_is_400() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let (status, _, body) = send(app.client.get(app.url(ACCOUNTS)).bearer_auth(&t)).await;
    assert_error(status, &body, 400, "space_id_missing");
    let too_long = format!("spc-{}", "a".repeat(61));
    for bad in ["", "abc", "spc-", "fac-123", "spc-has space", "spc-with-dash", too_long.as_str()] {
        let (status, _, body) =
            send(app.client.get(app.url(ACCOUNTS)).bearer_auth(&t).header("monime-space-id", bad)).await;
        assert_error(status, &body, 400, "space_id_malformed");
    }
}

// ---------------------------------------------------------------- 403

#[tokio::test]
async fn a_permission_the_role_lacks_is_403_from_role() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let viewer = app.member(&o.space, "viewer").await;
    let t = app.token(&viewer).await; // all permissions on the token
    assert_eq!(list_accounts(&app, &t, &o.space).await.0, 200);
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "role");
}

#[tokio::test]
async fn a_permission_the_token_lacks_is_403_from_token() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (t, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { permissions: perms(&[Permission::FinancialAccountsRead]), ..TokenSpec::default() },
        )
        .await;
    assert_eq!(list_accounts(&app, &t, &o.space).await.0, 200);
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "token");
    let (status, _, body) = send(app.get("/v1/internal-transfers", &t, &o.space)).await;
    assert_permission_denied(status, &body, "internal-transfers:read", "token");
}

#[tokio::test]
async fn a_permission_both_lack_is_403_from_token_and_role() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let viewer = app.member(&o.space, "viewer").await;
    let (t, _) = app
        .token_with(
            &viewer,
            TokenSpec { permissions: perms(&[Permission::FinancialAccountsRead]), ..TokenSpec::default() },
        )
        .await;
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "token_and_role");
}

#[tokio::test]
async fn an_unknown_space_and_a_space_you_are_not_in_look_the_same() {
    let app = TestApp::spawn().await;
    let mine = app.owner().await;
    let theirs = app.owner().await;
    let t = app.token(&mine.monimeer).await;
    let body_of = |space: SpaceId| {
        let req = app.get(ACCOUNTS, &t, &space);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.bytes().await.unwrap())
        }
    };
    let (s1, unknown) = body_of(SpaceId::generate()).await;
    let (s2, not_member) = body_of(theirs.space.clone()).await;
    assert_eq!((s1, s2), (403, 403));
    assert_eq!(unknown, not_member, "the two refusals must be byte-identical");
    let body: Value = serde_json::from_slice(&unknown).unwrap();
    assert_error(403, &body, 403, "space_access_denied");
    assert!(!String::from_utf8_lossy(&unknown).contains(theirs.space.as_str()));
    // Also for writes, where the permission would otherwise be checked.
    let (status, body) = create_account(&app, &t, &theirs.space).await;
    assert_error(status, &body, 403, "space_access_denied");
}

#[tokio::test]
async fn a_token_bound_to_another_space_is_refused() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let second = app.store().create_space("Second", &o.monimeer, &Actor::Operator).await.unwrap().id;
    let (bound, _) =
        app.token_with(&o.monimeer, TokenSpec { space: Some(o.space.clone()), ..TokenSpec::default() }).await;
    assert_eq!(list_accounts(&app, &bound, &o.space).await.0, 200);
    let (status, body) = list_accounts(&app, &bound, &second).await;
    assert_error(status, &body, 403, "token_space_mismatch");
    // An unbound token of the same person reaches both.
    let free = app.token(&o.monimeer).await;
    assert_eq!(list_accounts(&app, &free, &second).await.0, 200);
}

#[tokio::test]
async fn a_caller_outside_the_allowlist_is_refused() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let allow = |nets: &[&str]| TokenSpec {
        allowed_ips: nets.iter().map(|n| n.parse().unwrap()).collect(),
        ..TokenSpec::default()
    };
    let (outside, _) = app.token_with(&o.monimeer, allow(&["10.0.0.0/8", "2001:db8::/32"])).await;
    let (status, body) = list_accounts(&app, &outside, &o.space).await;
    let err = assert_error(status, &body, 403, "ip_not_allowed");
    assert_eq!(err["details"][0]["ipAddress"], "127.0.0.1", "{body}");
    let (inside, _) = app.token_with(&o.monimeer, allow(&["10.0.0.0/8", "127.0.0.1/32"])).await;
    assert_eq!(list_accounts(&app, &inside, &o.space).await.0, 200);
}

#[tokio::test]
async fn an_allowed_ip_spoofed_through_an_untrusted_peer_is_still_refused() {
    let only = || TokenSpec { allowed_ips: vec!["203.0.113.7/32".parse().unwrap()], ..TokenSpec::default() };
    // No trusted proxy: the header is the client's own claim.
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, only()).await;
    for header in [("x-forwarded-for", "203.0.113.7"), ("forwarded", "for=203.0.113.7")] {
        let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header(header.0, header.1)).await;
        let err = assert_error(status, &body, 403, "ip_not_allowed");
        assert_eq!(err["details"][0]["ipAddress"], "127.0.0.1", "{body}");
    }
    // Trusted proxies configured, but the peer is not one of them.
    let app = TestApp::spawn_with(
        ServerConfig { trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()], ..ServerConfig::default() },
        None,
    )
    .await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, only()).await;
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", "203.0.113.7")).await;
    assert_error(status, &body, 403, "ip_not_allowed");
    // The control: from a trusted proxy the same header is believed.
    let app = TestApp::spawn_with(
        ServerConfig { trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()], ..ServerConfig::default() },
        None,
    )
    .await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, only()).await;
    let (status, _, body) =
        send(app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", "198.51.100.1, 203.0.113.7")).await;
    assert_eq!(status, 200, "{body}");
    // ...and a client that prepends the allowed address behind the proxy gains nothing.
    let (status, _, body) =
        send(app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", "203.0.113.7, 198.51.100.1")).await;
    let err = assert_error(status, &body, 403, "ip_not_allowed");
    assert_eq!(err["details"][0]["ipAddress"], "198.51.100.1", "{body}");
}

#[tokio::test]
async fn refusals_come_in_the_documented_order() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let viewer = app.member(&o.space, "viewer").await;
    let second = app.store().create_space("Second", &o.monimeer, &Actor::Operator).await.unwrap().id;
    app.store().add_member(&second, &viewer, &RoleName::stored("viewer"), &Actor::Operator).await.unwrap();
    // Bound elsewhere, outside the allowlist, and lacking the permission: the binding is named.
    let spec = TokenSpec {
        permissions: PermissionSet::EMPTY,
        space: Some(second.clone()),
        allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
        ..TokenSpec::default()
    };
    let (t, _) = app.token_with(&viewer, spec.clone()).await;
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_error(status, &body, 403, "token_space_mismatch");
    // In its own Space: the allowlist comes before the permission.
    let (status, body) = create_account(&app, &t, &second).await;
    assert_error(status, &body, 403, "ip_not_allowed");
    // Membership comes before the binding: an unknown Space is just "no access".
    let (status, body) = create_account(&app, &t, &SpaceId::generate()).await;
    assert_error(status, &body, 403, "space_access_denied");
}

// ---------------------------------------------------------------- GET /

async fn root_with(app: &TestApp, token: Option<&str>, version: Option<&str>) -> Value {
    let mut req = app.client.get(app.url("/"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(v) = version {
        req = req.header("monime-version", v);
    }
    let (status, _, body) = send(req).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn root_reports_test_and_live_and_the_api_version() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let test = app.token(&o.monimeer).await;
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    let openapi = app.url("/openapi.json");
    for (t, env) in [(&test, "test"), (&live, "live")] {
        let body = root_with(&app, Some(t), None).await;
        assert_eq!(body["status"], json!({"environment": env, "isAuthenticated": true}));
        assert_eq!(
            body["apiVersion"],
            json!({
                "id": ApiVersion::LATEST.id(),
                "release": {"name": "caph", "date": "2025-06-20"},
                "deprecated": false,
                "apiSchemas": {"openApi": openapi},
            })
        );
        assert!(body["apiVersion"]["apiSchemas"]["openApi"].as_str().unwrap().ends_with("/openapi.json"));
        let body = root_with(&app, Some(t), Some("caph.2025-06-20")).await;
        assert_eq!(body["apiVersion"]["id"], "caph.2025-06-20");
    }
}

#[tokio::test]
async fn root_uses_the_tokens_default_release() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let minted = token::generate(Environment::Test);
    let new = openmonime_domain::entities::NewAccessToken {
        monimeer_id: o.monimeer.clone(),
        name: "old client".into(),
        environment: Environment::Test,
        permissions: PermissionSet::all(),
        space_id: None,
        allowed_ips: vec![],
        expires_at: None,
        api_version: ApiVersion::Caph20250620,
        created_by: None,
        amount_limits: Vec::new(),
    };
    app.store().create_token(&new, &minted.hash, &minted.hint, &Actor::Operator).await.unwrap();
    let t = minted.plaintext.expose();
    assert_eq!(root_with(&app, Some(t), None).await["apiVersion"]["id"], "caph.2025-06-20");
    assert_eq!(root_with(&app, Some(t), Some("caph.2025-08-23")).await["apiVersion"]["id"], "caph.2025-08-23");
}

#[tokio::test]
async fn an_invalid_token_on_root_is_simply_not_authenticated() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (revoked, id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    app.store().revoke_token(&id, &Actor::Operator).await.unwrap();
    let (expired, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { expires_at: now_plus(time::Duration::seconds(-1)), ..TokenSpec::default() },
        )
        .await;
    let unknown = token::generate(Environment::Live).plaintext.expose().to_owned();
    for t in [revoked.as_str(), expired.as_str(), unknown.as_str(), "garbage", "mon_test_0000"] {
        let body = root_with(&app, Some(t), Some("caph.2025-08-23")).await;
        assert_eq!(body["status"], json!({"environment": null, "isAuthenticated": false}), "{t}");
        assert_eq!(body["apiVersion"], Value::Null);
        assert!(body.get("success").is_none() && body.get("error").is_none(), "not enveloped: {body}");
    }
    let (status, _, body) = send(app.client.get(app.url("/")).header("authorization", "Basic abc")).await;
    assert_eq!((status, &body["status"]["isAuthenticated"]), (200, &json!(false)));
}

// ---------------------------------------------------------------- changes reach the server

// Changes made directly in the store (as the admin CLI or another node makes them) reach a
// running server through the change feed, polled every 250 ms: these allow up to 2 s.

#[tokio::test]
async fn a_role_change_takes_effect_on_a_running_server() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let m = app.member(&o.space, "viewer").await;
    let t = app.token(&m).await;
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "role"); // the role is now cached

    app.store().set_member_role(&o.space, &m, &RoleName::stored("developer"), &Actor::Operator).await.unwrap();
    let promoted = eventually(FEED_DELAY, || async { create_account(&app, &t, &o.space).await.0 == 200 }).await;
    assert!(promoted, "the promotion did not reach the server within {FEED_DELAY:?}");

    app.store().set_member_role(&o.space, &m, &RoleName::stored("viewer"), &Actor::Operator).await.unwrap();
    let demoted = eventually(FEED_DELAY, || async { create_account(&app, &t, &o.space).await.0 == 403 }).await;
    assert!(demoted, "the demotion did not reach the server within {FEED_DELAY:?}");
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "role");
    assert_eq!(list_accounts(&app, &t, &o.space).await.0, 200, "a viewer still reads");
}

#[tokio::test]
async fn a_revocation_takes_effect_on_a_running_server() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (t, id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    let (other, _) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    assert_eq!(list_accounts(&app, &t, &o.space).await.0, 200); // cached now
    assert_eq!(list_accounts(&app, &other, &o.space).await.0, 200);
    app.store().revoke_token(&id, &Actor::Operator).await.unwrap();
    let refused = eventually(FEED_DELAY, || async { list_accounts(&app, &t, &o.space).await.0 == 401 }).await;
    assert!(refused, "the revocation did not reach the server within {FEED_DELAY:?}");
    let (status, body) = list_accounts(&app, &t, &o.space).await;
    assert_error(status, &body, 401, "token_revoked");
    assert_eq!(list_accounts(&app, &other, &o.space).await.0, 200, "only the revoked token stops");
}

#[tokio::test]
async fn offboarding_and_removal_take_effect_on_a_running_server() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let leaving = app.member(&o.space, "developer").await;
    let removed = app.member(&o.space, "developer").await;
    let t_leaving = app.token(&leaving).await;
    let t_removed = app.token(&removed).await;
    assert_eq!(list_accounts(&app, &t_leaving, &o.space).await.0, 200);
    assert_eq!(list_accounts(&app, &t_removed, &o.space).await.0, 200);

    app.store().offboard_monimeer(&leaving, &Actor::Operator).await.unwrap();
    app.store().remove_member(&o.space, &removed, &Actor::Operator).await.unwrap();
    let done = eventually(FEED_DELAY, || async {
        list_accounts(&app, &t_leaving, &o.space).await.0 == 401
            && list_accounts(&app, &t_removed, &o.space).await.0 == 403
    })
    .await;
    assert!(done, "offboarding/removal did not reach the server within {FEED_DELAY:?}");
    let (status, body) = list_accounts(&app, &t_leaving, &o.space).await;
    assert_error(status, &body, 401, "token_owner_offboarded");
    let (status, body) = list_accounts(&app, &t_removed, &o.space).await;
    assert_error(status, &body, 403, "space_access_denied");
    // The removed Monimeer's token itself is fine: GET / still knows them.
    assert_eq!(root_with(&app, Some(&t_removed), None).await["status"]["isAuthenticated"], true);
}

// The management API changes authorization on this node and evicts the cache before it answers,
// so here the very next request must see the change — no waiting for the change feed.

#[tokio::test]
async fn a_revocation_through_the_api_takes_effect_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let admin = app.token(&o.monimeer).await;
    let (victim, victim_id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    assert_eq!(list_accounts(&app, &victim, &o.space).await.0, 200); // cached now
    let path = format!("/v1/access-tokens/{victim_id}/revoke");
    let (status, _, body) =
        send(app.req(Method::POST, &path, &admin, &o.space).header("Idempotency-Key", idem_key())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = list_accounts(&app, &victim, &o.space).await;
    assert_error(status, &body, 401, "token_revoked");
    assert_eq!(list_accounts(&app, &admin, &o.space).await.0, 200);
}

#[tokio::test]
async fn a_role_change_through_the_api_takes_effect_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let admin = app.live_token(&o.monimeer).await;
    let m = app.member(&o.space, "viewer").await;
    let t = app.token(&m).await;
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "role"); // cached as viewer
    let path = format!("/v1/space-members/{m}");
    let (status, _, body) = send(app.patch(&path, &admin, &o.space, &json!({"role": "developer"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(create_account(&app, &t, &o.space).await.0, 200);
    let (status, _, body) = send(app.patch(&path, &admin, &o.space, &json!({"role": "viewer"}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_account(&app, &t, &o.space).await;
    assert_permission_denied(status, &body, "financial-accounts:write", "role");
}

#[tokio::test]
async fn a_removal_through_the_api_takes_effect_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let admin = app.live_token(&o.monimeer).await;
    let m = app.member(&o.space, "developer").await;
    let t = app.token(&m).await;
    assert_eq!(list_accounts(&app, &t, &o.space).await.0, 200); // cached as a member
    let (status, _, body) = send(app.req(Method::DELETE, &format!("/v1/space-members/{m}"), &admin, &o.space)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = list_accounts(&app, &t, &o.space).await;
    assert_error(status, &body, 403, "space_access_denied");
}

// ---------------------------------------------------------------- every route's permission

/// A path with every `{param}` replaced by a plausible id.
fn concrete(path: &str) -> String {
    path.split('/')
        .scan("", |previous, segment| {
            let out = if segment.starts_with('{') {
                let prefix = match *previous {
                    "financial-accounts" => "fac-",
                    "financial-transactions" => "txn-",
                    "internal-transfers" => "trn-",
                    "access-tokens" => "tok-",
                    "spaces" => "spc-",
                    "space-members" | "members" | "monimeers" => "mmr-",
                    _ => "id-",
                };
                format!("{prefix}{}", openmonime_domain::ids::random_base62(22))
            } else {
                segment.to_owned()
            };
            *previous = segment;
            Some(out)
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_requires_exactly_its_declared_permission() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let routes = openmonime_http::handlers::route_table();
    // Live tokens: member, role and policy writes refuse test tokens before any permission
    // question would be reached in the handler.
    let live = TokenSpec { environment: Environment::Live, ..TokenSpec::default() };
    assert!(routes.len() >= 11, "the money core alone has 11 operations");
    let (nothing, _) =
        app.token_with(&o.monimeer, TokenSpec { permissions: PermissionSet::EMPTY, ..live.clone() }).await;
    for route in &routes {
        let path = concrete(route.path);
        let what = format!("{} {} ({})", route.method, route.path, route.operation);
        let request = |token: &str| {
            let req = app.req(route.method.clone(), &path, token, &o.space).header("Idempotency-Key", idem_key());
            if route.method == Method::POST || route.method == Method::PATCH {
                req.json(&json!({}))
            } else {
                req
            }
        };
        let (status, _, body) = send(app.client.request(route.method.clone(), app.url(&path))).await;
        assert_error(status, &body, 401, "authorization_missing");
        let Some(needed) = route.access.permission() else {
            // Declared as needing only a valid token: a token with no permission at all passes.
            assert_eq!(route.access, Access::Authenticated, "{what}");
            let (status, _, body) = send(request(&nothing)).await;
            assert!(status != 401 && status != 403, "{what} with a permissionless token: {status} {body}");
            continue;
        };

        let all_but: PermissionSet = Permission::ALL.iter().copied().filter(|p| *p != needed).collect();
        let (all_but_token, _) = app.token_with(&o.monimeer, TokenSpec { permissions: all_but, ..live.clone() }).await;
        let (status, _, body) = send(request(&all_but_token)).await;
        assert_eq!(status, 403, "{what} with every permission but {needed}: {body}");
        assert_permission_denied(status, &body, needed.word(), "token");

        let (status, _, body) = send(request(&nothing)).await;
        assert_permission_denied(status, &body, needed.word(), "token");

        // The test helpers exist only for test tokens (a live one gets `route_not_found` by design).
        let environment =
            if route.path.starts_with("/v1/test-helpers/") { Environment::Test } else { Environment::Live };
        let (exact, _) =
            app.token_with(&o.monimeer, TokenSpec { permissions: perms(&[needed]), environment, ..live.clone() }).await;
        let (status, _, body) = send(request(&exact)).await;
        assert!(status != 401 && status != 403, "{what} with exactly {needed} was refused: {status} {body}");
        assert_ne!(body["error"]["reason"], "route_not_found", "{what}: {body}");

        if let Access::Space(_) = route.access {
            // A Space-scoped route also needs the role to grant it: a viewer lacks every write.
            if !needed.is_read() {
                let viewer = app.member(&o.space, "viewer").await;
                let (vt, _) =
                    app.token_with(&viewer, TokenSpec { permissions: perms(&[needed]), ..live.clone() }).await;
                let (status, _, body) = send(request(&vt)).await;
                assert_permission_denied(status, &body, needed.word(), "role");
            }
        }
    }
}
