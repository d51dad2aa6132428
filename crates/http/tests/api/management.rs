//! Issue 6: the self-service management API — /v1/me, the caller's tokens (create, rotate,
//! revoke, no escalation), members, roles, policies, and the audit log.

use crate::support::*;
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::Environment;
use reqwest::Method;
use serde_json::{json, Value};

fn perms(list: &[Permission]) -> PermissionSet {
    list.iter().copied().collect()
}

async fn get(app: &TestApp, path: &str, token: &str, space: Option<&openmonime_domain::ids::SpaceId>) -> (u16, Value) {
    let mut req = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(s) = space {
        req = req.header("Monime-Space-Id", s.as_str());
    }
    let (status, _, body) = send(req).await;
    (status, body)
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    space: Option<&openmonime_domain::ids::SpaceId>,
    body: Value,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token).json(&body);
    if let Some(s) = space {
        req = req.header("Monime-Space-Id", s.as_str());
    }
    let (status, _, body) = send(req).await;
    (status, body)
}

#[tokio::test]
async fn me_explains_what_the_role_grants_for_each_token_permission() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let viewer = app.member(&owner.space, "viewer").await;
    let spec = TokenSpec {
        permissions: perms(&[Permission::FinancialAccountsRead, Permission::FinancialAccountsWrite]),
        ..Default::default()
    };
    let (token, token_id) = app.token_with(&viewer, spec).await;

    let (status, body) = get(&app, "/v1/me", &token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["monimeer"]["id"], viewer.as_str());
    assert_eq!(body["result"]["token"]["id"], token_id.as_str());
    assert_eq!(body["result"]["space"], Value::Null);
    assert!(!body.to_string().contains(&token), "the plaintext never comes back");

    let (status, body) = get(&app, "/v1/me", &token, Some(&owner.space)).await;
    assert_eq!(status, 200, "{body}");
    let space = &body["result"]["space"];
    assert_eq!(space["role"], "viewer");
    assert_eq!(space["effectivePermissions"], json!(["financial-accounts:read"]));
    assert_eq!(
        space["tokenPermissions"],
        json!([
            {"permission": "financial-accounts:read", "grantedByRole": true},
            {"permission": "financial-accounts:write", "grantedByRole": false},
        ])
    );
}

#[tokio::test]
async fn a_token_creates_a_narrower_token_whose_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &token,
        None,
        json!({"name": "ci", "permissions": ["financial-accounts:read"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_token = body["result"]["token"].as_str().expect("plaintext in the create response").to_owned();
    assert!(new_token.starts_with("mon_test_"));
    assert_eq!(body["result"]["status"], "ACTIVE");
    assert_eq!(body["result"]["permissions"], json!(["financial-accounts:read"]));
    assert!(body["result"]["expireTime"].is_string(), "finite default expiry: {body}");
    let id = body["result"]["id"].as_str().unwrap().to_owned();

    let (status, fetched) = get(&app, &format!("/v1/access-tokens/{id}"), &token, None).await;
    assert_eq!(status, 200);
    assert!(fetched["result"].get("token").is_none(), "the secret is never shown again");
    let (status, listed) = get(&app, "/v1/access-tokens", &token, None).await;
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(&new_token));

    let (status, root) = get(&app, "/", &new_token, None).await;
    assert_eq!(status, 200);
    assert_eq!(root["status"]["isAuthenticated"], true);

    // Another person's token is not found, not forbidden.
    let other = app.owner().await;
    let other_token = app.token(&other.monimeer).await;
    let (status, body) = get(&app, &format!("/v1/access-tokens/{id}"), &other_token, None).await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn every_escalation_is_refused_with_its_own_reason() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let spec = TokenSpec {
        permissions: perms(&[Permission::AccessTokensWrite, Permission::FinancialAccountsRead]),
        space: Some(owner.space.clone()),
        allowed_ips: vec!["127.0.0.0/8".parse().unwrap()],
        expires_at: now_plus(time::Duration::days(5)),
        ..Default::default()
    };
    let (token, _) = app.token_with(&owner.monimeer, spec).await;
    let cases = [
        (json!({"name": "x", "permissions": ["payouts:write"]}), "escalation_permissions"),
        (
            json!({"name": "x", "permissions": ["financial-accounts:read"], "environment": "live"}),
            "escalation_environment",
        ),
        (
            json!({"name": "x", "permissions": ["financial-accounts:read"], "spaceId": app.owner().await.space}),
            "escalation_space",
        ),
        (
            json!({"name": "x", "permissions": ["financial-accounts:read"], "allowedIps": ["0.0.0.0/0"]}),
            "escalation_ip_allowlist",
        ),
        (json!({"name": "x", "permissions": ["financial-accounts:read"], "neverExpires": true}), "escalation_expiry"),
    ];
    for (body, reason) in cases {
        let (status, answer) = call(&app, Method::POST, "/v1/access-tokens", &token, None, body).await;
        let err = assert_error(status, &answer, 403, reason);
        assert!(!err["details"].as_array().unwrap().is_empty(), "{answer}");
    }
    let before = app.store().list_tokens(&owner.monimeer).await.unwrap().len();
    assert_eq!(before, 1, "no refused request created a token");
    // A token without access-tokens:write cannot create tokens at all.
    let (weak, _) = app
        .token_with(
            &owner.monimeer,
            TokenSpec { permissions: perms(&[Permission::AccessTokensRead]), ..Default::default() },
        )
        .await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &weak,
        None,
        json!({"name": "x", "permissions": ["access-tokens:read"]}),
    )
    .await;
    assert_error(status, &body, 403, "permission_denied");
}

