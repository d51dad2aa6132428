//! Issue 16: collecting money end to end in the test environment — payment codes, the payments a
//! dial makes (with fees in the ledger), USSD OTPs, the test clock, restrictions refused, one-time
//! codes paid once under concurrent dials, and the events in causal order.

use crate::support::openapi::spec;
use crate::support::receiver::{Receiver, SteppedClock};
use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::fees::{FeeConfig, FeeRule};
use openmonime_domain::permission::Permission;
use openmonime_domain::Environment;
use openmonime_http::delivery::alerts::Alerts;
use openmonime_http::ServerConfig;
use serde_json::{json, Value};
use std::sync::Arc;

/// 1.5 % plus SLE 1.00 on every payment.
fn with_fees() -> ServerConfig {
    let rule = FeeRule { code: "processing".into(), basis_points: 150, fixed: [("SLE".to_owned(), 100)].into() };
    ServerConfig { fees: Arc::new(FeeConfig { default: vec![rule], spaces: Default::default() }), ..Default::default() }
}

struct Shop {
    app: TestApp,
    owner: Owner,
    token: String,
}

impl Shop {
    async fn open(config: ServerConfig) -> Shop {
        let app = TestApp::spawn_with(config, None).await;
        let owner = app.owner().await;
        let token = app.token(&owner.monimeer).await;
        Shop { app, owner, token }
    }

    fn tenant(&self) -> Tenant {
        Tenant { space_id: self.owner.space.clone(), environment: Environment::Test }
    }

    async fn create_code(&self, body: Value) -> Value {
        let (status, _, res) = send(self.app.post("/v1/payment-codes", &self.token, &self.owner.space, &body)).await;
        assert_eq!(status, 200, "create payment code: {res}");
        spec().check("CreatePaymentCode", &res);
        res["result"].clone()
    }

    async fn dial(&self, dial_string: &Value, phone: &str, provider: &str) -> (u16, Value) {
        let body = json!({"dialString": dial_string, "phoneNumber": phone, "providerId": provider});
        let (status, _, res) =
            send(self.app.post("/v1/test-helpers/ussd/dial", &self.token, &self.owner.space, &body)).await;
        (status, res)
    }

    async fn advance(&self, seconds: i64) -> Value {
        self.app.advance_test_clock(&self.token, &self.owner.space, seconds).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, _, res) = send(self.app.get(path, &self.token, &self.owner.space)).await;
        assert_eq!(status, 200, "GET {path}: {res}");
        res
    }

    async fn main_balance(&self) -> i64 {
        let main = self.app.main_account(&self.owner.space, Environment::Test).await;
        self.app.balance(&self.token, &self.owner.space, main.as_str()).await
    }

    /// The names of the tenant's events since its Space was made (its accounts' creation left
    /// out), in the order they were written.
    async fn event_names(&self) -> Vec<String> {
        let events = self.app.store().list_events(&self.tenant(), None, 500).await.unwrap();
        events.iter().map(|e| e.name.as_str().to_owned()).filter(|n| n != "financial_account.created").collect()
    }
}

fn sle(value: i64) -> Value {
    json!({"currency": "SLE", "value": value})
}

