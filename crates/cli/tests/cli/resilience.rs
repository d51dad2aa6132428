//! Issue 8: soak and crash. Many concurrent clients move money with retries and duplicate
//! idempotency keys, create accounts, read, and revoke tokens mid-flight, against a real server
//! process; then — and again after `kill -9` and a restart on the same database — every ledger
//! invariant holds and every acknowledged write is there. SQLite by default; PostgreSQL when
//! `OPENMONIME_TEST_DATABASE_URL` names one.

use super::{free_port, openmonime};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 6;
const FUNDING: i64 = 50_000;

/// A database for one test: a temporary SQLite file, or a fresh PostgreSQL database.
struct TestDb {
    url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    async fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("openmonime_soak_{}", openmonime_domain::ids::random_base62(10).to_lowercase());
                let options = openmonime_store::backend::StoreOptions { max_connections: 1, ..Default::default() };
                let store = openmonime_store::Store::connect(&admin, options).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(store.pool()).await.unwrap();
                store.close().await;
                format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
            }
            _ => format!("sqlite:{}", dir.path().join("soak.db").display()),
        };
        TestDb { url, _dir: dir }
    }

    /// `openmonime admin … --json`, which must succeed.
    fn admin(&self, args: &[&str]) -> Value {
        let out = openmonime().arg("admin").args(args).args(["--database", &self.url, "--json"]).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A server process with rate limits off (this is a load test).
struct Node {
    child: Child,
    base: String,
    first_lines: Vec<String>,
}

impl Node {
    fn start(db: &TestDb) -> Node {
        let port = free_port();
        let mut child = openmonime()
            .args(["serve", "--database", &db.url, "--listen", &format!("127.0.0.1:{port}"), "--rate-limits", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        Node { child, base: format!("http://127.0.0.1:{port}"), first_lines: rx.try_iter().collect() }
    }

    /// The quick-start Space and token printed on first start.
    fn quick_start(&self) -> (String, String) {
        let text = self.first_lines.join("\n");
        let space = text.split("Space:").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        let token = self.first_lines.iter().map(|l| l.trim()).find(|l| l.starts_with("mon_test_")).unwrap().to_owned();
        (space, token)
    }

    fn kill_9(mut self) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args(["-9", &pid]).status().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the clients were told succeeded.
#[derive(Default)]
struct Acknowledged {
    /// Idempotency key → (transfer id, status, value).
    transfers: HashMap<String, (String, String, i64)>,
    accounts: Vec<String>,
    /// Distinct transfer keys sent, answered or not.
    keys_sent: usize,
}

#[derive(Clone)]
struct Ctx {
    client: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
    space: String,
    accounts: Arc<Vec<String>>,
    acked: Arc<Mutex<Acknowledged>>,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.lock().unwrap())
    }

    fn post(&self, path: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("Monime-Space-Id", &self.space)
            .header("Idempotency-Key", key)
            .json(body)
            .timeout(Duration::from_secs(10))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .header("Monime-Space-Id", &self.space)
            .timeout(Duration::from_secs(10))
    }

    /// A transfer, sometimes sent twice under one key (a retry, or two racing copies).
    async fn transfer(&self, key: String) {
        let (source, destination, value) = {
            let mut rng = rand::thread_rng();
            let s = rng.gen_range(0..ACCOUNTS);
            let d = (s + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
            (self.accounts[s].clone(), self.accounts[d].clone(), rng.gen_range(1..2_000))
        };
        let body = json!({"amount": {"currency": "SLE", "value": value}, "sourceFinancialAccount": {"id": source}, "destinationFinancialAccount": {"id": destination}});
        self.acked.lock().unwrap().keys_sent += 1;
        let answers = if rand::thread_rng().gen_bool(0.4) {
            let (x, y) = tokio::join!(
                self.post("/v1/internal-transfers", &key, &body).send(),
                self.post("/v1/internal-transfers", &key, &body).send()
            );
            vec![x, y]
        } else {
            vec![self.post("/v1/internal-transfers", &key, &body).send().await]
        };
        for answer in answers {
            let Ok(res) = answer else { continue };
            if res.status() != 200 {
                assert!(res.status() == 409 || res.status().is_server_error(), "unexpected {}", res.status());
                continue;
            }
            let Ok(v) = res.json::<Value>().await else { continue };
            let t = &v["result"];
            let entry = (t["id"].as_str().unwrap().to_owned(), t["status"].as_str().unwrap().to_owned(), value);
            let mut acked = self.acked.lock().unwrap();
            if let Some(previous) = acked.transfers.get(&key) {
                assert_eq!(previous, &entry, "one key, one effect: a replay must return the first transfer");
            }
            acked.transfers.insert(key.clone(), entry);
        }
    }

    async fn create_account(&self, key: String) {
        let body = json!({"name": format!("soak {key}"), "currency": "SLE"});
        if let Ok(res) = self.post("/v1/financial-accounts", &key, &body).send().await {
            if res.status() == 200 {
                if let Ok(v) = res.json::<Value>().await {
                    self.acked.lock().unwrap().accounts.push(v["result"]["id"].as_str().unwrap().to_owned());
                }
            }
        }
    }

    async fn read(&self) {
        let account = self.accounts[rand::thread_rng().gen_range(0..ACCOUNTS)].clone();
        if let Ok(res) = self.get(&format!("/v1/financial-accounts/{account}?withBalance=true")).send().await {
            if res.status() == 200 {
                let v: Value = res.json().await.unwrap();
                assert!(v["result"]["balance"]["available"]["value"].as_i64().unwrap() >= 0);
            }
        }
        let _ = self.get("/v1/financial-transactions?limit=5").send().await;
    }
}

/// Sets up accounts and funding; returns the shared client context.
async fn prepare(db: &TestDb, node: &Node) -> Ctx {
    let (space, token) = node.quick_start();
    let client = reqwest::Client::new();
    let mut accounts = Vec::new();
    for i in 0..ACCOUNTS {
        let res = client
            .post(format!("{}/v1/financial-accounts", node.base))
            .bearer_auth(&token)
            .header("Monime-Space-Id", &space)
            .header("Idempotency-Key", format!("setup-{i}"))
            .json(&json!({"name": format!("acct {i}"), "currency": "SLE"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let id = v["result"]["id"].as_str().unwrap().to_owned();
        db.admin(&[
            "ledger",
            "credit",
            "--space",
            &space,
            "--env",
            "test",
            "--account",
            &id,
            "--amount",
            &FUNDING.to_string(),
        ]);
        accounts.push(id);
    }
    Ctx {
        client,
        base: Arc::new(Mutex::new(node.base.clone())),
        token,
        space,
        accounts: Arc::new(accounts),
        acked: Arc::default(),
    }
}

/// Runs `clients` workers until `until`; each loops over random operations.
async fn load(ctx: &Ctx, clients: usize, until: Instant) {
    let mut workers = Vec::new();
    for w in 0..clients {
        let ctx = ctx.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let key = format!("w{w}-{n}");
                let op = rand::thread_rng().gen_range(0..10);
                match op {
                    0..=5 => ctx.transfer(key).await,
                    6 => ctx.create_account(key).await,
                    _ => ctx.read().await,
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
}

/// Checks everything the clients were told against what the database holds. With
/// `all_answered`, every transfer request got an answer, so the stored count is exact.
async fn check(db: &TestDb, ctx: &Ctx, all_answered: bool) {
    let verify = db.admin(&["ledger", "verify"]);
    assert_eq!(verify["consistent"], true, "{verify}");
    let test_sle = verify["totals"].as_array().unwrap().iter().find(|t| t["environment"] == "test").cloned();
    assert_eq!(
        test_sle.map(|t| t["balances"].clone()),
        Some(json!(FUNDING * ACCOUNTS as i64)),
        "transfers move money, they never make or lose it: {verify}"
    );
    let acked = std::mem::take(&mut *ctx.acked.lock().unwrap());
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "resilience: {} transfer keys sent, {} acknowledged, {} accounts created",
            acked.keys_sent,
            acked.transfers.len(),
            acked.accounts.len()
        );
    }
    assert!(acked.transfers.len() > 20, "the load ran: {} transfers acknowledged", acked.transfers.len());
    for (key, (id, status, value)) in &acked.transfers {
        let res = ctx.get(&format!("/v1/internal-transfers/{id}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged transfer {id} ({key}) is missing");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["result"]["status"], status.as_str());
        assert_eq!(v["result"]["amount"]["value"], *value);
    }
    for id in &acked.accounts {
        let res = ctx.get(&format!("/v1/financial-accounts/{id}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged account {id} is missing");
    }
    // No key had more than one effect: the transfers stored are at most one per key sent.
    let mut stored = 0;
    let mut after = String::new();
    loop {
        let v: Value =
            ctx.get(&format!("/v1/internal-transfers?limit=50{after}")).send().await.unwrap().json().await.unwrap();
        stored += v["result"].as_array().unwrap().len();
        match v["pagination"]["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert!(stored >= acked.transfers.len(), "every acknowledged transfer is stored");
    assert!(
        stored <= acked.keys_sent,
        "at most one transfer per idempotency key: {stored} stored for {} keys",
        acked.keys_sent
    );
    if all_answered {
        assert_eq!(stored, acked.transfers.len(), "exactly one transfer per acknowledged key, none for refused ones");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_duplicates_retries_and_revocations_keeps_every_invariant() {
    let db = TestDb::new().await;
    let node = Node::start(&db);
    let ctx = prepare(&db, &node).await;

    // A second token, revoked in the middle of the load.
    let res = ctx
        .client
        .post(ctx.url("/v1/access-tokens"))
        .bearer_auth(&ctx.token)
        .json(&json!({"name": "doomed", "permissions": ["*"]}))
        .send()
        .await
        .unwrap();
    let doomed: Value = res.json().await.unwrap();
    let (doomed_id, doomed_token) =
        (doomed["result"]["id"].as_str().unwrap().to_owned(), doomed["result"]["token"].as_str().unwrap().to_owned());
    let revoker = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let res = ctx
                .client
                .post(ctx.url(&format!("/v1/access-tokens/{doomed_id}/revoke")))
                .bearer_auth(&ctx.token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        })
    };
    load(&ctx, 12, Instant::now() + Duration::from_secs(5)).await;
    revoker.await.unwrap();
    let res = ctx
        .client
        .get(ctx.url("/v1/financial-accounts"))
        .bearer_auth(&doomed_token)
        .header("Monime-Space-Id", &ctx.space)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the token revoked mid-flight is refused");
    check(&db, &ctx, true).await;
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_write() {
    let db = TestDb::new().await;
    let node = Node::start(&db);
    let ctx = prepare(&db, &node).await;
    let loader = {
        let ctx = ctx.clone();
        tokio::spawn(async move { load(&ctx, 12, Instant::now() + Duration::from_secs(4)).await })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    node.kill_9();
    loader.await.unwrap();

    let restarted = Node::start(&db);
    *ctx.base.lock().unwrap() = restarted.base.clone();
    check(&db, &ctx, false).await;
    drop(restarted);
}