#[tokio::test]
async fn rotation_keeps_the_old_token_for_the_grace_window_only() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let (old, old_id) = app
        .token_with(&owner.monimeer, TokenSpec { expires_at: now_plus(time::Duration::days(3)), ..Default::default() })
        .await;
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{old_id}/rotate"),
        &old,
        None,
        json!({"gracePeriodSeconds": 2}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new = body["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(body["result"]["expireTime"].as_str().map(|s| s.len() > 10), Some(true), "copies the expiry");
    assert_eq!(body["replaces"], Value::Null);
    assert_eq!(body["result"]["replaces"]["id"], old_id.as_str());

    let (status, _) = get(&app, "/v1/me", &old, None).await;
    assert_eq!(status, 200, "the old token works inside the grace window");
    let (status, _) = get(&app, "/v1/me", &new, None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    let (status, body) = get(&app, "/v1/me", &old, None).await;
    assert_error(status, &body, 401, "token_revoked");
    let (status, _) = get(&app, "/v1/me", &new, None).await;
    assert_eq!(status, 200);

    // Grace 0 (or no body) stops the old token at once.
    let new_id = app.store().list_tokens(&owner.monimeer).await.unwrap()[0].id.clone();
    let res =
        app.client.post(app.url(&format!("/v1/access-tokens/{new_id}/rotate"))).bearer_auth(&new).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = get(&app, "/v1/me", &new, None).await;
    assert_error(status, &body, 401, "token_revoked");
}

#[tokio::test]
async fn revocation_through_the_api_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let admin = app.token(&owner.monimeer).await;
    let (victim, victim_id) = app.token_with(&owner.monimeer, TokenSpec::default()).await;
    let (status, _) = get(&app, "/v1/financial-accounts", &victim, Some(&owner.space)).await;
    assert_eq!(status, 200, "warm the cache");
    let (status, body) =
        call(&app, Method::POST, &format!("/v1/access-tokens/{victim_id}/revoke"), &admin, None, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["status"], "REVOKED");
    let (status, body) = get(&app, "/v1/financial-accounts", &victim, Some(&owner.space)).await;
    assert_error(status, &body, 401, "token_revoked");
    let (status, body) =
        call(&app, Method::POST, &format!("/v1/access-tokens/{victim_id}/revoke"), &admin, None, json!({})).await;
    assert_error(status, &body, 409, "token_already_revoked");
}

#[tokio::test]
async fn authenticated_responses_carry_the_token_expiration_and_usage_is_counted() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let (token, id) = app
        .token_with(&owner.monimeer, TokenSpec { expires_at: now_plus(time::Duration::days(1)), ..Default::default() })
        .await;
    for _ in 0..3 {
        let res = app.client.get(app.url("/v1/me")).bearer_auth(&token).send().await.unwrap();
        assert!(res.headers().get("monime-token-expiration").is_some());
    }
    app.state.usage.flush(app.store()).await;
    let (status, body) = get(&app, &format!("/v1/access-tokens/{id}"), &token, None).await;
    assert_eq!(status, 200);
    assert!(body["result"]["requestCount"].as_i64().unwrap() >= 3, "{body}");
    assert_eq!(body["result"]["lastUsedIp"], "127.0.0.1");
    assert!(body["result"]["lastUsedTime"].is_string());
    let (_, listed) =
        get(&app, "/v1/access-tokens?status=active&environment=test&expiringWithin=2d", &token, None).await;
    assert_eq!(listed["result"].as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = get(&app, "/v1/access-tokens?environment=live", &token, None).await;
    assert_eq!(listed["result"].as_array().unwrap().len(), 0);
    let (status, body) = get(&app, "/v1/access-tokens?expiringWithin=soon", &token, None).await;
    assert_error(status, &body, 400, "validation_failed");
    // The one span syntax of `admin token create --expires-in` (domain::issuance::parse_span):
    // years and seconds alike.
    for window in ["1y", "172800s"] {
        let (status, listed) = get(&app, &format!("/v1/access-tokens?expiringWithin={window}"), &token, None).await;
        assert_eq!(status, 200, "{window}: {listed}");
        assert_eq!(listed["result"].as_array().unwrap().len(), 1, "{window}: {listed}");
    }
}

#[tokio::test]
async fn members_are_managed_without_privilege_escalation() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let owner_token = app.live_token(&owner.monimeer).await;
    let admin = app.member(&owner.space, "admin").await;
    let admin_token = app.live_token(&admin).await;
    let newcomer = app.store().create_monimeer("New", None).await.unwrap().id;

    // An admin cannot make an owner; an owner can.
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-members",
        &admin_token,
        Some(&owner.space),
        json!({"monimeerId": newcomer, "role": "owner"}),
    )
    .await;
    assert_error(status, &body, 403, "ownership_change_requires_owner");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-members",
        &admin_token,
        Some(&owner.space),
        json!({"monimeerId": newcomer, "role": "developer"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-members",
        &admin_token,
        Some(&owner.space),
        json!({"monimeerId": newcomer, "role": "viewer"}),
    )
    .await;
    assert_error(status, &body, 409, "already_a_member");

    // A developer lacks space-members:write in their role.
    let dev_token = app.token(&newcomer).await;
    let (status, body) = call(
        &app,
        Method::PATCH,
        &format!("/v1/space-members/{admin}"),
        &dev_token,
        Some(&owner.space),
        json!({"role": "viewer"}),
    )
    .await;
    let err = assert_error(status, &body, 403, "permission_denied");
    assert_eq!(err["details"][0]["missingFrom"], "role");

    // Role change takes effect on the member's next request.
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/financial-accounts",
        &dev_token,
        Some(&owner.space),
        json!({"name": "a", "currency": "SLE"}),
    )
    .await;
    assert_ne!(status, 403);
    let (status, body) = call(
        &app,
        Method::PATCH,
        &format!("/v1/space-members/{newcomer}"),
        &owner_token,
        Some(&owner.space),
        json!({"role": "viewer"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let res = app
        .req(Method::POST, "/v1/financial-accounts", &dev_token, &owner.space)
        .header("Idempotency-Key", "k")
        .json(&json!({"name": "a", "currency": "SLE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The last owner cannot leave or be demoted; removal cuts access at once.
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("/v1/space-members/{}", owner.monimeer),
        &owner_token,
        Some(&owner.space),
        json!({}),
    )
    .await;
    assert_error(status, &body, 409, "last_owner");
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("/v1/space-members/{newcomer}"),
        &admin_token,
        Some(&owner.space),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&app, "/v1/financial-accounts", &dev_token, Some(&owner.space)).await;
    assert_error(status, &body, 403, "space_access_denied");
    let (status, body) = get(&app, "/v1/space-members", &owner_token, Some(&owner.space)).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"].as_array().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn custom_roles_change_what_holders_can_do_and_report_their_reach() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let owner_token = app.live_token(&owner.monimeer).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-roles",
        &owner_token,
        Some(&owner.space),
        json!({"name": "bookkeeper", "permissions": ["financial-accounts:*"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["permissions"], json!(["financial-accounts:read", "financial-accounts:write"]));
    let keeper = app.member(&owner.space, "bookkeeper").await;
    let keeper_token = app.token(&keeper).await;
    let (status, _) = get(&app, "/v1/financial-accounts", &keeper_token, Some(&owner.space)).await;
    assert_eq!(status, 200);

    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/space-roles/bookkeeper",
        &owner_token,
        Some(&owner.space),
        json!({"permissions": ["internal-transfers:read"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["affected"], json!({"members": 1, "tokens": 1}));
    let (status, body) = get(&app, "/v1/financial-accounts", &keeper_token, Some(&owner.space)).await;
    let err = assert_error(status, &body, 403, "permission_denied");
    assert_eq!(err["details"][0]["missingFrom"], "role");

    let (status, body) =
        call(&app, Method::DELETE, "/v1/space-roles/bookkeeper", &owner_token, Some(&owner.space), json!({})).await;
    assert_error(status, &body, 409, "role_in_use");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-roles",
        &owner_token,
        Some(&owner.space),
        json!({"name": "owner", "permissions": []}),
    )
    .await;
    assert_error(status, &body, 409, "role_exists");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-roles",
        &owner_token,
        Some(&owner.space),
        json!({"name": "Bad Name", "permissions": []}),
    )
    .await;
    assert_error(status, &body, 400, "validation_failed");

    // An admin cannot create a role carrying ownership.
    let admin = app.member(&owner.space, "admin").await;
    let admin_token = app.live_token(&admin).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/space-roles",
        &admin_token,
        Some(&owner.space),
        json!({"name": "crown", "permissions": ["space-ownership:write"]}),
    )
    .await;
    assert_error(status, &body, 403, "role_above_own");
    let (status, body) = get(&app, "/v1/space-roles", &owner_token, Some(&owner.space)).await;
    assert_eq!(status, 200);
    let names: Vec<_> =
        body["result"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, vec!["owner", "admin", "developer", "viewer", "bookkeeper"]);
}

#[tokio::test]
async fn space_policies_are_enforced_in_the_pipeline() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let (bound, _) = app
        .token_with(
            &owner.monimeer,
            TokenSpec {
                environment: Environment::Live,
                space: Some(owner.space.clone()),
                expires_at: now_plus(time::Duration::hours(1)),
                ..Default::default()
            },
        )
        .await;
    let unbound = app.token(&owner.monimeer).await;
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/space-policies",
        &bound,
        Some(&owner.space),
        json!({"allowUnboundTokens": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&app, "/v1/financial-accounts", &unbound, Some(&owner.space)).await;
    assert_error(status, &body, 403, "space_policy_unbound_token");
    let (status, _) = get(&app, "/v1/financial-accounts", &bound, Some(&owner.space)).await;
    assert_eq!(status, 200);

    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/space-policies",
        &bound,
        Some(&owner.space),
        json!({"maxTokenLifetimeSeconds": 60}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&app, "/v1/financial-accounts", &bound, Some(&owner.space)).await;
    let err = assert_error(status, &body, 403, "space_policy_token_lifetime");
    assert_eq!(err["details"][0]["maxTokenLifetimeSeconds"], 60);
    let (status, body) = get(&app, "/v1/space-policies", &bound, Some(&owner.space)).await;
    assert_error(status, &body, 403, "space_policy_token_lifetime");
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/space-policies",
        &bound,
        Some(&owner.space),
        json!({"maxTokenLifetimeSeconds": -1}),
    )
    .await;
    assert_ne!(status, 200, "{body}");
}

#[tokio::test]
async fn the_audit_log_records_changes_and_denials_without_secrets() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let (token, _) =
        app.token_with(&owner.monimeer, TokenSpec { space: Some(owner.space.clone()), ..Default::default() }).await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &token,
        None,
        json!({"name": "child", "permissions": ["catalog:read"]}),
    )
    .await;
    assert_eq!(status, 200);
    let secret = created["result"]["token"].as_str().unwrap().to_owned();
    let viewer = app.member(&owner.space, "viewer").await;
    let viewer_token = app.token(&viewer).await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/space-roles",
        &viewer_token,
        Some(&owner.space),
        json!({"name": "x", "permissions": []}),
    )
    .await;
    assert_eq!(status, 403);
    // Policies span both environments: a live token changes them, and the record shows in both.
    let governor = app.live_token(&owner.monimeer).await;
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/space-policies",
        &governor,
        Some(&owner.space),
        json!({"allowUnboundTokens": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let main = app.main_account(&owner.space, Environment::Test).await;
    app.fund(&owner.space, Environment::Test, &main, 500).await;
    // Denials are coalesced and written by the background flusher, off the request path.
    app.state.denials.flush(app.store()).await;

    let (status, body) = get(&app, "/v1/audit-events?limit=50", &token, Some(&owner.space)).await;
    assert_eq!(status, 200, "{body}");
    let actions: Vec<_> =
        body["result"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for expected in ["token.create", "request.denied", "policy.update", "ledger.credit"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
    assert!(!body.to_string().contains(&secret) && !body.to_string().contains(&token));
    let (_, denied) = get(&app, "/v1/audit-events?action=request.denied", &token, Some(&owner.space)).await;
    let denial = &denied["result"][0];
    assert_eq!(denial["actor"], viewer.as_str());
    assert_eq!(denial["detail"]["reason"], "permission_denied");
    assert_eq!(denial["ipAddress"], "127.0.0.1");
    // Reading the log needs audit-events:read, which viewers have but developers lack.
    let dev = app.member(&owner.space, "developer").await;
    let dev_token = app.token(&dev).await;
    let (status, body) = get(&app, "/v1/audit-events", &dev_token, Some(&owner.space)).await;
    assert_error(status, &body, 403, "permission_denied");
}
