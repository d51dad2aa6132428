//! Issue 4, money movement: internal transfers (create, every refusal, failure on insufficient
//! funds, get, list filters, patch, delete), the ledger entries they write (financial
//! transactions), idempotency, tenant isolation, permissions, the official response shapes, and
//! the ledger invariants under many concurrent transfers with duplicates and retries.

use crate::support::openapi::spec;
use crate::support::*;
use openmonime_domain::ids::{FinancialAccountId, SpaceId};
use openmonime_domain::permission::Permission;
use openmonime_domain::Environment;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

const TRANSFERS: &str = "/v1/internal-transfers";
const TRANSACTIONS: &str = "/v1/financial-transactions";

/// A Space with a funded main account and a second, empty SLE account.
struct Fixture {
    app: TestApp,
    o: Owner,
    t: String,
    main: String,
    other: String,
}

async fn fixture(funds: i64) -> Fixture {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let main = app.main_account(&o.space, Environment::Test).await;
    if funds > 0 {
        app.fund(&o.space, Environment::Test, &main, funds).await;
    }
    let other = app.create_account(&t, &o.space, json!({"name": "Other", "currency": "SLE"})).await;
    Fixture { main: main.to_string(), other: other["id"].as_str().unwrap().to_owned(), app, o, t }
}

fn transfer_body(from: &str, to: &str, currency: &str, value: i64) -> Value {
    json!({
        "amount": {"currency": currency, "value": value},
        "sourceFinancialAccount": {"id": from},
        "destinationFinancialAccount": {"id": to},
    })
}

/// Posts a transfer and asserts a 400 naming `field` with `reason`.
async fn assert_refused(f: &Fixture, body: Value, field: &str, reason: &str) {
    let (status, _, res) = send(f.app.post(TRANSFERS, &f.t, &f.o.space, &body)).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    let hit = err["details"].as_array().unwrap().iter().any(|d| d["field"] == field && d["reason"] == reason);
    assert!(hit, "expected `{field}` ({reason}) for {body}: {res}");
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn a_completed_transfer_writes_one_debit_and_one_credit() {
    let f = fixture(10_000).await;
    let body = json!({
        "amount": {"currency": "SLE", "value": 2_500},
        "sourceFinancialAccount": {"id": f.main},
        "destinationFinancialAccount": {"id": f.other},
        "description": "top-up",
        "metadata": {"order": "42"},
    });
    let (status, _, res) = send(f.app.post(TRANSFERS, &f.t, &f.o.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    spec().check("CreateInternalTransfer", &res);
    let tr = &res["result"];
    let id = tr["id"].as_str().unwrap();
    assert!(id.starts_with("trn-"), "{tr}");
    assert_eq!(tr["status"], "completed");
    assert_eq!(tr["amount"], json!({"currency": "SLE", "value": 2500}));
    assert_eq!(tr["sourceFinancialAccount"], json!({"id": f.main}));
    assert_eq!(tr["destinationFinancialAccount"], json!({"id": f.other}));
    assert_eq!(tr["description"], "top-up");
    assert_eq!(tr["metadata"], json!({"order": "42"}));
    assert_eq!(tr["failureDetail"], Value::Null);
    let reference = tr["financialTransactionReference"].as_str().expect("a completed transfer has a reference");

    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 7_500);
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.other).await, 2_500);

    let (status, _, entries) =
        send(f.app.get(&format!("{TRANSACTIONS}?reference={reference}"), &f.t, &f.o.space)).await;
    assert_eq!(status, 200, "{entries}");
    spec().check("ListFinancialTransactions", &entries);
    let entries = entries["result"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let debit = entries.iter().find(|e| e["type"] == "debit").expect("one debit");
    let credit = entries.iter().find(|e| e["type"] == "credit").expect("one credit");
    assert_eq!(debit["financialAccount"]["id"], f.main.as_str());
    assert_eq!(debit["financialAccount"]["balance"]["after"], json!({"currency": "SLE", "value": 7500}));
    assert_eq!(credit["financialAccount"]["id"], f.other.as_str());
    assert_eq!(credit["financialAccount"]["balance"]["after"], json!({"currency": "SLE", "value": 2500}));
    for e in [debit, credit] {
        assert_eq!(e["amount"], json!({"currency": "SLE", "value": 2500}));
        assert_eq!(e["reference"], reference);
        assert_eq!(e["ownershipGraph"]["owner"]["id"], id);
        assert_eq!(e["ownershipGraph"]["owner"]["type"], "internal_transfer");
        let (status, _, one) =
            send(f.app.get(&format!("{TRANSACTIONS}/{}", e["id"].as_str().unwrap()), &f.t, &f.o.space)).await;
        assert_eq!(status, 200, "{one}");
        spec().check("GetTransaction", &one);
        assert_eq!(&one["result"], e);
    }
    assert!(f.app.store().verify_ledger().await.unwrap().is_consistent());
}

#[tokio::test]
async fn insufficient_funds_fail_the_transfer_without_entries() {
    let f = fixture(0).await;
    f.app.fund(&f.o.space, Environment::Test, &FinancialAccountId::parse(&f.other).unwrap(), 100).await;
    let failed = f.app.transfer(&f.t, &f.o.space, &f.other, &f.main, 101).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failureDetail"]["code"], "fund_insufficient");
    assert!(failed["failureDetail"]["message"].is_string(), "{failed}");
    assert_eq!(failed["financialTransactionReference"], Value::Null);
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.other).await, 100);
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 0);
    // Only the funding credit is on the ledger.
    let entries = f.app.list_all(TRANSACTIONS, &format!("&financialAccountId={}", f.other), &f.t, &f.o.space).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["ownershipGraph"]["owner"]["type"], "ledger_adjustment");
    let entries = f.app.list_all(TRANSACTIONS, &format!("&financialAccountId={}", f.main), &f.t, &f.o.space).await;
    assert!(entries.is_empty(), "{entries:?}");
    // The failed transfer is kept and can be read back.
    let (status, _, got) =
        send(f.app.get(&format!("{TRANSFERS}/{}", failed["id"].as_str().unwrap()), &f.t, &f.o.space)).await;
    assert_eq!(status, 200, "{got}");
    spec().check("GetInternalTransfer", &got);
    assert_eq!(got["result"], failed);
    // Exactly the balance is enough.
    let done = f.app.transfer(&f.t, &f.o.space, &f.other, &f.main, 100).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.other).await, 0);
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 100);
    let report = f.app.store().verify_ledger().await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
}