#[tokio::test]
async fn payment_codes_are_created_read_listed_updated_and_deleted_as_the_document_says() {
    let shop = Shop::open(ServerConfig::default()).await;
    let code = shop
        .create_code(json!({
            "name": "Home EDSA Meter Top-up", "amount": sle(5_000), "duration": "1h30m",
            "customer": {"name": "Musa Kamara"}, "reference": "inv-7", "authorizedProviders": ["m17"],
            "authorizedPhoneNumber": "076000001", "metadata": {"order": "7"}
        }))
        .await;
    assert!(code["id"].as_str().unwrap().starts_with("pmc-"), "{code}");
    assert_eq!(code["status"], "pending");
    assert_eq!(code["mode"], "one_time", "the document's default mode");
    assert_eq!(code["enable"], true);
    assert_eq!(code["authorizedPhoneNumber"], "+23276000001", "a local number is kept in E.164");
    assert_eq!(code["customer"]["name"], "Musa Kamara");
    let main = shop.app.main_account(&shop.owner.space, Environment::Test).await;
    assert_eq!(code["financialAccountId"], main.as_str(), "the main account by default");
    let ussd = code["ussdCode"].as_str().unwrap();
    assert!(ussd.starts_with("*715*1*") && ussd.ends_with('#'), "{ussd}");
    let created = openmonime_domain::time_fmt::parse_rfc3339(code["createTime"].as_str().unwrap()).unwrap();
    let expires = openmonime_domain::time_fmt::parse_rfc3339(code["expireTime"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, time::Duration::minutes(90));

    let id = code["id"].as_str().unwrap();
    let got = shop.get(&format!("/v1/payment-codes/{id}")).await;
    spec().check("GetPaymentCode", &got);
    assert_eq!(got["result"], code);

    let other = shop.create_code(json!({"name": "Gym", "mode": "recurrent", "amount": sle(500)})).await;
    assert!(other.get("authorizedPhoneNumber").is_none(), "left out, not null, when any number may pay");
    let listed = shop.get("/v1/payment-codes?mode=recurrent").await;
    spec().check("ListPaymentCodes", &listed);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    assert_eq!(listed["result"][0]["id"], other["id"]);
    let by_dial = shop.get(&format!("/v1/payment-codes?ussd_code={}", urlencode(ussd))).await;
    assert_eq!(by_dial["result"][0]["id"], code["id"]);
    assert_eq!(shop.get("/v1/payment-codes?status=completed").await["result"], json!([]));

    let (status, _, patched) = send(shop.app.patch(
        &format!("/v1/payment-codes/{id}"),
        &shop.token,
        &shop.owner.space,
        &json!({"name": "Renamed", "enable": false, "duration": "2h", "authorizedPhoneNumber": null, "metadata": null}),
    ))
    .await;
    assert_eq!(status, 200, "{patched}");
    spec().check("UpdatePaymentCode", &patched);
    assert_eq!(patched["result"]["name"], "Renamed");
    assert_eq!(patched["result"]["enable"], false);
    assert!(patched["result"].get("authorizedPhoneNumber").is_none(), "null clears it");
    assert_eq!(patched["result"]["metadata"], Value::Null);
    let expires = openmonime_domain::time_fmt::parse_rfc3339(patched["result"]["expireTime"].as_str().unwrap());
    assert_eq!(expires.unwrap() - created, time::Duration::hours(2), "a duration counts from creation");

    let (status, _, deleted) =
        send(shop.app.req(reqwest::Method::DELETE, &format!("/v1/payment-codes/{id}"), &shop.token, &shop.owner.space))
            .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted, json!({"success": true, "messages": []}));
    let (status, _, gone) =
        send(shop.app.get(&format!("/v1/payment-codes/{id}"), &shop.token, &shop.owner.space)).await;
    assert_error(status, &gone, 404, "not_found");
    assert_eq!(
        shop.event_names().await,
        ["payment_code.created", "payment_code.created", "payment_code.cancelled"],
        "a deleted unused code is cancelled"
    );
}

fn urlencode(s: &str) -> String {
    s.replace('*', "%2A").replace('#', "%23")
}

#[tokio::test]
async fn bad_payment_codes_are_refused_field_by_field_and_change_nothing() {
    let shop = Shop::open(ServerConfig::default()).await;
    let usd =
        shop.app.create_account(&shop.token, &shop.owner.space, json!({"name": "dollars", "currency": "USD"})).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"amount": sle(100)}), "name", "missing_field"),
        (json!({"name": "ab", "amount": sle(100)}), "name", "out_of_range"),
        (json!({"name": "abc"}), "amount", "missing_field"),
        (json!({"name": "abc", "amount": sle(0)}), "amount.value", "not_positive"),
        (json!({"name": "abc", "amount": {"currency": "EUR", "value": 1}}), "amount.currency", "unsupported_currency"),
        (json!({"name": "abc", "amount": sle(100), "duration": "1h1h"}), "duration", "invalid_duration"),
        (json!({"name": "abc", "amount": sle(100), "duration": "400d"}), "duration", "invalid_duration"),
        (
            json!({"name": "abc", "amount": sle(100), "authorizedPhoneNumber": "+1 555"}),
            "authorizedPhoneNumber",
            "invalid_phone_number",
        ),
        (json!({"name": "abc", "amount": sle(100), "authorizedProviders": []}), "authorizedProviders", "out_of_range"),
        (
            json!({"name": "abc", "amount": sle(100), "authorizedProviders": ["m13"]}),
            "authorizedProviders[0]",
            "invalid_value",
        ),
        (
            json!({"name": "abc", "amount": sle(100), "authorizedProviders": ["m17", "m17"]}),
            "authorizedProviders[1]",
            "duplicate_value",
        ),
        (
            json!({"name": "abc", "amount": sle(100), "recurrentPaymentTarget": {"expectedPaymentCount": 2}}),
            "recurrentPaymentTarget",
            "not_allowed",
        ),
        (json!({"name": "abc", "amount": sle(100), "financialAccountId": "trn-1"}), "financialAccountId", "invalid_id"),
        (
            json!({"name": "abc", "amount": sle(100), "financialAccountId": "fac-NoSuchAccount00000000"}),
            "financialAccountId",
            "account_not_found",
        ),
        (
            json!({"name": "abc", "amount": sle(100), "financialAccountId": usd["id"]}),
            "amount.currency",
            "currency_mismatch",
        ),
        (json!({"name": "abc", "amount": sle(100), "colour": "red"}), "colour", "unknown_field"),
    ];
    for (body, field, reason) in cases {
        let (status, _, res) = send(shop.app.post("/v1/payment-codes", &shop.token, &shop.owner.space, &body)).await;
        let error = assert_error(status, &res, 400, "validation_failed");
        assert!(
            error["details"].as_array().unwrap().iter().any(|d| d["field"] == field && d["reason"] == reason),
            "{body} → {res}"
        );
    }
    assert_eq!(shop.get("/v1/payment-codes").await["result"], json!([]));
    assert!(shop.event_names().await.iter().all(|n| !n.starts_with("payment_code")));
}

