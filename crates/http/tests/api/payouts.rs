//! Issue 18: payouts end to end — created with their hold, changed and deleted only while
//! pending, sent and settled by the worker on the test clock, every failure code from its magic
//! destination with the hold returned, refusals that change nothing, isolation, concurrent
//! payouts that never overdraw, and two nodes that never both settle one payout.

use crate::support::openapi::spec;
use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::fees::{FeeConfig, FeeRule};
use openmonime_domain::test_rail::{PayerOutcome, MAGIC_DESTINATIONS};
use openmonime_domain::Environment;
use openmonime_http::ServerConfig;
use serde_json::{json, Value};
use std::sync::Arc;

/// 1.5 % plus SLE 1.00 on every payout; the worker runs only when a test advances the clock.
fn quiet_with_fees() -> ServerConfig {
    let rule = FeeRule { code: "processing".into(), basis_points: 150, fixed: [("SLE".to_owned(), 100)].into() };
    ServerConfig {
        fees: Arc::new(FeeConfig { default: vec![rule], spaces: Default::default() }),
        sweep_every: std::time::Duration::from_secs(3600),
        ..Default::default()
    }
}

fn quiet() -> ServerConfig {
    ServerConfig { sweep_every: std::time::Duration::from_secs(3600), ..Default::default() }
}

fn sle(value: i64) -> Value {
    json!({"currency": "SLE", "value": value})
}

fn momo(phone: &str) -> Value {
    json!({"type": "momo", "providerId": "m17", "phoneNumber": phone})
}

struct Desk {
    app: TestApp,
    owner: Owner,
    token: String,
    /// The tenant's events before the test's own (its accounts' creation and funding).
    setup_events: usize,
}

impl Desk {
    /// A Space whose test main account holds `funds`.
    async fn open(app: TestApp, funds: i64) -> Desk {
        let owner = app.owner().await;
        let token = app.token(&owner.monimeer).await;
        let main = app.main_account(&owner.space, Environment::Test).await;
        if funds > 0 {
            app.fund(&owner.space, Environment::Test, &main, funds).await;
        }
        let tenant = Tenant { space_id: owner.space.clone(), environment: Environment::Test };
        let setup_events = app.store().list_events(&tenant, None, 1000).await.unwrap().len();
        Desk { app, owner, token, setup_events }
    }

    fn tenant(&self) -> Tenant {
        Tenant { space_id: self.owner.space.clone(), environment: Environment::Test }
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        let (status, _, res) = send(self.app.post("/v1/payouts", &self.token, &self.owner.space, &body)).await;
        (status, res)
    }

    async fn pay(&self, value: i64, destination: Value) -> Value {
        let (status, res) = self.create(json!({"amount": sle(value), "destination": destination})).await;
        assert_eq!(status, 200, "create payout: {res}");
        spec().check("CreatePayout", &res);
        res["result"].clone()
    }

    async fn get(&self, id: &Value) -> Value {
        let (status, _, res) =
            send(self.app.get(&format!("/v1/payouts/{}", id.as_str().unwrap()), &self.token, &self.owner.space)).await;
        assert_eq!(status, 200, "get payout: {res}");
        spec().check("GetPayout", &res);
        res["result"].clone()
    }

    async fn advance(&self, seconds: i64) -> Value {
        self.app.advance_test_clock(&self.token, &self.owner.space, seconds).await
    }

    async fn main_balance(&self) -> i64 {
        let main = self.app.main_account(&self.owner.space, Environment::Test).await;
        self.app.balance(&self.token, &self.owner.space, main.as_str()).await
    }

    async fn entries(&self, reference: &str) -> Vec<Value> {
        self.app
            .list_all("/v1/financial-transactions", &format!("&reference={reference}"), &self.token, &self.owner.space)
            .await
    }

    async fn event_names(&self) -> Vec<String> {
        let events = self.app.store().list_events(&self.tenant(), None, 1000).await.unwrap();
        events.iter().skip(self.setup_events).map(|e| e.name.as_str().to_owned()).collect()
    }

