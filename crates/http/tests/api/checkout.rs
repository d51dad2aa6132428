//! Issue 17: checkout sessions, their hosted page (driven here as a browser would with a plain
//! HTTP client: cookies, forms, redirects), receipts and their redemption under concurrency, and
//! the handset simulator. The page in a real browser is `browser/` (run by `.ci/run`).

use crate::support::openapi::spec;
use crate::support::*;
use openmonime_domain::entities::Tenant;
use openmonime_domain::Environment;
use openmonime_http::ServerConfig;
use serde_json::{json, Value};

struct Shop {
    app: TestApp,
    owner: Owner,
    token: String,
    /// A client that follows no redirect and keeps no cookie: the tests carry the cookie.
    browser: reqwest::Client,
}

impl Shop {
    async fn open() -> Shop {
        let app = TestApp::spawn_with(ServerConfig::default(), None).await;
        let owner = app.owner().await;
        let token = app.token(&owner.monimeer).await;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Shop { app, owner, token, browser }
    }

    async fn create(&self, body: Value) -> Value {
        let (status, _, res) =
            send(self.app.post("/v1/checkout-sessions", &self.token, &self.owner.space, &body)).await;
        assert_eq!(status, 200, "create checkout session: {res}");
        spec().check("CreateCheckoutSession", &res);
        res["result"].clone()
    }

    async fn session(&self, id: &Value) -> Value {
        let path = format!("/v1/checkout-sessions/{}", id.as_str().unwrap());
        let (status, _, res) = send(self.app.get(&path, &self.token, &self.owner.space)).await;
        assert_eq!(status, 200, "{res}");
        spec().check("GetCheckoutSession", &res);
        res["result"].clone()
    }

    /// Opens the page: its status, its HTML, the CSRF value of its forms and the cookie set.
    async fn visit(&self, url: &str) -> (u16, reqwest::header::HeaderMap, String, String) {
        let res = self.browser.get(url).send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let html = res.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .unwrap_or_default();
        (status, headers, html, csrf)
    }

    /// Submits a form of the page, with the page's cookie.
    async fn submit(&self, url: &str, csrf: &str, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf)];
        form.extend_from_slice(fields);
        let res =
            self.browser.post(url).header("Cookie", format!("om_checkout={csrf}")).form(&form).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location, res.text().await.unwrap())
    }

    async fn event_names(&self) -> Vec<String> {
        let tenant = Tenant { space_id: self.owner.space.clone(), environment: Environment::Test };
        let events = self.app.store().list_events(&tenant, None, 500).await.unwrap();
        events.iter().map(|e| e.name.as_str().to_owned()).filter(|n| n != "financial_account.created").collect()
    }
}

fn basket() -> Value {
    json!({
        "name": "Freetown Music Festival",
        "description": "Two day passes and a programme",
        "successUrl": "https://shop.example/paid?order=7",
        "cancelUrl": "https://shop.example/cart",
        "callbackState": "cart-7 & more",
        "lineItems": [
            {"type": "custom", "name": "Day pass", "price": {"currency": "SLE", "value": 25_000}, "quantity": 2},
            {"name": "Programme", "price": {"currency": "SLE", "value": 1_050}}
        ],
        "brandingOptions": {"primaryColor": "#7a1fa2"},
        "metadata": {"cart": "7"}
    })
}

