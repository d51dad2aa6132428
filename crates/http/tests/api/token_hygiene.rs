//! Token hygiene that no anchor enforces (issue 20): a token a browser sends is refused, marked
//! exposed once, and revoked with its descendants where a Space's policy says so.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Makes a token look last used `days_ago` days ago (what the usage recorder would have written).
async fn set_last_use(app: &TestApp, id: &openmonime_domain::ids::TokenId, days_ago: i64) {
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
    sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
        .bind((at.unix_timestamp_nanos() / 1000) as i64)
        .bind(id.as_str())
        .execute(app.store().pool())
        .await
        .unwrap();
}

/// A test owner with an all-permission unbound test token and its id.
struct Holder {
    app: TestApp,
    owner: Owner,
    token: String,
    id: String,
    token_id: openmonime_domain::ids::TokenId,
}

impl Holder {
    async fn open() -> Holder {
        let app = TestApp::spawn().await;
        let owner = app.owner().await;
        let (token, id) = app.token_with(&owner.monimeer, TokenSpec::default()).await;
        Holder { app, owner, token, id: id.to_string(), token_id: id }
    }

    /// `GET /v1/me` from a server (no browser headers): status and body.
    async fn me(&self, token: &str) -> (u16, Value) {
        let (status, _, body) = send(self.app.get("/v1/me", token, &self.owner.space)).await;
        (status, body)
    }

    /// `GET /v1/access-tokens?{query}` with the holder's token.
    async fn list(&self, query: &str) -> (u16, Value) {
        let url = self.app.url(&format!("/v1/access-tokens?{query}"));
        let (status, _, body) = send(self.app.client.get(url).bearer_auth(&self.token)).await;
        (status, body)
    }

    /// The caller's own token audit log, by action.
    async fn my_audit(&self, token: &str, action: &str) -> Vec<Value> {
        let (status, _, body) = send(self.app.client.get(self.app.url("/v1/me/audit-events")).bearer_auth(token)).await;
        assert_eq!(status, 200, "{body}");
        body["result"].as_array().unwrap().iter().filter(|e| e["action"] == action).cloned().collect()
    }
}

#[tokio::test]
async fn a_token_a_browser_sends_is_refused_and_marked_exposed_once() {
    let h = Holder::open().await;
    // A page's fetch carries `Origin` (and `Sec-Fetch-Site`): refused before the route runs.
    let page = h
        .app
        .get("/v1/financial-accounts", &h.token, &h.owner.space)
        .header("Origin", "https://shop.example")
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "cors");
    let (status, _, body) = send(page).await;
    let err = assert_error(status, &body, 403, "token_used_from_browser");
    assert_eq!(err["details"][0]["tokenId"], h.id.as_str(), "{body}");
    assert_eq!(err["details"][0]["revoked"], false, "{body}");
    assert!(!body.to_string().contains(&h.token), "the secret is never echoed: {body}");

    // From a server the token still works (no policy revokes it) and shows its exposure.
    let (status, me) = h.me(&h.token).await;
    assert_eq!(status, 200, "{me}");
    let exposure = &me["result"]["token"]["exposure"];
    assert_eq!(exposure["origin"], "https://shop.example", "{me}");
    assert!(exposure["detectTime"].is_string(), "{me}");

    // Every browser signal but Node's lone `Sec-Fetch-Mode` refuses; the first exposure stays.
    for (header, value) in [("Sec-Fetch-Site", "same-origin"), ("Origin", "https://elsewhere.example")] {
        let (status, _, body) = send(h.app.get("/v1/me", &h.token, &h.owner.space).header(header, value)).await;
        assert_error(status, &body, 403, "token_used_from_browser");
    }
    let (status, _, body) = send(h.app.get("/v1/me", &h.token, &h.owner.space).header("Sec-Fetch-Mode", "cors")).await;
    assert_eq!(status, 200, "Node's fetch sends Sec-Fetch-Mode: cors from a server: {body}");
    let (_, me) = h.me(&h.token).await;
    assert_eq!(me["result"]["token"]["exposure"]["origin"], "https://shop.example", "{me}");

    // The list shows it too, and the owner's log has exactly one `token.exposed`, naming the origin.
    let (status, _, list) = send(h.app.client.get(h.app.url("/v1/access-tokens")).bearer_auth(&h.token)).await;
    assert_eq!(status, 200, "{list}");
    let listed = list["result"].as_array().unwrap().iter().find(|t| t["id"] == h.id.as_str()).unwrap();
    assert_eq!(listed["exposure"]["origin"], "https://shop.example", "{list}");
    let exposed = h.my_audit(&h.token, "token.exposed").await;
    assert_eq!(exposed.len(), 1, "{exposed:?}");
    assert_eq!(exposed[0]["subject"], h.id.as_str());
    assert_eq!(exposed[0]["detail"]["origin"], "https://shop.example");

    // A token that never met a browser shows none.
    let other = h.app.token(&h.owner.monimeer).await;
    let (_, me) = h.me(&other).await;
    assert_eq!(me["result"]["token"]["exposure"], Value::Null, "{me}");
}

