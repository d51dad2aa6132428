//! Issue 2, the server foundation: the root endpoint, client-IP resolution behind trusted proxies,
//! GeoIP against a real mmdb file, every wire-level error envelope, the response headers, the
//! operator probes, panic containment and the redaction of access tokens from logs and bodies.

use crate::support::*;
use axum::routing::get;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::token::{self, TokenHash};
use openmonime_domain::{time_fmt, Environment};
use openmonime_http::geoip::GeoIp;
use openmonime_http::ServerConfig;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/geoip-test.mmdb");

fn behind_proxy(trusted: &[&str]) -> ServerConfig {
    ServerConfig { trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(), ..ServerConfig::default() }
}

async fn root(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut req = app.client.get(app.url("/"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, res_headers, body) = send(req).await;
    assert_eq!(status, 200, "{body}");
    assert!(res_headers["content-type"].to_str().unwrap().starts_with("application/json"));
    body
}

async fn origin_ip(app: &TestApp, headers: &[(&str, &str)]) -> String {
    root(app, headers).await["requestOrigin"]["ipAddress"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------- GET /

#[tokio::test]
async fn root_without_token_has_the_exact_shape() {
    let app = TestApp::spawn().await;
    let body = root(&app, &[]).await;
    assert_eq!(
        body,
        json!({
            "platform": "Monime - Ⓜ️",
            "tagline": "APIs Beyond Payments ⚡️⚙️💰️",
            "status": {"environment": null, "isAuthenticated": false},
            "apiVersion": null,
            "requestOrigin": {"country": null, "ipAddress": "127.0.0.1"},
        })
    );
}

#[tokio::test]
async fn root_needs_no_space_header_and_ignores_an_unknown_version() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    // No Monime-Space-Id, and a Monime-Version nobody supports: still 200, still authenticated.
    let body = root(&app, &[("authorization", &format!("Bearer {t}")), ("monime-version", "caph.1999-01-01")]).await;
    assert_eq!(body["status"]["isAuthenticated"], true);
    assert_eq!(body["apiVersion"]["id"], "caph.2025-08-23");
}

// ---------------------------------------------------------------- client IP

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::spawn().await; // no trusted proxies at all
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "41.223.132.7")]).await, "127.0.0.1");
    assert_eq!(origin_ip(&app, &[("forwarded", "for=41.223.132.7")]).await, "127.0.0.1");
    assert_eq!(origin_ip(&app, &[("x-real-ip", "41.223.132.7")]).await, "127.0.0.1");

    // Proxies are trusted, but not the range the peer (127.0.0.1) is in.
    let app = TestApp::spawn_with(behind_proxy(&["10.0.0.0/8"]), None).await;
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "41.223.132.7, 10.1.2.3")]).await, "127.0.0.1");
}

#[tokio::test]
async fn a_trusted_peer_yields_the_right_most_untrusted_address() {
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8", "10.0.0.0/8"]), None).await;
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "8.8.8.8")]).await, "8.8.8.8");
    // The client may prepend anything; only the hop our proxy appended counts.
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "6.6.6.6, 8.8.8.8")]).await, "8.8.8.8");
    // Trusted hops on the right are skipped.
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "6.6.6.6, 8.8.8.8, 10.0.0.7, 127.0.0.3")]).await, "8.8.8.8");
    // Several header lines form one chain, in order.
    let req = app.client.get(app.url("/")).header("x-forwarded-for", "6.6.6.6").header("x-forwarded-for", "81.2.69.1");
    let (_, _, body) = send(req).await;
    assert_eq!(body["requestOrigin"]["ipAddress"], "81.2.69.1");
    // IPv4-mapped IPv6 is shown as IPv4.
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "::ffff:8.8.4.4")]).await, "8.8.4.4");
    // An unreadable hop on the trusted side is refused, never read as the peer (see `forwarding`).
    let (status, _, body) = send(app.client.get(app.url("/")).header("x-forwarded-for", "8.8.8.8, not-an-ip")).await;
    assert_error(status, &body, 400, "forwarded_header_invalid");
    // No forwarding header: the peer.
    assert_eq!(origin_ip(&app, &[]).await, "127.0.0.1");
}