#[tokio::test]
async fn bad_amounts_and_accounts_are_400_naming_the_field() {
    let f = fixture(1_000).await;
    let (m, o) = (f.main.as_str(), f.other.as_str());
    for (body, field, reason) in [
        (transfer_body(m, o, "SLE", 0), "amount.value", "not_positive"),
        (transfer_body(m, o, "SLE", -5), "amount.value", "not_positive"),
        (transfer_body(m, m, "SLE", 5), "destinationFinancialAccount.id", "same_as_source"),
        (transfer_body(m, o, "EUR", 5), "amount.currency", "unsupported_currency"),
        (transfer_body("xyz", o, "SLE", 5), "sourceFinancialAccount.id", "invalid_id"),
        (transfer_body(m, "trn-abc", "SLE", 5), "destinationFinancialAccount.id", "invalid_id"),
        (transfer_body(&format!("fac-{}", "a".repeat(61)), o, "SLE", 5), "sourceFinancialAccount.id", "too_long"),
        (
            json!({"sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount",
            "missing_field",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 5}, "destinationFinancialAccount": {"id": o}}),
            "sourceFinancialAccount",
            "missing_field",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 5}, "sourceFinancialAccount": {"id": m}}),
            "destinationFinancialAccount",
            "missing_field",
        ),
        (
            json!({"amount": {"currency": "SLE"}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount.value",
            "missing_field",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": "5"}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount.value",
            "invalid_value",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 1.5}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount.value",
            "invalid_value",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 1e20}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount.value",
            "invalid_value",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 5, "fee": 1}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}}),
            "amount.fee",
            "unknown_field",
        ),
        (
            json!({"amount": {"currency": "SLE", "value": 5}, "sourceFinancialAccount": {"id": m}, "destinationFinancialAccount": {"id": o}, "status": "completed"}),
            "status",
            "unknown_field",
        ),
    ] {
        assert_refused(&f, body, field, reason).await;
    }
    let mut long = transfer_body(m, o, "SLE", 5);
    long["description"] = json!("d".repeat(151));
    assert_refused(&f, long, "description", "too_long").await;
    let mut meta = transfer_body(m, o, "SLE", 5);
    meta["metadata"] = json!({"k": 1});
    assert_refused(&f, meta, "metadata.k", "not_a_string").await;
    // Nothing moved.
    assert_eq!(f.app.balance(&f.t, &f.o.space, m).await, 1_000);
    assert!(f.app.list_all(TRANSFERS, "", &f.t, &f.o.space).await.is_empty());
}

