//! The catalogue routes (countries, banks, momos): Monime's shapes checked against the official
//! schemas, paging and the country filter, 404s, `catalog:read`, no Space needed, and an
//! operator's own catalogue replacing the shipped one.

use crate::support::openapi::spec;
use crate::support::*;
use openmonime_domain::permission::PermissionSet;
use openmonime_http::views::catalogue::Catalogue;
use openmonime_http::ServerConfig;
use serde_json::{json, Value};

/// A GET with a token and no `Monime-Space-Id`: the catalogue needs none.
async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let (status, _, body) = send(app.client.get(app.url(path)).bearer_auth(token)).await;
    (status, body)
}

#[tokio::test]
async fn the_catalogue_answers_in_monimes_shapes_without_a_space() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;

    let (status, countries) = get(&app, "/v1/countries", &token).await;
    assert_eq!(status, 200, "{countries}");
    spec().check("ListCountries", &countries);
    assert_eq!(countries["result"][0]["code"], "SL");
    assert_eq!(countries["result"][0]["currency"], json!({"code": "SLE", "unit": "cent", "unitLength": 2}));
    let (status, country) = get(&app, "/v1/countries/sl", &token).await;
    assert_eq!(status, 200, "{country}");
    spec().check("GetCountry", &country);
    assert_eq!(country["result"]["name"], "Sierra Leone");

    let (status, banks) = get(&app, "/v1/banks?country=SL", &token).await;
    assert_eq!(status, 200, "{banks}");
    spec().check("ListBanks", &banks);
    let ids: Vec<&str> =
        banks["result"].as_array().unwrap().iter().map(|b| b["providerId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["slb001", "slb004", "slb007"]);
    let (status, bank) = get(&app, "/v1/banks/slb001", &token).await;
    assert_eq!(status, 200, "{bank}");
    spec().check("GetBank", &bank);

    let (status, momos) = get(&app, "/v1/momos?country=sl", &token).await;
    assert_eq!(status, 200, "{momos}");
    spec().check("ListMomos", &momos);
    let (status, momo) = get(&app, "/v1/momos/m17", &token).await;
    assert_eq!(status, 200, "{momo}");
    spec().check("GetMomo", &momo);
    assert_eq!(momo["result"]["name"], "Orange Money");
    // The test rail collects from every momo and pays out to every provider.
    assert_eq!(momo["result"]["featureSet"]["payment"]["canPayFrom"], true);
    assert_eq!(momo["result"]["featureSet"]["payout"]["canPayTo"], true);
    assert_eq!(bank["result"]["featureSet"]["payout"]["canPayTo"], true);
    // Live has no rail: it collects from no one, and says so.
    let live = app.live_token(&owner.monimeer).await;
    let (status, live_momo) = get(&app, "/v1/momos/m17", &live).await;
    assert_eq!(status, 200, "{live_momo}");
    assert_eq!(live_momo["result"]["featureSet"]["payment"]["canPayFrom"], false);
    assert_eq!(live_momo["result"]["featureSet"]["payout"]["canPayTo"], false, "live pays out to no one");

    // A Space header is tolerated, and changes nothing.
    let (status, _, with_space) = send(app.get("/v1/momos/m17", &token, &owner.space)).await;
    assert_eq!((status, &with_space), (200, &momo));
}

#[tokio::test]
async fn lists_page_with_sealed_cursors_and_filter_by_country() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let (_, first) = get(&app, "/v1/banks?country=SL&limit=2", &token).await;
    assert_eq!(first["result"].as_array().unwrap().len(), 2);
    assert_eq!(first["pagination"]["count"], 2);
    let next = first["pagination"]["next"].as_str().expect("a next cursor").to_owned();
    let (_, second) = get(&app, &format!("/v1/banks?country=SL&limit=2&after={next}"), &token).await;
    assert_eq!(second["result"][0]["providerId"], "slb007");
    assert!(second["pagination"]["next"].is_null(), "{second}");
    // The cursor is bound to its list and its filter.
    for other in [format!("/v1/momos?country=SL&after={next}"), format!("/v1/banks?country=GH&after={next}")] {
        let (status, answer) = get(&app, &other, &token).await;
        let error = assert_error(status, &answer, 400, "validation_failed");
        assert_eq!(error["details"][0]["reason"], "invalid_cursor", "{answer}");
    }
    // A country with no providers lists none.
    let (status, none) = get(&app, "/v1/momos?country=GH", &token).await;
    assert_eq!((status, none["result"].as_array().map(Vec::len)), (200, Some(0)), "{none}");
    // `country` is required, and `limit` bounded, as the document says.
    let (status, answer) = get(&app, "/v1/banks", &token).await;
    let error = assert_error(status, &answer, 400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "country", "{answer}");
    let (status, answer) = get(&app, "/v1/momos?country=SL&limit=51", &token).await;
    assert_error(status, &answer, 400, "validation_failed");
}

