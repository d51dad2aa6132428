//! Each change and its audit record commit in one transaction: when the journal cannot be
//! written the change is rolled back; a decision reads the state it depends on inside its write.

use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::SpaceId;
use openmonime_domain::Environment;
use openmonime_http::ServerConfig;
use openmonime_store::Backend;
use reqwest::Method;
use serde_json::json;

/// Makes every audit insert for `space` fail, as a full disk or a broken journal table would;
/// returns the trigger's name, to drop it with [`unrefuse`].
async fn refuse_journal_for(app: &TestApp, space: &SpaceId) -> String {
    let name = format!("journal_refuses_{}", space.as_str().replace('-', "_").to_lowercase());
    let pool = app.store().pool();
    match app.store().backend() {
        Backend::Sqlite => {
            let sql = format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON audit_events WHEN NEW.space_id = '{space}' \
                 BEGIN SELECT RAISE(ABORT, 'the journal refuses'); END",
                space = space.as_str()
            );
            sqlx::query(&sql).execute(pool).await.unwrap();
        }
        Backend::Postgres => {
            let function = format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.space_id = '{space}' THEN RAISE EXCEPTION 'the journal refuses'; END IF; \
                 RETURN NEW; END $$",
                space = space.as_str()
            );
            sqlx::query(&function).execute(pool).await.unwrap();
            let trigger =
                format!("CREATE TRIGGER {name} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION {name}()");
            sqlx::query(&trigger).execute(pool).await.unwrap();
        }
    }
    name
}

async fn unrefuse(app: &TestApp, name: &str) {
    let pool = app.store().pool();
    match app.store().backend() {
        Backend::Sqlite => {
            sqlx::query(&format!("DROP TRIGGER {name}")).execute(pool).await.unwrap();
        }
        Backend::Postgres => {
            sqlx::query(&format!("DROP TRIGGER {name} ON audit_events")).execute(pool).await.unwrap();
            sqlx::query(&format!("DROP FUNCTION {name}()")).execute(pool).await.unwrap();
        }
    }
}

fn test_tenant(space: &SpaceId) -> Tenant {
    Tenant { space_id: space.clone(), environment: Environment::Test }
}

#[tokio::test]
async fn a_change_whose_audit_record_fails_is_rolled_back() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.live_token(&owner.monimeer).await;
    let newcomer = app.store().create_monimeer("Newcomer", None).await.unwrap();
    let main = app.main_account(&owner.space, Environment::Test).await;
    let policy_before = app.store().get_policy(&owner.space).await.unwrap();
    let events_before = app.store().list_events(&test_tenant(&owner.space), None, 100).await.unwrap();
    let trigger = refuse_journal_for(&app, &owner.space).await;

    let attempts = [
        (Method::POST, "/v1/space-roles", json!({"name": "doomed", "permissions": ["catalog:read"]})),
        (Method::PATCH, "/v1/space-policies", json!({"maxTokenLifetimeSeconds": 3600})),
        (Method::POST, "/v1/space-members", json!({"monimeerId": newcomer.id, "role": "viewer"})),
    ];
    for (method, path, body) in attempts {
        let (status, _, answer) = send(app.req(method.clone(), path, &token, &owner.space).json(&body)).await;
        assert_error(status, &answer, 500, "internal_error");
        assert!(!answer.to_string().contains("journal refuses"), "no database text reaches the client: {answer}");
    }
    let tenant = Tenant { space_id: owner.space.clone(), environment: Environment::Test };
    let credited = app.store().credit_account(&tenant, &main, 500, None, &Actor::Operator).await;
    assert!(credited.is_err(), "a credit without its audit record must not commit");

    let roles = app.store().list_roles(&owner.space).await.unwrap();
    assert!(roles.iter().all(|r| r.name != "doomed"), "the role was rolled back");
    assert_eq!(app.store().get_policy(&owner.space).await.unwrap(), policy_before, "the policy was rolled back");
    let members = app.store().list_members(&owner.space).await.unwrap();
    assert!(members.iter().all(|m| m.monimeer_id != newcomer.id), "the membership was rolled back");
    let test_token = app.token(&owner.monimeer).await;
    assert_eq!(app.balance(&test_token, &owner.space, main.as_str()).await, 0, "the credit was rolled back");
    let events_after = app.store().list_events(&test_tenant(&owner.space), None, 100).await.unwrap();
    assert_eq!(events_after, events_before, "a rolled-back change publishes no event");

    // With the journal writable again, the same changes commit, each with its record.
    unrefuse(&app, &trigger).await;
    let (status, _, body) = send(
        app.req(Method::POST, "/v1/space-roles", &token, &owner.space)
            .json(&json!({"name": "doomed", "permissions": ["catalog:read"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, log) = send(app.req(Method::GET, "/v1/audit-events?action=role.create", &token, &owner.space)).await;
    let records = log["result"].as_array().unwrap();
    assert_eq!(records.len(), 1, "one record for the one committed change: {log}");
    assert_eq!(records[0]["subject"], "doomed");
}

#[tokio::test]
async fn concurrent_patches_of_different_policy_fields_on_two_nodes_both_hold() {
    let a = TestApp::spawn().await;
    let mut config = ServerConfig::default();
    config.rate_limits.enabled = false;
    let b = a.another_node(config).await;
    let owner = a.owner().await;
    // A token the policies set below still admit: bound to the Space, expiring within a day.
    let expires_at = Some(openmonime_domain::time_fmt::now() + time::Duration::days(1));
    let spec = TokenSpec {
        environment: Environment::Live,
        expires_at,
        space: Some(owner.space.clone()),
        ..TokenSpec::default()
    };
    let (token, _) = a.token_with(&owner.monimeer, spec).await;
    for round in 0..20_i64 {
        let lifetime = 7 * 86_400 + round;
        let allow = round % 2 == 0;
        let (first, second) = tokio::join!(
            send(
                a.req(Method::PATCH, "/v1/space-policies", &token, &owner.space)
                    .json(&json!({"maxTokenLifetimeSeconds": lifetime}))
            ),
            send(
                b.req(Method::PATCH, "/v1/space-policies", &token, &owner.space)
                    .json(&json!({"allowUnboundTokens": allow}))
            ),
        );
        assert_eq!(first.0, 200, "{}", first.2);
        assert_eq!(second.0, 200, "{}", second.2);
        let policy = a.store().get_policy(&owner.space).await.unwrap();
        assert_eq!(policy.max_token_lifetime_seconds, Some(lifetime), "round {round}: a patch was lost");
        assert_eq!(policy.allow_unbound_tokens, allow, "round {round}: a patch was lost");
    }
}