#[tokio::test]
async fn the_account_references_are_open_objects() {
    // The document leaves `sourceFinancialAccount` and `destinationFinancialAccount` open.
    let f = fixture(1_000).await;
    let body = json!({
        "amount": {"currency": "SLE", "value": 10},
        "sourceFinancialAccount": {"id": f.main, "label": "ignored"},
        "destinationFinancialAccount": {"id": f.other, "note": 1},
    });
    let (status, _, res) = send(f.app.post(TRANSFERS, &f.t, &f.o.space, &body)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["status"], "completed");
}

#[tokio::test]
async fn unknown_foreign_and_mismatched_accounts_are_400() {
    let f = fixture(1_000).await;
    let stranger = f.app.owner().await;
    let stranger_main = f.app.main_account(&stranger.space, Environment::Test).await.to_string();
    let live_main = f.app.main_account(&f.o.space, Environment::Live).await.to_string();
    let nobody = FinancialAccountId::generate().to_string();
    for foreign in [&nobody, &stranger_main, &live_main] {
        assert_refused(
            &f,
            transfer_body(&f.main, foreign, "SLE", 5),
            "destinationFinancialAccount.id",
            "account_not_found",
        )
        .await;
        assert_refused(&f, transfer_body(foreign, &f.main, "SLE", 5), "sourceFinancialAccount.id", "account_not_found")
            .await;
    }
    let usd = f.app.create_account(&f.t, &f.o.space, json!({"name": "Dollars", "currency": "USD"})).await;
    let usd = usd["id"].as_str().unwrap();
    assert_refused(&f, transfer_body(&f.main, usd, "SLE", 5), "destinationFinancialAccount.id", "currency_mismatch")
        .await;
    assert_refused(&f, transfer_body(&f.main, usd, "USD", 5), "sourceFinancialAccount.id", "currency_mismatch").await;
    // Nothing moved anywhere, nothing was recorded.
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 1_000);
    assert!(f.app.list_all(TRANSFERS, "", &f.t, &f.o.space).await.is_empty());
    let stranger_t = f.app.token(&stranger.monimeer).await;
    assert_eq!(f.app.balance(&stranger_t, &stranger.space, &stranger_main).await, 0);
}

// ---------------------------------------------------------------- idempotency

#[tokio::test]
async fn a_replayed_transfer_moves_money_once() {
    let f = fixture(1_000).await;
    let body = transfer_body(&f.main, &f.other, "SLE", 300);
    let post =
        |b: &Value| f.app.req(Method::POST, TRANSFERS, &f.t, &f.o.space).header("Idempotency-Key", "pay-1").json(b);
    let first = post(&body).send().await.unwrap();
    assert!(first.headers().get("monime-cache").is_none());
    let first_body = first.text().await.unwrap();
    for _ in 0..3 {
        let again = post(&body).send().await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(again.headers()["monime-cache"], "irc");
        assert_eq!(again.text().await.unwrap(), first_body);
    }
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 700);
    assert_eq!(f.app.list_all(TRANSFERS, "", &f.t, &f.o.space).await.len(), 1);
    // Same key, another amount: refused, and still nothing more moved.
    let (status, _, res) = send(post(&transfer_body(&f.main, &f.other, "SLE", 301))).await;
    assert_error(status, &res, 409, "idempotency_key_in_use");
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 700);
    // The key is recorded after the effects, yet it is still judged before the accounts are: a
    // reused key naming an unknown account is a reused key, not an unknown account.
    let unknown = FinancialAccountId::generate().to_string();
    let (status, _, res) = send(post(&transfer_body(&f.main, &unknown, "SLE", 300))).await;
    assert_error(status, &res, 409, "idempotency_key_in_use");
    let (status, headers, res) = send(post(&body)).await;
    assert_eq!((status, &headers["monime-cache"]), (200, &"irc".parse().unwrap()), "{res}");
    assert_eq!(f.app.list_all(TRANSFERS, "", &f.t, &f.o.space).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_failure_stays_the_recorded_failure() {
    let f = fixture(0).await;
    let body = transfer_body(&f.main, &f.other, "SLE", 50);
    let post = || f.app.req(Method::POST, TRANSFERS, &f.t, &f.o.space).header("Idempotency-Key", "poor").json(&body);
    let (_, _, first) = send(post()).await;
    assert_eq!(first["result"]["status"], "failed", "{first}");
    f.app.fund(&f.o.space, Environment::Test, &FinancialAccountId::parse(&f.main).unwrap(), 1_000).await;
    // The key names that request: its outcome is replayed, not retried with the new balance.
    let (status, headers, again) = send(post()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["monime-cache"], "irc");
    assert_eq!(again, first);
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 1_000);
}