    async fn assert_ledger_holds(&self) {
        let report = self.app.store().verify_ledger().await.unwrap();
        assert!(report.is_consistent(), "{report:?}");
    }
}

#[tokio::test]
async fn payouts_are_created_with_their_hold_read_listed_updated_and_deleted_as_the_document_says() {
    let desk = Desk::open(TestApp::spawn_alone(quiet_with_fees()).await, 10_000).await;
    let key = idem_key();
    let body = json!({"amount": sle(1_000), "destination": momo("076000001"), "metadata": {"order": "7"}});
    let request = || {
        let req = desk.app.req(reqwest::Method::POST, "/v1/payouts", &desk.token, &desk.owner.space);
        req.header("Idempotency-Key", &key).json(&body)
    };
    let (status, _, created) = send(request()).await;
    assert_eq!(status, 200, "{created}");
    spec().check("CreatePayout", &created);
    let payout = created["result"].clone();
    let id = payout["id"].clone();
    assert!(id.as_str().unwrap().starts_with("pyt-"), "{payout}");
    assert_eq!(payout["status"], "pending");
    assert_eq!(payout["destination"]["phoneNumber"], "+23276000001", "the number is kept in E.164");
    assert_eq!(payout["destination"]["transactionReference"], Value::Null);
    // 1.5 % of 1 000 is 15, plus SLE 1.00: on top of the amount, held with it.
    assert_eq!(payout["fees"], json!([{"code": "processing", "amount": sle(115), "metadata": null}]));
    assert_eq!(desk.main_balance().await, 10_000 - 1_115);
    let reference = payout["source"]["transactionReference"].as_str().expect("the hold's reference").to_owned();
    let entries = desk.entries(&reference).await;
    let mut held: Vec<(String, i64, Value)> = entries
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["amount"]["value"].as_i64().unwrap(),
                e["originatingFee"].clone(),
            )
        })
        .collect();
    held.sort_by_key(|e| e.1);
    assert_eq!(
        held,
        vec![("debit".into(), 115, json!({"code": "processing"})), ("debit".into(), 1_000, Value::Null)],
        "the amount and each fee are their own debits under one reference"
    );
    assert!(entries.iter().all(|e| e["ownershipGraph"]["owner"]["type"] == "payout"));

    // The same key replays the answer and holds nothing more.
    let (status, headers, replayed) = send(request()).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["result"]["id"], id);
    assert_eq!(headers.get("monime-cache").map(|v| v.to_str().unwrap()), Some("irc"));
    assert_eq!(desk.main_balance().await, 10_000 - 1_115);

    assert_eq!(desk.get(&id).await, payout);
    let (status, _, list) = send(desk.app.get("/v1/payouts?status=pending", &desk.token, &desk.owner.space)).await;
    assert_eq!(status, 200, "{list}");
    spec().check("ListPayouts", &list);
    assert_eq!(list["result"].as_array().unwrap().len(), 1);
    let main = desk.app.main_account(&desk.owner.space, Environment::Test).await;
    for (query, found) in [
        (format!("sourceFinancialAccountId={main}"), 1),
        (format!("sourceTransactionReference={reference}"), 1),
        ("sourceTransactionReference=ftr-other".to_owned(), 0),
        ("status=completed".to_owned(), 0),
        ("destinationTransactionReference=TR0".to_owned(), 0),
    ] {
        let listed = desk.app.list_all("/v1/payouts", &format!("&{query}"), &desk.token, &desk.owner.space).await;
        assert_eq!(listed.len(), found, "{query}");
    }

    let path = format!("/v1/payouts/{}", id.as_str().unwrap());
    let (status, _, patched) =
        send(desk.app.patch(&path, &desk.token, &desk.owner.space, &json!({"metadata": {"order": "8"}}))).await;
    assert_eq!(status, 200, "{patched}");
    spec().check("UpdatePayout", &patched);
    assert_eq!(patched["result"]["metadata"], json!({"order": "8"}));
    let (status, _, refused) =
        send(desk.app.patch(&path, &desk.token, &desk.owner.space, &json!({"amount": sle(1)}))).await;
    let error = assert_error(status, &refused, 400, "validation_failed");
    assert_eq!(error["details"][0]["reason"], "unknown_field", "metadata only: {refused}");

    // Deleted while pending: the hold returns in full, under the same reference.
    let (status, _, deleted) = send(desk.app.req(reqwest::Method::DELETE, &path, &desk.token, &desk.owner.space)).await;
    assert_eq!(status, 200, "{deleted}");
    spec().check("DeletePayout", &deleted);
    assert_eq!(desk.main_balance().await, 10_000);
    let entries = desk.entries(&reference).await;
    let credits: i64 =
        entries.iter().filter(|e| e["type"] == "credit").map(|e| e["amount"]["value"].as_i64().unwrap()).sum();
    assert_eq!((entries.len(), credits), (4, 1_115), "{entries:?}");
    let (status, _, gone) = send(desk.app.get(&path, &desk.token, &desk.owner.space)).await;
    assert_error(status, &gone, 404, "not_found");
    let (status, _, again) = send(desk.app.req(reqwest::Method::DELETE, &path, &desk.token, &desk.owner.space)).await;
    assert_error(status, &again, 404, "not_found");
    assert!(desk.app.list_all("/v1/payouts", "", &desk.token, &desk.owner.space).await.is_empty());
    // The advance finds nothing to send: a deleted payout is never paid.
    desk.advance(10).await;
    assert_eq!(desk.app.store().test_rail_payouts_for(id.as_str().unwrap()).await.unwrap(), 0);
    assert_eq!(desk.event_names().await, ["payout.created", "financial_account.debited", "financial_account.credited"]);
    desk.assert_ledger_holds().await;
}

