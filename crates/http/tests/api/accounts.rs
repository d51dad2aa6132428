//! Issue 4, financial accounts: create (every limit), idempotency, get and list with filters and
//! cursors, update, tenant isolation across Spaces and environments, the permissions each
//! operation needs, and every response checked against the official OpenAPI document.

use crate::support::openapi::spec;
use crate::support::*;
use openmonime_domain::ids::SpaceId;
use openmonime_domain::permission::Permission;
use openmonime_domain::{time_fmt, uvan, Environment};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

const ACCOUNTS: &str = "/v1/financial-accounts";

async fn setup() -> (TestApp, Owner, String) {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    (app, o, t)
}

/// Posts a create and asserts a 400 `validation_failed` naming `field`.
async fn assert_create_refused(app: &TestApp, t: &str, space: &SpaceId, body: Value, field: &str) {
    let (status, _, res) = send(app.post(ACCOUNTS, t, space, &body)).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    let fields: Vec<&str> = err["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
    assert!(fields.contains(&field), "expected `{field}` in {res}");
}

fn metadata(entries: usize, key_len: usize, value_len: usize) -> Value {
    let map: Map<String, Value> = (0..entries)
        .map(|i| {
            let key = format!("{i:0>width$}", width = key_len.max(1));
            (key, json!("v".repeat(value_len)))
        })
        .collect();
    Value::Object(map)
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_returns_the_full_account() {
    let (app, o, t) = setup().await;
    let body = json!({
        "name": "Operations Reserve",
        "currency": "USD",
        "reference": "ops-1",
        "description": "Float for payouts",
        "metadata": {"team": "ops", "cost-centre": "42"},
    });
    let (status, headers, res) = send(app.post(ACCOUNTS, &t, &o.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    assert!(headers.get("monime-cache").is_none(), "a fresh create is not a replay");
    spec().check("CreateFinancialAccount", &res);
    let a = &res["result"];
    assert!(a["id"].as_str().unwrap().starts_with("fac-"), "{a}");
    assert!(uvan::is_valid(a["uvan"].as_str().unwrap()), "{a}");
    assert_eq!(a["name"], "Operations Reserve");
    assert_eq!(a["currency"], "USD");
    assert_eq!(a["reference"], "ops-1");
    assert_eq!(a["description"], "Float for payouts");
    assert_eq!(a["metadata"], json!({"team": "ops", "cost-centre": "42"}));
    assert_eq!(a["balance"], json!({"available": {"currency": "USD", "value": 0}}));
    let created = time_fmt::parse_rfc3339(a["createTime"].as_str().unwrap()).unwrap();
    assert!((time_fmt::now() - created).abs() < time::Duration::minutes(1));
    assert_eq!(a["updateTime"], Value::Null);

    // Only the required fields: the optional ones come back null.
    let (status, _, res) = send(app.post(ACCOUNTS, &t, &o.space, &json!({"name": "Bare", "currency": "SLE"}))).await;
    assert_eq!(status, 200, "{res}");
    spec().check("CreateFinancialAccount", &res);
    for field in ["reference", "description", "metadata"] {
        assert_eq!(res["result"][field], Value::Null, "{field}: {res}");
    }
}

#[tokio::test]
async fn each_create_limit_is_enforced_and_names_its_field() {
    let (app, o, t) = setup().await;
    let ok = |extra: Value| {
        let mut body = json!({"name": "A", "currency": "SLE"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // At the limit: accepted.
    for body in [
        ok(json!({"name": "n".repeat(100)})),
        ok(json!({"name": "é".repeat(100)})), // characters, not bytes
        ok(json!({"reference": "r".repeat(64)})),
        ok(json!({"description": "d".repeat(150)})),
        ok(json!({"metadata": metadata(64, 64, 100)})),
        ok(json!({"metadata": {}})),
        ok(json!({"reference": null, "description": null, "metadata": null})),
    ] {
        let (status, _, res) = send(app.post(ACCOUNTS, &t, &o.space, &body)).await;
        assert_eq!(status, 200, "{body}: {res}");
    }
    // Over the limit, or wrong: refused, naming the field.
    let long_key = "k".repeat(65);
    for (body, field) in [
        (ok(json!({"name": "n".repeat(101)})), "name".to_owned()),
        (ok(json!({"name": "   "})), "name".into()),
        (ok(json!({"name": ""})), "name".into()),
        (json!({"currency": "SLE"}), "name".into()),
        (json!({"name": "A"}), "currency".into()),
        (ok(json!({"currency": "EUR"})), "currency".into()),
        (ok(json!({"currency": "sle"})), "currency".into()),
        (ok(json!({"reference": "r".repeat(65)})), "reference".into()),
        (ok(json!({"reference": ""})), "reference".into()),
        (ok(json!({"description": "d".repeat(151)})), "description".into()),
        (ok(json!({"metadata": metadata(65, 2, 1)})), "metadata".into()),
        (ok(json!({"metadata": {long_key.clone(): "v"}})), format!("metadata.{long_key}")),
        (ok(json!({"metadata": {"k": "v".repeat(101)}})), "metadata.k".into()),
        (ok(json!({"metadata": {"k": 5}})), "metadata.k".into()),
        (ok(json!({"metadata": {"k": {"nested": "x"}}})), "metadata.k".into()),
        (ok(json!({"metadata": ["a"]})), "metadata".into()),
        (ok(json!({"balance": 100})), "balance".into()),
        (ok(json!({"uvan": "123"})), "uvan".into()),
    ] {
        assert_create_refused(&app, &t, &o.space, body, &field).await;
    }
    // Several bad fields at once are all named.
    let (status, _, res) = send(app.post(
        ACCOUNTS,
        &t,
        &o.space,
        &json!({"name": "n".repeat(101), "currency": "XYZ", "description": "d".repeat(151)}),
    ))
    .await;
    let err = assert_error(status, &res, 400, "validation_failed");
    let fields: HashSet<&str> =
        err["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, HashSet::from(["name", "currency", "description"]), "{res}");
    // Nothing refused was created: only the seven accepted accounts and `main`.
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), 8);
}

#[tokio::test]
async fn a_reference_is_unique_within_space_and_environment() {
    let (app, o, t) = setup().await;
    app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE", "reference": "shared"})).await;
    let (status, _, res) =
        send(app.post(ACCOUNTS, &t, &o.space, &json!({"name": "B", "currency": "USD", "reference": "shared"}))).await;
    assert_error(status, &res, 409, "reference_in_use");
    // The same reference is free in the live environment and in another Space.
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    app.create_account(&live, &o.space, json!({"name": "L", "currency": "SLE", "reference": "shared"})).await;
    let other = app.owner().await;
    let other_t = app.token(&other.monimeer).await;
    app.create_account(&other_t, &other.space, json!({"name": "O", "currency": "SLE", "reference": "shared"})).await;
    // `main` is taken by the default account.
    let (status, _, res) =
        send(app.post(ACCOUNTS, &t, &o.space, &json!({"name": "M", "currency": "SLE", "reference": "main"}))).await;
    assert_error(status, &res, 409, "reference_in_use");
}

#[tokio::test]
async fn every_space_has_a_main_sle_account_per_environment() {
    let (app, o, t) = setup().await;
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    let mut ids = Vec::new();
    for token in [&t, &live] {
        let (status, _, res) =
            send(app.get(&format!("{ACCOUNTS}?reference=main&withBalance=true"), token, &o.space)).await;
        assert_eq!(status, 200, "{res}");
        let items = res["result"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{res}");
        assert_eq!(items[0]["currency"], "SLE");
        assert_eq!(items[0]["balance"]["available"]["value"], 0);
        ids.push(items[0]["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1], "test and live have separate main accounts");
}

// ---------------------------------------------------------------- idempotency

#[tokio::test]
async fn the_idempotency_key_is_required_and_bounded() {
    let (app, o, t) = setup().await;
    let body = json!({"name": "A", "currency": "SLE"});
    let without = app.req(Method::POST, ACCOUNTS, &t, &o.space).json(&body);
    let (status, _, res) = send(without).await;
    assert_error(status, &res, 400, "idempotency_key_missing");
    for bad in ["k".repeat(65), String::new(), "   ".into()] {
        let req = app.req(Method::POST, ACCOUNTS, &t, &o.space).header("Idempotency-Key", bad.as_str()).json(&body);
        let (status, _, res) = send(req).await;
        assert_error(status, &res, 400, "idempotency_key_invalid");
    }
    let req = app.req(Method::POST, ACCOUNTS, &t, &o.space).header("Idempotency-Key", "k".repeat(64)).json(&body);
    let (status, _, res) = send(req).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), 2, "main and the one accepted create");
}

#[tokio::test]
async fn a_replay_returns_the_first_response_and_creates_nothing() {
    let (app, o, t) = setup().await;
    let body = json!({"name": "Once", "currency": "SLE", "reference": "once"});
    let post = |key: &str| app.req(Method::POST, ACCOUNTS, &t, &o.space).header("Idempotency-Key", key).json(&body);
    let first = post("replay-1").send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("monime-cache").is_none());
    let first_body = first.text().await.unwrap();
    for _ in 0..2 {
        let again = post("replay-1").send().await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(again.headers()["monime-cache"], "irc");
        assert_eq!(again.text().await.unwrap(), first_body, "the replay is the first response, byte for byte");
    }
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?reference=once"), &t, &o.space)).await;
    assert_eq!((status, res["result"].as_array().unwrap().len()), (200, 1), "{res}");
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_409() {
    let (app, o, t) = setup().await;
    let req = |path: &str, body: &Value| {
        app.req(Method::POST, path, &t, &o.space).header("Idempotency-Key", "conflict-1").json(body)
    };
    let (status, _, first) = send(req(ACCOUNTS, &json!({"name": "A", "currency": "SLE"}))).await;
    assert_eq!(status, 200, "{first}");
    let (status, _, res) = send(req(ACCOUNTS, &json!({"name": "B", "currency": "SLE"}))).await;
    assert_error(status, &res, 409, "idempotency_key_in_use");
    // Another path under the same key is a different request too.
    let main = app.main_account(&o.space, Environment::Test).await;
    let transfer = json!({"amount": {"currency": "SLE", "value": 1}, "sourceFinancialAccount": {"id": main}, "destinationFinancialAccount": {"id": first["result"]["id"]}});
    let (status, _, res) = send(req("/v1/internal-transfers", &transfer)).await;
    assert_error(status, &res, 409, "idempotency_key_in_use");
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), 2);
}

#[tokio::test]
async fn keys_are_scoped_to_the_monimeer_space_and_environment() {
    let (app, o, t) = setup().await;
    let colleague = app.member(&o.space, "developer").await;
    let colleague_t = app.token(&colleague).await;
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    let second = app.store().create_space("Second", &o.monimeer, &Actor::Operator).await.unwrap().id;
    let body = json!({"name": "Same", "currency": "SLE"});
    let mut ids = HashSet::new();
    for (token, space) in [(&t, &o.space), (&colleague_t, &o.space), (&live, &o.space), (&t, &second)] {
        let req = app.req(Method::POST, ACCOUNTS, token, space).header("Idempotency-Key", "scoped").json(&body);
        let (status, headers, res) = send(req).await;
        assert_eq!(status, 200, "{res}");
        assert!(headers.get("monime-cache").is_none(), "a different scope is not a replay");
        ids.insert(res["result"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 4, "four scopes, four accounts");
}

#[tokio::test]
async fn a_refused_request_does_not_consume_its_key() {
    let (app, o, t) = setup().await;
    let post =
        |body: Value| app.req(Method::POST, ACCOUNTS, &t, &o.space).header("Idempotency-Key", "retry-me").json(&body);
    let (status, _, res) = send(post(json!({"name": "n".repeat(101), "currency": "SLE"}))).await;
    assert_error(status, &res, 400, "validation_failed");
    app.create_account(&t, &o.space, json!({"name": "Taken", "currency": "SLE", "reference": "dup"})).await;
    let (status, _, res) = send(post(json!({"name": "B", "currency": "SLE", "reference": "dup"}))).await;
    assert_error(status, &res, 409, "reference_in_use");
    // A corrected request under the same key goes through as a fresh create.
    let (status, headers, res) = send(post(json!({"name": "Fixed", "currency": "SLE"}))).await;
    assert_eq!(status, 200, "{res}");
    assert!(headers.get("monime-cache").is_none());
}

// ---------------------------------------------------------------- get

#[tokio::test]
async fn get_shows_the_balance_only_when_asked() {
    let (app, o, t) = setup().await;
    let a = app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE"})).await;
    let id = a["id"].as_str().unwrap();
    app.fund(&o.space, Environment::Test, &openmonime_domain::ids::FinancialAccountId::parse(id).unwrap(), 1234).await;
    for (query, balance) in [
        ("", Value::Null),
        ("?withBalance=false", Value::Null),
        ("?withBalance=true", json!({"available": {"currency": "SLE", "value": 1234}})),
    ] {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}/{id}{query}"), &t, &o.space)).await;
        assert_eq!(status, 200, "{res}");
        spec().check("GetFinancialAccount", &res);
        assert_eq!(res["result"]["balance"], balance, "{query}");
        assert_eq!(res["result"]["id"], id);
        assert_eq!(res["result"]["uvan"], a["uvan"]);
    }
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}/{id}?withBalance=yes"), &t, &o.space)).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "withBalance");
}

#[tokio::test]
async fn an_unknown_account_is_404() {
    let (app, o, t) = setup().await;
    for id in ["fac-doesnotexist", "nope", "txn-abc", &"f".repeat(300)] {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}/{id}"), &t, &o.space)).await;
        assert_error(status, &res, 404, "not_found");
        let (status, _, res) = send(app.patch(&format!("{ACCOUNTS}/{id}"), &t, &o.space, &json!({"name": "x"}))).await;
        assert_error(status, &res, 404, "not_found");
    }
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_filters_by_uvan_and_reference_and_balance() {
    let (app, o, t) = setup().await;
    let a = app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE", "reference": "alpha"})).await;
    let b = app.create_account(&t, &o.space, json!({"name": "B", "currency": "USD", "reference": "beta"})).await;
    let list = |query: String| {
        let req = app.get(&format!("{ACCOUNTS}{query}"), &t, &o.space);
        async move {
            let (status, _, res) = send(req).await;
            assert_eq!(status, 200, "{res}");
            spec().check("ListFinancialAccounts", &res);
            res
        }
    };
    let res = list(format!("?uvan={}", b["uvan"].as_str().unwrap())).await;
    assert_eq!(res["result"].as_array().unwrap().len(), 1);
    assert_eq!(res["result"][0]["id"], b["id"]);
    assert_eq!(res["pagination"], json!({"count": 1, "next": null}));
    let res = list("?reference=alpha".into()).await;
    assert_eq!(res["result"].as_array().unwrap().len(), 1);
    assert_eq!(res["result"][0]["id"], a["id"]);
    let res = list("?reference=gamma".into()).await;
    assert_eq!(res["result"], json!([]));
    assert_eq!(res["pagination"], json!({"count": 0, "next": null}));
    let res = list("?uvan=000000000000".into()).await;
    assert_eq!(res["result"], json!([]));
    // Both filters must hold.
    let res = list(format!("?uvan={}&reference=alpha", b["uvan"].as_str().unwrap())).await;
    assert_eq!(res["result"], json!([]));
    // withBalance on lists.
    let res = list("".into()).await;
    assert_eq!(res["result"].as_array().unwrap().len(), 3);
    assert!(res["result"].as_array().unwrap().iter().all(|a| a["balance"].is_null()), "{res}");
    let res = list("?withBalance=true".into()).await;
    assert!(res["result"].as_array().unwrap().iter().all(|a| a["balance"]["available"]["value"] == 0), "{res}");
    let res = list("?withBalance=false".into()).await;
    assert!(res["result"].as_array().unwrap().iter().all(|a| a["balance"].is_null()), "{res}");
    // Filter lengths follow the document.
    for (query, field) in
        [(format!("?uvan={}", "1".repeat(17)), "uvan"), (format!("?reference={}", "r".repeat(65)), "reference")]
    {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}{query}"), &t, &o.space)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], field);
    }
}

#[tokio::test]
async fn list_limits_are_1_to_50() {
    let (app, o, t) = setup().await;
    for bad in ["0", "51", "abc", "-1", "1.5", "", "99999999999"] {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit={bad}"), &t, &o.space)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], "limit", "{bad}: {res}");
    }
    for good in ["1", "50"] {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit={good}"), &t, &o.space)).await;
        assert_eq!(status, 200, "{good}: {res}");
    }
    for bad in ["garbage", "YzE6MA", "YzE6LTU", &"A".repeat(2001), "c1:5"] {
        let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?after={bad}"), &t, &o.space)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], "after", "{bad}: {res}");
    }
}

#[tokio::test]
async fn pagination_walks_every_account_once() {
    let (app, o, t) = setup().await;
    let mut created: HashSet<String> = HashSet::new();
    created.insert(app.main_account(&o.space, Environment::Test).await.to_string());
    for i in 0..12 {
        let a = app.create_account(&t, &o.space, json!({"name": format!("acct {i}"), "currency": "SLE"})).await;
        created.insert(a["id"].as_str().unwrap().to_owned());
    }
    // Default page size is 10.
    let (_, _, first) = send(app.get(ACCOUNTS, &t, &o.space)).await;
    assert_eq!(first["pagination"]["count"], 10);
    assert!(first["pagination"]["next"].is_string());

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &after {
            None => format!("{ACCOUNTS}?limit=5"),
            Some(a) => format!("{ACCOUNTS}?limit=5&after={a}"),
        };
        let (status, _, res) = send(app.get(&url, &t, &o.space)).await;
        assert_eq!(status, 200, "{res}");
        spec().check("ListFinancialAccounts", &res);
        let items = res["result"].as_array().unwrap();
        assert_eq!(res["pagination"]["count"], items.len());
        seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        pages += 1;
        if pages == 1 {
            // A writer inserts while we page: it appears before our position (newest first), so
            // the walk neither repeats nor skips anything it started with.
            app.create_account(&t, &o.space, json!({"name": "late", "currency": "SLE"})).await;
        }
        match res["pagination"]["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "13 accounts in pages of 5");
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no account repeats");
    assert_eq!(unique, created, "every account, none skipped");
}

#[tokio::test]
async fn a_full_last_page_ends_the_list() {
    let (app, o, t) = setup().await;
    for i in 0..3 {
        app.create_account(&t, &o.space, json!({"name": format!("a{i}"), "currency": "SLE"})).await;
    }
    // Exactly 4 accounts with limit 4: one page, no next.
    let (_, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=4"), &t, &o.space)).await;
    assert_eq!(res["pagination"], json!({"count": 4, "next": null}));
    let (_, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=2"), &t, &o.space)).await;
    let next = res["pagination"]["next"].as_str().unwrap();
    let (_, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=2&after={next}"), &t, &o.space)).await;
    assert_eq!(res["pagination"], json!({"count": 2, "next": null}));
}

// ---------------------------------------------------------------- update

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let (app, o, t) = setup().await;
    let a = app
        .create_account(
            &t,
            &o.space,
            json!({"name": "Old", "currency": "SLE", "reference": "r1", "description": "d", "metadata": {"a": "1"}}),
        )
        .await;
    let path = format!("{ACCOUNTS}/{}", a["id"].as_str().unwrap());
    let (status, _, res) = send(app.patch(&path, &t, &o.space, &json!({"name": "New"}))).await;
    assert_eq!(status, 200, "{res}");
    spec().check("UpdateFinancialAccount", &res);
    let r = &res["result"];
    assert_eq!(
        (&r["name"], &r["reference"], &r["description"], &r["metadata"]),
        (&json!("New"), &json!("r1"), &json!("d"), &json!({"a": "1"}))
    );
    assert_eq!(
        (&r["id"], &r["uvan"], &r["currency"], &r["createTime"]),
        (&a["id"], &a["uvan"], &a["currency"], &a["createTime"])
    );
    assert!(time_fmt::parse_rfc3339(r["updateTime"].as_str().unwrap()).is_some(), "{r}");

    // null clears an optional field; metadata is replaced, not merged.
    let (status, _, res) =
        send(app.patch(&path, &t, &o.space, &json!({"description": null, "reference": "r2", "metadata": {"b": "2"}})))
            .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["description"], Value::Null);
    assert_eq!(res["result"]["reference"], "r2");
    assert_eq!(res["result"]["metadata"], json!({"b": "2"}));
    assert_eq!(res["result"]["name"], "New");

    // The change is stored, not just echoed.
    let (_, _, got) = send(app.get(&path, &t, &o.space)).await;
    assert_eq!(got["result"]["reference"], "r2");
    assert_eq!(got["result"]["description"], Value::Null);
    // An empty patch changes nothing but is fine.
    let (status, _, res) = send(app.patch(&path, &t, &o.space, &json!({}))).await;
    assert_eq!((status, &res["result"]["name"]), (200, &json!("New")));
}

#[tokio::test]
async fn patch_validates_like_create() {
    let (app, o, t) = setup().await;
    let a = app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE"})).await;
    app.create_account(&t, &o.space, json!({"name": "B", "currency": "SLE", "reference": "taken"})).await;
    let path = format!("{ACCOUNTS}/{}", a["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"name": " "}), "name"),
        (json!({"reference": "r".repeat(65)}), "reference"),
        (json!({"description": "d".repeat(151)}), "description"),
        (json!({"metadata": metadata(65, 2, 1)}), "metadata"),
        (json!({"metadata": {"k": "v".repeat(101)}}), "metadata.k"),
        (json!({"currency": "USD"}), "currency"),
        (json!({"balance": 5}), "balance"),
    ] {
        let (status, _, res) = send(app.patch(&path, &t, &o.space, &body)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], field, "{body}: {res}");
    }
    let (status, _, res) = send(app.patch(&path, &t, &o.space, &json!({"reference": "taken"}))).await;
    assert_error(status, &res, 409, "reference_in_use");
    let (_, _, got) = send(app.get(&path, &t, &o.space)).await;
    assert_eq!(got["result"]["reference"], Value::Null, "a refused patch changed nothing");
    assert_eq!(got["result"]["updateTime"], Value::Null);
}

// ---------------------------------------------------------------- isolation

#[tokio::test]
async fn another_space_and_another_environment_see_404_never_403() {
    let (app, o, t) = setup().await;
    let a =
        app.create_account(&t, &o.space, json!({"name": "Private", "currency": "SLE", "reference": "secret"})).await;
    let id = a["id"].as_str().unwrap();
    let uvan = a["uvan"].as_str().unwrap();
    let path = format!("{ACCOUNTS}/{id}");

    let stranger = app.owner().await;
    let stranger_t = app.token(&stranger.monimeer).await;
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    for (token, space, who) in [(&stranger_t, &stranger.space, "another Space"), (&live, &o.space, "live")] {
        let (status, _, res) = send(app.get(&path, token, space)).await;
        assert_error(status, &res, 404, "not_found");
        assert!(!res.to_string().contains("Private"), "{who}: {res}");
        let (status, _, res) = send(app.patch(&path, token, space, &json!({"name": "Hijacked"}))).await;
        assert_error(status, &res, 404, "not_found");
        for query in [format!("?uvan={uvan}"), "?reference=secret".to_owned(), String::new()] {
            let (status, _, res) = send(app.get(&format!("{ACCOUNTS}{query}"), token, space)).await;
            assert_eq!(status, 200, "{who}: {res}");
            assert!(res["result"].as_array().unwrap().iter().all(|x| x["id"] != id), "{who} sees the account: {res}");
        }
    }
    let (_, _, got) = send(app.get(&path, &t, &o.space)).await;
    assert_eq!(got["result"]["name"], "Private", "nobody else changed it");
}

// ---------------------------------------------------------------- permissions

#[tokio::test]
async fn a_read_only_token_cannot_write() {
    let (app, o, t) = setup().await;
    let a = app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE"})).await;
    let (reader, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { permissions: perms(&[Permission::FinancialAccountsRead]), ..TokenSpec::default() },
        )
        .await;
    let path = format!("{ACCOUNTS}/{}", a["id"].as_str().unwrap());
    assert_eq!(send(app.get(&path, &reader, &o.space)).await.0, 200);
    assert_eq!(send(app.get(ACCOUNTS, &reader, &o.space)).await.0, 200);
    let (status, _, res) = send(app.post(ACCOUNTS, &reader, &o.space, &json!({"name": "B", "currency": "SLE"}))).await;
    let err = assert_error(status, &res, 403, "permission_denied");
    assert_eq!(err["details"][0], json!({"permission": "financial-accounts:write", "missingFrom": "token"}));
    let (status, _, res) = send(app.patch(&path, &reader, &o.space, &json!({"name": "B"}))).await;
    assert_error(status, &res, 403, "permission_denied");
    // A write-only token cannot read.
    let (writer, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { permissions: perms(&[Permission::FinancialAccountsWrite]), ..TokenSpec::default() },
        )
        .await;
    let (status, _, res) = send(app.get(&path, &writer, &o.space)).await;
    let err = assert_error(status, &res, 403, "permission_denied");
    assert_eq!(err["details"][0]["permission"], "financial-accounts:read");
}

#[tokio::test]
async fn a_viewers_all_permission_token_cannot_write() {
    let (app, o, t) = setup().await;
    let a = app.create_account(&t, &o.space, json!({"name": "A", "currency": "SLE"})).await;
    let viewer = app.member(&o.space, "viewer").await;
    let vt = app.token(&viewer).await;
    let path = format!("{ACCOUNTS}/{}", a["id"].as_str().unwrap());
    let (status, _, res) = send(app.get(&format!("{path}?withBalance=true"), &vt, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    let (status, _, res) = send(app.post(ACCOUNTS, &vt, &o.space, &json!({"name": "B", "currency": "SLE"}))).await;
    let err = assert_error(status, &res, 403, "permission_denied");
    assert_eq!(err["details"][0], json!({"permission": "financial-accounts:write", "missingFrom": "role"}));
    let (status, _, res) = send(app.patch(&path, &vt, &o.space, &json!({"name": "B"}))).await;
    assert_error(status, &res, 403, "permission_denied");
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), 2, "nothing was created");
}