// ---------------------------------------------------------------- get, list

#[tokio::test]
async fn list_filters_transfers() {
    let f = fixture(1_000).await;
    let third = f.app.create_account(&f.t, &f.o.space, json!({"name": "Third", "currency": "SLE"})).await;
    let third = third["id"].as_str().unwrap();
    let a = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 100).await;
    let b = f.app.transfer(&f.t, &f.o.space, &f.main, third, 200).await;
    let c = f.app.transfer(&f.t, &f.o.space, &f.other, third, 50).await;
    let d = f.app.transfer(&f.t, &f.o.space, third, &f.main, 9_999).await; // fails
    assert_eq!(d["status"], "failed");
    let ids =
        |items: Vec<Value>| -> HashSet<String> { items.iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect() };
    let set = |xs: &[&Value]| -> HashSet<String> { xs.iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect() };
    let f = &f;
    let list = |q: String| async move { f.app.list_all(TRANSFERS, &q, &f.t, &f.o.space).await };
    assert_eq!(ids(list(String::new()).await), set(&[&a, &b, &c, &d]));
    assert_eq!(ids(list("&status=completed".into()).await), set(&[&a, &b, &c]));
    assert_eq!(ids(list("&status=failed".into()).await), set(&[&d]));
    assert!(list("&status=pending".into()).await.is_empty());
    assert!(list("&status=processing".into()).await.is_empty());
    assert_eq!(ids(list(format!("&sourceFinancialAccountId={}", f.main)).await), set(&[&a, &b]));
    assert_eq!(ids(list(format!("&destinationFinancialAccountId={third}")).await), set(&[&b, &c]));
    assert_eq!(
        ids(list(format!("&sourceFinancialAccountId={}&destinationFinancialAccountId={third}", f.main)).await),
        set(&[&b])
    );
    let reference = c["financialTransactionReference"].as_str().unwrap();
    assert_eq!(ids(list(format!("&financialTransactionReference={reference}")).await), set(&[&c]));
    // Newest first, and in the official shape.
    let (status, _, res) = send(f.app.get(&format!("{TRANSFERS}?limit=2"), &f.t, &f.o.space)).await;
    assert_eq!(status, 200, "{res}");
    spec().check("ListInternalTransfers", &res);
    assert_eq!(res["result"][0]["id"], d["id"]);
    assert_eq!(res["result"][1]["id"], c["id"]);
    assert!(res["pagination"]["next"].is_string());
    for (query, field) in [
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("limit=x", "limit"),
        ("after=zzz", "after"),
    ] {
        let (status, _, res) = send(f.app.get(&format!("{TRANSFERS}?{query}"), &f.t, &f.o.space)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], field, "{query}: {res}");
    }
}

#[tokio::test]
async fn list_filters_transactions() {
    let f = fixture(1_000).await;
    let tr = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 250).await;
    let reference = tr["financialTransactionReference"].as_str().unwrap();
    let f = &f;
    let list = |q: String| async move { f.app.list_all(TRANSACTIONS, &q, &f.t, &f.o.space).await };
    let all = list(String::new()).await;
    assert_eq!(all.len(), 3, "funding credit, debit, credit: {all:?}");
    let kinds =
        |items: &[Value]| -> Vec<String> { items.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect() };
    assert_eq!(kinds(&list("&type=debit".into()).await), vec!["debit"]);
    assert_eq!(kinds(&list("&type=credit".into()).await), vec!["credit", "credit"]);
    assert_eq!(list(format!("&reference={reference}")).await.len(), 2);
    assert_eq!(list(format!("&financialAccountId={}", f.other)).await.len(), 1);
    let main_entries = list(format!("&financialAccountId={}&type=credit", f.main)).await;
    assert_eq!(main_entries.len(), 1);
    assert_eq!(main_entries[0]["ownershipGraph"]["owner"]["type"], "ledger_adjustment");
    assert_eq!(main_entries[0]["financialAccount"]["balance"]["after"]["value"], 1_000);
    // Newest first: the last entry written leads.
    let (_, _, res) = send(f.app.get(&format!("{TRANSACTIONS}?limit=1"), &f.t, &f.o.space)).await;
    spec().check("ListFinancialTransactions", &res);
    assert_eq!(res["result"][0]["reference"], reference);
    assert!(res["pagination"]["next"].is_string());
    for (query, field) in [("type=refund", "type"), ("limit=0", "limit"), ("after=%%%", "after")] {
        let (status, _, res) = send(f.app.get(&format!("{TRANSACTIONS}?{query}"), &f.t, &f.o.space)).await;
        if status == 400 && res["error"]["reason"] == "query_malformed" {
            continue; // `%%%` is not even a query string
        }
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], field, "{query}: {res}");
    }
    let (status, _, res) = send(f.app.get(&format!("{TRANSACTIONS}/txn-doesnotexist"), &f.t, &f.o.space)).await;
    assert_error(status, &res, 404, "not_found");
    // The ledger is read-only.
    let (status, _, res) = send(f.app.post(TRANSACTIONS, &f.t, &f.o.space, &json!({}))).await;
    assert_error(status, &res, 405, "method_not_allowed");
}