#[tokio::test]
async fn the_worker_sends_a_payout_and_the_test_rail_settles_it_on_the_test_clock_once() {
    let desk = Desk::open(TestApp::spawn_alone(quiet()).await, 5_000).await;
    let payout = desk.pay(2_000, json!({"type": "bank", "providerId": "slb004", "accountNumber": "0012345678"})).await;
    let id = payout["id"].clone();
    let path = format!("/v1/payouts/{}", id.as_str().unwrap());

    let clock = desk.advance(1).await;
    assert_eq!(clock["endedPayouts"], 0, "sent, not yet settled: {clock}");
    let sent = desk.get(&id).await;
    assert_eq!(sent["status"], "processing");
    // Sent: no change and no delete any more.
    let (status, _, refused) =
        send(desk.app.patch(&path, &desk.token, &desk.owner.space, &json!({"metadata": null}))).await;
    assert_error(status, &refused, 409, "payout_not_pending");
    let (status, _, refused) = send(desk.app.req(reqwest::Method::DELETE, &path, &desk.token, &desk.owner.space)).await;
    assert_error(status, &refused, 409, "payout_not_pending");
    assert_eq!(desk.main_balance().await, 3_000, "still held");

    let clock = desk.advance(5).await;
    assert_eq!(clock["endedPayouts"], 1, "{clock}");
    let done = desk.get(&id).await;
    assert_eq!(done["status"], "completed");
    let provider_reference = done["destination"]["transactionReference"].as_str().expect("the provider's reference");
    assert_eq!(done["failureDetail"], Value::Null);
    assert_eq!(desk.main_balance().await, 3_000, "completion moves nothing more");
    let listed = desk
        .app
        .list_all(
            "/v1/payouts",
            &format!("&destinationTransactionReference={provider_reference}"),
            &desk.token,
            &desk.owner.space,
        )
        .await;
    assert_eq!(listed.len(), 1);

    // Asked again, the worker finds nothing: the payout reached its provider once.
    desk.advance(60).await;
    assert_eq!(desk.app.store().test_rail_payouts_for(id.as_str().unwrap()).await.unwrap(), 1);
    assert_eq!(
        desk.event_names().await,
        ["payout.created", "financial_account.debited", "payout.processing", "payout.completed"]
    );
    desk.assert_ledger_holds().await;
}

