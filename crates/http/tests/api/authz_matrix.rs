//! Issue 8: the authorization matrix, generated from the route table. Every route is tried under
//! every refusal condition and must answer the expected status and reason; a route missing from
//! [`shape`] fails the test, so no route can ship without appearing here.

use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::SpaceId;
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::Environment;
use openmonime_http::auth::Access;
use openmonime_http::handlers::route_table;
use serde_json::{json, Value};

/// Ids of one financial account, ledger entry and transfer in one tenant.
#[derive(Clone)]
struct Objects {
    account: String,
    transaction: String,
    transfer: String,
    webhook: String,
    payment_code: String,
    ussd_code: String,
    payment: String,
    otp: String,
    checkout: String,
    order_number: String,
    payout: String,
}

async fn objects_in(app: &TestApp, space: &SpaceId, environment: Environment) -> Objects {
    let tenant = Tenant { space_id: space.clone(), environment };
    let main = app.main_account(space, environment).await;
    app.fund(space, environment, &main, 1_000).await;
    let other = app
        .store()
        .create_account(
            &tenant,
            &openmonime_store::ledger::NewAccount {
                name: "o".into(),
                currency: openmonime_domain::money::Currency::Sle,
                reference: None,
                description: None,
                metadata: None,
            },
            None,
            |_| String::new(),
        )
        .await
        .unwrap();
    let other = match other {
        openmonime_store::Outcome::Fresh { value, .. } => value.id,
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    };
    let new = openmonime_store::ledger::NewTransfer {
        amount: openmonime_domain::money::Money { currency: openmonime_domain::money::Currency::Sle, value: 10 },
        source: main.clone(),
        destination: other,
        description: None,
        metadata: None,
    };
    let transfer =
        match app.store().create_transfer(&tenant, &new, None, None, |_| String::new()).await.unwrap().unwrap() {
            openmonime_store::Outcome::Fresh { value, .. } => value,
            openmonime_store::Outcome::Replayed { .. } => unreachable!(),
        };
    let page = app
        .store()
        .list_transactions(&tenant, &Default::default(), openmonime_store::PageRequest { after: None, limit: 1 })
        .await
        .unwrap();
    let webhook = match app
        .store()
        .create_webhook(&tenant, &webhook_fixture(), None, |_| String::new(), &Actor::Operator)
        .await
        .unwrap()
    {
        openmonime_store::Outcome::Fresh { value, .. } => value.id.to_string(),
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    };
    let (code, payment) = paid_code(app, &tenant).await;
    let otp = match app
        .store()
        .create_ussd_otp(
            &tenant,
            &openmonime_store::collections::NewUssdOtp {
                authorized_phone: "+23276000001".into(),
                verification_message: None,
                duration: time::Duration::minutes(5),
                metadata: None,
            },
            None,
            |_| String::new(),
        )
        .await
        .unwrap()
    {
        openmonime_store::Outcome::Fresh { value, .. } => value.id.to_string(),
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    };
    let (checkout, order_number) = paid_checkout(app, &tenant).await;
    let payout = pending_payout(app, &tenant).await;
    Objects {
        payout,
        checkout,
        order_number,
        account: main.to_string(),
        transaction: page.items[0].id.to_string(),
        transfer: transfer.id.to_string(),
        webhook,
        payment_code: code.id.to_string(),
        ussd_code: code.ussd_code,
        payment,
        otp,
    }
}

/// A pending payout of the tenant (funded from its main account), created through the store: a
/// live tenant too, though no rail would send it.
pub async fn pending_payout(app: &TestApp, tenant: &Tenant) -> String {
    use openmonime_domain::money::{Currency, Money};
    let new = openmonime_store::payouts::NewPayout {
        amount: Money { currency: Currency::Sle, value: 5 },
        source: None,
        destination: openmonime_domain::payout::Destination {
            kind: openmonime_domain::test_rail::ProviderKind::Momo,
            provider_id: "m17".into(),
            account: "+23276000001".into(),
            transaction_reference: None,
        },
        fees: Vec::new(),
        metadata: None,
    };
    match app.store().create_payout(tenant, &new, None, None, |_| String::new()).await.unwrap().unwrap() {
        openmonime_store::Outcome::Fresh { value, .. } => value.id.to_string(),
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    }
}