#[tokio::test]
async fn an_unknown_transfer_is_404() {
    let f = fixture(0).await;
    for id in ["trn-doesnotexist", "nope"] {
        let path = format!("{TRANSFERS}/{id}");
        let (status, _, res) = send(f.app.get(&path, &f.t, &f.o.space)).await;
        assert_error(status, &res, 404, "not_found");
        let (status, _, res) = send(f.app.patch(&path, &f.t, &f.o.space, &json!({"description": "x"}))).await;
        assert_error(status, &res, 404, "not_found");
        let (status, _, res) = send(f.app.req(Method::DELETE, &path, &f.t, &f.o.space)).await;
        assert_error(status, &res, 404, "not_found");
    }
}

// ---------------------------------------------------------------- patch, delete

#[tokio::test]
async fn patch_changes_only_description_and_metadata() {
    let f = fixture(1_000).await;
    let tr = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 10).await;
    let path = format!("{TRANSFERS}/{}", tr["id"].as_str().unwrap());
    let (status, _, res) =
        send(f.app.patch(&path, &f.t, &f.o.space, &json!({"description": "d".repeat(255), "metadata": {"a": "b"}})))
            .await;
    assert_eq!(status, 200, "{res}");
    spec().check("PatchInternalTransfer", &res);
    assert_eq!(res["result"]["description"], "d".repeat(255));
    assert_eq!(res["result"]["metadata"], json!({"a": "b"}));
    for unchanged in [
        "id",
        "status",
        "amount",
        "sourceFinancialAccount",
        "destinationFinancialAccount",
        "financialTransactionReference",
        "createTime",
    ] {
        assert_eq!(res["result"][unchanged], tr[unchanged], "{unchanged}");
    }
    let (_, _, got) = send(f.app.get(&path, &f.t, &f.o.space)).await;
    assert_eq!(got["result"], res["result"], "the patch is stored");
    // null clears; absent keeps.
    let (status, _, res) = send(f.app.patch(&path, &f.t, &f.o.space, &json!({"description": null}))).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["description"], Value::Null);
    assert_eq!(res["result"]["metadata"], json!({"a": "b"}));
    for (body, field) in [
        (json!({"description": "d".repeat(256)}), "description"),
        (json!({"metadata": {"k": "v".repeat(101)}}), "metadata.k"),
        (json!({"amount": {"currency": "SLE", "value": 1}}), "amount"),
        (json!({"status": "failed"}), "status"),
    ] {
        let (status, _, res) = send(f.app.patch(&path, &f.t, &f.o.space, &body)).await;
        let err = assert_error(status, &res, 400, "validation_failed");
        assert_eq!(err["details"][0]["field"], field, "{body}: {res}");
    }
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 990, "patching never moves money");
}