#[tokio::test]
async fn every_failure_code_comes_from_its_magic_destination_and_returns_exactly_the_hold() {
    let desk = Desk::open(TestApp::spawn_alone(quiet_with_fees()).await, 1_000_000).await;
    let mut expected = Vec::new();
    for (i, (phone, bank, wallet, outcome)) in MAGIC_DESTINATIONS.iter().enumerate() {
        let PayerOutcome::Refused(code) = outcome else { continue };
        // Each kind of destination in turn, so bank and wallet numbers are proved too.
        let destination = match i % 3 {
            0 => momo(phone),
            1 => json!({"type": "bank", "providerId": "slb001", "accountNumber": bank}),
            _ => json!({"type": "wallet", "providerId": "dw001", "walletId": wallet}),
        };
        let payout = desk.pay(10_000, destination).await;
        expected.push((payout["id"].clone(), *code));
    }
    assert_eq!(expected.len(), 7, "one magic destination per failure code of the document");
    let slow = desk.pay(10_000, momo("+23276000101")).await;
    let stuck = desk.pay(10_000, momo("+23276000102")).await;
    desk.advance(1).await;
    for (id, code) in &expected {
        let failed = desk.get(id).await;
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["failureDetail"]["code"], *code, "{failed}");
        assert!(failed["failureDetail"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        let reference = failed["source"]["transactionReference"].as_str().unwrap();
        let net: i64 = desk
            .entries(reference)
            .await
            .iter()
            .map(|e| e["amount"]["value"].as_i64().unwrap() * if e["type"] == "credit" { 1 } else { -1 })
            .sum();
        assert_eq!(net, 0, "{code}: the hold returned exactly");
    }
    // Two payouts are still held (10 000 + 250 in fees each).
    assert_eq!(desk.main_balance().await, 1_000_000 - 2 * 10_250);
    assert_eq!(desk.get(&slow["id"]).await["status"], "processing");
    desk.advance(58).await;
    assert_eq!(desk.get(&slow["id"]).await["status"], "processing", "sent one second in, due 60 s later");
    desk.advance(2).await;
    assert_eq!(desk.get(&slow["id"]).await["status"], "completed", "settles 60 s after it was sent");
    desk.advance(24 * 3600).await;
    assert_eq!(desk.get(&stuck["id"]).await["status"], "processing", "the stuck one never settles");
    let names = desk.event_names().await;
    assert_eq!(names.iter().filter(|n| *n == "payout.failed").count(), 7);
    assert_eq!(names.iter().filter(|n| *n == "financial_account.credited").count(), 7, "one per returned hold");
    desk.assert_ledger_holds().await;
}

#[tokio::test]
async fn a_payout_the_account_cannot_cover_fails_with_fund_insufficient_and_holds_nothing() {
    let desk = Desk::open(TestApp::spawn_alone(quiet_with_fees()).await, 1_100).await;
    // 1 000 and 115 in fees is more than 1 100.
    let payout = desk.pay(1_000, momo("+23276000001")).await;
    assert_eq!(payout["status"], "failed");
    assert_eq!(payout["failureDetail"]["code"], "fund_insufficient");
    assert_eq!(payout["source"]["transactionReference"], Value::Null, "nothing was held");
    assert_eq!(desk.main_balance().await, 1_100);
    desk.advance(10).await;
    assert_eq!(desk.app.store().test_rail_payouts_for(payout["id"].as_str().unwrap()).await.unwrap(), 0);
    assert_eq!(desk.event_names().await, ["payout.created", "payout.failed"]);
    // 985 and its 115 in fees is exactly the balance.
    let exact = desk.pay(985, momo("+23276000001")).await;
    assert_eq!(exact["status"], "pending");
    assert_eq!(desk.main_balance().await, 0);
    desk.assert_ledger_holds().await;
}

#[tokio::test]
async fn bad_payouts_are_refused_field_by_field_and_change_nothing() {
    let desk = Desk::open(TestApp::spawn_alone(quiet_with_fees()).await, 10_000).await;
    let usd =
        desk.app.create_account(&desk.token, &desk.owner.space, json!({"name": "Dollars", "currency": "USD"})).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"amount": sle(0), "destination": momo("+23276000001")}), "amount.value", "not_positive"),
        (
            json!({"amount": {"currency": "EUR", "value": 1}, "destination": momo("+23276000001")}),
            "amount.currency",
            "unsupported_currency",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "cash", "providerId": "m17"}}),
            "destination.type",
            "invalid_value",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "momo", "providerId": "slb001", "phoneNumber": "+23276000001"}}),
            "destination.providerId",
            "unknown_provider",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "bank", "providerId": "m17", "accountNumber": "0012345678"}}),
            "destination.providerId",
            "unknown_provider",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "momo", "providerId": "m17"}}),
            "destination.phoneNumber",
            "required",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "12"}}),
            "destination.phoneNumber",
            "invalid_phone_number",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "bank", "providerId": "slb001", "accountNumber": "12ab"}}),
            "destination.accountNumber",
            "invalid_account_number",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "wallet", "providerId": "dw001"}}),
            "destination.walletId",
            "required",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "wallet", "providerId": "dw001", "walletId": "no spaces"}}),
            "destination.walletId",
            "invalid_wallet_id",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "bank", "providerId": "slb001", "accountNumber": "0012345678", "phoneNumber": "+23276000001"}}),
            "destination.phoneNumber",
            "not_allowed",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "+23276000001", "transactionReference": "x"}}),
            "destination.transactionReference",
            "read_only",
        ),
        (
            json!({"amount": sle(1), "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "+23276000001", "iban": "x"}}),
            "destination.iban",
            "unknown_field",
        ),
        (
            json!({"amount": sle(1), "destination": momo("+23276000001"), "source": {"financialAccountId": "nope"}}),
            "source.financialAccountId",
            "invalid_id",
        ),
        (
            json!({"amount": sle(1), "destination": momo("+23276000001"), "source": {"financialAccountId": "fac-0000000000000000000000"}}),
            "source.financialAccountId",
            "account_not_found",
        ),
        (
            json!({"amount": sle(1), "destination": momo("+23276000001"), "source": {"financialAccountId": usd["id"]}}),
            "amount.currency",
            "currency_mismatch",
        ),
        (
            json!({"amount": sle(1), "destination": momo("+23276000001"), "source": {"financialAccountId": usd["id"], "transactionReference": "x"}}),
            "source.transactionReference",
            "read_only",
        ),
        (json!({"amount": sle(i64::MAX), "destination": momo("+23276000001")}), "amount.value", "out_of_range"),
    ];
    let events_before = desk.event_names().await;
    for (body, field, reason) in &cases {
        let (status, res) = desk.create(body.clone()).await;
        let error = assert_error(status, &res, 400, "validation_failed");
        let named = error["details"].as_array().unwrap().iter().any(|d| d["field"] == *field && d["reason"] == *reason);
        assert!(named, "{body}: expected `{field}` {reason}, got {res}");
    }
    assert!(desk.app.list_all("/v1/payouts", "", &desk.token, &desk.owner.space).await.is_empty());
    assert_eq!(desk.main_balance().await, 10_000);
    assert_eq!(desk.event_names().await, events_before, "a refusal publishes nothing");
}

