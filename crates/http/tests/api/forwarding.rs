//! Issue 12, findings 2 and 8: the client address behind a trusted proxy comes from the one
//! forwarding header the operator names, walked from the right; a hop that does not parse is
//! refused (400 `forwarded_header_invalid`) and never resolves to the proxy's own address.

use crate::support::*;
use openmonime_http::client_ip::ClientIpHeader;
use openmonime_http::ServerConfig;

const ACCOUNTS: &str = "/v1/financial-accounts";

/// Behind a proxy at 127.0.0.0/8 (the test client's address) that appends to `header`.
fn behind_proxy(trusted: &[&str], header: ClientIpHeader) -> ServerConfig {
    ServerConfig {
        trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
        client_ip_header: header,
        ..ServerConfig::default()
    }
}

fn allow(nets: &[&str]) -> TokenSpec {
    TokenSpec { allowed_ips: nets.iter().map(|n| n.parse().unwrap()).collect(), ..TokenSpec::default() }
}

#[tokio::test]
async fn a_forged_forwarded_header_cannot_pass_an_allowlist_in_x_forwarded_for_mode() {
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"], ClientIpHeader::XForwardedFor), None).await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, allow(&["203.0.113.7/32"])).await;
    // The client writes its own `Forwarded`; the proxy appends the real address to X-Forwarded-For.
    let forged = app.get(ACCOUNTS, &t, &o.space).header("forwarded", "for=203.0.113.7");
    let (status, _, body) = send(forged.header("x-forwarded-for", "198.51.100.9")).await;
    let err = assert_error(status, &body, 403, "ip_not_allowed");
    assert_eq!(err["details"][0]["ipAddress"], "198.51.100.9", "{body}");
    // `Forwarded` alone is not read either: the trusted peer is then the client.
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("forwarded", "for=203.0.113.7")).await;
    let err = assert_error(status, &body, 403, "ip_not_allowed");
    assert_eq!(err["details"][0]["ipAddress"], "127.0.0.1", "{body}");
    // The control: the header the proxy appends to is believed, so the allowlist itself works.
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", "203.0.113.7")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn in_forwarded_mode_x_forwarded_for_is_ignored_entirely() {
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"], ClientIpHeader::Forwarded), None).await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, allow(&["203.0.113.7/32"])).await;
    let forged = app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", "203.0.113.7");
    let (status, _, body) = send(forged.header("forwarded", "for=198.51.100.9;proto=https")).await;
    let err = assert_error(status, &body, 403, "ip_not_allowed");
    assert_eq!(err["details"][0]["ipAddress"], "198.51.100.9", "{body}");
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("forwarded", "for=\"203.0.113.7:4711\"")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_unparseable_hop_on_the_trusted_side_is_refused_never_read_as_the_proxy() {
    // The load balancers live in 198.51.100.0/24 and the token allows that whole network: an
    // unreadable chain that fell back to the peer would pass.
    let trusted = ["127.0.0.0/8", "198.51.100.0/24"];
    let app = TestApp::spawn_with(behind_proxy(&trusted, ClientIpHeader::XForwardedFor), None).await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, allow(&["127.0.0.0/8", "198.51.100.0/24"])).await;
    for value in ["garbage, 198.51.100.9", "unknown", "", "203.0.113.7, 198.51.100.9, not-an-ip"] {
        let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("x-forwarded-for", value)).await;
        let err = assert_error(status, &body, 400, "forwarded_header_invalid");
        assert_eq!(err["details"][0]["header"], "x-forwarded-for", "{body}");
        assert!(!body.to_string().contains("garbage"), "the hop is not echoed: {body}");
    }
    // Refused before anything else: even the unauthenticated root answers it, in the envelope.
    let (status, _, body) = send(app.client.get(app.url("/")).header("x-forwarded-for", "garbage")).await;
    assert_error(status, &body, 400, "forwarded_header_invalid");
    // Garbage the client wrote left of the address our proxy appended is never read.
    let (t_out, _) = app.token_with(&o.monimeer, allow(&["203.0.113.7/32"])).await;
    let (status, _, body) =
        send(app.get(ACCOUNTS, &t_out, &o.space).header("x-forwarded-for", "garbage, 203.0.113.7")).await;
    assert_eq!(status, 200, "{body}");
    // A trusted peer that sends no forwarding header is itself the client.
    let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space)).await;
    assert_eq!(status, 200, "{body}");

    let app = TestApp::spawn_with(behind_proxy(&trusted, ClientIpHeader::Forwarded), None).await;
    let o = app.owner().await;
    let (t, _) = app.token_with(&o.monimeer, allow(&["127.0.0.0/8", "198.51.100.0/24"])).await;
    for value in ["for=unknown", "for=_hidden, for=198.51.100.9", "proto=https"] {
        let (status, _, body) = send(app.get(ACCOUNTS, &t, &o.space).header("forwarded", value)).await;
        let err = assert_error(status, &body, 400, "forwarded_header_invalid");
        assert_eq!(err["details"][0]["header"], "forwarded", "{body}");
    }
}

#[tokio::test]
async fn a_refused_chain_changes_nothing() {
    let app = TestApp::spawn_with(behind_proxy(&["127.0.0.0/8"], ClientIpHeader::XForwardedFor), None).await;
    let o = app.owner().await;
    let t = app.token(&o.monimeer).await;
    let before = app.list_all(ACCOUNTS, "", &t, &o.space).await.len();
    let req = app.post(ACCOUNTS, &t, &o.space, &serde_json::json!({"name": "x", "currency": "SLE"}));
    let (status, _, body) = send(req.header("x-forwarded-for", "1.2.3.4, nope")).await;
    assert_error(status, &body, 400, "forwarded_header_invalid");
    assert_eq!(app.list_all(ACCOUNTS, "", &t, &o.space).await.len(), before, "nothing was created");
}