#[tokio::test]
async fn the_forwarded_header_is_read_only_when_it_is_the_configured_one() {
    // By default the proxy appends to X-Forwarded-For, and a client's own `Forwarded` is ignored.
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"]), None).await;
    assert_eq!(origin_ip(&app, &[("forwarded", "for=8.8.8.8")]).await, "127.0.0.1");
    assert_eq!(origin_ip(&app, &[("forwarded", "for=8.8.8.8"), ("x-forwarded-for", "81.2.69.1")]).await, "81.2.69.1");
    let config = ServerConfig {
        client_ip_header: openmonime_http::client_ip::ClientIpHeader::Forwarded,
        ..behind_proxy(&["127.0.0.0/8"])
    };
    let app = TestApp::spawn_with(config, None).await;
    assert_eq!(origin_ip(&app, &[("forwarded", "for=8.8.8.8;proto=https")]).await, "8.8.8.8");
    assert_eq!(
        origin_ip(&app, &[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.2")]).await,
        "2001:db8::1"
    );
    assert_eq!(origin_ip(&app, &[("forwarded", "for=6.6.6.6, for=\"81.2.69.9:443\"")]).await, "81.2.69.9");
    // ...and then X-Forwarded-For is ignored entirely.
    assert_eq!(origin_ip(&app, &[("forwarded", "for=8.8.8.8"), ("x-forwarded-for", "81.2.69.1")]).await, "8.8.8.8");
    assert_eq!(origin_ip(&app, &[("x-forwarded-for", "81.2.69.1")]).await, "127.0.0.1");
}

// ---------------------------------------------------------------- GeoIP

#[tokio::test]
async fn country_comes_from_the_real_mmdb_fixture() {
    let geoip = GeoIp::open(std::path::Path::new(FIXTURE)).expect("fixture opens");
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"]), Some(geoip)).await;
    for (ip, country) in [
        ("41.223.132.1", json!("SL")),
        ("41.223.135.254", json!("SL")),
        ("8.8.8.8", json!("US")),
        ("81.2.69.160", json!("GB")),
        ("2c0f:f248::1", json!("SL")),
        ("::ffff:8.8.8.8", json!("US")),
        ("41.223.136.1", Value::Null), // just outside the /22
        ("1.1.1.1", Value::Null),      // not in the database
        ("10.0.0.1", Value::Null),     // private
    ] {
        let body = root(&app, &[("x-forwarded-for", ip)]).await;
        assert_eq!(body["requestOrigin"]["country"], country, "{ip}: {body}");
    }
    // Loopback (the real peer, no forwarding header) has no country.
    let body = root(&app, &[]).await;
    assert_eq!(body["requestOrigin"], json!({"country": null, "ipAddress": "127.0.0.1"}));
}

#[tokio::test]
async fn without_a_geoip_database_country_is_null() {
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"]), None).await;
    let body = root(&app, &[("x-forwarded-for", "8.8.8.8")]).await;
    assert_eq!(body["requestOrigin"], json!({"country": null, "ipAddress": "8.8.8.8"}));
}

#[test]
fn a_missing_geoip_file_is_a_clear_error() {
    let err = GeoIp::open(std::path::Path::new("/nonexistent/geo.mmdb")).err().expect("must fail");
    assert!(err.contains("/nonexistent/geo.mmdb"), "{err}");
}

// ---------------------------------------------------------------- error envelopes

/// An owner, their token, and a Space: enough to reach a handler.
async fn caller(app: &TestApp) -> (Owner, String) {
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    (o, t)
}

#[tokio::test]
async fn malformed_json_is_400_json_malformed() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    for body in ["{not json", "", "{\"name\": \"a\", \"currency\": \"SLE\"} trailing", "[1,"] {
        let req = app
            .req(Method::POST, "/v1/financial-accounts", &t, &o.space)
            .header("Idempotency-Key", idem_key())
            .header("content-type", "application/json")
            .body(body);
        let (status, _, res) = send(req).await;
        assert_error(status, &res, 400, "json_malformed");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    let body = r#"{"name": "a", "currency": "SLE"}"#;
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonp"), None]
    {
        let mut req = app
            .req(Method::POST, "/v1/financial-accounts", &t, &o.space)
            .header("Idempotency-Key", idem_key())
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let (status, _, res) = send(req).await;
        assert_error(status, &res, 415, "content_type_unsupported");
    }
    // Parameters after the media type are fine.
    let req = app
        .req(Method::POST, "/v1/financial-accounts", &t, &o.space)
        .header("Idempotency-Key", idem_key())
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    let (status, _, res) = send(req).await;
    assert_eq!(status, 200, "{res}");
}

#[tokio::test]
async fn an_unknown_field_is_400_naming_it() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    let (status, _, res) = send(app.post(
        "/v1/financial-accounts",
        &t,
        &o.space,
        &json!({"name": "a", "currency": "SLE", "colour": "red"}),
    ))
    .await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "colour", "{res}");
    assert_eq!(err["details"][0]["reason"], "unknown_field", "{res}");
    // A missing required field and a field of the wrong type are named too.
    let (status, _, res) = send(app.post("/v1/financial-accounts", &t, &o.space, &json!({"currency": "SLE"}))).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "name", "{res}");
    let (status, _, res) =
        send(app.post("/v1/financial-accounts", &t, &o.space, &json!({"name": 5, "currency": "SLE"}))).await;
    let err = assert_error(status, &res, 400, "validation_failed");
    assert_eq!(err["details"][0]["field"], "name", "{res}");
}