#[tokio::test]
async fn payouts_are_isolated_by_space_and_environment_and_live_has_no_rail() {
    let desk = Desk::open(TestApp::spawn_alone(quiet()).await, 10_000).await;
    let payout = desk.pay(100, momo("+23276000001")).await;
    let path = format!("/v1/payouts/{}", payout["id"].as_str().unwrap());
    let other = desk.app.owner().await;
    let other_token = desk.app.token(&other.monimeer).await;
    let (status, _, res) = send(desk.app.get(&path, &other_token, &other.space)).await;
    assert_error(status, &res, 404, "not_found");
    let (status, _, res) = send(desk.app.req(reqwest::Method::DELETE, &path, &other_token, &other.space)).await;
    assert_error(status, &res, 404, "not_found");
    assert!(desk.app.list_all("/v1/payouts", "", &other_token, &other.space).await.is_empty());

    let live = desk.app.live_token(&desk.owner.monimeer).await;
    let (status, _, res) = send(desk.app.get(&path, &live, &desk.owner.space)).await;
    assert_error(status, &res, 404, "not_found");
    let main = desk.app.main_account(&desk.owner.space, Environment::Live).await;
    desk.app.fund(&desk.owner.space, Environment::Live, &main, 10_000).await;
    let body = json!({"amount": sle(100), "destination": momo("+23276000001")});
    let (status, _, res) = send(desk.app.post("/v1/payouts", &live, &desk.owner.space, &body)).await;
    let error = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(error["details"][0]["reason"], "rail_not_connected", "{res}");
    assert!(error["details"][0]["message"].as_str().unwrap().contains("m17"), "names the provider: {res}");
    assert!(desk.app.list_all("/v1/payouts", "", &live, &desk.owner.space).await.is_empty());
    assert_eq!(desk.app.balance(&live, &desk.owner.space, main.as_str()).await, 10_000, "nothing held in live");
}