#[tokio::test]
async fn a_customer_pays_on_the_hosted_page_after_a_decline_and_returns_with_callback_state() {
    let shop = Shop::open().await;
    let session = shop.create(basket()).await;
    assert_eq!(session["status"], "pending");
    assert!(session.get("callbackState").is_none(), "never shown in reads");
    assert_eq!(session["lineItems"]["data"][0]["type"], "custom");
    assert!(session["lineItems"]["data"][0]["id"].as_str().unwrap().starts_with("itm-"));
    let url = session["redirectUrl"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 43, "the link is a 256-bit capability");
    assert!(!token.contains(session["id"].as_str().unwrap()), "not derived from the id");

    let (status, headers, html, csrf) = shop.visit(&url).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; style-src 'nonce-"), "{csp}");
    assert!(csp.contains("form-action 'self' https://shop.example"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["set-cookie"].to_str().unwrap().contains("HttpOnly; SameSite=Strict"));
    assert!(html.len() < 50 * 1024, "the page is {} bytes", html.len());
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("SLE 510.50"), "the total in the currency's format");
    assert!(html.contains("Day pass") && html.contains("× 2 at SLE 250.00"));
    assert!(html.contains("--brand: #7a1fa2"), "in the Space's colour");
    assert!(html.contains("value=\"m17\"") && html.contains("value=\"m18\""), "the momos it offers");
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(!html.contains("cart-7"), "callbackState is not on the page");

    // A declined payment: the page says so and the customer can try again.
    let pay = format!("{url}/pay");
    let (status, _, html) = shop.submit(&pay, &csrf, &[("providerId", "m17"), ("phoneNumber", "+23277000093")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("declined the payment (fund_insufficient)"), "{html}");
    assert!(html.contains("role=\"alert\""));
    assert_eq!(shop.session(&session["id"]).await["status"], "pending");
    let (status, _, res) = send(shop.app.req(
        reqwest::Method::DELETE,
        &format!("/v1/checkout-sessions/{}", session["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
    ))
    .await;
    assert_error(status, &res, 409, "checkout_session_started");

    let (status, location, _) = shop.submit(&pay, &csrf, &[("providerId", "m18"), ("phoneNumber", "076000001")]).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("https://shop.example/paid?order=7&callbackState=cart-7+%26+more"));
    let done = shop.session(&session["id"]).await;
    assert_eq!(done["status"], "completed");
    let order = done["orderNumber"].as_str().unwrap();

    let (status, _, receipt) =
        send(shop.app.get(&format!("/v1/receipts/{order}"), &shop.token, &shop.owner.space)).await;
    assert_eq!(status, 200, "{receipt}");
    spec().check("RetrieveReceipt", &receipt);
    assert_eq!(receipt["result"]["status"], "not_redeemed");
    assert_eq!(receipt["result"]["orderAmount"], json!({"currency": "SLE", "value": 51_050}));
    assert_eq!(receipt["result"]["entitlements"][0]["limit"], 2);
    let payments =
        shop.app.list_all("/v1/payments", &format!("&orderNumber={order}"), &shop.token, &shop.owner.space).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["ownershipGraph"]["owner"]["type"], "checkout_session");
    assert_eq!(payments[0]["amount"]["value"], 51_050);
    assert_eq!(
        shop.event_names().await,
        ["payment.created", "payment.completed", "financial_account.credited", "checkout_session.completed"]
    );
    assert!(shop.app.store().verify_ledger().await.unwrap().is_consistent());

    // The link no longer takes a payment; it still confirms the order.
    let (status, _, html, _) = shop.visit(&url).await;
    assert_eq!(status, 200);
    assert!(html.contains("Paid.") && !html.contains("name=\"phoneNumber\""));
    let (status, location, _) = shop.submit(&pay, &csrf, &[("providerId", "m17"), ("phoneNumber", "076000001")]).await;
    assert_eq!((status, location.as_deref()), (303, Some(url.as_str())));
    assert_eq!(shop.app.list_all("/v1/payments", "", &shop.token, &shop.owner.space).await.len(), 1);
}

#[tokio::test]
async fn the_page_refuses_forms_without_its_cookie_and_unknown_links() {
    let shop = Shop::open().await;
    let session = shop.create(basket()).await;
    let url = session["redirectUrl"].as_str().unwrap();
    let (_, _, _, csrf) = shop.visit(url).await;
    // A cross-site form carries no cookie (SameSite=Strict): refused, and nothing is paid.
    let res = shop
        .browser
        .post(format!("{url}/pay"))
        .form(&[("csrf", csrf.as_str()), ("providerId", "m17"), ("phoneNumber", "+23276000001")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = shop
        .browser
        .post(format!("{url}/cancel"))
        .header("Cookie", "om_checkout=another0000000000000000")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(shop.session(&session["id"]).await["status"], "pending");
    let bogus = format!("{}/checkout/{}", shop.app.url(""), "A".repeat(43));
    let (status, _, html, _) = shop.visit(&bogus).await;
    assert_eq!(status, 404);
    assert!(html.contains("not valid"));
}

#[tokio::test]
async fn the_customer_cancels_or_the_session_expires_on_the_test_clock() {
    let shop = Shop::open().await;
    let session = shop.create(basket()).await;
    let url = session["redirectUrl"].as_str().unwrap();
    let (_, _, _, csrf) = shop.visit(url).await;
    let (status, location, _) = shop.submit(&format!("{url}/cancel"), &csrf, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("https://shop.example/cart?callbackState=cart-7+%26+more"));
    assert_eq!(shop.session(&session["id"]).await["status"], "cancelled");
    let (status, _, html, _) = shop.visit(url).await;
    assert_eq!(status, 410, "an ended session's link stops working");
    assert!(html.contains("cancelled") && !html.contains("name=\"phoneNumber\""));

    let unpaid = shop
        .create(
            json!({"name": "Unpaid", "lineItems": [{"name": "x", "price": {"currency": "SLE", "value": 500_000_000}}]}),
        )
        .await;
    let expire = openmonime_domain::time_fmt::parse_rfc3339(unpaid["expireTime"].as_str().unwrap()).unwrap();
    let create = openmonime_domain::time_fmt::parse_rfc3339(unpaid["createTime"].as_str().unwrap()).unwrap();
    assert_eq!(expire - create, time::Duration::hours(1), "the documented lifetime");
    let body = json!({"seconds": 3_600});
    let (status, _, _) =
        send(shop.app.post("/v1/test-helpers/clock/advance", &shop.token, &shop.owner.space, &body)).await;
    assert_eq!(status, 200);
    assert_eq!(shop.session(&unpaid["id"]).await["status"], "expired");
    let (status, _, _, _) = shop.visit(unpaid["redirectUrl"].as_str().unwrap()).await;
    assert_eq!(status, 410);
    let names = shop.event_names().await;
    assert_eq!(names, ["checkout_session.cancelled", "checkout_session.expired"]);

    // Deleted before the customer starts: gone.
    let fresh = shop.create(basket()).await;
    let path = format!("/v1/checkout-sessions/{}", fresh["id"].as_str().unwrap());
    let (status, _, deleted) = send(shop.app.req(reqwest::Method::DELETE, &path, &shop.token, &shop.owner.space)).await;
    assert_eq!(status, 200, "{deleted}");
    let (status, _, res) = send(shop.app.get(&path, &shop.token, &shop.owner.space)).await;
    assert_error(status, &res, 404, "not_found");
    let listed = shop.app.list_all("/v1/checkout-sessions", "", &shop.token, &shop.owner.space).await;
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn bad_sessions_are_refused_field_by_field() {
    let shop = Shop::open().await;
    let item = json!({"name": "x", "price": {"currency": "SLE", "value": 100}});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"name": "n"}), "lineItems", "missing_field"),
        (json!({"name": "n", "lineItems": []}), "lineItems", "out_of_range"),
        (json!({"name": "n", "lineItems": null}), "lineItems", "out_of_range"),
        (
            json!({"name": "n", "lineItems": [item, {"name": "y", "price": {"currency": "USD", "value": 1}}]}),
            "lineItems",
            "invalid_total",
        ),
        (
            json!({"name": "n", "lineItems": [{"id": "itm-mine", "name": "x", "price": {"currency": "SLE", "value": 1}}]}),
            "lineItems[0].id",
            "read_only",
        ),
        (
            json!({"name": "n", "lineItems": [{"name": "x", "price": {"currency": "SLE", "value": 1}, "quantity": 0}]}),
            "lineItems[0].quantity",
            "out_of_range",
        ),
        (json!({"name": "n", "lineItems": [item], "successUrl": "javascript:alert(1)"}), "successUrl", "invalid_url"),
        (
            json!({"name": "n", "lineItems": [item], "brandingOptions": {"primaryColor": "red;}"}}),
            "brandingOptions.primaryColor",
            "invalid_color",
        ),
        (
            json!({"name": "n", "lineItems": [item], "paymentOptions": {"momo": {"enabledProviders": ["m99"]}}}),
            "paymentOptions.momo.enabledProviders[0]",
            "invalid_value",
        ),
        (
            json!({"name": "n", "lineItems": [item], "financialAccountId": "fac-NoSuchAccount00000000"}),
            "financialAccountId",
            "account_not_found",
        ),
    ];
    for (body, field, reason) in cases {
        let (status, _, res) =
            send(shop.app.post("/v1/checkout-sessions", &shop.token, &shop.owner.space, &body)).await;
        let error = assert_error(status, &res, 400, "validation_failed");
        assert!(
            error["details"].as_array().unwrap().iter().any(|d| d["field"] == field && d["reason"] == reason),
            "{body} → {res}"
        );
    }
    // A session that offers no provider the rail collects from shows no form.
    let none =
        shop.create(json!({"name": "n", "lineItems": [item], "paymentOptions": {"momo": {"disable": true}}})).await;
    let (_, _, html, _) = shop.visit(none["redirectUrl"].as_str().unwrap()).await;
    assert!(html.contains("No payment method is available"), "{html}");
}

