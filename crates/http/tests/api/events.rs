//! The events outbox: every change the outside world hears of writes its events in its own
//! transaction, per environment, once per effect (a replay publishes nothing new).

use crate::support::*;
use openmonime_domain::entities::{Tenant, TransferStatus};
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::{FinancialAccountId, SpaceId};
use openmonime_domain::Environment;
use openmonime_store::events::StoredEvent;
use serde_json::json;

async fn events(app: &TestApp, space: &SpaceId, environment: Environment) -> Vec<StoredEvent> {
    let tenant = Tenant { space_id: space.clone(), environment };
    app.store().list_events(&tenant, None, 100).await.unwrap()
}

fn names(events: &[StoredEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

/// A Space whose test main account holds 1 000 and a second, empty account created through the
/// API: the token, the main account and the second account's id.
async fn funded_pair() -> (TestApp, Owner, String, FinancialAccountId, String) {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let main = app.main_account(&owner.space, Environment::Test).await;
    app.fund(&owner.space, Environment::Test, &main, 1_000).await;
    let second = app.create_account(&token, &owner.space, json!({"name": "second", "currency": "SLE"})).await;
    let second = second["id"].as_str().unwrap().to_owned();
    (app, owner, token, main, second)
}

#[tokio::test]
async fn money_movements_publish_their_events_in_their_own_environment() {
    let (app, owner, token, main, second_id) = funded_pair().await;
    let done = app.transfer(&token, &owner.space, main.as_str(), &second_id, 400).await;
    let failed = app.transfer(&token, &owner.space, main.as_str(), &second_id, 10_000).await;
    assert_eq!(failed["status"], "failed");

    let test = events(&app, &owner.space, Environment::Test).await;
    assert_eq!(
        names(&test),
        [
            "financial_account.created", // the Space's main account
            "financial_account.credited",
            "financial_account.created",
            "internal_transfer.completed",
            "financial_account.debited",
            "financial_account.credited",
            "internal_transfer.failed",
        ]
    );
    // Each snapshot is the object as its change left it.
    let Snapshot::InternalTransfer(completed) = &test[3].snapshot else { panic!("{:?}", test[3]) };
    assert_eq!(completed.id.as_str(), done["id"]);
    assert_eq!(completed.status, TransferStatus::Completed);
    let Snapshot::FinancialAccount(debited) = &test[4].snapshot else { panic!("{:?}", test[4]) };
    assert_eq!((debited.id.as_str(), debited.balance), (main.as_str(), 600));
    let Snapshot::FinancialAccount(credited) = &test[5].snapshot else { panic!("{:?}", test[5]) };
    assert_eq!((credited.id.as_str(), credited.balance), (second_id.as_str(), 400));
    let Snapshot::InternalTransfer(refused) = &test[6].snapshot else { panic!("{:?}", test[6]) };
    assert_eq!(refused.id.as_str(), failed["id"]);
    // Stable, distinct ids, in commit order.
    let mut ids: Vec<_> = test.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), test.len());
    assert!(test.windows(2).all(|w| w[0].seq < w[1].seq));

    // Live has only its own main account's creation; another Space sees none of these.
    let live = events(&app, &owner.space, Environment::Live).await;
    assert_eq!(names(&live), ["financial_account.created"]);
    let other = app.owner().await;
    assert_eq!(events(&app, &other.space, Environment::Test).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_transfer_publishes_nothing_new() {
    let (app, owner, token, main, second) = funded_pair().await;
    let body = json!({
        "amount": {"currency": "SLE", "value": 100},
        "sourceFinancialAccount": {"id": main.as_str()},
        "destinationFinancialAccount": {"id": second},
    });
    let key = idem_key();
    for _ in 0..3 {
        let req = app.req(reqwest::Method::POST, "/v1/internal-transfers", &token, &owner.space);
        let (status, _, answer) = send(req.header("Idempotency-Key", &key).json(&body)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let test = events(&app, &owner.space, Environment::Test).await;
    let completed = test.iter().filter(|e| e.name == EventName::InternalTransferCompleted).count();
    assert_eq!(completed, 1, "{:?}", names(&test));
}