#[tokio::test]
async fn only_a_pending_transfer_can_be_deleted() {
    let f = fixture(100).await;
    let done = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 10).await;
    let failed = f.app.transfer(&f.t, &f.o.space, &f.other, &f.main, 1_000).await;
    for tr in [&done, &failed] {
        let path = format!("{TRANSFERS}/{}", tr["id"].as_str().unwrap());
        let (status, _, res) = send(f.app.req(Method::DELETE, &path, &f.t, &f.o.space)).await;
        let err = assert_error(status, &res, 409, "transfer_not_pending");
        assert!(!err["message"].as_str().unwrap().is_empty());
        assert_eq!(send(f.app.get(&path, &f.t, &f.o.space)).await.0, 200, "still there");
    }

    // Transfers settle when created, so the API never shows a pending one; put one in place the
    // way a future asynchronous settlement would leave it, to prove DELETE's success path.
    let id = openmonime_domain::ids::InternalTransferId::generate();
    let now = openmonime_domain::time_fmt::to_micros(openmonime_domain::time_fmt::now());
    sqlx::query(
        "INSERT INTO internal_transfers (id, space_id, environment, status, currency, amount, source_id, destination_id, \
         created_at, updated_at) VALUES ($1, $2, 'test', 'pending', 'SLE', 5, $3, $4, $5, $5)",
    )
    .bind(id.as_str())
    .bind(f.o.space.as_str())
    .bind(f.main.as_str())
    .bind(f.other.as_str())
    .bind(now)
    .execute(f.app.store().pool())
    .await
    .unwrap();
    let path = format!("{TRANSFERS}/{id}");
    let (_, _, got) = send(f.app.get(&path, &f.t, &f.o.space)).await;
    assert_eq!(got["result"]["status"], "pending", "{got}");
    // Another Space cannot delete it.
    let stranger = f.app.owner().await;
    let stranger_t = f.app.token(&stranger.monimeer).await;
    let (status, _, res) = send(f.app.req(Method::DELETE, &path, &stranger_t, &stranger.space)).await;
    assert_error(status, &res, 404, "not_found");
    let (status, _, res) = send(f.app.req(Method::DELETE, &path, &f.t, &f.o.space)).await;
    assert_eq!(status, 200, "{res}");
    spec().check("DeleteInternalTransfer", &res);
    assert_eq!(res, json!({"success": true, "messages": []}));
    let (status, _, res) = send(f.app.get(&path, &f.t, &f.o.space)).await;
    assert_error(status, &res, 404, "not_found");
    let (status, _, res) = send(f.app.req(Method::DELETE, &path, &f.t, &f.o.space)).await;
    assert_error(status, &res, 404, "not_found");
}

// ---------------------------------------------------------------- isolation and permissions

#[tokio::test]
async fn another_space_and_another_environment_see_404_never_403() {
    let f = fixture(1_000).await;
    let tr = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 10).await;
    let path = format!("{TRANSFERS}/{}", tr["id"].as_str().unwrap());
    let reference = tr["financialTransactionReference"].as_str().unwrap().to_owned();
    let (_, _, entries) = send(f.app.get(&format!("{TRANSACTIONS}?reference={reference}"), &f.t, &f.o.space)).await;
    let entry = format!("{TRANSACTIONS}/{}", entries["result"][0]["id"].as_str().unwrap());

    let stranger = f.app.owner().await;
    let stranger_t = f.app.token(&stranger.monimeer).await;
    let (live, _) =
        f.app.token_with(&f.o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    for (token, space) in [(&stranger_t, &stranger.space), (&live, &f.o.space)] {
        for req in [
            f.app.get(&path, token, space),
            f.app.patch(&path, token, space, &json!({"description": "mine now"})),
            f.app.req(Method::DELETE, &path, token, space),
            f.app.get(&entry, token, space),
        ] {
            let (status, _, res) = send(req).await;
            assert_error(status, &res, 404, "not_found");
        }
        assert!(f.app.list_all(TRANSFERS, "", token, space).await.is_empty());
        assert!(f.app.list_all(TRANSACTIONS, &format!("&reference={reference}"), token, space).await.is_empty());
        assert!(f
            .app
            .list_all(TRANSACTIONS, &format!("&financialAccountId={}", f.main), token, space)
            .await
            .is_empty());
    }
    let (_, _, got) = send(f.app.get(&path, &f.t, &f.o.space)).await;
    assert_eq!(got["result"]["description"], Value::Null, "nobody else changed it");
}

