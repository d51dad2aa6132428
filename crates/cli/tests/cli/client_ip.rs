//! Issue 12, findings 2 and 8, through a real `openmonime serve` process: the client address comes
//! from the one forwarding header named by `--client-ip-header` (flag > variable > file >
//! `x-forwarded-for`), and an unparseable hop on the proxy's side is refused in the envelope.

use super::{openmonime, Db, Server};

fn origin(server: &Server, headers: &[(&str, &str)]) -> String {
    let (status, body) = server.get("/", headers);
    assert_eq!(status, 200, "{body}");
    body["requestOrigin"]["ipAddress"].as_str().unwrap().to_owned()
}

#[test]
fn the_client_ip_header_setting_picks_the_one_chain_that_is_read() {
    let db = Db::new();
    let both = [("Forwarded", "for=81.2.69.9"), ("X-Forwarded-For", "8.8.8.8")];

    // The default: X-Forwarded-For; a client's own `Forwarded` is ignored.
    let server = Server::start_with(&db, &["--trusted-proxy", "127.0.0.0/8"]);
    assert_eq!(origin(&server, &both), "8.8.8.8");
    assert_eq!(origin(&server, &[("Forwarded", "for=81.2.69.9")]), "127.0.0.1");
    let (status, body) = server.get("/", &[("X-Forwarded-For", "8.8.8.8, garbage")]);
    assert_eq!((status, body["error"]["reason"].as_str()), (400, Some("forwarded_header_invalid")), "{body}");
    assert!(server.terminate().0);

    // The file says `forwarded`: X-Forwarded-For is then ignored entirely.
    let file = db.dir.path().join("openmonime.toml");
    std::fs::write(&file, "trusted-proxies = [\"127.0.0.0/8\"]\nclient-ip-header = \"forwarded\"\n").unwrap();
    let config = file.to_str().unwrap();
    let server = Server::start_with(&db, &["--config", config]);
    assert_eq!(origin(&server, &both), "81.2.69.9");
    assert_eq!(origin(&server, &[("X-Forwarded-For", "8.8.8.8")]), "127.0.0.1");
    let (status, body) = server.get("/", &[("Forwarded", "for=unknown")]);
    assert_eq!((status, body["error"]["reason"].as_str()), (400, Some("forwarded_header_invalid")), "{body}");
    assert!(server.terminate().0);

    // The flag wins over the file.
    let server = Server::start_with(&db, &["--config", config, "--client-ip-header", "x-forwarded-for"]);
    assert_eq!(origin(&server, &both), "8.8.8.8");
    assert!(server.terminate().0);
}

#[test]
fn an_unknown_client_ip_header_is_refused_at_startup() {
    let db = Db::new();
    let out = openmonime()
        .args(["serve", "--database", &db.url, "--listen", "127.0.0.1:0", "--client-ip-header", "x-real-ip"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("x-forwarded-for") && stderr.contains("forwarded"), "{stderr}");

    let file = db.dir.path().join("bad.toml");
    std::fs::write(&file, "client-ip-header = \"x-real-ip\"\n").unwrap();
    let out = openmonime()
        .args(["serve", "--database", &db.url, "--listen", "127.0.0.1:0", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("client-ip header must be"), "{stderr}");
}
