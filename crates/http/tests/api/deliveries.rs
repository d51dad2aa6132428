//! Webhook deliveries end to end: a real receiver on loopback gets signed envelopes, retried on
//! the published schedule (driven by a stepped clock, not slept through), never redirected,
//! never sent to a refused address, logged, redelivered, and made by one node at a time.

use crate::support::receiver::{Receiver, Reply, Silent, SmtpSink, SteppedClock};
use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::EventName;
use openmonime_domain::webhook::{ApiRelease, SigningMethod};
use openmonime_domain::webhook_signature;
use openmonime_domain::Environment;
use openmonime_http::delivery::alerts::Alerts;
use openmonime_http::ServerConfig;
use openmonime_store::webhooks::NewWebhook;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "whsec_0123456789abcdefghijklmnopqrstuvwxyz";

fn hook_body(url: &str, events: &[&str]) -> Value {
    json!({
        "name": "receiver", "url": url, "apiRelease": "caph", "events": events,
        "headers": {"X-Integrator": "shop-7"},
        "verificationMethod": {"type": "HS256", "secret": SECRET},
        "alertEmails": ["ops@example.com"],
    })
}

async fn create_hook(app: &TestApp, token: &str, owner: &Owner, body: &Value) -> Value {
    let (status, _, answer) = send(app.post("/v1/webhooks", token, &owner.space, body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["result"].clone()
}

/// The delivery log of `hook`, newest first.
async fn log_of(app: &TestApp, token: &str, owner: &Owner, hook: &str) -> Vec<Value> {
    app.list_all(&format!("/v1/webhooks/{hook}/deliveries"), "", token, &owner.space).await
}

/// Waits until the log holds `n` attempts.
async fn wait_for_log(app: &TestApp, token: &str, owner: &Owner, hook: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = log_of(app, token, owner, hook).await;
        if log.len() >= n {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected {n} attempts in the log, found {log:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn stepped() -> Arc<SteppedClock> {
    Arc::new(SteppedClock::default())
}

/// A webhook written straight to the store, past the API's rules: what a deployment's data can
/// hold after an operator's allowance is withdrawn or a name is re-pointed.
async fn stored_hook(app: &TestApp, tenant: &Tenant, url: String, events: Vec<EventName>) -> String {
    let new = NewWebhook {
        name: "stored".into(),
        url,
        enabled: true,
        events,
        api_release: ApiRelease::Caph,
        signing: SigningMethod::Hs256,
        signing_secret: SECRET.to_owned().into(),
        public_key: None,
        headers: Default::default(),
        alert_emails: Vec::new(),
        metadata: None,
    };
    match app.store().create_webhook(tenant, &new, None, |_| String::new(), &Actor::Operator).await.unwrap() {
        openmonime_store::Outcome::Fresh { value, .. } => value.id.to_string(),
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    }
}

#[tokio::test]
async fn a_delivery_is_signed_as_monime_signs_and_carries_the_envelope_and_custom_headers() {
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    let hook =
        create_hook(&app, &token, &owner, &hook_body(&receiver.url("/hooks"), &["financial_account.created"])).await;
    let account = app
        .create_account(&token, &owner.space, json!({"name": "till", "currency": "SLE", "metadata": {"order": "77"}}))
        .await;

    let got = receiver.wait_for(1).await;
    let delivery = &got[0];
    assert_eq!(delivery.path, "/hooks");
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    assert_eq!(delivery.header("x-integrator"), Some("shop-7"), "custom headers are sent");
    let header = delivery.header("monime-signature").expect("signed");
    let t: i64 = header.strip_prefix("t=").and_then(|r| r.split(',').next()).unwrap().parse().unwrap();
    webhook_signature::verify(header, SECRET.as_bytes(), &delivery.body, t, 300)
        .expect("verifies as Monime's plugins do");
    // Exactly the published construction: base64(HMAC-SHA256(secret, "<t>_<body>")).
    assert_eq!(header, webhook_signature::sign(SECRET.as_bytes(), t, &delivery.body));
    let mut tampered = delivery.body.to_vec();
    tampered[0] = b' ';
    assert!(webhook_signature::verify(header, SECRET.as_bytes(), &tampered, t, 300).is_err());

    let body = delivery.json();
    assert_eq!(body["apiVersion"], "caph");
    assert_eq!(body["event"]["name"], "financial_account.created");
    assert!(body["event"]["id"].as_str().unwrap().starts_with("evt-"), "{body}");
    assert!(openmonime_domain::time_fmt::parse_rfc3339(body["event"]["timestamp"].as_str().unwrap()).is_some());
    assert_eq!(body["object"], json!({"id": account["id"], "type": "financial_account"}));
    assert_eq!(body["data"]["id"], account["id"]);
    assert_eq!(body["data"]["metadata"], json!({"order": "77"}), "metadata round-trips into data");
    assert_eq!(body["data"]["uvan"], account["uvan"]);

    let log = wait_for_log(&app, &token, &owner, hook["id"].as_str().unwrap(), 1).await;
    assert_eq!(log[0]["outcome"], "delivered");
    assert_eq!(log[0]["statusCode"], 200);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["eventId"], body["event"]["id"]);
    assert_eq!(log[0]["responseHead"], "answer 200");
    assert!(log[0]["nextAttemptTime"].is_null(), "a delivered event is not tried again");
}

#[tokio::test]
async fn an_es256_webhook_is_verified_with_its_public_key() {
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    let mut body = hook_body(&receiver.url("/es"), &["financial_account.created"]);
    body["verificationMethod"] = json!({"type": "ES256"});
    let hook = create_hook(&app, &token, &owner, &body).await;
    let pem = hook["verificationMethod"]["publicKey"].as_str().unwrap().to_owned();
    app.create_account(&token, &owner.space, json!({"name": "es", "currency": "SLE"})).await;
    let got = receiver.wait_for(1).await;
    let header = got[0].header("monime-signature").unwrap();
    let t: i64 = header.strip_prefix("t=").and_then(|r| r.split(',').next()).unwrap().parse().unwrap();
    webhook_signature::verify_es256(header, &pem, &got[0].body, t, 300).expect("verifies with the shown key");
    assert!(webhook_signature::verify_es256(header, &pem, b"{}", t, 300).is_err());
}

#[tokio::test]
async fn a_webhook_receives_only_its_environments_events_and_only_those_it_subscribes_to() {
    let config = ServerConfig { webhook_allow_networks: vec!["127.0.0.0/8".parse().unwrap()], ..Default::default() };
    let app = TestApp::spawn_delivering(config, stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let test = app.token(&owner.monimeer).await;
    let live = app.live_token(&owner.monimeer).await;
    let (test_receiver, live_receiver) = (Receiver::start().await, Receiver::start().await);
    create_hook(&app, &test, &owner, &hook_body(&test_receiver.url("/t"), &["financial_account.created"])).await;
    // A live webhook must be https through the API; the fan-out is what is under test here.
    let live_tenant = Tenant { space_id: owner.space.clone(), environment: Environment::Live };
    stored_hook(&app, &live_tenant, live_receiver.url("/l"), vec![EventName::FinancialAccountCreated]).await;

    let in_test = app.create_account(&test, &owner.space, json!({"name": "t", "currency": "SLE"})).await;
    let in_live = app.create_account(&live, &owner.space, json!({"name": "l", "currency": "SLE"})).await;
    // A transfer's events are not subscribed to: they are not delivered.
    let main = app.main_account(&owner.space, Environment::Test).await;
    app.fund(&owner.space, Environment::Test, &main, 100).await;
    app.transfer(&test, &owner.space, main.as_str(), in_test["id"].as_str().unwrap(), 10).await;

    let t = test_receiver.wait_for(1).await;
    let l = live_receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (t, l) = (test_receiver.received().len().max(t.len()), live_receiver.received().len().max(l.len()));
    assert_eq!((t, l), (1, 1), "one event each, nothing else");
    assert_eq!(test_receiver.received()[0].json()["object"]["id"], in_test["id"]);
    assert_eq!(live_receiver.received()[0].json()["object"]["id"], in_live["id"]);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() {
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    receiver.script([Reply { location: Some("/elsewhere"), ..Reply::status(302) }]);
    let hook =
        create_hook(&app, &token, &owner, &hook_body(&receiver.url("/hooks"), &["financial_account.created"])).await;
    app.create_account(&token, &owner.space, json!({"name": "r", "currency": "SLE"})).await;
    let log = wait_for_log(&app, &token, &owner, hook["id"].as_str().unwrap(), 1).await;
    assert_eq!(log[0]["outcome"], "rejected");
    assert_eq!(log[0]["statusCode"], 302);
    assert!(log[0]["nextAttemptTime"].is_string(), "a redirect is retried on the schedule");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.received().iter().all(|r| r.path == "/hooks"), "/elsewhere is never requested");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn failures_and_timeouts_are_retried_on_the_published_schedule() {
    let clock = stepped();
    let mut config = ServerConfig::default();
    config.delivery.attempt_timeout = Duration::from_millis(400);
    config.delivery.lease = Duration::from_secs(5);
    let app = TestApp::spawn_delivering(config, clock.clone(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500), Reply { delay: Duration::from_secs(3), ..Reply::status(200) }]);
    let hook = create_hook(&app, &token, &owner, &hook_body(&receiver.url("/r"), &["financial_account.created"])).await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    app.create_account(&token, &owner.space, json!({"name": "retry", "currency": "SLE"})).await;

    let log = wait_for_log(&app, &token, &owner, &hook, 1).await;
    assert_eq!((log[0]["outcome"].as_str(), log[0]["statusCode"].as_u64()), (Some("rejected"), Some(500)));
    let gap = |a: &Value| {
        let at = |k: &str| openmonime_domain::time_fmt::parse_rfc3339(a[k].as_str().unwrap()).unwrap();
        (at("nextAttemptTime") - at("startTime")).as_seconds_f64()
    };
    let first_gap = gap(&log[0]);
    assert!((4.4..=5.6).contains(&first_gap), "the second attempt is 5 s ± 10 % later: {first_gap}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "nothing is retried before its time");

    clock.advance(time::Duration::seconds(6));
    let log = wait_for_log(&app, &token, &owner, &hook, 2).await;
    assert_eq!(log[0]["outcome"], "timeout", "{:?}", log[0]);
    assert_eq!(log[0]["attempt"], 2);
    let second_gap = gap(&log[0]);
    assert!((270.0..=330.0).contains(&second_gap), "the third attempt is 5 min ± 10 % later: {second_gap}");

    clock.advance(time::Duration::minutes(6));
    let log = wait_for_log(&app, &token, &owner, &hook, 3).await;
    assert_eq!((log[0]["outcome"].as_str(), log[0]["attempt"].as_u64()), (Some("delivered"), Some(3)));
    let ids: Vec<Value> = receiver.received().iter().map(|r| r.json()["event"]["id"].clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]), "every attempt carries the same event id: {ids:?}");
}

#[tokio::test]
async fn a_410_disables_the_webhook_journals_it_and_mails_its_alert_addresses() {
    let smtp = SmtpSink::start().await;
    let alerts = Alerts::smtp(&smtp.url(), "openmonime <alerts@openmonime.test>").unwrap();
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), alerts).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(410)]);
    let hook =
        create_hook(&app, &token, &owner, &hook_body(&receiver.url("/gone"), &["financial_account.created"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    app.create_account(&token, &owner.space, json!({"name": "g", "currency": "SLE"})).await;

    let path = format!("/v1/webhooks/{id}");
    let disabled = eventually(Duration::from_secs(10), || async {
        let (_, _, answer) = send(app.get(&path, &token, &owner.space)).await;
        answer["result"]["enabled"] == false
    })
    .await;
    assert!(disabled, "a 410 disables the webhook");
    let audit = app.list_all("/v1/audit-events", "", &token, &owner.space).await;
    let entry = audit.iter().find(|e| e["action"] == "webhook.disable").expect("the disabling is journalled");
    assert_eq!(entry["actor"], "webhook-delivery");
    let mailed = eventually(Duration::from_secs(10), || async { !smtp.mail.lock().unwrap().is_empty() }).await;
    assert!(mailed, "the alert address gets mail");
    let (to, data) = smtp.mail.lock().unwrap()[0].clone();
    assert!(to[0].contains("ops@example.com"), "{to:?}");
    assert!(data.contains("410 Gone") && data.contains(&id), "{data}");
    // The secret that signs the deliveries is in neither the mail, the log nor the audit record.
    let log = log_of(&app, &token, &owner, &id).await;
    for (what, text) in [("mail", data.clone()), ("log", json!(log).to_string()), ("audit", entry.to_string())] {
        assert!(!text.contains(SECRET), "the webhook's secret reached the {what}");
    }

    // Disabled: a new event is not delivered.
    app.create_account(&token, &owner.space, json!({"name": "after", "currency": "SLE"})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn five_days_of_failures_disable_the_webhook() {
    let clock = stepped();
    let app = TestApp::spawn_delivering(ServerConfig::default(), clock.clone(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    receiver.script((0..20).map(|_| Reply::status(503)));
    let hook =
        create_hook(&app, &token, &owner, &hook_body(&receiver.url("/down"), &["financial_account.created"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    app.create_account(&token, &owner.space, json!({"name": "d", "currency": "SLE"})).await;
    wait_for_log(&app, &token, &owner, &id, 1).await;
    clock.advance(time::Duration::days(4));
    wait_for_log(&app, &token, &owner, &id, 2).await;
    let (_, _, answer) = send(app.get(&format!("/v1/webhooks/{id}"), &token, &owner.space)).await;
    assert_eq!(answer["result"]["enabled"], true, "four days of failures are not yet five");
    clock.advance(time::Duration::days(1));
    wait_for_log(&app, &token, &owner, &id, 3).await;
    let disabled = eventually(Duration::from_secs(5), || async {
        let (_, _, answer) = send(app.get(&format!("/v1/webhooks/{id}"), &token, &owner.space)).await;
        answer["result"]["enabled"] == false
    })
    .await;
    assert!(disabled, "five days of failures disable the webhook");
}

#[tokio::test]
async fn the_log_lists_attempts_and_an_event_or_everything_since_a_time_is_redelivered() {
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let receiver = Receiver::start().await;
    let hook = create_hook(&app, &token, &owner, &hook_body(&receiver.url("/h"), &["financial_account.created"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    // After the Space's own main account was opened (an event too), before the two below.
    let since = openmonime_domain::time_fmt::rfc3339(openmonime_domain::time_fmt::now());
    for name in ["a", "b"] {
        app.create_account(&token, &owner.space, json!({"name": name, "currency": "SLE"})).await;
    }
    let first = receiver.wait_for(2).await;
    let event = first[0].json()["event"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/webhooks/{id}/redeliveries");

    let (status, _, answer) = send(app.post(&path, &token, &owner.space, &json!({"eventId": event}))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["queued"], 1);
    let again = receiver.wait_for(3).await;
    assert_eq!(again[2].json()["event"]["id"], event.as_str(), "a redelivery carries the same event id");

    let (status, _, answer) = send(app.post(&path, &token, &owner.space, &json!({"since": since}))).await;
    assert_eq!((status, answer["result"]["queued"].as_u64()), (200, Some(2)), "{answer}");
    receiver.wait_for(5).await;
    let log = wait_for_log(&app, &token, &owner, &id, 5).await;
    assert!(log.iter().all(|a| a["outcome"] == "delivered" && a["attempt"] == 1), "{log:?}");

    // Paged, newest first, with cursors bound to this webhook's log.
    let (_, _, page) = send(app.get(&format!("/v1/webhooks/{id}/deliveries?limit=2"), &token, &owner.space)).await;
    assert_eq!(page["result"].as_array().unwrap().len(), 2);
    assert!(page["pagination"]["next"].is_string(), "{page}");

    let bad = [
        (json!({}), "one_of_required"),
        (json!({"eventId": event, "since": since}), "one_of_required"),
        (json!({"since": "yesterday"}), "invalid_time"),
        (json!({"since": "2020-01-01T00:00:00Z"}), "out_of_range"),
        (json!({"eventId": "evt-no!pe"}), "invalid_id"),
    ];
    for (body, reason) in bad {
        let (status, _, answer) = send(app.post(&path, &token, &owner.space, &body)).await;
        let error = assert_error(status, &answer, 400, "validation_failed");
        assert_eq!(error["details"][0]["reason"], reason, "{answer}");
        assert_documented(reason);
    }
    let unknown = openmonime_domain::ids::EventId::generate().to_string();
    let (status, _, answer) = send(app.post(&path, &token, &owner.space, &json!({"eventId": unknown}))).await;
    assert_eq!(status, 404, "{answer}");
    let audit = app.list_all("/v1/audit-events", "", &token, &owner.space).await;
    assert_eq!(audit.iter().filter(|e| e["action"] == "webhook.redeliver").count(), 3, "each redelivery is journalled");
}

#[tokio::test]
async fn in_live_a_refused_address_is_refused_again_when_the_delivery_connects() {
    // The first node admitted the URLs (its operator allowed loopback) and does not deliver; the
    // second, which allows nothing, must refuse them at connect time, by literal and by name.
    let mut admitting = ServerConfig {
        webhook_allow_networks: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        ..Default::default()
    };
    admitting.delivery.enabled = false;
    let app = TestApp::spawn_delivering(admitting, stepped(), Alerts::none()).await;
    let strict = app.another_delivering_node(ServerConfig::default(), stepped()).await;
    let owner = app.owner().await;
    let live = app.live_token(&owner.monimeer).await;
    let silent = Silent::start().await;
    let port = silent.addr.port();
    let mut hooks = Vec::new();
    for url in [format!("https://127.0.0.1:{port}/x"), format!("https://localhost:{port}/x")] {
        let body = hook_body(&url, &["financial_account.created"]);
        hooks.push(create_hook(&app, &live, &owner, &body).await["id"].as_str().unwrap().to_owned());
    }
    app.create_account(&live, &owner.space, json!({"name": "ssrf", "currency": "SLE"})).await;
    for hook in &hooks {
        let log = wait_for_log(&strict, &live, &owner, hook, 1).await;
        assert_eq!(log[0]["outcome"], "destination_refused", "{:?}", log[0]);
        assert!(log[0]["statusCode"].is_null());
    }
    assert_eq!(silent.accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection was made");
}

#[tokio::test]
async fn two_nodes_never_both_make_one_attempt() {
    let app = TestApp::spawn_delivering(ServerConfig::default(), stepped(), Alerts::none()).await;
    let other = app.another_delivering_node(ServerConfig::default(), stepped()).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    // Each answer takes a moment, so both nodes are busy at once.
    let receiver = Receiver::start_with(Duration::from_millis(30)).await;
    create_hook(&app, &token, &owner, &hook_body(&receiver.url("/n"), &["financial_account.created"])).await;
    const EVENTS: usize = 40;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..EVENTS {
        let node = if i % 2 == 0 { &app } else { &other };
        let body = json!({"name": format!("n{i}"), "currency": "SLE"});
        creates.spawn(send(node.post("/v1/financial-accounts", &token, &owner.space, &body)));
    }
    while let Some(created) = creates.join_next().await {
        assert_eq!(created.unwrap().0, 200);
    }
    receiver.wait_for(EVENTS).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<String> =
        receiver.received().iter().map(|r| r.json()["event"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), EVENTS, "each event was delivered exactly once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "no event twice");
    let log = log_of(&app, &token, &owner, &{
        let (_, _, list) = send(app.get("/v1/webhooks", &token, &owner.space)).await;
        list["result"][0]["id"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(log.len(), EVENTS, "one attempt each in the log");
}

#[tokio::test]
async fn a_batch_of_attempts_is_recorded_as_each_alone_would_be() {
    // No worker runs here: the test claims and records by hand, as a worker does, in one batch
    // mixing a webhook deleted mid-attempt, a lease lost to a redelivery, and two 410s for one
    // webhook (disabled once, journalled once).
    let mut config = ServerConfig::default();
    config.delivery.enabled = false;
    let app = TestApp::spawn_delivering(config, stepped(), Alerts::none()).await;
    let owner = app.owner().await;
    let tenant = Tenant { space_id: owner.space.clone(), environment: Environment::Test };
    let names = vec![EventName::FinancialAccountCreated];
    let gone = stored_hook(&app, &tenant, "http://127.0.0.1:9/gone".into(), names.clone()).await;
    let healthy = stored_hook(&app, &tenant, "http://127.0.0.1:9/ok".into(), names.clone()).await;
    let doomed = stored_hook(&app, &tenant, "http://127.0.0.1:9/410".into(), names).await;
    let token = app.token(&owner.monimeer).await;
    for name in ["one", "two"] {
        app.create_account(&token, &owner.space, json!({"name": name, "currency": "SLE"})).await;
    }
    let now = openmonime_domain::time_fmt::now();
    let due = app.store().claim_due_deliveries(now, time::Duration::seconds(30), 100).await.unwrap();
    assert_eq!(due.len(), 6, "two events for each of three webhooks");
    let hook_id = |id: &str| openmonime_domain::ids::WebhookId::parse(id).unwrap();
    app.store().delete_webhook(&tenant, &hook_id(&gone), &Actor::Operator).await.unwrap();
    // Redelivering one of the healthy webhook's events takes its delivery away from this lease.
    let lost = due.iter().find(|d| d.webhook.as_str() == healthy).unwrap().event.id.clone();
    let redelivery = openmonime_store::deliveries::Redelivery::Event(lost.clone());
    app.store().redeliver(&tenant, &hook_id(&healthy), &redelivery, now, &Actor::Operator).await.unwrap();

    let report = |status| openmonime_store::deliveries::AttemptReport {
        started_at: now,
        duration_ms: 3,
        answer: openmonime_domain::webhook_retry::Answer::Status(status),
        response_head: None,
        error: None,
        finished_at: now,
        jitter: 0.0,
    };
    let batch: Vec<_> = due
        .into_iter()
        .map(|d| {
            let status = if d.webhook.as_str() == doomed { 410 } else { 200 };
            (d, report(status))
        })
        .collect();
    let recorded = app.store().record_attempts(&batch).await.unwrap();
    for ((due, _), recorded) in batch.iter().zip(&recorded) {
        let hook = due.webhook.as_str();
        let want_held = hook != gone && !(hook == healthy && due.event.id == lost);
        assert_eq!(recorded.held_lease, want_held, "{hook} {}", due.event.id);
    }
    let disabled: Vec<_> = recorded.iter().filter_map(|r| r.disabled.as_ref()).collect();
    assert_eq!(disabled.len(), 1, "disabled once");
    assert_eq!(disabled[0].webhook.as_str(), doomed);

    let log = |hook: String| {
        let token = token.clone();
        let app = &app;
        let owner = &owner;
        async move { log_of(app, &token, owner, &hook).await }
    };
    assert_eq!(log(healthy.clone()).await.len(), 2, "both attempts logged, the lost one too");
    let doomed_log = log(doomed.clone()).await;
    assert_eq!(doomed_log.len(), 2);
    // Still scheduled: a disabled webhook's deliveries wait for it to be enabled again.
    assert!(doomed_log.iter().all(|a| a["statusCode"] == 410 && a["nextAttemptTime"].is_string()), "{doomed_log:?}");
    let (_, _, hook) = send(app.get(&format!("/v1/webhooks/{doomed}"), &token, &owner.space)).await;
    assert_eq!(hook["result"]["enabled"], false);
    let audit = app.list_all("/v1/audit-events", "", &token, &owner.space).await;
    assert_eq!(audit.iter().filter(|e| e["action"] == "webhook.disable").count(), 1);
    // The redelivered event is due again, under no lease; the rest are done.
    let again = app.store().claim_due_deliveries(now, time::Duration::seconds(30), 100).await.unwrap();
    assert_eq!(
        again.iter().map(|d| (d.webhook.to_string(), d.event.id.clone())).collect::<Vec<_>>(),
        [(healthy, lost)]
    );
}