/// A checkout session of the tenant, paid through the store: its id and its receipt's order.
pub async fn paid_checkout(app: &TestApp, tenant: &Tenant) -> (String, String) {
    use openmonime_domain::money::{Currency, Money};
    let new = openmonime_store::collections::NewCheckoutSession {
        name: "matrix".into(),
        description: None,
        reference: None,
        cancel_url: None,
        success_url: None,
        callback_state: None,
        line_items: vec![openmonime_domain::checkout::LineItem {
            id: openmonime_domain::checkout::new_line_item_id(),
            name: "ticket".into(),
            price: Money { currency: Currency::Sle, value: 100 },
            quantity: 2,
            reference: None,
            description: None,
            images: None,
        }],
        account: None,
        payment_options: Default::default(),
        primary_color: None,
        metadata: None,
    };
    let session =
        match app.store().create_checkout_session(tenant, &new, None, |_| String::new()).await.unwrap().unwrap() {
            openmonime_store::Outcome::Fresh { value, .. } => value,
            openmonime_store::Outcome::Replayed { .. } => unreachable!(),
        };
    let attempt = openmonime_store::collections::CheckoutAttempt {
        outcome: openmonime_domain::test_rail::PayerOutcome::Succeeds,
        fees: &[],
        channel: openmonime_domain::payment::MomoChannel {
            provider: "m17".into(),
            reference: "MPMATRIX".into(),
            phone_masked: "+232****0001".into(),
            fingerprint: "f".repeat(32),
        },
    };
    app.store().pay_checkout(tenant, session.id.as_str(), &attempt).await.unwrap().unwrap();
    (session.id.to_string(), session.order_number)
}

/// A recurrent payment code of the tenant, paid once through the store (a live tenant too: the
/// store does not refuse live dials, only the HTTP helper does).
pub async fn paid_code(app: &TestApp, tenant: &Tenant) -> (openmonime_domain::payment_code::PaymentCode, String) {
    use openmonime_domain::money::{Currency, Money};
    let new = openmonime_store::collections::NewPaymentCode {
        mode: openmonime_domain::payment_code::PaymentCodeMode::Recurrent,
        name: Some("matrix".into()),
        amount: Money { currency: Currency::Sle, value: 100 },
        enabled: true,
        duration: time::Duration::hours(1),
        customer_name: None,
        reference: None,
        authorized_providers: None,
        authorized_phone: None,
        target: None,
        account: None,
        metadata: None,
    };
    let code = match app.store().create_payment_code(tenant, &new, None, |_| String::new()).await.unwrap().unwrap() {
        openmonime_store::Outcome::Fresh { value, .. } => value,
        openmonime_store::Outcome::Replayed { .. } => unreachable!(),
    };
    let dial = openmonime_store::collections::Dial {
        dial_string: &code.ussd_code,
        phone: "+23276000001",
        provider: "m17",
        amount: None,
        outcome: openmonime_domain::test_rail::PayerOutcome::Succeeds,
        fees: &[],
        channel: openmonime_domain::payment::MomoChannel {
            provider: "m17".into(),
            reference: "MPMATRIX".into(),
            phone_masked: "+232****0001".into(),
            fingerprint: "f".repeat(32),
        },
    };
    let paid = app.store().dial(tenant, &dial, None, |_| String::new()).await.unwrap().unwrap();
    let payment = match paid {
        openmonime_store::Outcome::Fresh {
            value: openmonime_store::collections::Dialed::Paid { payment, .. }, ..
        } => payment.id.to_string(),
        _ => unreachable!(),
    };
    (code, payment)
}

fn webhook_fixture() -> openmonime_store::webhooks::NewWebhook {
    openmonime_store::webhooks::NewWebhook {
        name: "matrix".into(),
        url: "https://1.1.1.1/hooks".into(),
        enabled: true,
        events: vec![openmonime_domain::event::EventName::InternalTransferCompleted],
        api_release: openmonime_domain::webhook::ApiRelease::Caph,
        signing: openmonime_domain::webhook::SigningMethod::Hs256,
        signing_secret: "s".repeat(32).into(),
        public_key: None,
        headers: Default::default(),
        alert_emails: Vec::new(),
        metadata: None,
    }
}