/// Sends raw HTTP/1.1 bytes and returns (status, body) — for requests reqwest will not produce.
async fn raw_http(app: &TestApp, request: Vec<u8>) -> (u16, Value) {
    let addr = app.addr;
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        stream.write_all(&request).unwrap();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status: u16 = text.split(' ').nth(1).expect("status line").parse().unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            // One chunk is enough for these small bodies.
            body.split_once("\r\n").map(|(_, rest)| rest.split("\r\n").next().unwrap_or("")).unwrap_or("").to_owned()
        } else {
            body.to_owned()
        };
        (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("body is not JSON: {body}")))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn_with(ServerConfig { body_limit: 256, ..ServerConfig::default() }, None).await;
    let (o, t) = caller(&app).await;
    let big = json!({"name": "a", "currency": "SLE", "description": "x".repeat(400)});
    let (status, _, res) = send(app.post("/v1/financial-accounts", &t, &o.space, &big)).await;
    let err = assert_error(status, &res, 413, "body_too_large");
    assert!(err["message"].as_str().unwrap().contains("256"), "{res}");
    // Refused before authentication: no token needed to be told.
    let (status, _, res) = send(app.client.post(app.url("/v1/financial-accounts")).json(&big)).await;
    assert_error(status, &res, 413, "body_too_large");
    // Just under the limit passes the size check (and reaches the handler's validation).
    let small = json!({"name": "a", "currency": "SLE", "description": "y".repeat(150)});
    assert!(serde_json::to_vec(&small).unwrap().len() <= 256);
    let (status, _, res) = send(app.post("/v1/financial-accounts", &t, &o.space, &small)).await;
    assert_eq!(status, 200, "{res}");
    // A chunked body declares no length; it is cut at the limit all the same.
    let chunk = "z".repeat(600);
    let raw = format!(
        "POST /v1/financial-accounts HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {t}\r\nMonime-Space-Id: {}\r\n\
         Idempotency-Key: k1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.addr,
        o.space,
        chunk.len()
    );
    let (status, res) = raw_http(&app, raw.into_bytes()).await;
    assert_error(status, &res, 413, "body_too_large");
}

