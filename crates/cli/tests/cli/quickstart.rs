//! Issue 12, finding 16: the quick start runs once per database however many nodes start on it at
//! once, and with `--log-format json` no token is created, so none can reach a log stream, and
//! every line the server writes is JSON. Real `serve` processes; PostgreSQL when
//! `OPENMONIME_TEST_DATABASE_URL` names one, else a SQLite file both processes open.

use super::{openmonime, Server};
use openmonime_store::backend::StoreOptions;
use openmonime_store::Store;
use serde_json::{json, Value};
use std::time::Duration;

/// A fresh, empty database: a new PostgreSQL database, or a SQLite file in `dir`.
fn empty_database(dir: &tempfile::TempDir) -> String {
    match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => runtime().block_on(async {
            let name = format!("openmonime_qs_{}", openmonime_domain::ids::random_base62(10).to_lowercase());
            let store =
                Store::connect(&admin, StoreOptions { max_connections: 1, ..Default::default() }).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(store.pool()).await.unwrap();
            store.close().await;
            format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
        }),
        _ => format!("sqlite:{}", dir.path().join("openmonime.db").display()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// (Monimeers, Spaces, access tokens) in the database.
fn counts(url: &str) -> (i64, i64, i64) {
    runtime().block_on(async {
        let store = Store::connect(url, StoreOptions { max_connections: 1, ..Default::default() }).await.unwrap();
        let mut n = Vec::new();
        for table in ["monimeers", "spaces", "access_tokens"] {
            let row: (i64,) =
                sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(store.pool()).await.unwrap();
            n.push(row.0);
        }
        store.close().await;
        (n[0], n[1], n[2])
    })
}

fn token_lines(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.trim().starts_with("mon_test_")).count()
}

#[test]
fn two_nodes_starting_at_once_on_an_empty_database_create_one_quick_start() {
    // A few rounds: each is a fresh race between two processes doing the same thing at once.
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let url = empty_database(&dir);
        let mut a = Server::spawn(&url, &[]);
        let mut b = Server::spawn(&url, &[]);
        a.wait_listening();
        b.wait_listening();
        // An answered request means serving has begun, SIGTERM handler included: a signal sent
        // the moment the port opens could otherwise end a process before it installs one.
        for node in [&a, &b] {
            assert_eq!(node.get("/", &[]).0, 200);
        }
        let (a_clean, a_out, a_log) = a.finish();
        let (b_clean, b_out, b_log) = b.finish();
        assert!(a_clean && b_clean, "round {round}: both must serve and stop cleanly:\n{a_log}\n{b_log}");
        assert_eq!(
            token_lines(&a_out) + token_lines(&b_out),
            1,
            "round {round}: exactly one node prints the quick start:\n{a_out:?}\n{b_out:?}"
        );
        assert_eq!(counts(&url), (1, 1, 1), "round {round}: one owner, one Space, one token");
    }
}

#[test]
fn with_json_logs_no_token_is_created_and_every_line_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = empty_database(&dir);
    let mut server = Server::spawn(&url, &["--log-format", "json"]);
    server.wait_listening();
    let (status, _) = server.get("/", &[]);
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counts(&url), (1, 1, 0), "an owner and a Space, but no token");

    let (clean, stdout, log) = server.finish();
    assert!(clean, "{log}");
    let mut lines: Vec<Value> = Vec::new();
    for line in stdout.iter().map(String::as_str).chain(log.lines()) {
        assert!(!line.contains("mon_test_"), "a token reached a log stream: {line}");
        lines.push(serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line:?}")));
    }
    assert!(stdout.is_empty(), "nothing but the log, which is stderr: {stdout:?}");
    // The log says how to mint the token with the admin CLI; doing so gives a working token.
    let hint = lines
        .iter()
        .find_map(|l| l["fields"]["create_token"].as_str())
        .unwrap_or_else(|| panic!("no quick-start line in the log:\n{log}"))
        .to_owned();
    let args: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(&args[..4], ["openmonime", "admin", "token", "create"], "{hint}");
    assert!(!hint.contains("sqlite:") && !hint.contains("postgres"), "the database URL is not logged: {hint}");
    let out = openmonime().args(&args[1..]).args(["--database", &url, "--json"]).output().unwrap();
    assert!(out.status.success(), "{hint}: {}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let space = created["spaceId"].as_str().unwrap().to_owned();

    let mut server = Server::spawn(&url, &["--log-format", "json"]);
    server.wait_listening();
    let (status, body) = server
        .get("/v1/financial-accounts", &[("Authorization", &format!("Bearer {token}")), ("Monime-Space-Id", &space)]);
    assert_eq!(status, 200, "{body}");
    let (clean, stdout, log) = server.finish();
    assert!(clean && stdout.is_empty(), "{stdout:?}");
    assert!(!log.contains("create_token"), "the quick start ran once: {log}");
    assert!(!log.contains(&token), "the token reached the log");
    assert_eq!(counts(&url), (1, 1, 1));
    // The request log (written by the server itself, not through `tracing`): one JSON line per
    // request, in the `tracing` formatter's layout, naming the token by its id.
    let request = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["target"] == "openmonime::request" && l["fields"]["route"] == "/v1/financial-accounts")
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    let fields = &request["fields"];
    assert_eq!(
        (&request["level"], &fields["message"], &fields["method"]),
        (&json!("INFO"), &json!("request"), &json!("GET"))
    );
    assert_eq!(fields["status"], 200);
    assert!(fields["duration_us"].is_u64() && fields["request_id"].as_str().unwrap().starts_with("req-"));
    assert_eq!(fields["token_id"], created["id"]);
    assert_eq!(fields["client_ip"], "127.0.0.1");
    assert!(request["timestamp"].as_str().unwrap().ends_with('Z'));
}