#[tokio::test]
async fn concurrent_redemptions_never_redeem_past_a_limit() {
    let shop = Shop::open().await;
    let second = match postgres_or_skip("receipt redemption on two nodes") {
        Some(_) => {
            let mut config = ServerConfig::default();
            config.rate_limits.enabled = false;
            Some(shop.app.another_node(config).await)
        }
        None => None,
    };
    let tenant = Tenant { space_id: shop.owner.space.clone(), environment: Environment::Test };
    let (_, order) = crate::authz_matrix::paid_checkout(&shop.app, &tenant).await;
    let path = format!("/v1/receipts/{order}/redeem");
    let (_, _, receipt) = send(shop.app.get(&format!("/v1/receipts/{order}"), &shop.token, &shop.owner.space)).await;
    let key = receipt["result"]["entitlements"][0]["key"].as_str().unwrap().to_owned();
    assert_eq!(receipt["result"]["entitlements"][0]["limit"], 2);

    let (status, _, res) =
        send(shop.app.post(&path, &shop.token, &shop.owner.space, &json!({"entitlements": [{"key": "nope"}]}))).await;
    let error = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(error["details"][0]["reason"], "unknown_entitlement");
    let (status, _, res) = send(shop.app.post(
        &path,
        &shop.token,
        &shop.owner.space,
        &json!({"entitlements": [{"key": key, "units": 3}]}),
    ))
    .await;
    assert_eq!(status, 200);
    spec().check("RedeemReceipt", &res);
    assert_eq!(res["result"]["redeem"], false, "over the limit: nothing");
    assert_eq!(res["result"]["receipt"]["status"], "not_redeemed");

    let mut redeems = Vec::new();
    for i in 0..8 {
        let node = match (&second, i % 2) {
            (Some(other), 1) => other,
            _ => &shop.app,
        };
        let req =
            node.post(&path, &shop.token, &shop.owner.space, &json!({"entitlements": [{"key": key, "units": 1}]}));
        redeems.push(tokio::spawn(send(req)));
    }
    let mut redeemed = 0;
    for r in redeems {
        let (status, _, res) = r.await.unwrap();
        assert_eq!(status, 200, "{res}");
        if res["result"]["redeem"] == true {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 2, "exactly the limit");
    let (_, _, receipt) = send(shop.app.get(&format!("/v1/receipts/{order}"), &shop.token, &shop.owner.space)).await;
    assert_eq!(receipt["result"]["status"], "fully_redeemed");
    assert_eq!(receipt["result"]["entitlements"][0]["current"], 2);
    assert_eq!(receipt["result"]["entitlements"][0]["exhausted"], true);
    let (status, _, res) =
        send(shop.app.post(&path, &shop.token, &shop.owner.space, &json!({"redeemAll": true}))).await;
    assert_eq!((status, &res["result"]["redeem"]), (200, &json!(false)));
    let (status, _, res) = send(shop.app.post(&path, &shop.token, &shop.owner.space, &json!({}))).await;
    assert_error(status, &res, 400, "validation_failed");
}

#[tokio::test]
async fn the_handset_simulator_pays_a_code_through_the_api_with_the_callers_own_checks() {
    let shop = Shop::open().await;
    let (status, _, code) = send(shop.app.post(
        "/v1/payment-codes",
        &shop.token,
        &shop.owner.space,
        &json!({"name": "Handset demo", "amount": {"currency": "SLE", "value": 700}}),
    ))
    .await;
    assert_eq!(status, 200);
    let page = shop.browser.get(shop.app.url("/sandbox/handset")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    assert!(page.text().await.unwrap().contains("name=\"dialString\""));
    let dial = |token: String| {
        let form = vec![
            ("token", token),
            ("space", shop.owner.space.to_string()),
            ("dialString", code["result"]["ussdCode"].as_str().unwrap().to_owned()),
            ("phoneNumber", "+23276000001".to_owned()),
            ("providerId", "m17".to_owned()),
            ("amount", String::new()),
        ];
        shop.browser.post(shop.app.url("/sandbox/handset")).form(&form).send()
    };
    // A token limited to other addresses is refused here too: the page passes the caller's own.
    let (narrow, _) = shop
        .app
        .token_with(
            &shop.owner.monimeer,
            TokenSpec { allowed_ips: vec!["203.0.113.0/24".parse().unwrap()], ..Default::default() },
        )
        .await;
    let res = dial(narrow).await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("ip_not_allowed"));
    let live = shop.app.live_token(&shop.owner.monimeer).await;
    let res = dial(live).await.unwrap();
    assert!(res.text().await.unwrap().contains("route_not_found"));

    let res = dial(shop.token.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Payment complete"), "{html}");
    assert!(!html.contains(&shop.token), "the token is not echoed");
    let (_, _, got) = send(shop.app.get(
        &format!("/v1/payment-codes/{}", code["result"]["id"].as_str().unwrap()),
        &shop.token,
        &shop.owner.space,
    ))
    .await;
    assert_eq!(got["result"]["status"], "completed");
}