#[tokio::test]
async fn reading_needs_read_and_moving_money_needs_write_in_token_and_role() {
    let f = fixture(1_000).await;
    let tr = f.app.transfer(&f.t, &f.o.space, &f.main, &f.other, 10).await;
    let path = format!("{TRANSFERS}/{}", tr["id"].as_str().unwrap());
    let body = transfer_body(&f.main, &f.other, "SLE", 1);
    let writes = |token: &str, space: &SpaceId| {
        vec![
            f.app.post(TRANSFERS, token, space, &body),
            f.app.patch(&path, token, space, &json!({"description": "x"})),
            f.app.req(Method::DELETE, &path, token, space),
        ]
    };
    let (reader, _) = f
        .app
        .token_with(
            &f.o.monimeer,
            TokenSpec {
                permissions: perms(&[Permission::InternalTransfersRead, Permission::FinancialTransactionsRead]),
                ..TokenSpec::default()
            },
        )
        .await;
    assert_eq!(send(f.app.get(&path, &reader, &f.o.space)).await.0, 200);
    assert_eq!(send(f.app.get(TRANSACTIONS, &reader, &f.o.space)).await.0, 200);
    for req in writes(&reader, &f.o.space) {
        let (status, _, res) = send(req).await;
        let err = assert_error(status, &res, 403, "permission_denied");
        assert_eq!(err["details"][0], json!({"permission": "internal-transfers:write", "missingFrom": "token"}));
    }
    let viewer = f.app.member(&f.o.space, "viewer").await;
    let vt = f.app.token(&viewer).await;
    assert_eq!(send(f.app.get(&path, &vt, &f.o.space)).await.0, 200);
    for req in writes(&vt, &f.o.space) {
        let (status, _, res) = send(req).await;
        let err = assert_error(status, &res, 403, "permission_denied");
        assert_eq!(err["details"][0], json!({"permission": "internal-transfers:write", "missingFrom": "role"}));
    }
    // Ledger entries have their own read permission.
    let (transfers_only, _) = f
        .app
        .token_with(
            &f.o.monimeer,
            TokenSpec { permissions: perms(&[Permission::InternalTransfersWrite]), ..TokenSpec::default() },
        )
        .await;
    let (status, _, res) = send(f.app.get(TRANSACTIONS, &transfers_only, &f.o.space)).await;
    let err = assert_error(status, &res, 403, "permission_denied");
    assert_eq!(err["details"][0]["permission"], "financial-transactions:read");
    assert_eq!(f.app.balance(&f.t, &f.o.space, &f.main).await, 990, "no refused request moved money");
}