#[tokio::test]
async fn an_unknown_or_impossible_id_is_404_and_the_permission_is_catalog_read() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    for (path, kind) in [
        ("/v1/banks/m17", "bank"),
        ("/v1/banks/slb999", "bank"),
        ("/v1/momos/slb001", "momo"),
        ("/v1/momos/no%20such", "momo"),
        ("/v1/countries/GH", "country"),
        ("/v1/countries/SLE", "country"),
    ] {
        let (status, answer) = get(&app, path, &token).await;
        let error = assert_error(status, &answer, 404, "not_found");
        assert!(error["message"].as_str().unwrap().contains(kind), "{path}: {answer}");
    }
    let without = PermissionSet::expand(&["financial-accounts:read"]).unwrap();
    let (narrow, _) = app.token_with(&owner.monimeer, TokenSpec { permissions: without, ..TokenSpec::default() }).await;
    let (status, answer) = get(&app, "/v1/countries", &narrow).await;
    assert_error(status, &answer, 403, "permission_denied");
    let only = PermissionSet::expand(&["catalog:read"]).unwrap();
    let (reader, _) = app.token_with(&owner.monimeer, TokenSpec { permissions: only, ..TokenSpec::default() }).await;
    assert_eq!(get(&app, "/v1/countries", &reader).await.0, 200);
    assert_eq!(get(&app, "/v1/countries", &app.live_token(&owner.monimeer).await).await.0, 200, "live too");
}

#[tokio::test]
async fn an_operators_catalogue_replaces_the_shipped_one() {
    let mut data: Value = serde_json::from_str(openmonime_http::views::catalogue::SHIPPED).unwrap();
    data["momos"] = json!([data["momos"][0].clone()]);
    data["momos"][0]["providerId"] = "m99".into();
    data["momos"][0]["name"] = "Operator's own".into();
    let catalogue = Catalogue::parse(&data.to_string()).unwrap();
    let config = ServerConfig { catalogue: std::sync::Arc::new(catalogue), ..Default::default() };
    let app = TestApp::spawn_with(config, None).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let (_, momos) = get(&app, "/v1/momos?country=SL", &token).await;
    assert_eq!(momos["result"].as_array().unwrap().len(), 1);
    assert_eq!(momos["result"][0]["name"], "Operator's own");
    assert_eq!(get(&app, "/v1/momos/m17", &token).await.0, 404);
}

#[tokio::test]
async fn provider_kyc_answers_from_the_test_rail_and_refuses_in_live_naming_the_provider() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let (status, kyc) = get(&app, "/v1/provider-kyc/m17?accountId=%2B23276000001", &token).await;
    assert_eq!(status, 200, "{kyc}");
    spec().check("GetProviderKYC", &kyc);
    assert_eq!(kyc["result"]["account"]["holderName"], "Aminata Kamara");
    assert_eq!(kyc["result"]["account"]["id"], "+23276000001");
    assert_eq!(kyc["result"]["provider"], json!({"id": "m17", "type": "momo", "name": "Orange Money"}));
    let (status, bank) = get(&app, "/v1/provider-kyc/slb001?accountId=0010000002", &token).await;
    assert_eq!((status, &bank["result"]["provider"]["type"]), (200, &json!("bank")), "{bank}");
    assert_eq!(bank["result"]["account"]["holderName"], "Abu Turay");

    let (status, answer) = get(&app, "/v1/provider-kyc/m17?accountId=%2B23276999999", &token).await;
    assert_error(status, &answer, 404, "not_found");
    let (status, answer) = get(&app, "/v1/provider-kyc/m17?accountId=076000001", &token).await;
    let error = assert_error(status, &answer, 400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "accountId", "{answer}");
    let (status, answer) = get(&app, "/v1/provider-kyc/m99?accountId=%2B23276000001", &token).await;
    assert_error(status, &answer, 404, "not_found");
    let (status, answer) = get(&app, "/v1/provider-kyc/m17", &token).await;
    let error = assert_error(status, &answer, 400, "validation_failed");
    assert_eq!(
        (&error["details"][0]["field"], &error["details"][0]["reason"]),
        (&json!("accountId"), &json!("missing_field"))
    );

    // The test rail verifies accounts; live has no rail, says so, and its catalogue agrees.
    let (_, momo) = get(&app, "/v1/momos/m17", &token).await;
    assert_eq!(momo["result"]["featureSet"]["kycVerification"]["canVerifyAccount"], true);
    let live = app.live_token(&owner.monimeer).await;
    let (status, answer) = get(&app, "/v1/provider-kyc/m17?accountId=%2B23276000001", &live).await;
    let error = assert_error(status, &answer, 400, "rail_not_connected");
    assert!(error["message"].as_str().unwrap().contains("m17"), "{answer}");
    let (_, momo) = get(&app, "/v1/momos/m17", &live).await;
    assert_eq!(momo["result"]["featureSet"]["kycVerification"]["canVerifyAccount"], false);
}