#[tokio::test]
async fn the_default_body_limit_is_64_kib() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    let req = app
        .req(Method::POST, "/v1/financial-accounts", &t, &o.space)
        .header("Idempotency-Key", idem_key())
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024 + 1]);
    let (status, _, res) = send(req).await;
    assert_error(status, &res, 413, "body_too_large");
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    for path in ["/nope", "/v1/nope", "/v1/financial-accounts/fac-1/extra", "/v2/financial-accounts"] {
        let (status, headers, res) = send(app.get(path, &t, &o.space)).await;
        assert_error(status, &res, 404, "route_not_found");
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
        // Without a token too: the route does not exist for anyone.
        let (status, _, res) = send(app.client.get(app.url(path))).await;
        assert_error(status, &res, 404, "route_not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_in_the_envelope() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    for (method, path) in [
        (Method::PUT, "/v1/financial-accounts"),
        (Method::DELETE, "/v1/financial-accounts"),
        (Method::DELETE, "/v1/financial-accounts/fac-1"),
        (Method::POST, "/v1/financial-transactions"),
        (Method::PUT, "/v1/internal-transfers/trn-1"),
        (Method::POST, "/"),
        (Method::POST, "/healthz"),
    ] {
        let (status, _, res) = send(app.req(method.clone(), path, &t, &o.space)).await;
        assert_error(status, &res, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn an_unknown_monime_version_is_400_naming_the_supported_ones() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    for bad in ["caph.2099-01-01", "latest", "caph", ""] {
        let (status, _, res) =
            send(app.get("/v1/financial-accounts", &t, &o.space).header("monime-version", bad)).await;
        let err = assert_error(status, &res, 400, "api_version_unsupported");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("caph.2025-08-23") && message.contains("caph.2025-06-20"), "{res}");
        assert_eq!(err["details"][0]["supported"], json!(["caph.2025-08-23", "caph.2025-06-20"]), "{res}");
    }
    for good in ["caph.2025-08-23", "caph.2025-06-20"] {
        let (status, _, res) =
            send(app.get("/v1/financial-accounts", &t, &o.space).header("monime-version", good)).await;
        assert_eq!(status, 200, "{good}: {res}");
    }
}

// ---------------------------------------------------------------- response headers

fn assert_wire_headers(headers: &reqwest::header::HeaderMap, what: &str) -> (String, String) {
    let get =
        |name: &str| headers.get(name).unwrap_or_else(|| panic!("{what}: no {name}")).to_str().unwrap().to_owned();
    let id = get("monime-request-id");
    assert!(id.starts_with("req-") && id.len() > 10, "{what}: {id}");
    assert_eq!(get("x-request-id"), id, "{what}");
    let stamp = get("monime-request-timestamp");
    let parsed = time_fmt::parse_rfc3339(&stamp).unwrap_or_else(|| panic!("{what}: timestamp {stamp} is not RFC 3339"));
    assert_eq!(parsed.offset(), time::UtcOffset::UTC, "{what}: {stamp}");
    assert!((time_fmt::now() - parsed).abs() < time::Duration::minutes(1), "{what}: {stamp}");
    let duration = get("monime-request-duration");
    let ms = duration.strip_suffix("ms").unwrap_or_else(|| panic!("{what}: duration {duration}"));
    assert!(ms.parse::<f64>().is_ok_and(|v| v >= 0.0), "{what}: {duration}");
    let checksum = get("monime-request-checksum");
    assert!(checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {checksum}");
    (id, checksum)
}

#[tokio::test]
async fn every_response_carries_the_request_headers() {
    let app = TestApp::spawn_with(ServerConfig { body_limit: 64, ..ServerConfig::default() }, None).await;
    let (o, t) = caller(&app).await;
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("root", app.client.get(app.url("/"))),
        ("healthz", app.client.get(app.url("/healthz"))),
        ("readyz", app.client.get(app.url("/readyz"))),
        ("list 200", app.get("/v1/financial-accounts", &t, &o.space)),
        ("401", app.client.get(app.url("/v1/financial-accounts"))),
        ("403", app.get("/v1/financial-accounts", &t, &openmonime_domain::ids::SpaceId::generate())),
        ("404", app.get("/v1/nothing", &t, &o.space)),
        ("405", app.req(Method::PUT, "/v1/financial-accounts", &t, &o.space)),
        ("413", app.post("/v1/financial-accounts", &t, &o.space, &json!({"description": "x".repeat(100)}))),
        ("400", app.get("/v1/financial-accounts?limit=0", &t, &o.space)),
    ];
    let mut ids = std::collections::HashSet::new();
    for (what, req) in requests {
        let res = req.send().await.unwrap();
        let (id, _) = assert_wire_headers(res.headers(), what);
        assert!(ids.insert(id), "{what}: request ids must be unique");
    }
}

#[tokio::test]
async fn the_checksum_is_deterministic_and_covers_method_path_and_body() {
    let app = TestApp::spawn().await;
    let (o, t) = caller(&app).await;
    let checksum = |req: reqwest::RequestBuilder| async move {
        let res = req.send().await.unwrap();
        assert_wire_headers(res.headers(), "checksum").1
    };
    let body = json!({"name": "a", "currency": "SLE"});
    let post = |b: &Value| app.post("/v1/financial-accounts", &t, &o.space, b);
    let first = checksum(post(&body)).await;
    // Same method, path and body (a different Idempotency-Key and request id): same checksum.
    assert_eq!(checksum(post(&body)).await, first);
    assert_ne!(checksum(post(&json!({"name": "b", "currency": "SLE"}))).await, first);
    assert_ne!(checksum(app.patch("/v1/financial-accounts", &t, &o.space, &body)).await, first);
    assert_ne!(checksum(app.post("/v1/internal-transfers", &t, &o.space, &body)).await, first);
    // Reads: the same GET twice, even unauthenticated, gives the same checksum.
    let a = checksum(app.client.get(app.url("/v1/financial-accounts"))).await;
    assert_eq!(checksum(app.client.get(app.url("/v1/financial-accounts"))).await, a);
    assert_ne!(checksum(app.client.get(app.url("/"))).await, a);
    // A bodyless request's checksum is remembered per method and path: still SHA-256 of
    // `METHOD path\n`, first time and after, for a short path and a long one (not remembered).
    let expected = |method: &str, path: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("{method} {path}\n").as_bytes()))
    };
    assert_eq!(a, expected("GET", "/v1/financial-accounts"));
    let long = format!("/v1/{}", "x".repeat(300));
    for _ in 0..2 {
        assert_eq!(checksum(app.client.get(app.url("/"))).await, expected("GET", "/"));
        assert_eq!(checksum(app.client.get(app.url(&long))).await, expected("GET", &long));
        assert_eq!(checksum(app.client.delete(app.url("/"))).await, expected("DELETE", "/"));
    }
}

