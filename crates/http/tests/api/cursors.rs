//! Issue 12, finding 15: list cursors are opaque and bound to the list they came from. A cursor
//! shows nothing of the store's global sequence (so no tenant can count another's objects), and
//! one used in another Space, environment, list or filter is refused exactly like a garbled one.
//! Paging still works across nodes, whose shared key lives in the database.

use crate::support::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openmonime_domain::ids::SpaceId;
use openmonime_http::ServerConfig;
use serde_json::{json, Value};
use std::collections::HashSet;

const ACCOUNTS: &str = "/v1/financial-accounts";

/// Creates `n` accounts in the test environment of `space`.
async fn accounts(app: &TestApp, token: &str, space: &SpaceId, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let a = app.create_account(token, space, json!({"name": format!("acct {i}"), "currency": "SLE"})).await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// GETs `path` and returns (first item's id, `pagination.next`), asserting a 200 with a next page.
async fn first_page(app: &TestApp, path: &str, token: &str, space: &SpaceId) -> (String, String) {
    let (status, _, res) = send(app.get(path, token, space)).await;
    assert_eq!(status, 200, "{path}: {res}");
    let last = res["result"].as_array().unwrap().last().expect("an item")["id"].as_str().unwrap().to_owned();
    (last, res["pagination"]["next"].as_str().expect("a next cursor").to_owned())
}

/// The store's sequence number of an account: what the old cursors carried in clear.
async fn seq_of(app: &TestApp, account: &str) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT seq FROM financial_accounts WHERE id = $1")
        .bind(account)
        .fetch_one(app.store().pool())
        .await
        .unwrap();
    row.0
}

/// Asserts the answer is the refusal of a cursor, and returns its `error` object.
fn assert_invalid_cursor(status: u16, res: &Value) -> Value {
    let err = assert_error(status, res, 400, "validation_failed");
    assert_eq!(
        err["details"],
        json!([{"field": "after", "reason": "invalid_cursor", "message": err["details"][0]["message"]}])
    );
    err
}

/// Asserts `cursor` shows nothing of `seq`: no decimal digits of it, in the text or the bytes, and
/// not the number in either byte order.
fn assert_hides(cursor: &str, seq: i64) {
    let raw = URL_SAFE_NO_PAD.decode(cursor).expect("base64url");
    let digits = seq.to_string();
    // A short number turns up in random text by chance (34 base64url characters hold "36" about
    // half the time), so the text check needs enough digits to mean something.
    if digits.len() >= 6 {
        assert!(!cursor.contains(&digits), "{cursor} shows {seq}");
        let as_text = String::from_utf8_lossy(&raw);
        assert!(!as_text.contains(&digits), "{cursor} decodes to text showing {seq}");
    }
    for bytes in [seq.to_be_bytes(), seq.to_le_bytes()] {
        let significant = &bytes[..];
        assert!(!raw.windows(8).any(|w| w == significant), "{cursor} carries {seq} as an integer");
    }
    // The old format was `c1:<seq>`; nothing of it survives.
    assert!(!String::from_utf8_lossy(&raw).contains("c1:"), "{cursor}");
}

#[tokio::test]
async fn a_cursor_shows_nothing_of_the_global_sequence() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.owner().await, app.owner().await);
    let (ta, tb) = (app.token(&a.monimeer).await, app.token(&b.monimeer).await);
    // Space A is busy, Space B is not: B must not learn how busy A is from its own cursors.
    accounts(&app, &ta, &a.space, 30).await;
    accounts(&app, &tb, &b.space, 2).await;
    let path = format!("{ACCOUNTS}?limit=1");
    let (a_last, a_cursor) = first_page(&app, &path, &ta, &a.space).await;
    let (b_last, b_cursor) = first_page(&app, &path, &tb, &b.space).await;
    assert_hides(&a_cursor, seq_of(&app, &a_last).await);
    assert_hides(&b_cursor, seq_of(&app, &b_last).await);

    // The same position in two Spaces gives unrelated cursors of one fixed length, so neither
    // the text nor its size grows with the number of objects in the deployment.
    assert_eq!(a_cursor.len(), b_cursor.len());
    let (ra, rb) = (URL_SAFE_NO_PAD.decode(&a_cursor).unwrap(), URL_SAFE_NO_PAD.decode(&b_cursor).unwrap());
    let same = ra.iter().zip(&rb).skip(1).filter(|(x, y)| x == y).count();
    assert!(same <= 6, "{a_cursor} and {b_cursor} share {same} bytes");

    // Neighbouring positions in one list are unrelated too (no counter to read off the bytes).
    let mut seen = HashSet::new();
    let mut after = a_cursor.clone();
    for _ in 0..5 {
        let (last, next) = first_page(&app, &format!("{path}&after={after}"), &ta, &a.space).await;
        assert_hides(&next, seq_of(&app, &last).await);
        assert_eq!(next.len(), a_cursor.len());
        let (ra, rn) = (URL_SAFE_NO_PAD.decode(&after).unwrap(), URL_SAFE_NO_PAD.decode(&next).unwrap());
        assert!(ra.iter().zip(&rn).skip(1).filter(|(x, y)| x == y).count() <= 6, "{after} then {next}");
        assert!(seen.insert(next.clone()));
        after = next;
    }
}

