//! Issue 12: what a request may grant never exceeds what it holds — token ∩ role, a live token,
//! an active token, the Space binding — for members, roles, policies and tokens; the last active
//! owner survives concurrency; refusals are rate-limited and audited in bounded rows.

use crate::support::*;
use openmonime_domain::ids::{MonimeerId, SpaceId};
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::Environment;
use openmonime_http::ratelimit::{PerEnvironment, RateLimits};
use openmonime_http::ServerConfig;
use reqwest::Method;
use serde_json::{json, Value};

/// Sends `body` (for writes) with a fresh idempotency key; `space` sets `Monime-Space-Id`.
async fn act(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    space: Option<&SpaceId>,
    body: Value,
) -> (u16, Value) {
    let mut req = app.client.request(method.clone(), app.url(path)).bearer_auth(token);
    if let Some(space) = space {
        req = req.header("Monime-Space-Id", space.as_str());
    }
    if method != Method::GET {
        req = req.header("Idempotency-Key", idem_key());
    }
    if method == Method::POST || method == Method::PATCH {
        req = req.json(&body);
    }
    let (status, _, body) = send(req).await;
    (status, body)
}

fn live(permissions: PermissionSet) -> TokenSpec {
    TokenSpec { environment: Environment::Live, permissions, ..TokenSpec::default() }
}

async fn role_of(app: &TestApp, space: &SpaceId, who: &MonimeerId) -> Option<String> {
    app.store()
        .list_members(space)
        .await
        .unwrap()
        .into_iter()
        .find(|m| &m.monimeer_id == who)
        .map(|m| m.role.to_string())
}

async fn role_names(app: &TestApp, space: &SpaceId) -> Vec<String> {
    app.store().list_roles(space).await.unwrap().into_iter().map(|r| r.name).collect()
}

#[tokio::test]
async fn a_test_token_changes_no_member_role_or_policy() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let test = app.token(&o.monimeer).await; // every permission, the owner's role, test environment
    let outsider = app.store().create_monimeer("Outsider", None).await.unwrap().id;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-members",
        &test,
        Some(&o.space),
        json!({"monimeerId": outsider, "role": "owner"}),
    )
    .await;
    assert_error(status, &body, 403, "live_token_required");
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-roles",
        &test,
        Some(&o.space),
        json!({"name": "crown", "permissions": ["*"]}),
    )
    .await;
    assert_error(status, &body, 403, "live_token_required");
    let (status, body) =
        act(&app, Method::PATCH, "/v1/space-policies", &test, Some(&o.space), json!({"allowUnboundTokens": false}))
            .await;
    assert_error(status, &body, 403, "live_token_required");
    let (status, body) = act(
        &app,
        Method::PATCH,
        &format!("/v1/space-members/{}", o.monimeer),
        &test,
        Some(&o.space),
        json!({"role": "viewer"}),
    )
    .await;
    assert_error(status, &body, 403, "live_token_required");

    assert_eq!(role_of(&app, &o.space, &outsider).await, None, "nothing was written");
    assert_eq!(role_of(&app, &o.space, &o.monimeer).await.as_deref(), Some("owner"));
    assert!(!role_names(&app, &o.space).await.contains(&"crown".to_owned()));
    assert!(app.store().get_policy(&o.space).await.unwrap().allow_unbound_tokens);
}