#[tokio::test]
async fn two_hundred_concurrent_payouts_never_overdraw_their_account() {
    // 10 000 covers exactly a hundred payouts of 100: the other hundred must fail, whichever
    // order they commit in. On PostgreSQL half go through a second node.
    let app = TestApp::spawn_alone(quiet()).await;
    let second = match postgres_or_skip("concurrent payouts on two nodes") {
        Some(_) => Some(app.another_unlimited_node(quiet()).await),
        None => None,
    };
    let desk = Desk::open(app, 10_000).await;
    let nodes: Vec<&TestApp> = std::iter::once(&desk.app).chain(second.as_ref()).collect();
    let body = json!({"amount": sle(100), "destination": momo("+23276000001")});
    let requests: Vec<_> = (0..200)
        .map(|i| tokio::spawn(send(nodes[i % nodes.len()].post("/v1/payouts", &desk.token, &desk.owner.space, &body))))
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    let mut pending = 0;
    let mut failed = 0;
    for (status, _, res) in &answers {
        assert_eq!(*status, 200, "{res}");
        match res["result"]["status"].as_str().unwrap() {
            "pending" => pending += 1,
            "failed" => {
                assert_eq!(res["result"]["failureDetail"]["code"], "fund_insufficient");
                failed += 1
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((pending, failed), (100, 100));
    assert_eq!(desk.main_balance().await, 0);
    desk.assert_ledger_holds().await;
}

#[tokio::test]
async fn two_nodes_settle_each_payout_once() {
    // Both nodes' workers run every 20 ms over one database; every payout must reach its
    // provider once and complete once. On SQLite the second node shares the file.
    let fast = || ServerConfig { sweep_every: std::time::Duration::from_millis(20), ..Default::default() };
    let app = TestApp::spawn_alone(fast()).await;
    let second = app.another_unlimited_node(fast()).await;
    let desk = Desk::open(app, 100_000).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let node = if i % 2 == 0 { &desk.app } else { &second };
        let body = json!({"amount": sle(100), "destination": momo("+23276000001")});
        let (status, _, res) = send(node.post("/v1/payouts", &desk.token, &desk.owner.space, &body)).await;
        assert_eq!(status, 200, "{res}");
        ids.push(res["result"]["id"].as_str().unwrap().to_owned());
    }
    let all_completed = eventually(std::time::Duration::from_secs(20), || async {
        // Each node's worker and each advance race to settle what falls due.
        let body = json!({"seconds": 6});
        let _ = send(second.post("/v1/test-helpers/clock/advance", &desk.token, &desk.owner.space, &body)).await;
        let done = desk.app.list_all("/v1/payouts", "&status=completed", &desk.token, &desk.owner.space).await;
        done.len() == ids.len()
    })
    .await;
    assert!(all_completed, "every payout completed");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for id in &ids {
        assert_eq!(desk.app.store().test_rail_payouts_for(id).await.unwrap(), 1, "{id} reached its provider once");
    }
    let names = desk.event_names().await;
    assert_eq!(names.iter().filter(|n| *n == "payout.completed").count(), ids.len(), "each completed once");
    assert_eq!(names.iter().filter(|n| *n == "payout.processing").count(), ids.len(), "each sent once");
    desk.assert_ledger_holds().await;
}