#[tokio::test]
async fn a_dial_pays_a_one_time_code_once_with_its_fees_as_their_own_entries() {
    let shop = Shop::open(with_fees()).await;
    let before = shop.main_balance().await;
    let code = shop.create_code(json!({"name": "Meter", "amount": sle(10_050), "metadata": {"meter": "42"}})).await;
    let (status, paid) = shop.dial(&code["ussdCode"], "+23276000002", "m18").await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["result"]["outcome"], "paid");
    let payment = &paid["result"]["payment"];
    assert_eq!(paid["result"]["paymentCode"]["status"], "completed");

    let got = shop.get(&format!("/v1/payments/{}", payment["id"].as_str().unwrap())).await;
    spec().check("GetPayment", &got);
    let payment = &got["result"];
    assert_eq!(payment["status"], "completed");
    assert_eq!(payment["amount"], sle(10_050));
    assert_eq!(payment["name"], "Meter");
    // 1.5 % of 10 050 is 150.75, rounded half up to 151, plus the fixed 100.
    assert_eq!(payment["fees"], json!([{"code": "processing", "amount": sle(251), "metadata": null}]));
    assert_eq!(payment["channel"]["type"], "momo");
    assert_eq!(payment["channel"]["provider"], "m18");
    assert_eq!(payment["channel"]["phoneNumber"], "+232****0002", "the payer's number is masked");
    assert_eq!(payment["channel"]["fingerprint"].as_str().unwrap().len(), 32);
    assert_eq!(payment["ownershipGraph"]["owner"]["id"], code["id"]);
    assert_eq!(payment["ownershipGraph"]["owner"]["type"], "payment_code");
    assert_eq!(payment["ownershipGraph"]["owner"]["metadata"], json!({"meter": "42"}));
    assert_eq!(shop.main_balance().await, before + 10_050 - 251);

    let reference = payment["financialTransactionReference"].as_str().unwrap();
    let entries = shop.get(&format!("/v1/financial-transactions?reference={reference}")).await;
    spec().check("ListFinancialTransactions", &entries);
    let entries = entries["result"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "the credit and one fee: {entries:?}");
    let credit = entries.iter().find(|e| e["type"] == "credit").unwrap();
    let fee = entries.iter().find(|e| e["type"] == "debit").unwrap();
    assert_eq!(credit["amount"], sle(10_050));
    assert_eq!(fee["amount"], sle(251));
    assert_eq!(fee["originatingFee"], json!({"code": "processing"}));
    assert_eq!(credit["ownershipGraph"]["owner"]["type"], "payment");
    assert!(shop.app.store().verify_ledger().await.unwrap().is_consistent());

    // Found by its account and its reference; patched (name and metadata only).
    let main = shop.app.main_account(&shop.owner.space, Environment::Test).await;
    let listed = shop.get(&format!("/v1/payments?financialAccountId={main}")).await;
    spec().check("ListPayments", &listed);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    let by_ref = shop.get(&format!("/v1/payments?financialTransactionReference={reference}")).await;
    assert_eq!(by_ref["result"][0]["id"], payment["id"]);
    assert_eq!(shop.get("/v1/payments?orderNumber=ord-1").await["result"], json!([]));
    let path = format!("/v1/payments/{}", payment["id"].as_str().unwrap());
    let (status, _, patched) = send(shop.app.patch(
        &path,
        &shop.token,
        &shop.owner.space,
        &json!({"name": "Renamed", "metadata": {"a": "b"}}),
    ))
    .await;
    assert_eq!(status, 200, "{patched}");
    spec().check("UpdatePayment", &patched);
    assert_eq!(patched["result"]["metadata"], json!({"a": "b"}));
    let (status, _, refused) =
        send(shop.app.patch(&path, &shop.token, &shop.owner.space, &json!({"amount": sle(1)}))).await;
    assert_error(status, &refused, 400, "validation_failed");

    // Paid once: a second dial is refused and changes nothing.
    let (status, again) = shop.dial(&code["ussdCode"], "+23276000002", "m18").await;
    assert_error(status, &again, 409, "payment_code_ended");
    assert_eq!(shop.main_balance().await, before + 10_050 - 251);
    let (status, _, used) = send(shop.app.req(
        reqwest::Method::DELETE,
        &format!("/v1/payment-codes/{}", code["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
    ))
    .await;
    assert_error(status, &used, 409, "payment_code_ended");
    assert_eq!(
        shop.event_names().await,
        [
            "payment_code.created",
            "payment_code.processed",
            "payment.created",
            "payment.completed",
            "financial_account.credited",
            "payment_code.completed"
        ],
        "in causal order, in one transaction"
    );
}

#[tokio::test]
async fn every_restriction_is_refused_and_a_refusal_writes_nothing() {
    let shop = Shop::open(ServerConfig::default()).await;
    let before = shop.main_balance().await;
    let code = shop
        .create_code(json!({
            "name": "Restricted", "amount": sle(700), "authorizedProviders": ["m17"],
            "authorizedPhoneNumber": "+23276000001"
        }))
        .await;
    let dial_string = &code["ussdCode"];
    let (status, res) = shop.dial(dial_string, "+23276000001", "m18").await;
    assert_error(status, &res, 409, "provider_not_authorized");
    let (status, res) = shop.dial(dial_string, "+23276000002", "m17").await;
    assert_error(status, &res, 409, "phone_number_not_authorized");
    let typed =
        json!({"dialString": dial_string, "phoneNumber": "+23276000001", "providerId": "m17", "amount": sle(699)});
    let (status, _, res) =
        send(shop.app.post("/v1/test-helpers/ussd/dial", &shop.token, &shop.owner.space, &typed)).await;
    assert_error(status, &res, 409, "amount_mismatch");
    let (status, res) = shop.dial(&json!("*715*1*00000000#"), "+23276000001", "m17").await;
    assert_error(status, &res, 404, "not_found");
    let (status, res) = shop.dial(dial_string, "+23276000001", "m99").await;
    let error = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(error["details"][0]["reason"], "unknown_provider");
    let (status, res) = shop.dial(dial_string, "555-0100", "m17").await;
    assert_error(status, &res, 400, "validation_failed");

    let id = code["id"].as_str().unwrap();
    let (status, _, _) = send(shop.app.patch(
        &format!("/v1/payment-codes/{id}"),
        &shop.token,
        &shop.owner.space,
        &json!({"enable": false}),
    ))
    .await;
    assert_eq!(status, 200);
    let (status, res) = shop.dial(dial_string, "+23276000001", "m17").await;
    assert_error(status, &res, 409, "payment_code_disabled");

    // A provider that declines: the magic numbers, one per reason.
    let open = shop.create_code(json!({"name": "Open", "amount": sle(700)})).await;
    for (phone, reason) in [("+23277000093", "fund_insufficient"), ("+23277000094", "authorization_failed")] {
        let (status, res) = shop.dial(&open["ussdCode"], phone, "m17").await;
        let error = assert_error(status, &res, 402, "payment_declined");
        assert_eq!(error["details"][0]["declineCode"], reason);
    }
    assert_eq!(shop.get("/v1/payments").await["result"], json!([]), "no refusal made a payment");
    assert_eq!(
        shop.get(&format!("/v1/payment-codes/{}", open["id"].as_str().unwrap())).await["result"]["status"],
        "pending"
    );
    assert_eq!(shop.main_balance().await, before);

    // Past its expireTime (on the Space's test clock), a code takes no payment, and expires.
    // (What an advance reports is what it settled itself; any node's sweep may settle some first.)
    shop.advance(601).await;
    let restricted = shop.get(&format!("/v1/payment-codes/{id}")).await;
    assert_eq!(restricted["result"]["status"], "expired");
    let (status, res) = shop.dial(&open["ussdCode"], "+23276000001", "m17").await;
    assert_error(status, &res, 409, "payment_code_ended");
    let expired = shop.get(&format!("/v1/payment-codes/{}", open["id"].as_str().unwrap())).await;
    assert_eq!(expired["result"]["status"], "expired");
    let names = shop.event_names().await;
    assert_eq!(names.iter().filter(|n| *n == "payment_code.expired").count(), 2, "{names:?}");
    let (status, _, res) = send(shop.app.patch(
        &format!("/v1/payment-codes/{}", open["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
        &json!({"name": "Late"}),
    ))
    .await;
    assert_error(status, &res, 409, "payment_code_ended");
}

#[tokio::test]
async fn a_recurrent_code_takes_payments_until_its_target_count_or_total() {
    let shop = Shop::open(ServerConfig::default()).await;
    let by_count = shop
        .create_code(json!({
            "name": "Gym", "mode": "recurrent", "amount": sle(500),
            "recurrentPaymentTarget": {"expectedPaymentCount": 2}
        }))
        .await;
    let (status, first) = shop.dial(&by_count["ussdCode"], "+23276000001", "m17").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["result"]["paymentCode"]["status"], "processing", "in use, taking more");
    let (status, second) = shop.dial(&by_count["ussdCode"], "+23276000002", "m18").await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["result"]["paymentCode"]["status"], "completed");
    let (status, third) = shop.dial(&by_count["ussdCode"], "+23276000001", "m17").await;
    assert_error(status, &third, 409, "payment_code_ended");

    let by_total = shop
        .create_code(json!({
            "name": "Savings", "mode": "recurrent", "amount": sle(400),
            "recurrentPaymentTarget": {"expectedPaymentTotal": sle(1_000)}
        }))
        .await;
    for expected in ["processing", "processing", "completed"] {
        let (status, paid) = shop.dial(&by_total["ussdCode"], "+23276000001", "m17").await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(paid["result"]["paymentCode"]["status"], expected);
    }
    // A recurrent code in use expires when its duration ends before its target.
    let endless =
        shop.create_code(json!({"name": "Tips", "mode": "recurrent", "amount": sle(100), "duration": "1m"})).await;
    let (status, _) = shop.dial(&endless["ussdCode"], "+23276000001", "m17").await;
    assert_eq!(status, 200);
    let (status, _, res) = send(shop.app.patch(
        &format!("/v1/payment-codes/{}", by_total["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
        &json!({"name": "Still saving"}),
    ))
    .await;
    assert_error(status, &res, 409, "payment_code_ended");
    let pending = shop.create_code(json!({"name": "Pending", "mode": "recurrent", "amount": sle(100)})).await;
    let (status, _, res) = send(shop.app.patch(
        &format!("/v1/payment-codes/{}", pending["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
        &json!({"recurrentPaymentTarget": {"expectedPaymentTotal": {"currency": "USD", "value": 100}}}),
    ))
    .await;
    let error = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "recurrentPaymentTarget.expectedPaymentTotal.currency", "{res}");
    let (status, _, res) = send(shop.app.patch(
        &format!("/v1/payment-codes/{}", endless["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
        &json!({"amount": sle(200)}),
    ))
    .await;
    assert_error(status, &res, 409, "payment_code_in_use");
    shop.advance(60).await;
    let got = shop.get(&format!("/v1/payment-codes/{}", endless["id"].as_str().unwrap())).await;
    assert_eq!(got["result"]["status"], "expired");
    assert_eq!(shop.get("/v1/payments").await["result"].as_array().unwrap().len(), 6);
    assert!(shop.app.store().verify_ledger().await.unwrap().is_consistent());
}

#[tokio::test]
async fn the_test_clock_completes_a_late_payment_and_a_stuck_one_stays_processing() {
    let shop = Shop::open(ServerConfig::default()).await;
    let before = shop.main_balance().await;
    let code = shop.create_code(json!({"name": "Late payer", "amount": sle(900)})).await;
    let (status, dialed) = shop.dial(&code["ussdCode"], "+23277000091", "m17").await;
    assert_eq!(status, 200, "{dialed}");
    assert_eq!(dialed["result"]["outcome"], "processing");
    assert_eq!(dialed["result"]["payment"]["status"], "processing");
    assert_eq!(dialed["result"]["payment"]["financialTransactionReference"], Value::Null);
    assert_eq!(dialed["result"]["paymentCode"]["status"], "processing");
    let (status, busy) = shop.dial(&code["ussdCode"], "+23276000001", "m17").await;
    assert_error(status, &busy, 409, "payment_code_in_use");
    // Its payment under way, a one-time code does not expire under it.
    assert_eq!(shop.advance(29).await["completedPayments"], 0);
    assert_eq!(shop.main_balance().await, before);
    shop.advance(1).await;
    let payment = shop.get(&format!("/v1/payments/{}", dialed["result"]["payment"]["id"].as_str().unwrap())).await;
    assert_eq!(payment["result"]["status"], "completed");
    assert_eq!(shop.main_balance().await, before + 900);
    let code = shop.get(&format!("/v1/payment-codes/{}", code["id"].as_str().unwrap())).await;
    assert_eq!(code["result"]["status"], "completed");

    let stuck = shop.create_code(json!({"name": "Stuck payer", "amount": sle(300)})).await;
    let (status, dialed) = shop.dial(&stuck["ussdCode"], "+23277000092", "m17").await;
    assert_eq!(status, 200, "{dialed}");
    shop.advance(86_400).await;
    let payment = shop.get(&format!("/v1/payments/{}", dialed["result"]["payment"]["id"].as_str().unwrap())).await;
    assert_eq!(payment["result"]["status"], "processing", "its provider never answers");
    assert_eq!(shop.main_balance().await, before + 900);
    assert!(shop.app.store().verify_ledger().await.unwrap().is_consistent());
    let now = openmonime_domain::time_fmt::parse_rfc3339(shop.advance(1).await["now"].as_str().unwrap()).unwrap();
    assert!(now - openmonime_domain::time_fmt::now() > time::Duration::hours(24), "the Space's clock ran ahead");
}

#[tokio::test]
async fn ussd_otps_are_verified_by_their_phone_and_expire_on_the_clock() {
    let shop = Shop::open(ServerConfig::default()).await;
    let body =
        json!({"authorizedPhoneNumber": "+23276000001", "verificationMessage": "Welcome back", "duration": "30s"});
    let (status, _, created) = send(shop.app.post("/v1/ussd-otps", &shop.token, &shop.owner.space, &body)).await;
    assert_eq!(status, 200, "{created}");
    spec().check("CreateUSSDOTP", &created);
    let otp = &created["result"];
    assert_eq!(otp["status"], "pending");
    let dial_code = otp["dialCode"].as_str().unwrap();
    assert!(dial_code.starts_with("*715*") && dial_code.ends_with('#'), "{dial_code}");

    let (status, res) = shop.dial(&otp["dialCode"], "+23276000002", "m17").await;
    assert_error(status, &res, 409, "phone_number_not_authorized");
    let (status, verified) = shop.dial(&otp["dialCode"], "+23276000001", "m17").await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["result"]["outcome"], "verified");
    assert_eq!(verified["result"]["ussdOtp"]["status"], "verified");
    let (status, res) = shop.dial(&otp["dialCode"], "+23276000001", "m17").await;
    assert_error(status, &res, 409, "ussd_otp_not_pending");

    let (status, _, second) = send(shop.app.post(
        "/v1/ussd-otps",
        &shop.token,
        &shop.owner.space,
        &json!({"authorizedPhoneNumber": "076000001"}),
    ))
    .await;
    assert_eq!(status, 200, "{second}");
    let expire = openmonime_domain::time_fmt::parse_rfc3339(second["result"]["expireTime"].as_str().unwrap()).unwrap();
    let create = openmonime_domain::time_fmt::parse_rfc3339(second["result"]["createTime"].as_str().unwrap()).unwrap();
    assert_eq!(expire - create, time::Duration::minutes(5), "the document's default");
    shop.advance(300).await;
    let (status, res) = shop.dial(&second["result"]["dialCode"], "+23276000001", "m17").await;
    assert_error(status, &res, 409, "ussd_otp_not_pending");
    let id = second["result"]["id"].as_str().unwrap();
    let got = shop.get(&format!("/v1/ussd-otps/{id}")).await;
    spec().check("GetUSSDOTP", &got);
    assert_eq!(got["result"]["status"], "expired");
    let listed = shop.get("/v1/ussd-otps").await;
    spec().check("ListUSSDOTPs", &listed);
    assert_eq!(listed["result"].as_array().unwrap().len(), 2);
    let (status, _, _) =
        send(shop.app.req(reqwest::Method::DELETE, &format!("/v1/ussd-otps/{id}"), &shop.token, &shop.owner.space))
            .await;
    assert_eq!(status, 200);
    let (status, _, res) = send(shop.app.get(&format!("/v1/ussd-otps/{id}"), &shop.token, &shop.owner.space)).await;
    assert_error(status, &res, 404, "not_found");
    let (status, _, res) =
        send(shop.app.post("/v1/ussd-otps", &shop.token, &shop.owner.space, &json!({"duration": "5m"}))).await;
    assert_error(status, &res, 400, "validation_failed");
    let names = shop.event_names().await;
    assert_eq!(names, ["ussd_otp.verified", "ussd_otp.expired"]);
}

#[tokio::test]
async fn test_helpers_answer_a_live_token_404_and_need_their_permission() {
    let shop = Shop::open(ServerConfig::default()).await;
    let live = shop.app.live_token(&shop.owner.monimeer).await;
    for (path, body) in [
        (
            "/v1/test-helpers/ussd/dial",
            json!({"dialString": "*715*1*00000000#", "phoneNumber": "+23276000001", "providerId": "m17"}),
        ),
        ("/v1/test-helpers/clock/advance", json!({"seconds": 60})),
    ] {
        let (status, _, res) = send(shop.app.post(path, &live, &shop.owner.space, &body)).await;
        assert_error(status, &res, 404, "route_not_found");
    }
    // A live code exists, but no helper can pay it.
    let code = {
        let (status, _, res) = send(shop.app.post(
            "/v1/payment-codes",
            &live,
            &shop.owner.space,
            &json!({"name": "Live code", "amount": sle(100)}),
        ))
        .await;
        assert_eq!(status, 200, "{res}");
        res["result"].clone()
    };
    let (status, res) = shop.dial(&code["ussdCode"], "+23276000001", "m17").await;
    assert_error(status, &res, 404, "not_found");

    let viewer = shop.app.member(&shop.owner.space, "viewer").await;
    let (token, _) = shop.app.token_with(&viewer, TokenSpec::default()).await;
    let (status, _, res) =
        send(shop.app.post("/v1/test-helpers/clock/advance", &token, &shop.owner.space, &json!({"seconds": 60}))).await;
    let error = assert_error(status, &res, 403, "permission_denied");
    assert_eq!(error["details"][0]["missingFrom"], "role");
    let all_but =
        perms(&Permission::ALL.iter().copied().filter(|p| *p != Permission::TestHelpersWrite).collect::<Vec<_>>());
    let (token, _) =
        shop.app.token_with(&shop.owner.monimeer, TokenSpec { permissions: all_but, ..Default::default() }).await;
    let (status, _, res) =
        send(shop.app.post("/v1/test-helpers/clock/advance", &token, &shop.owner.space, &json!({"seconds": 60}))).await;
    assert_error(status, &res, 403, "permission_denied");
    let (status, _, res) =
        send(shop.app.post("/v1/test-helpers/clock/advance", &shop.token, &shop.owner.space, &json!({"seconds": 0})))
            .await;
    assert_error(status, &res, 400, "validation_failed");
    let (status, _, res) = send(shop.app.post(
        "/v1/test-helpers/clock/advance",
        &shop.token,
        &shop.owner.space,
        &json!({"seconds": 20 * 366 * 86_400}),
    ))
    .await;
    assert_error(status, &res, 409, "clock_limit");
}

#[tokio::test]
async fn a_duplicated_dial_replays_and_concurrent_dials_pay_a_one_time_code_once() {
    let shop = Shop::open(ServerConfig::default()).await;
    let second = match postgres_or_skip("concurrent dials on two nodes") {
        Some(_) => {
            let mut config = ServerConfig::default();
            config.rate_limits.enabled = false;
            Some(shop.app.another_node(config).await)
        }
        None => None,
    };
    let before = shop.main_balance().await;
    let code = shop.create_code(json!({"name": "Contested", "amount": sle(1_000)})).await;
    let body = json!({"dialString": code["ussdCode"], "phoneNumber": "+23276000001", "providerId": "m17"});

    let key = idem_key();
    let post = |app: &TestApp, key: &str| {
        app.req(reqwest::Method::POST, "/v1/test-helpers/ussd/dial", &shop.token, &shop.owner.space)
            .header("Idempotency-Key", key)
            .json(&body)
    };
    let (status, headers, first) = send(post(&shop.app, &key)).await;
    assert_eq!(status, 200, "{first}");
    let (status, replay_headers, replay) = send(post(&shop.app, &key)).await;
    assert_eq!(status, 200);
    assert_eq!(replay, first, "the same key replays the first answer");
    assert!(headers.get("monime-cache").is_none() && replay_headers.get("monime-cache").is_some());
    assert_eq!(shop.main_balance().await, before + 1_000);

    let contested = shop.create_code(json!({"name": "Contested twice", "amount": sle(1_000)})).await;
    let body = json!({"dialString": contested["ussdCode"], "phoneNumber": "+23276000001", "providerId": "m17"});
    let mut dials = Vec::new();
    for i in 0..8 {
        let node = match (&second, i % 2) {
            (Some(other), 1) => other,
            _ => &shop.app,
        };
        let req = node
            .req(reqwest::Method::POST, "/v1/test-helpers/ussd/dial", &shop.token, &shop.owner.space)
            .header("Idempotency-Key", idem_key())
            .json(&body);
        dials.push(tokio::spawn(send(req)));
    }
    let mut paid = 0;
    for dial in dials {
        let (status, _, res) = dial.await.unwrap();
        match status {
            200 => paid += 1,
            409 => assert!(
                ["payment_code_ended", "payment_code_in_use"].contains(&res["error"]["reason"].as_str().unwrap()),
                "{res}"
            ),
            other => panic!("a dial answered {other}: {res}"),
        }
    }
    assert_eq!(paid, 1, "a one-time code is paid once");
    assert_eq!(shop.get("/v1/payments").await["result"].as_array().unwrap().len(), 2);
    assert_eq!(shop.main_balance().await, before + 2_000);
    assert!(shop.app.store().verify_ledger().await.unwrap().is_consistent());
}

#[tokio::test]
async fn codes_payments_and_otps_are_isolated_by_space_and_environment() {
    let shop = Shop::open(ServerConfig::default()).await;
    let code = shop.create_code(json!({"name": "Mine", "amount": sle(100)})).await;
    let (status, paid) = shop.dial(&code["ussdCode"], "+23276000001", "m17").await;
    assert_eq!(status, 200);
    let other = shop.app.owner().await;
    let other_token = shop.app.token(&other.monimeer).await;
    // Another Space cannot see, pay, or list them; nor can this Space's live environment.
    let live = shop.app.live_token(&shop.owner.monimeer).await;
    for (token, space) in [(&other_token, &other.space), (&live, &shop.owner.space)] {
        for path in [
            format!("/v1/payment-codes/{}", code["id"].as_str().unwrap()),
            format!("/v1/payments/{}", paid["result"]["payment"]["id"].as_str().unwrap()),
        ] {
            let (status, _, res) = send(shop.app.get(&path, token, space)).await;
            assert_error(status, &res, 404, "not_found");
        }
        let (_, _, listed) = send(shop.app.get("/v1/payments", token, space)).await;
        assert_eq!(listed["result"], json!([]));
    }
    let again = shop.create_code(json!({"name": "Mine again", "amount": sle(100)})).await;
    let body = json!({"dialString": again["ussdCode"], "phoneNumber": "+23276000001", "providerId": "m17"});
    let (status, _, res) = send(shop.app.post("/v1/test-helpers/ussd/dial", &other_token, &other.space, &body)).await;
    assert_error(status, &res, 404, "not_found");
    assert_eq!(
        shop.get(&format!("/v1/payment-codes/{}", again["id"].as_str().unwrap())).await["result"]["status"],
        "pending"
    );
}

#[tokio::test]
async fn a_receiver_gets_a_payments_events_signed_and_in_causal_order() {
    let app =
        TestApp::spawn_delivering(ServerConfig::default(), Arc::new(SteppedClock::default()), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    let events = [
        "payment_code.created",
        "payment_code.processed",
        "payment_code.completed",
        "payment.created",
        "payment.completed",
        "financial_account.credited",
    ];
    let hook = json!({"name": "shop", "url": receiver.url("/hooks"), "apiRelease": "caph", "events": events});
    let (status, _, res) = send(app.post("/v1/webhooks", &token, &owner.space, &hook)).await;
    assert_eq!(status, 200, "{res}");
    let shop = Shop { app, owner, token };
    let code = shop.create_code(json!({"name": "Delivered", "amount": sle(2_500)})).await;
    let (status, _) = shop.dial(&code["ussdCode"], "+23276000001", "m17").await;
    assert_eq!(status, 200);

    let got = receiver.wait_for(6).await;
    let mut bodies: Vec<Value> = got.iter().map(|r| r.json()).collect();
    bodies.sort_by_key(|b| b["event"]["timestamp"].as_str().unwrap().to_owned());
    let names: Vec<&str> = bodies.iter().map(|b| b["event"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "payment_code.created",
            "payment_code.processed",
            "payment.created",
            "payment.completed",
            "financial_account.credited",
            "payment_code.completed"
        ],
        "event timestamps follow cause and effect"
    );
    let processed = &bodies[1]["data"];
    assert_eq!(processed["status"], "processing");
    assert!(processed["processedPaymentData"]["paymentId"].as_str().unwrap().starts_with("pay-"), "{processed}");
    assert_eq!(processed["processedPaymentData"]["amount"], sle(2_500));
    assert!(processed["processedPaymentData"]["financialTransactionReference"].is_string());
    assert_eq!(bodies[5]["data"]["processedPaymentData"], Value::Null, "only the processed event carries it");
    assert_eq!(bodies[3]["object"]["type"], "payment");
    assert_eq!(bodies[3]["data"]["status"], "completed");
    assert_eq!(bodies[4]["data"]["balance"]["available"], sle(2_500));
}

#[tokio::test]
async fn expiry_fires_on_time_on_every_node_and_once() {
    let fast = || ServerConfig { sweep_every: std::time::Duration::from_millis(50), ..Default::default() };
    let shop = Shop::open(fast()).await;
    let _second = match postgres_or_skip("expiry swept by two nodes") {
        Some(_) => {
            let mut config = fast();
            config.rate_limits.enabled = false;
            Some(shop.app.another_node(config).await)
        }
        None => None,
    };
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            shop.create_code(json!({"name": format!("Short {i}"), "amount": sle(100), "duration": "1s"})).await["id"]
                .clone(),
        );
    }
    let expired = eventually(std::time::Duration::from_secs(10), || async {
        let listed = shop.app.list_all("/v1/payment-codes", "&status=expired", &shop.token, &shop.owner.space).await;
        listed.len() == ids.len()
    })
    .await;
    assert!(expired, "every code expired on time without a request");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let names = shop.event_names().await;
    assert_eq!(
        names.iter().filter(|n| *n == "payment_code.expired").count(),
        ids.len(),
        "each expired once: {names:?}"
    );
}
