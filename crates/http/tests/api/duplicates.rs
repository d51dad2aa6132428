//! Issue 12, finding 14: a value sent twice is refused, never resolved by first- or last-wins.
//! Single-valued headers (400 `header_duplicated`), query parameters (400
//! `query_parameter_duplicated`) and keys inside any JSON object, `metadata` included (400
//! `validation_failed` with a `duplicate_key` detail naming it). Each refusal changes nothing.

use crate::support::*;
use openmonime_domain::Environment;
use serde_json::json;

const ACCOUNTS: &str = "/v1/financial-accounts";

#[tokio::test]
async fn a_single_valued_header_sent_twice_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let other = app.token(&o.monimeer).await;
    let second = app.store().create_space("Second", &o.monimeer, &Actor::Operator).await.unwrap().id;

    // Two tokens: neither is picked, and neither is echoed.
    let req = app.get(ACCOUNTS, &t, &o.space).bearer_auth(&other);
    let (status, _, body) = send(req).await;
    let err = assert_error(status, &body, 400, "header_duplicated");
    assert_eq!(err["details"][0]["header"], "authorization", "{body}");
    assert!(!body.to_string().contains(&t) && !body.to_string().contains(&other), "{body}");
    // The same token twice is still two headers.
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).bearer_auth(&t)).await;
    assert_error(status, &body, 400, "header_duplicated");

    // Two Spaces: which tenant a request acts in has one answer or none.
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("Monime-Space-Id", second.as_str())).await;
    let err = assert_error(status, &body, 400, "header_duplicated");
    assert_eq!(err["details"][0]["header"], "monime-space-id", "{body}");

    let versioned = app.get(ACCOUNTS, &t, &o.space).header("Monime-Version", "caph.2025-08-23");
    let (status, _, body) = send(versioned.header("Monime-Version", "caph.2025-08-23")).await;
    let err = assert_error(status, &body, 400, "header_duplicated");
    assert_eq!(err["details"][0]["header"], "monime-version", "{body}");

    // On the unauthenticated root too: the refusal comes before anything reads the header.
    let root = app.client.get(app.url("/")).bearer_auth(&t).bearer_auth(&other);
    let (status, _, body) = send(root).await;
    assert_error(status, &body, 400, "header_duplicated");
}

#[tokio::test]
async fn a_duplicated_idempotency_key_or_content_type_creates_nothing() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let before = app.list_all(ACCOUNTS, "", &t, &o.space).await.len();
    let body = json!({"name": "Twice", "currency": "SLE"});
    // `post` sets one key; a second one makes the replay key ambiguous.
    let (status, _, res) = send(app.post(ACCOUNTS, &t, &o.space, &body).header("Idempotency-Key", idem_key())).await;
    let err = assert_error(status, &res, 400, "header_duplicated");
    assert_eq!(err["details"][0]["header"], "idempotency-key", "{res}");
    let (status, _, res) = send(app.post(ACCOUNTS, &t, &o.space, &body).header("Content-Type", "text/plain")).await;
    let err = assert_error(status, &res, 400, "header_duplicated");
    assert_eq!(err["details"][0]["header"], "content-type", "{res}");
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), before, "nothing was created");
    // The control: one of each creates the account.
    let (status, _, res) = send(app.post(ACCOUNTS, &t, &o.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["name"], "Twice", "{res}");
}

#[tokio::test]
async fn a_query_parameter_sent_twice_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    for query in ["limit=1&limit=2", "limit=1&limit=1", "reference=a&limit=5&reference=b", "after=&after="] {
        let (status, _, body) = send(app.get(&format!("{ACCOUNTS}?{query}"), &t, &o.space)).await;
        let err = assert_error(status, &body, 400, "query_parameter_duplicated");
        let name = query.split('=').next().unwrap();
        assert_eq!(err["details"][0]["parameter"], name, "{query}: {body}");
    }
    // Distinct names are not duplicates.
    let (status, _, body) = send(app.get(&format!("{ACCOUNTS}?limit=2&after="), &t, &o.space)).await;
    assert_eq!(status, 200, "{body}");
    // Percent-encoding does not hide a repeat: `%6cimit` is `limit`.
    let (status, _, body) = send(app.get(&format!("{ACCOUNTS}?limit=1&%6cimit=2"), &t, &o.space)).await;
    assert_error(status, &body, 400, "query_parameter_duplicated");
}

#[tokio::test]
async fn a_repeated_key_in_metadata_or_the_body_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let before = app.list_all(ACCOUNTS, "", &t, &o.space).await.len();
    let raw = |text: &'static str| {
        app.req(reqwest::Method::POST, ACCOUNTS, &t, &o.space)
            .header("Idempotency-Key", idem_key())
            .header("Content-Type", "application/json")
            .body(text)
    };
    for (text, field) in [
        (r#"{"name":"A","currency":"SLE","metadata":{"tier":"gold","tier":"basic"}}"#, "metadata.tier"),
        (r#"{"name":"A","currency":"SLE","metadata":{"tier":"gold","\u0074ier":"basic"}}"#, "metadata.tier"),
        (r#"{"name":"A","name":"B","currency":"SLE"}"#, "name"),
    ] {
        let (status, _, body) = send(raw(text)).await;
        let err = assert_error(status, &body, 400, "validation_failed");
        assert_eq!(err["details"][0]["reason"], "duplicate_key", "{text}: {body}");
        assert_eq!(err["details"][0]["field"], field, "{text}: {body}");
    }
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), before, "nothing was created");

    // A PATCH of metadata and a transfer's metadata are refused the same way.
    let account = app.create_account(&t, &o.space, json!({"name": "M", "currency": "SLE"})).await;
    let id = account["id"].as_str().unwrap();
    let patch = app
        .req(reqwest::Method::PATCH, &format!("{ACCOUNTS}/{id}"), &t, &o.space)
        .header("Content-Type", "application/json")
        .body(r#"{"metadata":{"k":"1","k":"2"}}"#);
    let (status, _, body) = send(patch).await;
    let err = assert_error(status, &body, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "metadata.k", "{body}");
    let (_, _, after) = send(app.get(&format!("{ACCOUNTS}/{id}"), &t, &o.space)).await;
    assert_eq!(after["result"]["metadata"], account["metadata"], "the PATCH changed nothing: {after}");

    let main = app.main_account(&o.space, Environment::Test).await;
    let text = format!(
        r#"{{"sourceFinancialAccount":{{"id":"{main}"}},"destinationFinancialAccount":{{"id":"{id}"}},"amount":{{"currency":"SLE","value":1}},"metadata":{{"a":"1","a":"2"}}}}"#
    );
    let transfer = app
        .req(reqwest::Method::POST, "/v1/internal-transfers", &t, &o.space)
        .header("Idempotency-Key", idem_key())
        .header("Content-Type", "application/json")
        .body(text);
    let (status, _, body) = send(transfer).await;
    let err = assert_error(status, &body, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "metadata.a", "{body}");
}