/// How to call a route: the concrete path for a tenant's objects, a valid body, and whether its
/// `{id}` names a tenant object (so another tenant's id must answer 404).
fn shape(operation: &str, o: &Objects) -> Option<(String, Option<Value>, bool)> {
    let transfer_body = json!({"amount": {"currency": "SLE", "value": 1}, "sourceFinancialAccount": {"id": o.account}, "destinationFinancialAccount": {"id": o.transfer.replace("trn-", "fac-")}});
    Some(match operation {
        "ListFinancialAccounts" => ("/v1/financial-accounts".into(), None, false),
        "CreateFinancialAccount" => {
            ("/v1/financial-accounts".into(), Some(json!({"name": "n", "currency": "SLE"})), false)
        }
        "GetFinancialAccount" => (format!("/v1/financial-accounts/{}", o.account), None, true),
        "UpdateFinancialAccount" => {
            (format!("/v1/financial-accounts/{}", o.account), Some(json!({"description": "d"})), true)
        }
        "ListFinancialTransactions" => ("/v1/financial-transactions".into(), None, false),
        "GetTransaction" => (format!("/v1/financial-transactions/{}", o.transaction), None, true),
        "ListInternalTransfers" => ("/v1/internal-transfers".into(), None, false),
        "CreateInternalTransfer" => ("/v1/internal-transfers".into(), Some(transfer_body), false),
        "GetInternalTransfer" => (format!("/v1/internal-transfers/{}", o.transfer), None, true),
        "PatchInternalTransfer" => {
            (format!("/v1/internal-transfers/{}", o.transfer), Some(json!({"description": "d"})), true)
        }
        "DeleteInternalTransfer" => (format!("/v1/internal-transfers/{}", o.transfer), None, true),
        "GetMe" => ("/v1/me".into(), None, false),
        "ListAccessTokens" => ("/v1/access-tokens".into(), None, false),
        "CreateAccessToken" => {
            ("/v1/access-tokens".into(), Some(json!({"name": "n", "permissions": ["catalog:read"]})), false)
        }
        "GetAccessToken" => ("/v1/access-tokens/tok-unknown0000000000000000".into(), None, false),
        "RevokeAccessToken" => ("/v1/access-tokens/tok-unknown0000000000000000/revoke".into(), Some(json!({})), false),
        "RotateAccessToken" => ("/v1/access-tokens/tok-unknown0000000000000000/rotate".into(), Some(json!({})), false),
        "ListSpaceMembers" => ("/v1/space-members".into(), None, false),
        "AddSpaceMember" => (
            "/v1/space-members".into(),
            Some(json!({"monimeerId": "mmr-unknown000000000000000", "role": "viewer"})),
            false,
        ),
        "UpdateSpaceMember" => {
            ("/v1/space-members/mmr-unknown000000000000000".into(), Some(json!({"role": "viewer"})), false)
        }
        "RemoveSpaceMember" => ("/v1/space-members/mmr-unknown000000000000000".into(), None, false),
        "ListSpaceRoles" => ("/v1/space-roles".into(), None, false),
        "CreateSpaceRole" => ("/v1/space-roles".into(), Some(json!({"name": "matrix", "permissions": []})), false),
        "UpdateSpaceRole" => ("/v1/space-roles/matrix".into(), Some(json!({"permissions": []})), false),
        "DeleteSpaceRole" => ("/v1/space-roles/matrix".into(), None, false),
        "GetSpacePolicies" | "UpdateSpacePolicies" => ("/v1/space-policies".into(), Some(json!({})), false),
        "ListAuditEvents" => ("/v1/audit-events".into(), None, false),
        "ListMyTokenAuditEvents" => ("/v1/me/audit-events".into(), None, false),
        "ListWebhooks" => ("/v1/webhooks".into(), None, false),
        "CreateWebhook" => (
            "/v1/webhooks".into(),
            Some(
                json!({"name": "n", "url": "http://127.0.0.1:9/h", "apiRelease": "caph", "events": ["internal_transfer.completed"]}),
            ),
            false,
        ),
        "GetWebhook" => (format!("/v1/webhooks/{}", o.webhook), None, true),
        "UpdateWebhook" => (format!("/v1/webhooks/{}", o.webhook), Some(json!({"name": "m"})), true),
        "DeleteWebhook" => (format!("/v1/webhooks/{}", o.webhook), None, true),
        "ListWebhookDeliveries" => (format!("/v1/webhooks/{}/deliveries", o.webhook), None, true),
        "RedeliverWebhookEvents" => {
            let since =
                openmonime_domain::time_fmt::rfc3339(openmonime_domain::time_fmt::now() - time::Duration::hours(1));
            (format!("/v1/webhooks/{}/redeliveries", o.webhook), Some(json!({"since": since})), true)
        }
        "ListPaymentCodes" => ("/v1/payment-codes".into(), None, false),
        "CreatePaymentCode" => (
            "/v1/payment-codes".into(),
            Some(json!({"name": "matrix", "amount": {"currency": "SLE", "value": 100}})),
            false,
        ),
        "GetPaymentCode" | "DeletePaymentCode" => (format!("/v1/payment-codes/{}", o.payment_code), None, true),
        "UpdatePaymentCode" => {
            (format!("/v1/payment-codes/{}", o.payment_code), Some(json!({"name": "renamed"})), true)
        }
        "ListPayments" => ("/v1/payments".into(), None, false),
        "GetPayment" => (format!("/v1/payments/{}", o.payment), None, true),
        "UpdatePayment" => (format!("/v1/payments/{}", o.payment), Some(json!({"name": "n"})), true),
        "ListPayouts" => ("/v1/payouts".into(), None, false),
        "CreatePayout" => (
            "/v1/payouts".into(),
            Some(
                json!({"amount": {"currency": "SLE", "value": 1}, "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "+23276000001"}}),
            ),
            false,
        ),
        "GetPayout" | "DeletePayout" => (format!("/v1/payouts/{}", o.payout), None, true),
        "UpdatePayout" => (format!("/v1/payouts/{}", o.payout), Some(json!({"metadata": {"k": "v"}})), true),
        "ListUSSDOTPs" => ("/v1/ussd-otps".into(), None, false),
        "CreateUSSDOTP" => ("/v1/ussd-otps".into(), Some(json!({"authorizedPhoneNumber": "+23276000001"})), false),
        "GetUSSDOTP" | "DeleteUSSDOTP" => (format!("/v1/ussd-otps/{}", o.otp), None, true),
        "DialUssd" => (
            "/v1/test-helpers/ussd/dial".into(),
            Some(json!({"dialString": o.ussd_code, "phoneNumber": "+23276000001", "providerId": "m17"})),
            false,
        ),
        "AdvanceTestClock" => ("/v1/test-helpers/clock/advance".into(), Some(json!({"seconds": 1})), false),
        "ListCheckoutSessions" => ("/v1/checkout-sessions".into(), None, false),
        "CreateCheckoutSession" => (
            "/v1/checkout-sessions".into(),
            Some(
                json!({"name": "matrix", "lineItems": [{"name": "ticket", "price": {"currency": "SLE", "value": 100}}]}),
            ),
            false,
        ),
        "GetCheckoutSession" | "DeleteCheckoutSession" => (format!("/v1/checkout-sessions/{}", o.checkout), None, true),
        "RetrieveReceipt" => (format!("/v1/receipts/{}", o.order_number), None, true),
        "RedeemReceipt" => (format!("/v1/receipts/{}/redeem", o.order_number), Some(json!({"redeemAll": true})), true),
        "ListBanks" => ("/v1/banks?country=SL".into(), None, false),
        "GetBank" => ("/v1/banks/slb001".into(), None, false),
        "ListCountries" => ("/v1/countries".into(), None, false),
        "GetCountry" => ("/v1/countries/SL".into(), None, false),
        "ListMomos" => ("/v1/momos?country=SL".into(), None, false),
        "GetMomo" => ("/v1/momos/m17".into(), None, false),
        "GetProviderKYC" => ("/v1/provider-kyc/m17?accountId=%2B23276000001".into(), None, false),
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_refuses_every_condition_with_the_expected_reason() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let mine = objects_in(&app, &owner.space, Environment::Test).await;
    let live = objects_in(&app, &owner.space, Environment::Live).await;
    let elsewhere = app.owner().await;
    let theirs = objects_in(&app, &elsewhere.space, Environment::Test).await;
    app.store()
        .create_role(&owner.space, &RoleName::stored("nothing"), PermissionSet::EMPTY, &Actor::Operator)
        .await
        .unwrap();
    let powerless = app.member(&owner.space, "nothing").await;
    let everything = PermissionSet::all();

    let plain = |spec: TokenSpec| TokenSpec { environment: Environment::Test, ..spec };
    let (valid, _) = app.token_with(&owner.monimeer, plain(TokenSpec::default())).await;
    let (expired, _) = app
        .token_with(
            &owner.monimeer,
            TokenSpec { expires_at: now_plus(time::Duration::seconds(-1)), ..Default::default() },
        )
        .await;
    let (revoked, revoked_id) = app.token_with(&owner.monimeer, TokenSpec::default()).await;
    app.store().revoke_token(&revoked_id, &Actor::Operator).await.unwrap();
    let departed = app.member(&owner.space, "owner").await;
    let (offboarded, _) = app.token_with(&departed, TokenSpec::default()).await;
    app.store().offboard_monimeer(&departed, &Actor::Operator).await.unwrap();
    // Bound to another Space the owner also owns: binding needs membership, so the binding
    // refusal is tested with a Space the caller belongs to but did not name.
    let second = app.store().create_space("Second Space", &owner.monimeer, &Actor::Operator).await.unwrap();
    let (bound_elsewhere, _) =
        app.token_with(&owner.monimeer, TokenSpec { space: Some(second.id.clone()), ..Default::default() }).await;
    let (allowlisted, _) = app
        .token_with(
            &owner.monimeer,
            TokenSpec { allowed_ips: vec!["203.0.113.0/24".parse().unwrap()], ..Default::default() },
        )
        .await;
    let (role_lacks, _) = app.token_with(&powerless, TokenSpec { permissions: everything, ..Default::default() }).await;
    let mut garbled = valid.clone();
    let last = garbled.pop().unwrap();
    garbled.push(if last == 'A' { 'B' } else { 'A' });
    let unknown_space = SpaceId::generate();

    let routes = route_table();
    assert!(routes.len() >= 28, "the matrix covers {} routes", routes.len());
    let mut checked = 0;
    for route in &routes {
        let name = route.operation;
        let (path, body, tenant_object) =
            shape(name, &mine).unwrap_or_else(|| panic!("{name} is missing from the authorization matrix"));
        let space_scoped = matches!(route.access, Access::Space(_));
        let call = |token: Option<&str>, space: &SpaceId, path: &str| {
            let mut req = app.client.request(route.method.clone(), app.url(path)).header("Idempotency-Key", idem_key());
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if space_scoped || name == "GetMe" {
                req = req.header("Monime-Space-Id", space.as_str());
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            req
        };
        let expect = |label: &str, status: u16, body: &Value, want: u16, reason: &str| {
            assert_eq!(
                (status, body["error"]["reason"].as_str()),
                (want, Some(reason)),
                "{name} under `{label}`: {body}"
            );
        };

        let cases: Vec<(&str, Option<&str>, u16, &str)> = vec![
            ("no token", None, 401, "authorization_missing"),
            ("bad checksum", Some(&garbled), 401, "token_checksum_invalid"),
            ("expired", Some(&expired), 401, "token_expired"),
            ("revoked", Some(&revoked), 401, "token_revoked"),
            ("offboarded owner", Some(&offboarded), 401, "token_owner_offboarded"),
        ];
        for (label, token, want, reason) in cases {
            let (status, _, b) = send(call(token, &owner.space, &path)).await;
            expect(label, status, &b, want, reason);
        }

        // IP allowlist, directly and with a spoofed X-Forwarded-For from an untrusted peer.
        let (status, _, b) = send(call(Some(&allowlisted), &owner.space, &path)).await;
        expect("IP outside allowlist", status, &b, 403, "ip_not_allowed");
        let (status, _, b) =
            send(call(Some(&allowlisted), &owner.space, &path).header("X-Forwarded-For", "203.0.113.9")).await;
        expect("spoofed X-Forwarded-For", status, &b, 403, "ip_not_allowed");

        // The token lacks exactly this route's permission.
        if let Some(needed) = route.access.permission() {
            let lacking: PermissionSet = Permission::ALL.iter().copied().filter(|p| *p != needed).collect();
            let (t, _) =
                app.token_with(&owner.monimeer, TokenSpec { permissions: lacking, ..Default::default() }).await;
            let (status, _, b) = send(call(Some(&t), &owner.space, &path)).await;
            expect("token lacks permission", status, &b, 403, "permission_denied");
            assert_eq!(b["error"]["details"][0]["missingFrom"], "token", "{name}");
        }

        if space_scoped {
            let (status, _, b) = send(call(Some(&valid), &unknown_space, &path)).await;
            expect("unknown Space", status, &b, 403, "space_access_denied");
            let (status, _, b) = send(call(Some(&bound_elsewhere), &owner.space, &path)).await;
            expect("Space binding mismatch", status, &b, 403, "token_space_mismatch");
            let (status, _, b) = send(call(Some(&role_lacks), &owner.space, &path)).await;
            expect("role lacks permission", status, &b, 403, "permission_denied");
            assert_eq!(b["error"]["details"][0]["missingFrom"], "role", "{name}");
        }

        if tenant_object {
            let other_env = shape(name, &live).unwrap().0;
            let (status, _, b) = send(call(Some(&valid), &owner.space, &other_env)).await;
            expect("wrong environment's object", status, &b, 404, "not_found");
            let other_space = shape(name, &theirs).unwrap().0;
            let (status, _, b) = send(call(Some(&valid), &owner.space, &other_space)).await;
            expect("other Space's object", status, &b, 404, "not_found");
        }
        checked += 1;
    }
    assert_eq!(checked, routes.len());
}