#[tokio::test]
async fn a_cursor_from_one_space_is_refused_in_another_like_a_garbled_one() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.owner().await, app.owner().await);
    let (ta, tb) = (app.token(&a.monimeer).await, app.token(&b.monimeer).await);
    accounts(&app, &ta, &a.space, 3).await;
    accounts(&app, &tb, &b.space, 3).await;
    let (_, from_a) = first_page(&app, &format!("{ACCOUNTS}?limit=1"), &ta, &a.space).await;

    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=1&after={from_a}"), &tb, &b.space)).await;
    let foreign = assert_invalid_cursor(status, &res);
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=1&after=garbage"), &tb, &b.space)).await;
    let garbled = assert_invalid_cursor(status, &res);
    assert_eq!(foreign, garbled, "a foreign cursor must be told apart from a garbled one by nothing");

    // One changed character of a good cursor is garbled too.
    let mut chars: Vec<char> = from_a.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=1&after={tampered}"), &ta, &a.space)).await;
    assert_invalid_cursor(status, &res);

    // In its own Space the cursor still works.
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?limit=1&after={from_a}"), &ta, &a.space)).await;
    assert_eq!(status, 200, "{res}");
}

#[tokio::test]
async fn a_cursor_from_one_list_or_filter_is_refused_on_another() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let ids = accounts(&app, &t, &o.space, 3).await;
    let main_id = app.main_account(&o.space, openmonime_domain::Environment::Test).await;
    app.fund(&o.space, openmonime_domain::Environment::Test, &main_id, 1_000).await;
    let main = main_id.to_string();
    for id in &ids {
        app.transfer(&t, &o.space, &main, id, 10).await;
    }
    let (_, accounts_cursor) = first_page(&app, &format!("{ACCOUNTS}?limit=1"), &t, &o.space).await;
    let (_, transfers_cursor) = first_page(&app, "/v1/internal-transfers?limit=1", &t, &o.space).await;

    for path in ["/v1/internal-transfers", "/v1/financial-transactions"] {
        let (status, _, res) = send(app.get(&format!("{path}?after={accounts_cursor}"), &t, &o.space)).await;
        assert_invalid_cursor(status, &res);
    }
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?after={transfers_cursor}"), &t, &o.space)).await;
    assert_invalid_cursor(status, &res);

    // The filter is part of the list: a cursor taken without one does not continue a filtered
    // list (nor the other way round), whose positions mean something else.
    let (status, _, res) =
        send(app.get(&format!("{ACCOUNTS}?reference=main&after={accounts_cursor}"), &t, &o.space)).await;
    assert_invalid_cursor(status, &res);
    let filtered = format!("/v1/internal-transfers?limit=1&sourceFinancialAccountId={main}");
    let (_, filtered_cursor) = first_page(&app, &filtered, &t, &o.space).await;
    let (status, _, res) =
        send(app.get(&format!("/v1/internal-transfers?limit=1&after={filtered_cursor}"), &t, &o.space)).await;
    assert_invalid_cursor(status, &res);
    let (status, _, res) = send(app.get(&format!("{filtered}&after={filtered_cursor}"), &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");

    // Only `limit` (and how items are rendered) may change between pages.
    let (status, _, res) =
        send(app.get(&format!("{ACCOUNTS}?limit=50&withBalance=true&after={accounts_cursor}"), &t, &o.space)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"].as_array().unwrap().len(), 3, "the three accounts after the newest: {res}");
}

#[tokio::test]
async fn a_test_cursor_is_refused_in_live() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let (test, live) = (app.token(&o.monimeer).await, app.live_token(&o.monimeer).await);
    accounts(&app, &test, &o.space, 2).await;
    accounts(&app, &live, &o.space, 2).await;
    let (_, test_cursor) = first_page(&app, &format!("{ACCOUNTS}?limit=1"), &test, &o.space).await;
    let (_, live_cursor) = first_page(&app, &format!("{ACCOUNTS}?limit=1"), &live, &o.space).await;
    assert_ne!(test_cursor, live_cursor);

    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?after={test_cursor}"), &live, &o.space)).await;
    assert_invalid_cursor(status, &res);
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?after={live_cursor}"), &test, &o.space)).await;
    assert_invalid_cursor(status, &res);
    let (status, _, res) = send(app.get(&format!("{ACCOUNTS}?after={live_cursor}"), &live, &o.space)).await;
    assert_eq!(status, 200, "{res}");
}

#[tokio::test]
async fn paging_continues_across_nodes_on_postgres() {
    if postgres_or_skip("paging_continues_across_nodes_on_postgres").is_none() {
        return;
    }
    let a = TestApp::spawn().await;
    let mut config = ServerConfig::default();
    config.rate_limits.enabled = false;
    let b = a.another_node(config).await;
    let o = a.owner().await;
    let t = a.token(&o.monimeer).await;
    let mut want: HashSet<String> = accounts(&a, &t, &o.space, 7).await.into_iter().collect();
    want.insert(a.main_account(&o.space, openmonime_domain::Environment::Test).await.to_string());

    // Each page is asked of the other node than the last, with the cursor the last one issued.
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    for page in 0.. {
        let node = if page % 2 == 0 { &a } else { &b };
        let path = match &after {
            None => format!("{ACCOUNTS}?limit=2"),
            Some(cursor) => format!("{ACCOUNTS}?limit=2&after={cursor}"),
        };
        let (status, _, res) = send(node.get(&path, &t, &o.space)).await;
        assert_eq!(status, 200, "page {page} on node {}: {res}", page % 2);
        got.extend(res["result"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match res["pagination"]["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(got.len(), want.len(), "no item twice: {got:?}");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);
}