#[tokio::test]
async fn a_one_permission_token_makes_no_owner_and_no_mighty_role() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let outsider = app.store().create_monimeer("Outsider", None).await.unwrap().id;
    let (members_only, _) = app.token_with(&o.monimeer, live(perms(&[Permission::SpaceMembersWrite]))).await;
    for role in ["owner", "admin", "viewer"] {
        let (status, body) = act(
            &app,
            Method::POST,
            "/v1/space-members",
            &members_only,
            Some(&o.space),
            json!({"monimeerId": outsider, "role": role}),
        )
        .await;
        let want = if role == "owner" { "ownership_change_requires_owner" } else { "role_above_own" };
        let err = assert_error(status, &body, 403, want);
        if role != "owner" {
            let named = err["details"][0]["permissions"].as_array().unwrap();
            assert!(named.iter().any(|p| p == "financial-accounts:read"), "names what it lacks: {body}");
        }
    }
    assert_eq!(role_of(&app, &o.space, &outsider).await, None);

    let (roles_only, _) = app.token_with(&o.monimeer, live(perms(&[Permission::SpaceRolesWrite]))).await;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-roles",
        &roles_only,
        Some(&o.space),
        json!({"name": "everything", "permissions": ["*"]}),
    )
    .await;
    assert_error(status, &body, 403, "role_above_own");
    // Within its own authority it may define a role.
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-roles",
        &roles_only,
        Some(&o.space),
        json!({"name": "role-keeper", "permissions": ["space-roles:write"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!role_names(&app, &o.space).await.contains(&"everything".to_owned()));

    // Ownership needs space-ownership:write in the token too, not only in the role.
    let (no_crown, _) = app
        .token_with(
            &o.monimeer,
            live(PermissionSet::all().iter().filter(|p| *p != Permission::SpaceOwnershipWrite).collect()),
        )
        .await;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-members",
        &no_crown,
        Some(&o.space),
        json!({"monimeerId": outsider, "role": "owner"}),
    )
    .await;
    assert_error(status, &body, 403, "ownership_change_requires_owner");
    let full = app.live_token(&o.monimeer).await;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-members",
        &full,
        Some(&o.space),
        json!({"monimeerId": outsider, "role": "owner"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_member_above_the_request_is_out_of_its_reach() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let admin = app.member(&o.space, "admin").await;
    let dev = app.member(&o.space, "developer").await;
    let (narrow_admin, _) =
        app.token_with(&admin, live(perms(&[Permission::SpaceMembersWrite, Permission::SpaceMembersRead]))).await;
    // The developer holds more than this token: it can neither demote nor remove them.
    let path = format!("/v1/space-members/{dev}");
    let (status, body) =
        act(&app, Method::PATCH, &path, &narrow_admin, Some(&o.space), json!({"role": "viewer"})).await;
    assert_error(status, &body, 403, "target_above_own");
    let (status, body) = act(&app, Method::DELETE, &path, &narrow_admin, Some(&o.space), json!({})).await;
    assert_error(status, &body, 403, "target_above_own");
    assert_eq!(role_of(&app, &o.space, &dev).await.as_deref(), Some("developer"));
    // An admin's full token still cannot touch an owner.
    let admin_full = app.live_token(&admin).await;
    let path = format!("/v1/space-members/{}", o.monimeer);
    let (status, body) = act(&app, Method::PATCH, &path, &admin_full, Some(&o.space), json!({"role": "viewer"})).await;
    assert_error(status, &body, 403, "ownership_change_requires_owner");
    let (status, body) = act(&app, Method::DELETE, &path, &admin_full, Some(&o.space), json!({})).await;
    assert_error(status, &body, 403, "ownership_change_requires_owner");
    // Leaving oneself needs no authority over one's own role.
    let (status, body) =
        act(&app, Method::DELETE, &format!("/v1/space-members/{admin}"), &narrow_admin, Some(&o.space), json!({}))
            .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_token_sees_and_manages_only_tokens_it_could_have_created() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (live_token, live_id) = app.token_with(&o.monimeer, live(PermissionSet::all())).await;
    let (unbound_test, unbound_id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    let (bound_test, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec {
                space: Some(o.space.clone()),
                permissions: perms(&[Permission::AccessTokensRead, Permission::AccessTokensWrite]),
                ..TokenSpec::default()
            },
        )
        .await;
    let (_, list) = act(&app, Method::GET, "/v1/access-tokens", &bound_test, None, json!({})).await;
    let ids: Vec<&str> = list["result"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&live_id.as_str()), "a test token lists no live token: {list}");
    assert!(!ids.contains(&unbound_id.as_str()), "a bound token lists no unbound (wider) token: {list}");
    for id in [&live_id, &unbound_id] {
        let (status, body) =
            act(&app, Method::GET, &format!("/v1/access-tokens/{id}"), &bound_test, None, json!({})).await;
        assert_error(status, &body, 404, "not_found");
        for verb in ["revoke", "rotate"] {
            let (status, body) =
                act(&app, Method::POST, &format!("/v1/access-tokens/{id}/{verb}"), &bound_test, None, json!({})).await;
            assert_error(status, &body, 404, "not_found");
        }
    }
    assert_eq!(send(app.get("/v1/financial-accounts", &live_token, &o.space)).await.0, 200, "still works");
    assert_eq!(send(app.get("/v1/financial-accounts", &unbound_test, &o.space)).await.0, 200, "still works");
    // The wider token does see and manage the narrower one.
    let (_, list) = act(&app, Method::GET, "/v1/access-tokens", &unbound_test, None, json!({})).await;
    assert!(list["result"].as_array().unwrap().len() >= 2, "{list}");
}

#[tokio::test]
async fn binding_to_a_foreign_or_unknown_space_answers_alike_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let attacker = app.owner().await;
    let victim = app.owner().await;
    let token = app.token(&attacker.monimeer).await;
    let audit_rows = |space: SpaceId| {
        let store = app.store().clone();
        async move {
            let filter = openmonime_store::audit::AuditFilter { action: None, actor: None };
            let mut n = 0;
            for env in Environment::ALL {
                n += store
                    .list_audit(&space, env, &filter, openmonime_store::PageRequest { after: None, limit: 100 })
                    .await
                    .unwrap()
                    .items
                    .len();
            }
            n
        }
    };
    let before = audit_rows(victim.space.clone()).await;
    let tokens_before = app.store().list_tokens(&attacker.monimeer).await.unwrap().len();
    let unknown = openmonime_domain::ids::SpaceId::generate();
    let mut answers = Vec::new();
    for space in [victim.space.as_str(), unknown.as_str()] {
        let res = app
            .client
            .post(app.url("/v1/access-tokens"))
            .bearer_auth(&token)
            .header("Idempotency-Key", idem_key())
            .json(&json!({"name": "<script>owned</script>", "permissions": ["catalog:read"], "spaceId": space}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        answers.push((status, text.replace(space, "SPACE")));
    }
    assert_ne!(answers[0].0, 200, "{answers:?}");
    assert_eq!(answers[0], answers[1], "a foreign Space and an unknown one must answer byte for byte alike");
    let body: Value = serde_json::from_str(&answers[0].1).unwrap();
    assert!(body["success"] == false && body["error"]["reason"].is_string(), "{body}");
    assert_eq!(audit_rows(victim.space.clone()).await, before, "nothing written into the victim's Space");
    assert_eq!(app.store().list_tokens(&attacker.monimeer).await.unwrap().len(), tokens_before, "no token minted");
}

#[tokio::test]
async fn a_retiring_token_rotates_nothing_and_mints_nothing() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (old, old_id) = app.token_with(&o.monimeer, live(PermissionSet::all())).await;
    let (status, body) = act(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{old_id}/rotate"),
        &old,
        None,
        json!({"gracePeriodSeconds": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let successor = body["result"]["token"].as_str().unwrap().to_owned();
    // In its grace it still reads...
    assert_eq!(send(app.get("/v1/financial-accounts", &old, &o.space)).await.0, 200);
    // ...but it cannot rotate itself again, mint a child, or grant.
    let (status, body) =
        act(&app, Method::POST, &format!("/v1/access-tokens/{old_id}/rotate"), &old, None, json!({})).await;
    assert_error(status, &body, 403, "token_retiring");
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &old,
        None,
        json!({"name": "child", "permissions": ["catalog:read"]}),
    )
    .await;
    assert_error(status, &body, 403, "token_retiring");
    let outsider = app.store().create_monimeer("Outsider", None).await.unwrap().id;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/space-members",
        &old,
        Some(&o.space),
        json!({"monimeerId": outsider, "role": "viewer"}),
    )
    .await;
    assert_error(status, &body, 403, "token_retiring");
    // Nor can an active token rotate it a second time: only an active token rotates.
    let (status, body) =
        act(&app, Method::POST, &format!("/v1/access-tokens/{old_id}/rotate"), &successor, None, json!({})).await;
    assert_error(status, &body, 409, "token_not_active");
    let tokens = app.store().list_tokens(&o.monimeer).await.unwrap();
    assert_eq!(tokens.len(), 2, "the old token and exactly one successor");
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_a_retiring_token_says_when_it_stops() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (token, id) = app
        .token_with(&o.monimeer, TokenSpec { expires_at: now_plus(time::Duration::days(5)), ..TokenSpec::default() })
        .await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let res = app
            .client
            .get(app.url("/v1/financial-accounts"))
            .header("Authorization", format!("{scheme} {token}"))
            .header("Monime-Space-Id", o.space.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    let (_, headers, _) = send(app.get("/v1/financial-accounts", &token, &o.space)).await;
    let nominal = headers["monime-token-expiration"].to_str().unwrap().to_owned();
    let (status, body) = act(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{id}/rotate"),
        &token,
        None,
        json!({"gracePeriodSeconds": 60}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, headers, _) = send(app.get("/v1/financial-accounts", &token, &o.space)).await;
    let stops = headers["monime-token-expiration"].to_str().unwrap().to_owned();
    assert_ne!(stops, nominal, "the header moved to the end of the grace");
    let stops = time::OffsetDateTime::parse(&stops, &time::format_description::well_known::Rfc3339).unwrap();
    let left = stops - time::OffsetDateTime::now_utc();
    assert!(left <= time::Duration::seconds(61) && left >= time::Duration::seconds(30), "{left}");
}

fn tight_limits(token_rate: u32) -> ServerConfig {
    ServerConfig {
        rate_limits: RateLimits {
            token: PerEnvironment { live: 1000, test: token_rate },
            space: PerEnvironment { live: 0, test: 0 },
            endpoint: PerEnvironment { live: 0, test: 0 },
            auth_failures_per_minute: 3,
            ..RateLimits::default()
        },
        ..ServerConfig::default()
    }
}

/// Finding 3: a refused request spends the token's budget like an answered one, and the audit
/// log grows by one coalesced row per (token, reason) per window, however many were refused.
#[tokio::test]
async fn refusals_are_rate_limited_and_audited_in_bounded_rows() {
    let app = TestApp::spawn_rate_limited(tight_limits(10)).await;
    let o = app.owner().await;
    let viewer = app.member(&o.space, "viewer").await;
    let token = app.token(&viewer).await;
    let mut forbidden = 0u64;
    let mut limited = 0u64;
    for _ in 0..60 {
        let res = app
            .req(Method::POST, "/v1/financial-accounts", &token, &o.space)
            .header("Idempotency-Key", idem_key())
            .json(&json!({"name": "x", "currency": "SLE"}))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            403 => forbidden += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited > 0, "refused requests must be counted by the token limit");
    assert!(
        forbidden <= 25,
        "at most the budget (10/s with its burst) was refused at the permission check: {forbidden}"
    );
    app.state.denials.flush(app.store()).await;
    let page = app
        .store()
        .list_audit(
            &o.space,
            Environment::Test,
            &openmonime_store::audit::AuditFilter { action: Some("request.denied".into()), actor: None },
            openmonime_store::PageRequest { after: None, limit: 100 },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "one coalesced row for one token and one reason");
    let detail = page.items[0].detail.clone().unwrap();
    assert_eq!(detail["reason"], "permission_denied");
    assert_eq!(detail["count"], forbidden, "{detail}");
}

/// Finding 12: the root endpoint is not an unthrottled token-validity oracle.
#[tokio::test]
async fn the_root_endpoint_counts_failed_tokens() {
    let app = TestApp::spawn_rate_limited(tight_limits(1000)).await;
    let bogus = openmonime_domain::token::generate(Environment::Test);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = app.client.get(app.url("/")).bearer_auth(bogus.plaintext.expose()).send().await.unwrap();
        statuses.push(res.status().as_u16());
        let body: Value = res.json().await.unwrap();
        if statuses.last() == Some(&429) {
            assert_error(429, &body, 429, "rate_limited");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429], "three failures allowed per minute");
}

/// On PostgreSQL, two nodes: owners demoting or removing each other at once leave at least one
/// active owner, every time; an offboarded owner never counts.
#[tokio::test]
async fn the_last_active_owner_survives_concurrent_changes_on_two_nodes() {
    if postgres_or_skip("the_last_active_owner_survives_concurrent_changes_on_two_nodes").is_none() {
        return;
    }
    let a = TestApp::spawn().await;
    let b = a.another_node(ServerConfig::default()).await;
    for trial in 0..10 {
        let o = a.owner().await;
        let second = a.member(&o.space, "owner").await;
        let t1 = a.live_token(&o.monimeer).await;
        let t2 = a.live_token(&second).await;
        let (first_path, second_path) =
            (format!("/v1/space-members/{}", o.monimeer), format!("/v1/space-members/{second}"));
        let (one, two) = if trial % 2 == 0 {
            // Each demotes the other.
            tokio::join!(
                act(&a, Method::PATCH, &second_path, &t1, Some(&o.space), json!({"role": "viewer"})),
                act(&b, Method::PATCH, &first_path, &t2, Some(&o.space), json!({"role": "viewer"})),
            )
        } else {
            // Both leave.
            tokio::join!(
                act(&a, Method::DELETE, &first_path, &t1, Some(&o.space), json!({})),
                act(&b, Method::DELETE, &second_path, &t2, Some(&o.space), json!({})),
            )
        };
        let owners = a.store().list_members(&o.space).await.unwrap().into_iter().filter(|m| m.role.is_owner()).count();
        assert_eq!(owners, 1, "trial {trial}: {one:?} {two:?}");
        let outcomes = [one.0, two.0];
        assert!(outcomes.contains(&200), "trial {trial}: one change wins: {outcomes:?}");
        let loser = if one.0 == 200 { two } else { one };
        assert!(
            loser.1["error"]["reason"] == "last_owner" || loser.0 == 401 || loser.0 == 403,
            "trial {trial}: the other is refused cleanly: {loser:?}"
        );
    }
    // An offboarded owner does not count: the remaining active owner cannot leave.
    let o = a.owner().await;
    let departed = a.member(&o.space, "owner").await;
    a.store().offboard_monimeer(&departed, &Actor::Operator).await.unwrap();
    let t = a.live_token(&o.monimeer).await;
    let (status, body) =
        act(&b, Method::DELETE, &format!("/v1/space-members/{}", o.monimeer), &t, Some(&o.space), json!({})).await;
    assert_error(status, &body, 409, "last_owner");
    // And the last active owner cannot be offboarded.
    let err = a.store().offboard_monimeer(&o.monimeer, &Actor::Operator).await.unwrap_err();
    assert!(matches!(err, openmonime_store::StoreError::Conflict(openmonime_store::Conflict::LastOwner)), "{err:?}");
}

/// On PostgreSQL, two nodes: the same member added twice at once is one 200 and one 409; a role
/// deleted while it is being granted leaves nobody holding a deleted role.
#[tokio::test]
async fn concurrent_adds_and_role_deletions_stay_consistent_on_two_nodes() {
    if postgres_or_skip("concurrent_adds_and_role_deletions_stay_consistent_on_two_nodes").is_none() {
        return;
    }
    let a = TestApp::spawn().await;
    let b = a.another_node(ServerConfig::default()).await;
    let o = a.owner().await;
    let t = a.live_token(&o.monimeer).await;
    for trial in 0..10 {
        let newcomer = a.store().create_monimeer("New", None).await.unwrap().id;
        let body = json!({"monimeerId": newcomer, "role": "viewer"});
        let (one, two) = tokio::join!(
            act(&a, Method::POST, "/v1/space-members", &t, Some(&o.space), body.clone()),
            act(&b, Method::POST, "/v1/space-members", &t, Some(&o.space), body.clone()),
        );
        let mut statuses = [one.0, two.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "trial {trial}: {one:?} {two:?}");
        let refused = if one.0 == 409 { one.1 } else { two.1 };
        assert_error(409, &refused, 409, "already_a_member");

        let role = format!("temp-{trial}");
        let (status, body) = act(
            &a,
            Method::POST,
            "/v1/space-roles",
            &t,
            Some(&o.space),
            json!({"name": role, "permissions": ["catalog:read"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let grantee = a.store().create_monimeer("Grantee", None).await.unwrap().id;
        let role_path = format!("/v1/space-roles/{role}");
        let (granted, deleted) = tokio::join!(
            act(
                &a,
                Method::POST,
                "/v1/space-members",
                &t,
                Some(&o.space),
                json!({"monimeerId": grantee, "role": role})
            ),
            act(&b, Method::DELETE, &role_path, &t, Some(&o.space), json!({})),
        );
        let roles = role_names(&a, &o.space).await;
        let held = role_of(&a, &o.space, &grantee).await;
        if let Some(held) = &held {
            assert!(roles.contains(held), "trial {trial}: {grantee} holds a deleted role: {granted:?} {deleted:?}");
        }
        assert!((granted.0 == 200) != (deleted.0 == 200), "trial {trial}: exactly one wins: {granted:?} {deleted:?}");
    }
}

// ------------------------------------------------------------------ the rule, over the route table

/// The operations that grant, edit or revoke power. The test below fails if a route writing
/// members, roles, policies, ownership or tokens is added without being classified here.
const GRANTING: &[&str] = &[
    "AddSpaceMember",
    "UpdateSpaceMember",
    "RemoveSpaceMember",
    "CreateSpaceRole",
    "UpdateSpaceRole",
    "DeleteSpaceRole",
    "UpdateSpacePolicies",
    "CreateAccessToken",
    "RevokeAccessToken",
    "RotateAccessToken",
];

/// One generated caller and request.
#[derive(Debug, Clone)]
struct Case {
    route: usize,
    /// The caller's role: a built-in name, or `None` for a custom role with `role_bits`.
    role: Option<&'static str>,
    role_bits: u64,
    token_bits: u64,
    live: bool,
    bound: bool,
    retiring: bool,
    /// What is granted: a role (built-in or custom with `grant_bits`), a permission set.
    grant_role: Option<&'static str>,
    grant_bits: u64,
    /// The member or token acted on, and what it holds; `target_live`: the token is in the
    /// caller's environment.
    target_role: Option<&'static str>,
    target_bits: u64,
    target_live: bool,
}

const BUILTIN: &[&str] = &["owner", "admin", "developer", "viewer"];

fn bits_to_set(bits: u64) -> PermissionSet {
    Permission::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << (i % 64)) != 0).map(|(_, p)| *p).collect()
}

fn case_strategy(routes: usize) -> impl proptest::strategy::Strategy<Value = Case> {
    use proptest::prelude::*;
    // Callers are mostly powerful, live and active, so that admissions are common enough to be
    // checked; granted and target roles are mostly modest, for the same reason.
    let caller_role =
        prop_oneof![3 => Just(Some("owner")), 2 => prop::option::weighted(0.7, prop::sample::select(BUILTIN))];
    let modest = prop::option::weighted(0.7, prop::sample::select(&BUILTIN[1..]));
    // Dense bit patterns so that sets close to "everything" are common (the interesting edge).
    let dense =
        || prop_oneof![2 => Just(u64::MAX), 1 => any::<u64>(), 1 => any::<u64>().prop_map(|b| b | (b << 1) | (b >> 1))];
    let sparse = || prop_oneof![any::<u64>().prop_map(|b| b & (b >> 1)), any::<u64>()];
    (
        (
            0..routes,
            caller_role,
            dense(),
            dense(),
            prop::bool::weighted(0.75),
            any::<bool>(),
            prop::bool::weighted(0.15),
        ),
        (modest.clone(), sparse(), modest, sparse(), prop::bool::weighted(0.7)),
    )
        .prop_map(
            |(
                (route, role, role_bits, token_bits, live, bound, retiring),
                (grant_role, grant_bits, target_role, target_bits, target_live),
            )| Case {
                route,
                role,
                role_bits,
                token_bits,
                live,
                bound,
                retiring,
                grant_role,
                grant_bits,
                target_role,
                target_bits,
                target_live,
            },
        )
}

struct World {
    app: TestApp,
    owner: Owner,
    counter: std::sync::atomic::AtomicUsize,
}

impl World {
    fn fresh(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// A role name for `builtin`, or a new custom role holding `bits`; returns (name, permissions).
    async fn role(&self, builtin: Option<&'static str>, bits: u64) -> (String, PermissionSet) {
        match builtin {
            Some(name) => {
                let set = openmonime_domain::role::BuiltinRole::parse(name).unwrap().permissions();
                (name.to_owned(), set)
            }
            None => {
                let name = self.fresh("custom");
                let set = bits_to_set(bits);
                self.app
                    .store()
                    .create_role(&self.owner.space, &RoleName::stored(&name), set, &Actor::Operator)
                    .await
                    .unwrap();
                (name, set)
            }
        }
    }
}

fn owns(set: PermissionSet, role: &str) -> bool {
    role == "owner" || set.contains(Permission::SpaceOwnershipWrite)
}

/// Runs one case: `Ok(admitted)`, or a description of a violation.
async fn run_case(w: &World, routes: &[openmonime_http::auth::routes::RouteSpec], case: &Case) -> Result<bool, String> {
    let app = &w.app;
    let space = &w.owner.space;
    let route = &routes[case.route];
    let (caller_role, role_set) = w.role(case.role, case.role_bits).await;
    let caller = app.store().create_monimeer("Caller", None).await.unwrap().id;
    app.store().add_member(space, &caller, &RoleName::stored(&caller_role), &Actor::Operator).await.unwrap();
    let token_set = bits_to_set(case.token_bits);
    let environment = if case.live { Environment::Live } else { Environment::Test };
    let spec = TokenSpec {
        environment,
        permissions: token_set,
        space: case.bound.then(|| space.clone()),
        ..TokenSpec::default()
    };
    let (token, token_id) = app.token_with(&caller, spec).await;
    if case.retiring {
        let stops = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        sqlx::query("UPDATE access_tokens SET revoked_at = $1 WHERE id = $2")
            .bind((stops.unix_timestamp_nanos() / 1000) as i64)
            .bind(token_id.as_str())
            .execute(app.store().pool())
            .await
            .unwrap();
    }
    let authority = token_set.intersect(role_set);
    let governs = case.live && !case.retiring;
    let within = |set: PermissionSet, role: &str| {
        set.is_subset_of(authority) && (!owns(set, role) || authority.contains(Permission::SpaceOwnershipWrite))
    };

    // The target: a member with a role, or another token of the caller's.
    let (target_role, target_set) = w.role(case.target_role, case.target_bits).await;
    let target = app.store().create_monimeer("Target", None).await.unwrap().id;
    app.store().add_member(space, &target, &RoleName::stored(&target_role), &Actor::Operator).await.unwrap();
    // The caller's other token: mostly in the caller's environment, sometimes bound to the Space.
    let target_env = match (case.target_live, environment) {
        (true, env) => env,
        (false, Environment::Live) => Environment::Test,
        (false, Environment::Test) => Environment::Live,
    };
    let target_spec = TokenSpec {
        environment: target_env,
        permissions: bits_to_set(case.target_bits),
        space: (case.target_bits & 1 == 0).then(|| space.clone()),
        ..TokenSpec::default()
    };
    let (_, target_token) = app.token_with(&caller, target_spec).await;
    let (grant_role, grant_set) = w.role(case.grant_role, case.grant_bits).await;
    let outsider = app.store().create_monimeer("Outsider", None).await.unwrap().id;
    let words = grant_set.words();

    let (path, body) = match route.operation {
        "AddSpaceMember" => (route.path.to_owned(), json!({"monimeerId": outsider, "role": grant_role})),
        "UpdateSpaceMember" => (format!("/v1/space-members/{target}"), json!({"role": grant_role})),
        "RemoveSpaceMember" => (format!("/v1/space-members/{target}"), json!({})),
        "CreateSpaceRole" => (route.path.to_owned(), json!({"name": w.fresh("made"), "permissions": words})),
        "UpdateSpaceRole" | "DeleteSpaceRole" => {
            // Edit (or delete) a custom role nobody holds, defined with `target_bits`.
            let name = w.fresh("edited");
            app.store()
                .create_role(space, &RoleName::stored(&name), bits_to_set(case.target_bits), &Actor::Operator)
                .await
                .unwrap();
            (format!("/v1/space-roles/{name}"), json!({"permissions": words}))
        }
        "UpdateSpacePolicies" => (route.path.to_owned(), json!({"allowUnboundTokens": true})),
        "CreateAccessToken" => (
            route.path.to_owned(),
            json!({"name": "child", "permissions": if words.is_empty() { vec!["catalog:read".to_owned()] } else { words.clone() }}),
        ),
        "RevokeAccessToken" => (format!("/v1/access-tokens/{target_token}/revoke"), json!({})),
        "RotateAccessToken" => (format!("/v1/access-tokens/{target_token}/rotate"), json!({})),
        other => return Err(format!("{other} is granting but the test cannot drive it")),
    };
    let (status, answer) = act(app, route.method.clone(), &path, &token, Some(space), body).await;
    if status >= 500 {
        return Err(format!("{} answered {status}: {answer}", route.operation));
    }
    let after_role = role_of(app, space, &target).await;
    if status != 200 {
        // A refusal changes nothing.
        if after_role.as_deref() != Some(target_role.as_str()) || role_of(app, space, &outsider).await.is_some() {
            return Err(format!("{} refused ({status}) but changed a membership: {answer}", route.operation));
        }
        return Ok(false);
    }
    let tokens_of = |t: &openmonime_domain::entities::AccessToken| (t.permissions, t.environment, t.space_id.clone());
    let target_token_row = app.store().list_tokens(&caller).await.unwrap().into_iter().find(|t| t.id == target_token);
    let ok = match route.operation {
        "AddSpaceMember" => governs && within(grant_set, &grant_role),
        "UpdateSpaceMember" => governs && within(grant_set, &grant_role) && within(target_set, &target_role),
        "RemoveSpaceMember" => governs && within(target_set, &target_role),
        "CreateSpaceRole" => governs && grant_set.is_subset_of(authority),
        "UpdateSpaceRole" => {
            governs && grant_set.is_subset_of(authority) && bits_to_set(case.target_bits).is_subset_of(authority)
        }
        "DeleteSpaceRole" => governs && bits_to_set(case.target_bits).is_subset_of(authority),
        "UpdateSpacePolicies" => governs && authority.contains(Permission::SpacePoliciesWrite),
        "CreateAccessToken" => {
            let words: Vec<String> =
                serde_json::from_value(answer["result"]["permissions"].clone()).unwrap_or_default();
            let child = PermissionSet::expand(&words).unwrap_or(PermissionSet::all());
            let bound_ok = !case.bound || answer["result"]["spaceId"] == space.as_str();
            let env_ok = answer["result"]["token"].as_str().is_some_and(|t| t.starts_with("mon_test_") != case.live);
            !case.retiring && child.is_subset_of(token_set) && bound_ok && env_ok
        }
        "RevokeAccessToken" | "RotateAccessToken" => target_token_row.as_ref().is_some_and(|t| {
            let (p, e, s) = tokens_of(t);
            p.is_subset_of(token_set)
                && e == environment
                && (!case.bound || s.as_ref() == Some(space))
                && (route.operation == "RevokeAccessToken" || !case.retiring)
        }),
        _ => false,
    };
    if ok {
        return Ok(true);
    }
    Err(format!(
        "{} succeeded beyond the caller's authority (token {:?} ∩ role {caller_role} = {:?}, live {}, retiring {}): {answer}",
        route.operation,
        token_set.words(),
        authority.words(),
        case.live,
        case.retiring
    ))
}

/// For every route that grants, edits or revokes, and callers drawn over token permissions ×
/// role × environment × Space binding × rotation state: a success never exceeds the caller's own
/// authority on any axis, a refusal changes nothing, and nothing answers 5xx.
#[test]
fn no_grant_exceeds_the_callers_authority() {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let all_routes = openmonime_http::handlers::route_table();
    let management_writes = [
        Permission::SpaceMembersWrite,
        Permission::SpaceRolesWrite,
        Permission::SpacePoliciesWrite,
        Permission::SpaceOwnershipWrite,
        Permission::AccessTokensWrite,
    ];
    let routes: Vec<_> = all_routes
        .into_iter()
        .filter(|r| r.access.permission().is_some_and(|p| management_writes.contains(&p)))
        .collect();
    let mut names: Vec<&str> = routes.iter().map(|r| r.operation).collect();
    names.sort();
    let mut known = GRANTING.to_vec();
    known.sort();
    assert_eq!(names, known, "a route that writes members, roles, policies or tokens must be classified in GRANTING");

    let world = runtime.block_on(async {
        let app = TestApp::spawn().await;
        let owner = app.owner().await;
        World { app, owner, counter: Default::default() }
    });
    // Fixed seed by default, so CI is reproducible and the coverage check below cannot flake;
    // `PROPTEST_RNG_SEED=<n>` and `PROPTEST_CASES=<n>` explore further.
    let env_u64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env_u64("PROPTEST_CASES").unwrap_or(240) as u32;
    let seed = proptest::test_runner::RngSeed::Fixed(env_u64("PROPTEST_RNG_SEED").unwrap_or(12));
    let mut runner = TestRunner::new(Config { cases, rng_seed: seed, failure_persistence: None, ..Config::default() });
    // Per operation: (admitted, refused). Both must occur, or the test proves nothing.
    let tally = std::sync::Mutex::new(std::collections::BTreeMap::<&str, (u32, u32)>::new());
    let result = runner.run(&case_strategy(routes.len()), |case| {
        let admitted = runtime.block_on(run_case(&world, &routes, &case)).map_err(TestCaseError::fail)?;
        let mut tally = tally.lock().unwrap();
        let entry = tally.entry(routes[case.route].operation).or_default();
        if admitted {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = tally.into_inner().unwrap();
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("grant property (admitted, refused): {tally:?}\n"),
    );
    if cases >= 240 {
        for name in GRANTING {
            let (admitted, refused) = tally.get(name).copied().unwrap_or_default();
            assert!(admitted > 0 && refused > 0, "{name} was never both admitted and refused: {tally:?}");
        }
    }
}

/// Finding 9: every token records the token that created it, and revoking a leaked token can
/// revoke its descendants — children, grandchildren and successors of rotations they made —
/// at once, also while it is in its rotation grace.
#[tokio::test]
async fn revoking_a_leaked_token_can_revoke_everything_it_minted() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (admin, _) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    let (leaked, leaked_id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    let mint = |parent: String, name: &'static str| {
        let app = &app;
        async move {
            let (status, body) = act(
                app,
                Method::POST,
                "/v1/access-tokens",
                &parent,
                None,
                json!({"name": name, "permissions": ["financial-accounts:read", "access-tokens:*"]}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            (
                body["result"]["token"].as_str().unwrap().to_owned(),
                body["result"]["id"].as_str().unwrap().to_owned(),
                body,
            )
        }
    };
    let (child, child_id, body) = mint(leaked.clone(), "child").await;
    assert_eq!(body["result"]["createdBy"], leaked_id.as_str(), "the creator is recorded");
    let (grandchild, _, _) = mint(child.clone(), "grandchild").await;
    // The child rotates itself: its successor is its descendant too.
    let (status, body) = act(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{child_id}/rotate"),
        &child,
        None,
        json!({"gracePeriodSeconds": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let successor = body["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(body["result"]["createdBy"], child_id.as_str());
    let (bystander, _) = app.token_with(&o.monimeer, TokenSpec::default()).await;

    // The leaked token is itself rotated away first (it is in its grace): still revocable.
    let (status, body) = act(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{leaked_id}/rotate"),
        &admin,
        None,
        json!({"gracePeriodSeconds": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(
        &app,
        Method::POST,
        &format!("/v1/access-tokens/{leaked_id}/revoke"),
        &admin,
        None,
        json!({"descendants": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["revokedDescendants"].as_array().map(Vec::len), Some(3), "{body}");
    for (what, token) in
        [("leaked", &leaked), ("child", &child), ("grandchild", &grandchild), ("successor", &successor)]
    {
        let (status, _, body) = send(app.get("/v1/financial-accounts", token, &o.space)).await;
        assert_eq!((status, body["error"]["reason"].as_str()), (401, Some("token_revoked")), "{what}: {body}");
    }
    for token in [&admin, &bystander] {
        assert_eq!(
            send(app.get("/v1/financial-accounts", token, &o.space)).await.0,
            200,
            "unrelated tokens keep working"
        );
    }
}

/// Finding 10: token changes made with an unbound token are recorded in no Space's log; their
/// owner sees them at `/v1/me/audit-events` — only for tokens the caller could manage.
#[tokio::test]
async fn the_owner_sees_every_change_to_their_tokens() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let unbound = app.token(&o.monimeer).await;
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &unbound,
        None,
        json!({"name": "ci", "permissions": ["catalog:read"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let child = body["result"]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        act(&app, Method::POST, &format!("/v1/access-tokens/{child}/revoke"), &unbound, None, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Not in the Space's log: the changes were made outside any Space...
    let (_, space_log) =
        act(&app, Method::GET, "/v1/audit-events?action=token.create", &unbound, Some(&o.space), json!({})).await;
    assert!(!space_log.to_string().contains(&child), "{space_log}");
    // ...but the owner sees both.
    let (status, mine) = act(&app, Method::GET, "/v1/me/audit-events", &unbound, None, json!({})).await;
    assert_eq!(status, 200, "{mine}");
    let seen: Vec<(String, String)> = mine["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["subject"].as_str().unwrap_or_default().to_owned()))
        .collect();
    for action in ["token.create", "token.revoke"] {
        assert!(seen.contains(&(action.to_owned(), child.clone())), "{action} missing: {mine}");
    }
    // A live token of the same owner sees no test-token changes.
    let live = app.live_token(&o.monimeer).await;
    let (_, theirs) = act(&app, Method::GET, "/v1/me/audit-events", &live, None, json!({})).await;
    assert!(!theirs.to_string().contains(&child), "{theirs}");
}

/// Finding 3, under load: 2 000 refused requests from 8 concurrent clients, with the background
/// flusher running, write at most one `request.denied` row per flush window (plus the final
/// flush), and the rows' counts add up to every refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_writes_at_most_one_row_per_window() {
    let window = std::time::Duration::from_millis(250);
    let mut config = ServerConfig { denial_flush: window, ..ServerConfig::default() };
    config.rate_limits.enabled = false; // every request reaches the permission check
    let app = TestApp::spawn_with(config, None).await;
    let o = app.owner().await;
    let viewer = app.member(&o.space, "viewer").await;
    let token = app.token(&viewer).await;
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, token, space) =
                (app.client.clone(), app.url("/v1/financial-accounts"), token.clone(), o.space.to_string());
            tokio::spawn(async move {
                for _ in 0..250 {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Monime-Space-Id", &space)
                        .header("Idempotency-Key", idem_key())
                        .json(&json!({"name": "x", "currency": "SLE"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 403);
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();
    app.state.denials.flush(app.store()).await;
    let filter = openmonime_store::audit::AuditFilter { action: Some("request.denied".into()), actor: None };
    let rows = app
        .store()
        .list_audit(&o.space, Environment::Test, &filter, openmonime_store::PageRequest { after: None, limit: 1000 })
        .await
        .unwrap()
        .items;
    // A flood of length E meets at most ceil(E / W) + 1 flusher ticks, then the final flush.
    let windows = (elapsed.as_secs_f64() / window.as_secs_f64()).ceil() as usize + 2;
    assert!(rows.len() <= windows, "{} rows for {windows} windows in {elapsed:?}", rows.len());
    let counted: u64 = rows.iter().map(|r| r.detail.as_ref().unwrap()["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 2000, "every refusal is counted once");
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("refusal flood: 2000 refused in {elapsed:?}, {} audit rows (bound {windows})\n", rows.len()),
    );
}

/// A token rotated a moment ago behind this node's back (as another node or the CLI would) mints
/// nothing, even while this node's cache still holds it as active: the store checks the creator
/// inside the minting transaction.
#[tokio::test]
async fn a_token_rotated_elsewhere_mints_nothing_even_from_a_stale_cache() {
    let config = ServerConfig { change_poll: std::time::Duration::from_secs(30), ..ServerConfig::default() };
    let app = TestApp::spawn_with(config, None).await;
    let o = app.owner().await;
    let (token, id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    assert_eq!(send(app.get("/v1/financial-accounts", &token, &o.space)).await.0, 200, "cached as active");
    let old = app.store().get_token(&id).await.unwrap();
    let minted = openmonime_domain::token::generate(Environment::Test);
    let stops = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    app.store()
        .rotate_token(&old, &old.replacement(), &minted.hash, &minted.hint, stops, &Actor::Operator)
        .await
        .unwrap();
    let (status, body) = act(
        &app,
        Method::POST,
        "/v1/access-tokens",
        &token,
        None,
        json!({"name": "late", "permissions": ["catalog:read"]}),
    )
    .await;
    assert_error(status, &body, 403, "token_retiring");
    assert_eq!(app.store().list_tokens(&o.monimeer).await.unwrap().len(), 2, "the old token and its successor only");
}