// ---------------------------------------------------------------- probes

#[tokio::test]
async fn health_and_readiness_probes() {
    let app = TestApp::spawn().await;
    let (status, _, body) = send(app.client.get(app.url("/healthz"))).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, _, body) = send(app.client.get(app.url("/readyz"))).await;
    assert_eq!((status, body), (200, json!({"status": "ready"})));
    // Once the database is gone, the process is alive but not ready.
    app.store().close().await;
    let (status, _, body) = send(app.client.get(app.url("/readyz"))).await;
    assert_error(status, &body, 503, "database_unreachable");
    let (status, _, body) = send(app.client.get(app.url("/healthz"))).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

// ---------------------------------------------------------------- panics

async fn boom() -> axum::Json<Value> {
    panic!("secret detail that must not be echoed")
}

/// The product has no route that panics, so the test mounts one with `app_with`, inside exactly
/// the layers production uses, and checks the answer and that the server keeps serving.
#[tokio::test]
async fn a_panicking_handler_answers_500_with_the_request_id_and_the_server_keeps_serving() {
    let logs = captured_logs();
    let app = TestApp::spawn().await;
    let state = app.state.clone();
    let extra =
        axum::Router::new().route("/boom", get(boom)).route("/fine", get(|| async { axum::Json(json!({"ok": true})) }));
    let router = openmonime_http::app_with(state, extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    for _ in 0..3 {
        let (status, headers, body) = send(app.client.get(format!("http://{addr}/boom"))).await;
        let err = assert_error(status, &body, 500, "internal_error");
        let (id, _) = assert_wire_headers(&headers, "panic");
        assert_eq!(err["details"][0]["requestId"], id, "{body}");
        assert!(!body.to_string().contains("secret detail"), "{body}");
        // The request log still names the route whose handler panicked.
        let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        let line = logged.lines().find(|l| l.contains(&id) && l.contains("status=500"));
        let line = line.unwrap_or_else(|| panic!("no request log line for {id}"));
        assert!(line.contains("route=\"/boom\""), "{line}");
        let (status, _, body) = send(app.client.get(format!("http://{addr}/fine"))).await;
        assert_eq!((status, body), (200, json!({"ok": true})));
    }
}

// ---------------------------------------------------------------- redaction

/// Everything every test in this process logs, at TRACE, as text (from the first call on).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("no other test installs a subscriber");
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_and_their_hashes_never_reach_logs_or_bodies() {
    let logs = captured_logs();
    let app = TestApp::spawn_with(ServerConfig { body_limit: 512, ..ServerConfig::default() }, None).await;
    let o = app.owner().await;
    let valid = app.token(&o.monimeer).await;
    let (revoked, revoked_id) = app.token_with(&o.monimeer, TokenSpec::default()).await;
    app.store().revoke_token(&revoked_id, &Actor::Operator).await.unwrap();
    let (expired, _) = app
        .token_with(
            &o.monimeer,
            TokenSpec { expires_at: now_plus(time::Duration::seconds(-5)), ..TokenSpec::default() },
        )
        .await;
    let (live, _) =
        app.token_with(&o.monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await;
    let (weak, _) =
        app.token_with(&o.monimeer, TokenSpec { permissions: PermissionSet::EMPTY, ..TokenSpec::default() }).await;
    let unknown = token::generate(Environment::Test).plaintext.expose().to_owned();
    let mut bad_checksum = valid.clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'a' { 'b' } else { 'a' });
    let secrets = [valid.clone(), revoked, expired, live, weak, unknown, bad_checksum];

    let mut bodies = Vec::new();
    let mut request_ids = Vec::new();
    let other_space = openmonime_domain::ids::SpaceId::generate();
    for secret in &secrets {
        let authorizations = [
            format!("Bearer {secret}"),
            format!("bearer {secret}"),
            format!("Bearer {secret}x"),
            format!("Basic {secret}"),
            secret.clone(),
        ];
        for authorization in &authorizations {
            let with = |req: reqwest::RequestBuilder| req.header("authorization", authorization.as_str());
            let requests = vec![
                with(app.client.get(app.url("/"))),
                with(app.client.get(app.url("/v1/financial-accounts"))).header("monime-space-id", o.space.as_str()),
                with(app.client.get(app.url("/v1/financial-accounts"))).header("monime-space-id", other_space.as_str()),
                with(app.client.get(app.url("/v1/financial-accounts"))),
                with(app.client.get(app.url("/v1/financial-accounts"))).header("monime-space-id", "bogus"),
                with(app.client.get(app.url("/v1/financial-accounts")))
                    .header("monime-space-id", o.space.as_str())
                    .header("monime-version", "nope"),
                with(app.client.post(app.url("/v1/financial-accounts")))
                    .header("monime-space-id", o.space.as_str())
                    .header("idempotency-key", idem_key())
                    .json(&json!({"name": "a", "currency": "SLE"})),
                with(app.client.post(app.url("/v1/financial-accounts")))
                    .header("monime-space-id", o.space.as_str())
                    .header("content-type", "application/json")
                    .body("{broken"),
                with(app.client.post(app.url("/v1/internal-transfers")))
                    .header("monime-space-id", o.space.as_str())
                    .header("idempotency-key", idem_key())
                    .json(&json!({"amount": {"currency": "SLE", "value": -1}, "sourceFinancialAccount": {"id": "x"}, "destinationFinancialAccount": {"id": "x"}})),
                with(app.client.post(app.url("/v1/financial-accounts")))
                    .header("monime-space-id", o.space.as_str())
                    .json(&json!({"description": "x".repeat(600)})),
                with(app.client.get(app.url("/v1/nowhere"))),
                with(app.client.put(app.url("/v1/financial-accounts"))),
                with(app.client.get(app.url("/v1/financial-accounts/fac-missing"))).header("monime-space-id", o.space.as_str()),
            ];
            for req in requests {
                let res = req.send().await.unwrap();
                if let Some(id) = res.headers().get("monime-request-id") {
                    request_ids.push(id.to_str().unwrap().to_owned());
                }
                bodies.push(res.text().await.unwrap());
            }
        }
    }
    // Give any trailing log line a moment to be written.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();

    // The capture works: every request was logged, with its id, and authenticated ones name the
    // token by its public id.
    for id in &request_ids {
        assert!(text.contains(id.as_str()), "request {id} was not logged");
    }
    assert!(text.contains("tok-"), "authenticated requests log the token id");

    let mut forbidden: Vec<String> = Vec::new();
    for secret in &secrets {
        let hash = TokenHash::of(secret).to_hex();
        forbidden.push(secret.clone());
        forbidden.push(secret[secret.len() - 20..].to_owned()); // any long slice of the body
        forbidden.push(hash.to_uppercase());
        forbidden.push(hash);
    }
    for needle in &forbidden {
        assert!(!text.contains(needle.as_str()), "a token or token hash reached the logs");
        for body in &bodies {
            assert!(!body.contains(needle.as_str()), "a token or token hash reached a response body: {body}");
        }
    }
}
