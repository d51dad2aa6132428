//! Regressions for what schema-driven fuzzing (conformance/run.sh, schemathesis) found: each test
//! replays the request it generated and pins the answer now given.

use crate::support::*;
use serde_json::{json, Value};

async fn setup() -> (TestApp, Owner, String) {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    (app, o, t)
}

fn fields(error: &Value) -> Vec<String> {
    error["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str().map(str::to_owned)).collect()
}

/// `GET /v1/access-tokens?expiringWithin=ÛoÜ` split the text inside a multi-byte character and
/// panicked (a 500); a figure whose seconds overflow panicked in `time::Duration::weeks`.
#[tokio::test]
async fn expiring_within_with_a_multibyte_or_overflowing_value_is_a_400() {
    let (app, o, t) = setup().await;
    for raw in ["%C3%9Bo%C3%9C", "%F3%81%AC%99", "7%C3%9C", "999999999999999w", "0d", "-1d", "d", ""] {
        let (status, _, res) = send(app.get(&format!("/v1/access-tokens?expiringWithin={raw}"), &t, &o.space)).await;
        if raw.is_empty() {
            assert_eq!(status, 200, "an empty filter is no filter: {res}");
            continue;
        }
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(fields(&err), ["expiringWithin"], "{raw}: {res}");
    }
    // Far enough that `now + window` leaves the calendar: every expiring token is inside it.
    let spec = TokenSpec { expires_at: now_plus(time::Duration::days(30)), ..TokenSpec::default() };
    let (expiring, _) = app.token_with(&o.monimeer, spec).await;
    let (status, _, res) = send(app.get("/v1/access-tokens?expiringWithin=99999999999d", &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    let listed = res["result"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "only the expiring token, not the caller's everlasting one: {res}");
    assert_eq!(listed[0]["hint"].as_str().map(|h| h.ends_with(&expiring[expiring.len() - 4..])), Some(true), "{res}");
}

/// Every operation refuses a query parameter its documentation does not list (it was silently
/// ignored, so `?withbalance=true` returned no balance and a misspelt filter listed everything).
#[tokio::test]
async fn an_undocumented_query_parameter_is_refused_naming_it() {
    let (app, o, t) = setup().await;
    let account = app.main_account(&o.space, openmonime_domain::Environment::Test).await;
    let cases: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, "/v1/financial-accounts?limit=10&x-unknown=42".into()),
        (reqwest::Method::GET, format!("/v1/financial-accounts/{account}?withbalance=true")),
        (reqwest::Method::GET, "/v1/financial-transactions?x-unknown=42".into()),
        (reqwest::Method::GET, "/v1/internal-transfers?x-unknown=42".into()),
        (reqwest::Method::GET, "/v1/audit-events?x-unknown=42".into()),
        (reqwest::Method::GET, "/v1/space-members?x-unknown=42".into()),
        (reqwest::Method::GET, "/v1/me?x-unknown=42".into()),
        (reqwest::Method::DELETE, "/v1/internal-transfers/trn-unknown?x-unknown=42".into()),
    ];
    for (method, path) in cases {
        let (status, _, res) = send(app.req(method.clone(), &path, &t, &o.space)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        let unknown = if path.contains("withbalance") { "withbalance" } else { "x-unknown" };
        assert_eq!(fields(&err), [unknown], "{method} {path}: {res}");
        assert_eq!(err["details"][0]["reason"], "unknown_field", "{res}");
    }
    // A write with an undocumented parameter is refused before it changes anything, and a
    // documented parameter still works.
    let (status, _, res) =
        send(app.patch(&format!("/v1/financial-accounts/{account}?dryRun=1"), &t, &o.space, &json!({"name": "x"})))
            .await;
    assert_error(status, &res, 400, "validation_failed");
    let (status, _, res) =
        send(app.get(&format!("/v1/financial-accounts/{account}?withBalance=true"), &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    assert!(res["result"]["balance"].is_object(), "{res}");
}

/// serde's derived `Deserialize` builds a struct from an array, field by field: `PATCH` with
/// `[null, null]` answered 200 and set the account's name and reference to null.
#[tokio::test]
async fn an_array_where_an_object_belongs_is_a_400_and_changes_nothing() {
    let (app, o, t) = setup().await;
    let account =
        app.create_account(&t, &o.space, json!({"name": "Kept", "currency": "SLE", "reference": "kept"})).await;
    let id = account["id"].as_str().unwrap();
    let path = format!("/v1/financial-accounts/{id}");
    for body in [json!([null, null]), json!(["Renamed"]), json!([])] {
        let (status, _, res) = send(app.patch(&path, &t, &o.space, &body)).await;
        assert_error(status, &res, 400, "validation_failed");
    }
    let (status, _, res) = send(app.get(&path, &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["name"], "Kept", "{res}");
    assert_eq!(res["result"]["reference"], "kept", "{res}");

    // Nested objects too: an amount or an account reference given as an array.
    let main = app.main_account(&o.space, openmonime_domain::Environment::Test).await;
    let nested = [
        (
            json!({"amount": ["SLE", 5], "sourceFinancialAccount": {"id": main.as_str()}, "destinationFinancialAccount": {"id": id}}),
            "amount",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 5}, "sourceFinancialAccount": [main.as_str()], "destinationFinancialAccount": {"id": id}}),
            "sourceFinancialAccount",
        ),
    ];
    for (body, field) in nested {
        let (status, _, res) = send(app.post("/v1/internal-transfers", &t, &o.space, &body)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(fields(&err), [field], "{res}");
    }
    let (status, _, res) = send(app.patch("/v1/space-policies", &t, &o.space, &json!([null, false]))).await;
    assert_error(status, &res, 400, "validation_failed");
    let (_, _, res) = send(app.get("/v1/space-policies", &t, &o.space)).await;
    assert_eq!(res["result"]["allowUnboundTokens"], true, "{res}");
}

/// `PATCH /v1/space-policies` with `{"allowUnboundTokens": null}` answered 200: a `null` passed
/// as "absent" for optional fields the document does not mark nullable. Now it names the field.
#[tokio::test]
async fn null_for_a_field_that_is_not_nullable_is_a_400() {
    let (app, o, t) = setup().await;
    let governor = app.live_token(&o.monimeer).await;
    let (status, _, res) =
        send(app.patch("/v1/space-policies", &governor, &o.space, &json!({"allowUnboundTokens": null}))).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(fields(&err), ["allowUnboundTokens"], "{res}");
    // `maxTokenLifetimeSeconds` is documented nullable: null means no limit.
    let (status, _, res) =
        send(app.patch("/v1/space-policies", &governor, &o.space, &json!({"maxTokenLifetimeSeconds": null}))).await;
    assert_eq!(status, 200, "{res}");

    for field in ["environment", "spaceId", "expireTime", "apiVersion"] {
        let body = json!({"name": "ci", "permissions": ["financial-accounts:read"], field: null});
        let (status, _, res) =
            send(app.req(reqwest::Method::POST, "/v1/access-tokens", &t, &o.space).json(&body)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(fields(&err), [field], "{res}");
    }
    let body = json!({"name": "ci", "permissions": ["financial-accounts:read"]});
    let (status, _, res) = send(app.req(reqwest::Method::POST, "/v1/access-tokens", &t, &o.space).json(&body)).await;
    assert_eq!(status, 200, "{res}");
    let id = res["result"]["id"].as_str().unwrap();
    let (status, _, res) = send(
        app.req(reqwest::Method::POST, &format!("/v1/access-tokens/{id}/rotate"), &t, &o.space)
            .json(&json!({"gracePeriodSeconds": null})),
    )
    .await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(fields(&err), ["gracePeriodSeconds"], "{res}");
}

/// The rotate body is optional, but one that is sent must be declared JSON, like every other body
/// (it was decoded whatever its `Content-Type`).
#[tokio::test]
async fn a_rotate_body_that_is_not_declared_json_is_a_415() {
    let (app, o, t) = setup().await;
    let body = json!({"name": "ci", "permissions": ["financial-accounts:read"], "spaceId": o.space.as_str()});
    let (status, _, res) = send(app.req(reqwest::Method::POST, "/v1/access-tokens", &t, &o.space).json(&body)).await;
    assert_eq!(status, 200, "{res}");
    let path = format!("/v1/access-tokens/{}/rotate", res["result"]["id"].as_str().unwrap());
    let (status, _, res) = send(
        app.req(reqwest::Method::POST, &path, &t, &o.space)
            .header("Content-Type", "text/plain")
            .body(r#"{"gracePeriodSeconds": 60}"#),
    )
    .await;
    assert_error(status, &res, 415, "content_type_unsupported");
    // No body at all still rotates at once.
    let (status, _, res) = send(app.req(reqwest::Method::POST, &path, &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
}

/// Monime's document requires no request body, and a PATCH or create sent without one was a 415
/// ("send the body as JSON"). No body reads as `{}` now: a PATCH changes nothing, a create names
/// its first missing field. A body that is sent must still be declared JSON.
#[tokio::test]
async fn no_body_reads_as_an_empty_object() {
    let (app, o, t) = setup().await;
    let account = app.create_account(&t, &o.space, json!({"name": "Kept", "currency": "SLE"})).await;
    let id = account["id"].as_str().unwrap();
    let (status, _, res) =
        send(app.req(reqwest::Method::PATCH, &format!("/v1/financial-accounts/{id}"), &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["name"], "Kept", "{res}");
    let (status, _, res) = send(
        app.req(reqwest::Method::POST, "/v1/financial-accounts", &t, &o.space).header("Idempotency-Key", idem_key()),
    )
    .await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["reason"], "missing_field", "{res}");
    let (status, _, res) = send(
        app.req(reqwest::Method::PATCH, &format!("/v1/financial-accounts/{id}"), &t, &o.space)
            .header("Content-Type", "text/plain")
            .body(r#"{"name": "x"}"#),
    )
    .await;
    assert_error(status, &res, 415, "content_type_unsupported");
}