#[tokio::test]
async fn an_invalid_token_from_a_browser_is_a_plain_401_and_marks_nothing() {
    let h = Holder::open().await;
    let revoke = h.app.client.post(h.app.url(&format!("/v1/access-tokens/{}/revoke", h.id))).bearer_auth(&h.token);
    let (status, _, body) = send(revoke.json(&json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let page = h.app.get("/v1/me", &h.token, &h.owner.space).header("Origin", "https://shop.example");
    let (status, _, body) = send(page).await;
    assert_error(status, &body, 401, "token_revoked");
    let fake = "mon_test_000000000000000000000000000000AAAAAA";
    let (status, _, body) =
        send(h.app.get("/v1/me", fake, &h.owner.space).header("Origin", "https://shop.example")).await;
    assert_eq!(status, 401, "{body}");
    let stored = h.app.store().get_token(&h.token_id).await.unwrap();
    assert_eq!(stored.exposure, None);
}

#[tokio::test]
async fn a_space_policy_revokes_an_exposed_token_with_every_token_it_minted() {
    let h = Holder::open().await;
    let live = h.app.live_token(&h.owner.monimeer).await;
    // A test token cannot set the policy (governance is live); a live one can.
    let body = json!({"revokeExposedTokens": true});
    let (status, _, res) = send(h.app.patch("/v1/space-policies", &h.token, &h.owner.space, &body)).await;
    assert_error(status, &res, 403, "live_token_required");
    let (status, _, res) = send(h.app.patch("/v1/space-policies", &live, &h.owner.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["revokeExposedTokens"], true, "{res}");
    assert_eq!(res["result"]["allowUnboundTokens"], true, "other fields keep their values: {res}");

    // The token mints a child, then leaks into a page.
    let mint = json!({"name": "child", "permissions": ["financial-accounts:read"]});
    let (status, _, child) =
        send(h.app.client.post(h.app.url("/v1/access-tokens")).bearer_auth(&h.token).json(&mint)).await;
    assert_eq!(status, 200, "{child}");
    let child_secret = child["result"]["token"].as_str().unwrap().to_owned();
    let child_id = child["result"]["id"].as_str().unwrap().to_owned();
    let page = h
        .app
        .req(Method::GET, "/v1/financial-accounts", &h.token, &h.owner.space)
        .header("Sec-Fetch-Site", "cross-site");
    let (status, _, body) = send(page).await;
    let err = assert_error(status, &body, 403, "token_used_from_browser");
    assert_eq!(err["details"][0]["revoked"], true, "{body}");

    // Both stop at once, on this node, for every route.
    for secret in [&h.token, &child_secret] {
        let (status, body) = h.me(secret).await;
        assert_error(status, &body, 401, "token_revoked");
    }
    // The Space that asked for it sees the revocation, naming the cause and the descendant.
    // (in the test environment's log: the token is a test token)
    let reader = h.app.token(&h.owner.monimeer).await;
    let (status, _, log) = send(h.app.get("/v1/audit-events?action=token.revoke", &reader, &h.owner.space)).await;
    assert_eq!(status, 200, "{log}");
    let record = log["result"].as_array().unwrap().iter().find(|e| e["subject"] == h.id.as_str()).cloned();
    let record = record.unwrap_or_else(|| panic!("no token.revoke for the exposed token: {log}"));
    assert_eq!(record["detail"]["reason"], "exposed", "{record}");
    assert_eq!(record["detail"]["descendants"], json!([child_id]), "{record}");

    // A token in its rotation grace stops alone: the holder of the old token cannot stop the
    // successor minted to replace it.
    let (old, old_id) = h.app.token_with(&h.owner.monimeer, TokenSpec::default()).await;
    let rotate = h.app.client.post(h.app.url(&format!("/v1/access-tokens/{old_id}/rotate"))).bearer_auth(&old);
    let (status, _, rotated) = send(rotate.json(&json!({"gracePeriodSeconds": 600}))).await;
    assert_eq!(status, 200, "{rotated}");
    let successor = rotated["result"]["token"].as_str().unwrap().to_owned();
    let page = h.app.get("/v1/me", &old, &h.owner.space).header("Origin", "https://shop.example");
    let (status, _, body) = send(page).await;
    assert_error(status, &body, 403, "token_used_from_browser");
    let (status, body) = h.me(&old).await;
    assert_error(status, &body, 401, "token_revoked");
    let (status, body) = h.me(&successor).await;
    assert_eq!(status, 200, "the successor keeps working: {body}");

    // A token that is unbound but whose owner belongs to no strict Space is only marked.
    let elsewhere = h.app.owner().await;
    let (loose, _) = h.app.token_with(&elsewhere.monimeer, TokenSpec::default()).await;
    let page = h.app.get("/v1/me", &loose, &elsewhere.space).header("Origin", "https://shop.example");
    let (status, _, body) = send(page).await;
    let err = assert_error(status, &body, 403, "token_used_from_browser");
    assert_eq!(err["details"][0]["revoked"], false, "{body}");
    let (status, _, body) = send(h.app.get("/v1/me", &loose, &elsewhere.space)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn cors_preflights_to_the_api_get_no_permissive_answer() {
    let h = Holder::open().await;
    for path in ["/v1/financial-accounts", "/v1/me", "/"] {
        let preflight = h
            .app
            .client
            .request(Method::OPTIONS, h.app.url(path))
            .header("Origin", "https://shop.example")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization, monime-space-id");
        let (status, headers, body) = send(preflight).await;
        assert!(status >= 400, "{path}: a preflight is not approved: {status} {body}");
        for name in ["access-control-allow-origin", "access-control-allow-headers", "access-control-allow-methods"] {
            assert!(!headers.contains_key(name), "{path}: {name} in the answer to a preflight");
        }
        assert_eq!(body["success"], false, "{path}: {body}");
    }
}

#[tokio::test]
async fn the_token_list_filters_what_a_review_looks_for() {
    use openmonime_domain::permission::Permission;
    let h = Holder::open().await;
    let (app, me) = (&h.app, &h.owner.monimeer);
    let narrow = perms(&[Permission::FinancialAccountsRead]);
    let soon = TokenSpec { permissions: narrow, expires_at: now_plus(time::Duration::days(3)), ..TokenSpec::default() };
    let (_, soon) = app.token_with(me, soon).await;
    let later =
        TokenSpec { permissions: narrow, expires_at: now_plus(time::Duration::days(60)), ..TokenSpec::default() };
    let (_, idle) = app.token_with(me, later).await;
    set_last_use(app, &idle, 100).await;
    let (_, stopped) = app.token_with(me, TokenSpec::default()).await;
    app.store().revoke_token(&stopped, &openmonime_store::journal::Actor::Operator).await.unwrap();

    let ids = |body: &Value| -> Vec<String> {
        let mut ids: Vec<String> =
            body["result"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    let (all_perm_no_expiry, soon, idle) = (h.id.clone(), soon.to_string(), idle.to_string());
    for (query, want) in [
        ("withoutExpiry=true", vec![all_perm_no_expiry.clone()]),
        ("allPermissions=true", vec![all_perm_no_expiry.clone()]),
        ("expiringWithin=7d", vec![soon.clone()]),
        ("unusedFor=90d", vec![idle.clone()]),
        ("unusedFor=90d&allPermissions=true", vec![]),
        ("exposed=true", vec![]),
        ("withoutExpiry=false", {
            let mut every = vec![all_perm_no_expiry.clone(), soon.clone(), idle.clone(), stopped.to_string()];
            every.sort();
            every
        }),
    ] {
        let (status, body) = h.list(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), want, "{query}: {body}");
    }
    for bad in ["unusedFor=soon", "allPermissions=yes"] {
        let (status, body) = h.list(bad).await;
        let err = assert_error(status, &body, 400, "validation_failed");
        assert_eq!(err["details"][0]["reason"], "invalid_value", "{body}");
    }

    // Each token says what a review would flag on it; a stopped token has nothing left to review.
    let (_, body) = h.list("").await;
    let flags_of = |id: &str| -> Vec<String> {
        let token = body["result"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap();
        token["reviewFlags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
    };
    // (The listing token's own `never_used` depends on when its usage was last flushed.)
    let listing = flags_of(&all_perm_no_expiry);
    assert!(listing.ends_with(&["no_expiry".to_owned(), "all_permissions".to_owned()]), "{listing:?}");
    assert_eq!(flags_of(&soon), ["never_used", "expires_soon"]);
    assert_eq!(flags_of(&idle), ["idle"]);
    assert!(flags_of(stopped.as_str()).is_empty());
}

/// GitHub's side of the secret-scanning partnership: a P-256 key, its published key document
/// served over HTTP, and reports signed as GitHub signs them.
struct Scanner {
    key: p256::ecdsa::SigningKey,
    key_id: &'static str,
    keys_url: String,
}

impl Scanner {
    /// Publishes the key document on a local HTTP server, as api.github.com does.
    async fn publish() -> Scanner {
        use p256::pkcs8::{EncodePublicKey as _, LineEnding};
        let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
        let key_id = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
        let pem = key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        let document = json!({"public_keys": [{"key_identifier": key_id, "key": pem, "is_current": true}]}).to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route(
            "/meta/public_keys/secret_scanning",
            axum::routing::get(move || std::future::ready(document.clone())),
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Scanner { key, key_id, keys_url: format!("http://{addr}/meta/public_keys/secret_scanning") }
    }

    /// POSTs `body` to the server's partner endpoint, signed with `key_id` (or not at all).
    async fn report(&self, app: &TestApp, body: &str, key_id: Option<&str>) -> (u16, Value) {
        use base64::Engine as _;
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::DerSignature = self.key.sign(body.as_bytes());
        let mut req = app
            .client
            .post(app.url("/secret-scanning/github"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(key_id) = key_id {
            req = req
                .header("Github-Public-Key-Identifier", key_id)
                .header("Github-Public-Key-Signature", base64::engine::general_purpose::STANDARD.encode(signature));
        }
        let (status, _, answer) = send(req).await;
        (status, answer)
    }
}

fn match_of(token: &str) -> Value {
    json!({"token": token, "type": "openmonime_access_token", "url": "https://github.com/octo/shop/blob/main/.env", "source": "content"})
}

#[tokio::test]
async fn a_signed_github_report_revokes_a_real_token_with_its_lineage_and_labels_every_match() {
    let scanner = Scanner::publish().await;
    let keys = openmonime_http::leak_keys::LeakKeys::new(Default::default(), Some(scanner.keys_url.clone()));
    let config = openmonime_http::ServerConfig { leak_keys: keys, ..Default::default() };
    let app = TestApp::spawn_with(config, None).await;
    let owner = app.owner().await;
    let (leaked, leaked_id) = app.token_with(&owner.monimeer, TokenSpec::default()).await;
    let mint = json!({"name": "child", "permissions": ["financial-accounts:read"]});
    let (status, _, child) = send(app.client.post(app.url("/v1/access-tokens")).bearer_auth(&leaked).json(&mint)).await;
    assert_eq!(status, 200, "{child}");
    let child = child["result"]["token"].as_str().unwrap().to_owned();
    let bystander = app.token(&owner.monimeer).await;

    // The keys arrive from the URL at start.
    let ready = eventually(std::time::Duration::from_secs(10), || async {
        scanner.report(&app, "[]", Some(scanner.key_id)).await.0 == 200
    })
    .await;
    assert!(ready, "the key document was never fetched");

    // Forged, unsigned and unknown-key reports change nothing.
    let body = json!([match_of(&leaked)]).to_string();
    let forged = body.replace("shop", "shoq");
    let signed_for_body = {
        use base64::Engine as _;
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::DerSignature = scanner.key.sign(body.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature)
    };
    let (status, _, answer) = send(
        app.client
            .post(app.url("/secret-scanning/github"))
            .header("Content-Type", "application/json")
            .header("Github-Public-Key-Identifier", scanner.key_id)
            .header("Github-Public-Key-Signature", signed_for_body)
            .body(forged),
    )
    .await;
    assert_error(status, &answer, 401, "signature_invalid");
    let (status, answer) = scanner.report(&app, &body, None).await;
    assert_error(status, &answer, 401, "signature_missing");
    let (status, answer) = scanner.report(&app, &body, Some("ffff")).await;
    assert_error(status, &answer, 401, "signature_key_unknown");
    let (status, _, me) = send(app.get("/v1/me", &leaked, &owner.space)).await;
    assert_eq!(status, 200, "no refused report revoked anything: {me}");

    // A signed report: the real token is a true positive and stops with its child; a string
    // that fails the checksum and a well-formed token this server never issued are false.
    let never_issued = openmonime_domain::token::generate(openmonime_domain::Environment::Test);
    // One character changed (never to itself: a token may already end in `x`).
    let swap = if leaked.ends_with('x') { 'y' } else { 'x' };
    let mistyped = format!("{}{swap}", &leaked[..leaked.len() - 1]);
    let body = json!([match_of(&leaked), match_of(&mistyped), match_of(never_issued.plaintext.expose())]).to_string();
    let (status, answer) = scanner.report(&app, &body, Some(scanner.key_id)).await;
    assert_eq!(status, 200, "{answer}");
    let labels: Vec<&str> = answer.as_array().unwrap().iter().map(|f| f["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["true_positive", "false_positive", "false_positive"], "{answer}");
    assert_eq!(answer[0]["token_type"], "openmonime_access_token");
    for secret in [&leaked, &child] {
        let (status, _, body) = send(app.get("/v1/me", secret, &owner.space)).await;
        assert_error(status, &body, 401, "token_revoked");
    }
    let (status, _, body) = send(app.get("/v1/me", &bystander, &owner.space)).await;
    assert_eq!(status, 200, "other tokens keep working: {body}");

    // The owner and the Space see `token.leaked` with the URL; reporting it again changes nothing.
    let (status, _, log) = send(app.get("/v1/audit-events?action=token.leaked", &bystander, &owner.space)).await;
    assert_eq!(status, 200, "{log}");
    let records = log["result"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0]["subject"], leaked_id.as_str());
    assert_eq!(records[0]["detail"]["url"], "https://github.com/octo/shop/blob/main/.env");
    assert_eq!(records[0]["detail"]["descendants"].as_array().unwrap().len(), 1, "{log}");
    // The Space's test webhooks hear of it: one `access_token.leaked`, rendered without a secret.
    let tenant = openmonime_domain::entities::Tenant {
        space_id: owner.space.clone(),
        environment: openmonime_domain::Environment::Test,
    };
    let events = app.store().list_events(&tenant, None, 1000).await.unwrap();
    let leaks: Vec<_> = events.iter().filter(|e| e.name.as_str() == "access_token.leaked").collect();
    assert_eq!(leaks.len(), 1, "{events:?}");
    let delivery = openmonime_http::views::webhooks::Delivery::new(
        leaks[0],
        openmonime_domain::webhook::ApiRelease::Caph,
        "http://127.0.0.1",
    );
    let delivery = serde_json::to_value(delivery).unwrap();
    assert_eq!(delivery["object"], json!({"id": leaked_id.as_str(), "type": "access_token"}), "{delivery}");
    assert_eq!(delivery["data"]["url"], "https://github.com/octo/shop/blob/main/.env", "{delivery}");
    assert_eq!(delivery["data"]["revoked"], true, "{delivery}");
    assert!(!delivery.to_string().contains(&leaked), "{delivery}");

    let (status, answer) = scanner.report(&app, &json!([match_of(&leaked)]).to_string(), Some(scanner.key_id)).await;
    assert_eq!((status, answer[0]["label"].as_str()), (200, Some("true_positive")), "{answer}");
    let (_, _, log) = send(app.get("/v1/audit-events?action=token.leaked", &bystander, &owner.space)).await;
    assert_eq!(log["result"].as_array().unwrap().len(), 1, "a repeated report writes nothing: {log}");
    let events = app.store().list_events(&tenant, None, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.name.as_str() == "access_token.leaked").count(), 1);
}

#[tokio::test]
async fn the_public_report_form_revokes_a_real_token_and_answers_every_report_alike() {
    let h = Holder::open().await;
    let report = |token: String| {
        let req = h
            .app
            .client
            .post(h.app.url("/token-reports"))
            .json(&json!({"token": token, "url": "https://pastebin.example/x"}));
        async move { send(req).await }
    };
    // A second node has the token in its cache before the report reaches the first.
    let other = h.app.another_node(openmonime_http::ServerConfig::default()).await;
    let (status, _, body) = send(other.get("/v1/me", &h.token, &h.owner.space)).await;
    assert_eq!(status, 200, "{body}");
    let never_issued = openmonime_domain::token::generate(openmonime_domain::Environment::Live);
    let mut answers = Vec::new();
    for token in ["not a token at all".to_owned(), never_issued.plaintext.expose().to_owned(), h.token.clone()] {
        let (status, _, answer) = report(token).await;
        answers.push((status, answer));
    }
    assert_eq!(answers[0].0, 200, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| a == &answers[0]), "the answer says nothing about the token: {answers:?}");
    assert_eq!(answers[0].1["result"], json!({"received": true}));
    let (status, body) = h.me(&h.token).await;
    assert_error(status, &body, 401, "token_revoked");
    let refused_there = eventually(std::time::Duration::from_secs(1), || async {
        send(other.get("/v1/me", &h.token, &h.owner.space)).await.0 == 401
    })
    .await;
    assert!(refused_there, "the other node still accepts the reported token after a second");
    let leaked = h.my_audit(&h.app.token(&h.owner.monimeer).await, "token.leaked").await;
    assert_eq!(leaked.len(), 1, "{leaked:?}");
    assert_eq!(leaked[0]["actor"], "token-report");

    let (status, _, body) = send(h.app.client.post(h.app.url("/token-reports")).json(&json!({"tokn": "x"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false, "{body}");
}

#[tokio::test]
async fn without_keys_the_partner_endpoint_says_it_is_not_configured() {
    let h = Holder::open().await;
    let (status, _, body) = send(
        h.app.client.post(h.app.url("/secret-scanning/github")).header("Content-Type", "application/json").body("[]"),
    )
    .await;
    assert_error(status, &body, 503, "secret_scanning_not_configured");
}

#[tokio::test]
async fn tokens_about_to_stop_are_announced_once_and_idle_ones_expire_where_a_space_says_so() {
    use openmonime_domain::Environment;
    let h = Holder::open().await;
    let (app, me) = (&h.app, &h.owner.monimeer);
    let store = app.store();
    let tenant =
        openmonime_domain::entities::Tenant { space_id: h.owner.space.clone(), environment: Environment::Test };
    let expiring = |events: &[openmonime_store::events::StoredEvent]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e.name.as_str() == "access_token.expiring")
            .map(|e| {
                let delivery = openmonime_http::views::webhooks::Delivery::new(
                    e,
                    openmonime_domain::webhook::ApiRelease::Caph,
                    "http://127.0.0.1",
                );
                serde_json::to_value(delivery).unwrap()["data"].clone()
            })
            .collect()
    };
    let soon = TokenSpec { expires_at: now_plus(time::Duration::days(3)), ..TokenSpec::default() };
    let (_, soon_id) = app.token_with(me, soon).await;
    let later = TokenSpec { expires_at: now_plus(time::Duration::days(30)), ..TokenSpec::default() };
    let (later_secret, later_id) = app.token_with(me, later).await;

    // Expiry: announced a week ahead, once, however many sweeps (nodes) run.
    let now = openmonime_domain::time_fmt::now();
    for _ in 0..3 {
        store.sweep_token_lifecycle(now).await.unwrap();
    }
    let announced = expiring(&store.list_events(&tenant, None, 1000).await.unwrap());
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0]["id"], soon_id.as_str());
    assert_eq!(announced[0]["reason"], "expiry");
    assert!(announced[0]["expireTime"].is_string(), "{announced:?}");

    // Idle expiry: a live token sets 30 days; a test token cannot.
    let live = app.live_token(me).await;
    let body = json!({"idleTokenExpirySeconds": 30 * 86_400});
    let (status, _, res) = send(app.patch("/v1/space-policies", &h.token, &h.owner.space, &body)).await;
    assert_error(status, &res, 403, "live_token_required");
    let too_short = json!({"idleTokenExpirySeconds": 3600});
    let (status, _, res) = send(app.patch("/v1/space-policies", &live, &h.owner.space, &too_short)).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "idleTokenExpirySeconds", "{res}");
    let (status, _, res) = send(app.patch("/v1/space-policies", &live, &h.owner.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["idleTokenExpirySeconds"], 30 * 86_400);

    // 25 days idle: announced (stops in 5 days), still working.
    set_last_use(app, &later_id, 25).await;
    let (_, busy_id) = app.token_with(me, TokenSpec::default()).await;
    set_last_use(app, &busy_id, 1).await;
    for _ in 0..2 {
        store.sweep_token_lifecycle(openmonime_domain::time_fmt::now()).await.unwrap();
    }
    let announced = expiring(&store.list_events(&tenant, None, 1000).await.unwrap());
    let idle: Vec<_> = announced.iter().filter(|d| d["reason"] == "idle").collect();
    assert_eq!(idle.len(), 1, "{announced:?}");
    assert_eq!(idle[0]["id"], later_id.as_str());
    let (status, body) = h.me(&later_secret).await;
    assert_eq!(status, 200, "announced, not yet expired: {body}");

    // 31 days idle: expired, on every node at once, and the Space's log says why.
    // (Every server's own sweep may run at the same time: whichever wins, the token expires once.)
    set_last_use(app, &later_id, 31).await;
    for _ in 0..2 {
        store.sweep_token_lifecycle(openmonime_domain::time_fmt::now()).await.unwrap();
    }
    // (The sweep ran outside the server, like another node's: the change feed carries it.)
    let stopped = eventually(std::time::Duration::from_secs(1), || async { h.me(&later_secret).await.0 == 401 }).await;
    assert!(stopped, "the idle token still works a second after it expired");
    let (status, body) = h.me(&later_secret).await;
    assert_error(status, &body, 401, "token_expired");
    let reader = app.token(me).await;
    let (_, _, log) = send(app.get("/v1/audit-events?action=token.expire_idle", &reader, &h.owner.space)).await;
    assert_eq!(log["result"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log["result"][0]["subject"], later_id.as_str());
    let busy = store.get_token(&busy_id).await.unwrap();
    assert_eq!(busy.status(openmonime_domain::time_fmt::now()), openmonime_domain::entities::TokenStatus::Active);
}

#[tokio::test]
async fn a_token_moves_no_more_than_its_limits_even_from_two_nodes_at_once() {
    use openmonime_domain::Environment;
    let h = Holder::open().await;
    let (app, space) = (&h.app, &h.owner.space);
    let main = app.main_account(space, Environment::Test).await;
    app.fund(space, Environment::Test, &main, 1_000_000).await;
    let to = app.create_account(&h.token, space, json!({"name": "wages", "currency": "SLE"})).await;
    let to = to["id"].as_str().unwrap().to_owned();
    let main = main.to_string();

    // Limits are validated, then carried by the token.
    let mut mint = json!({
        "name": "payroll",
        "permissions": ["internal-transfers:read", "internal-transfers:write", "payouts:read", "payouts:write", "access-tokens:write"],
        "amountLimits": [{"currency": "SLE", "perMovement": 0}],
    });
    let create =
        |body: &Value, token: &str| app.client.post(app.url("/v1/access-tokens")).bearer_auth(token).json(body);
    let (status, _, res) = send(create(&mint, &h.token)).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "amountLimits", "{res}");
    mint["amountLimits"] = json!([{"currency": "SLE", "perMovement": 500, "per24Hours": 1000}]);
    let (status, _, res) = send(create(&mint, &h.token)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["amountLimits"], mint["amountLimits"], "{res}");
    let limited = res["result"]["token"].as_str().unwrap().to_owned();

    // One movement above the single limit is refused, naming it, and moves nothing.
    let transfer = |node: &TestApp, value: i64| {
        let body = json!({
            "amount": {"currency": "SLE", "value": value},
            "sourceFinancialAccount": {"id": main},
            "destinationFinancialAccount": {"id": to},
        });
        node.post("/v1/internal-transfers", &limited, space, &body)
    };
    let (status, _, res) = send(transfer(app, 501)).await;
    let err = assert_error(status, &res, 403, "token_amount_limit");
    assert_eq!(
        (err["details"][0]["limit"].as_str(), err["details"][0]["value"].as_i64()),
        (Some("perMovement"), Some(500))
    );
    assert_eq!(app.balance(&h.token, space, &to).await, 0);

    // Twenty movements of 100 at once (on PostgreSQL split over two nodes): exactly ten pass the
    // 24-hour total.
    let second = match postgres_or_skip("concurrent limited transfers on two nodes") {
        Some(_) => Some(app.another_unlimited_node(openmonime_http::ServerConfig::default()).await),
        None => None,
    };
    let nodes: Vec<&TestApp> = std::iter::once(app).chain(second.as_ref()).collect();
    let requests: Vec<_> = (0..20).map(|i| tokio::spawn(send(transfer(nodes[i % nodes.len()], 100)))).collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    let passed = answers.iter().filter(|(status, _, _)| *status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(status, _, _)| *status == 403).collect();
    assert_eq!((passed, refused.len()), (10, 10), "{answers:?}");
    assert!(refused.iter().all(|(_, _, b)| b["error"]["details"][0]["limit"] == "per24Hours"), "{refused:?}");
    assert_eq!(app.balance(&h.token, space, &to).await, 1000, "the total moved is exactly the limit");

    // `/v1/me` says where the token stands; a payout is refused too; an unlimited token is not.
    let (status, me) = h.me(&limited).await;
    assert_eq!(status, 200, "{me}");
    let standing = &me["result"]["amountLimits"][0];
    assert_eq!((standing["movedLast24Hours"].as_i64(), standing["remaining24Hours"].as_i64()), (Some(1000), Some(0)));
    let payout = json!({"amount": {"currency": "SLE", "value": 1}, "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "+23276000001"}});
    let (status, _, res) = send(app.post("/v1/payouts", &limited, space, &payout)).await;
    assert_error(status, &res, 403, "token_amount_limit");
    let (status, _, res) = send(app.post("/v1/payouts", &h.token, space, &payout)).await;
    assert_eq!(status, 200, "{res}");

    // A limited token mints only limited tokens: no limit or a higher one is an escalation; none
    // given inherits its own.
    for limits in [json!([]), json!([{"currency": "SLE", "perMovement": 500, "per24Hours": 2000}])] {
        let body = json!({"name": "x", "permissions": ["internal-transfers:write"], "amountLimits": limits});
        let (status, _, res) = send(create(&body, &limited)).await;
        assert_error(status, &res, 403, "escalation_amount_limit");
    }
    let body = json!({"name": "x", "permissions": ["internal-transfers:write"]});
    let (status, _, res) = send(create(&body, &limited)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["amountLimits"], mint["amountLimits"], "{res}");

    // Minting or rotating never resets the window: a child's movements count against its
    // parent's total, and the parent's total is spent.
    let child = res["result"]["token"].as_str().unwrap().to_owned();
    let body = json!({
        "amount": {"currency": "SLE", "value": 100},
        "sourceFinancialAccount": {"id": main},
        "destinationFinancialAccount": {"id": to},
    });
    let (status, _, res) = send(app.post("/v1/internal-transfers", &child, space, &body)).await;
    let err = assert_error(status, &res, 403, "token_amount_limit");
    assert_eq!(err["details"][0]["limit"], "per24Hours", "{res}");
    let limited_id = me["result"]["token"]["id"].as_str().unwrap().to_owned();
    let rotate = app.client.post(app.url(&format!("/v1/access-tokens/{limited_id}/rotate"))).bearer_auth(&limited);
    let (status, _, rotated) = send(rotate.json(&json!({}))).await;
    assert_eq!(status, 200, "{rotated}");
    let successor = rotated["result"]["token"].as_str().unwrap().to_owned();
    let (status, _, res) = send(app.post("/v1/internal-transfers", &successor, space, &body)).await;
    assert_error(status, &res, 403, "token_amount_limit");
    assert_eq!(app.balance(&h.token, space, &to).await, 1000, "still exactly the limit");
}