// ---------------------------------------------------------------- concurrency

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Sends a create the way a careful client does: on 429/5xx (or a dropped connection) it retries
/// with the same key.
async fn send_with_retries(app: &TestApp, token: &str, space: &SpaceId, key: &str, body: &Value) -> (u16, bool, Value) {
    for attempt in 0..8 {
        let req = app.req(Method::POST, TRANSFERS, token, space).header("Idempotency-Key", key).json(body);
        match req.send().await {
            Ok(res) if res.status().as_u16() != 429 && res.status().as_u16() < 500 => {
                let status = res.status().as_u16();
                let replay = res.headers().get("monime-cache").is_some();
                return (status, replay, res.json().await.unwrap());
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await,
        }
    }
    panic!("{key}: no answer after 8 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_with_duplicates_keep_every_invariant() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let mut accounts = Vec::new();
    let mut funded = HashMap::new();
    for i in 0..8i64 {
        let a = app.create_account(&t, &o.space, json!({"name": format!("pool {i}"), "currency": "SLE"})).await;
        let id = a["id"].as_str().unwrap().to_owned();
        let amount = 3_000 + 1_000 * i;
        app.fund(&o.space, Environment::Test, &FinancialAccountId::parse(&id).unwrap(), amount).await;
        funded.insert(id.clone(), amount);
        accounts.push(id);
    }
    // An account that is only ever a source and holds nothing: its transfers must all fail.
    let dry = app.create_account(&t, &o.space, json!({"name": "dry", "currency": "SLE"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    funded.insert(dry.clone(), 0);
    let total: i64 = funded.values().sum();

    // 240 distinct operations; 60 of them are also sent twice more at the same time, and 10 keys
    // are reused with a different body (a buggy client): those must never create a second transfer.
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut ops: Vec<(String, Value)> = Vec::new();
    for i in 0..240 {
        let (from, to) = if i % 48 == 0 {
            (dry.clone(), accounts[rng.next(8) as usize].clone())
        } else {
            let from = rng.next(8) as usize;
            let to = (from + 1 + rng.next(7) as usize) % 8;
            (accounts[from].clone(), accounts[to].clone())
        };
        let value = 1 + rng.next(2_500) as i64;
        ops.push((format!("op-{i}"), transfer_body(&from, &to, "SLE", value)));
    }
    let mut sends: Vec<(String, Value, bool)> = Vec::new();
    for (i, (key, body)) in ops.iter().enumerate() {
        sends.push((key.clone(), body.clone(), false));
        if i % 4 == 0 {
            sends.push((key.clone(), body.clone(), false));
            sends.push((key.clone(), body.clone(), false));
        }
        if i % 24 == 1 {
            let mut other = body.clone();
            other["amount"]["value"] = json!(body["amount"]["value"].as_i64().unwrap() + 1);
            sends.push((key.clone(), other, true));
        }
    }
    assert!(sends.len() >= 300, "{}", sends.len());
    // Interleave so duplicates are in flight together.
    let n = sends.len();
    for i in 0..n {
        let j = rng.next(n as u64) as usize;
        sends.swap(i, j);
    }

    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for (key, body, conflicting) in sends {
        let (app, t, space) = (app.clone(), t.clone(), o.space.clone());
        tasks.spawn(async move {
            let (status, replay, res) = send_with_retries(&app, &t, &space, &key, &body).await;
            (key, body, conflicting, status, replay, res)
        });
    }
    let mut by_key: HashMap<String, HashSet<String>> = HashMap::new();
    let mut outcome: HashMap<String, Value> = HashMap::new();
    let mut conflicts = 0;
    while let Some(joined) = tasks.join_next().await {
        let (key, body, conflicting, status, replay, res) = joined.unwrap();
        match status {
            200 => {
                let tr = &res["result"];
                assert_eq!(tr["amount"], body["amount"], "{key}: the answer must be for this body: {res}");
                by_key.entry(key.clone()).or_default().insert(tr["id"].as_str().unwrap().to_owned());
                if !replay {
                    assert!(outcome.insert(key.clone(), tr.clone()).is_none(), "{key} created twice");
                }
            }
            409 => {
                assert_error(status, &res, 409, "idempotency_key_in_use");
                conflicts += 1;
            }
            other => panic!("{key} (conflicting: {conflicting}): unexpected {other}: {res}"),
        }
    }
    assert!(conflicts >= 10, "every reused key with another body is refused at least once");
    for (key, ids) in &by_key {
        assert_eq!(ids.len(), 1, "{key} produced {ids:?}");
        assert!(outcome.contains_key(key), "{key} was only ever replayed");
    }
    assert_eq!(outcome.len(), 240, "every operation happened exactly once");

    // The ledger as a whole.
    let report = app.store().verify_ledger().await.unwrap();
    assert!(report.is_consistent(), "{report:?}");

    // Balances: never negative, equal to what the answers say happened, summing to the funding.
    let mut expected = funded.clone();
    let mut completed = 0;
    for tr in outcome.values() {
        let (from, to) = (
            tr["sourceFinancialAccount"]["id"].as_str().unwrap(),
            tr["destinationFinancialAccount"]["id"].as_str().unwrap(),
        );
        match tr["status"].as_str().unwrap() {
            "completed" => {
                let value = tr["amount"]["value"].as_i64().unwrap();
                *expected.get_mut(from).unwrap() -= value;
                *expected.get_mut(to).unwrap() += value;
                completed += 1;
            }
            "failed" => assert_eq!(tr["failureDetail"]["code"], "fund_insufficient", "{tr}"),
            other => panic!("unexpected status {other}"),
        }
        if from == dry {
            assert_eq!(tr["status"], "failed", "the dry account cannot pay: {tr}");
        }
    }
    assert!(completed > 100, "most transfers go through ({completed})");
    let mut sum = 0;
    for (id, want) in &expected {
        let got = app.balance(&t, &o.space, id).await;
        assert!(got >= 0, "{id} is negative");
        assert_eq!(got, *want, "{id}");
        sum += got;
    }
    assert_eq!(sum, total, "money was neither created nor destroyed");

    // Every ledger entry: balance after never negative; exactly one debit and one credit per
    // completed transfer; nothing for failed ones.
    let entries = app.list_all(TRANSACTIONS, "", &t, &o.space).await;
    assert_eq!(
        entries.len(),
        funded.len() - 1 + 2 * completed,
        "8 funding credits and two entries per completed transfer"
    );
    let mut per_reference: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in &entries {
        assert!(e["financialAccount"]["balance"]["after"]["value"].as_i64().unwrap() >= 0, "{e}");
        per_reference.entry(e["reference"].as_str().unwrap().to_owned()).or_default().push(e);
    }
    for tr in outcome.values().filter(|tr| tr["status"] == "completed") {
        let group = &per_reference[tr["financialTransactionReference"].as_str().unwrap()];
        let kinds: HashSet<&str> = group.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!((group.len(), kinds), (2, HashSet::from(["debit", "credit"])), "{tr}");
    }
    let listed = app.list_all(TRANSFERS, "", &t, &o.space).await;
    assert_eq!(listed.len(), 240, "one transfer per key, no more");
}
