//! End-to-end tests of the `openmonime` binary: every `admin` command on a real SQLite file (with
//! `--json`, and refusals with a clear message), `migrate`, and `serve` — the one-time quick-start
//! token, answering requests, honouring a revocation made by the CLI while it runs, a clean
//! exit on SIGTERM, and a webhook delivery that survives a kill -9 mid-attempt.

use openmonime_domain::permission::Permission;
use openmonime_domain::time_fmt;
use openmonime_store::backend::StoreOptions;
use openmonime_store::Store;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary, with no setting inherited from the environment running the tests.
fn openmonime() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openmonime"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OPENMONIME_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A fresh SQLite database in its own directory.
struct Db {
    dir: tempfile::TempDir,
    url: String,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("openmonime.db").display());
        Db { dir, url }
    }

    /// Runs `openmonime admin ARGS --database URL --json`.
    fn admin(&self, args: &[&str]) -> Output {
        openmonime().arg("admin").args(args).args(["--database", &self.url, "--json"]).output().unwrap()
    }

    /// Runs an admin command that must succeed; returns its JSON.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.admin(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{args:?}: not one JSON object: {stdout}"))
    }

    /// Runs an admin command that must fail with `needle` in its error output, printing nothing.
    fn refused(&self, args: &[&str], needle: &str) {
        let out = self.admin(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: expected `{needle}` in: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a result: {}", String::from_utf8_lossy(&out.stdout));
    }

    /// The store itself, for what no command shows (a Space's main account).
    fn store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let store =
                Store::open(&self.url, StoreOptions { max_connections: 1, ..StoreOptions::default() }).await.unwrap();
            let out = f(&store).await;
            store.close().await;
            out
        })
    }

    fn main_account(&self, space: &str) -> String {
        let space = space.to_owned();
        self.store(async move |store| {
            let tenant = openmonime_domain::entities::Tenant {
                space_id: openmonime_domain::ids::SpaceId::parse(&space).unwrap(),
                environment: openmonime_domain::Environment::Test,
            };
            let filter = openmonime_store::ledger::AccountFilter { reference: Some("main".into()), uvan: None };
            let page = store.list_accounts(&tenant, &filter, openmonime_store::PageRequest { after: None, limit: 1 });
            page.await.unwrap().items[0].id.to_string()
        })
    }
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn close_to(raw: &Value, want: time::OffsetDateTime) -> bool {
    let got = time_fmt::parse_rfc3339(raw.as_str().expect("a time")).expect("RFC 3339");
    (got - want).abs() < time::Duration::minutes(5)
}

// ---------------------------------------------------------------- admin

#[test]
fn admin_manages_people_spaces_members_and_tokens() {
    let db = Db::new();
    let ada = db.ok(&["monimeer", "create", "--name", "Ada", "--email", "ada@example.com"]);
    assert!(id(&ada).starts_with("mmr-"), "{ada}");
    assert_eq!((&ada["name"], &ada["email"]), (&json!("Ada"), &json!("ada@example.com")));
    let bob = db.ok(&["monimeer", "create", "--name", "Bob"]);
    assert_eq!(bob["email"], Value::Null);
    let (ada, bob) = (id(&ada).to_owned(), id(&bob).to_owned());

    let space = db.ok(&["space", "create", "--name", "Shop", "--owner", &ada]);
    let space = id(&space).to_owned();
    assert!(space.starts_with("spc-"));

    let added = db.ok(&["member", "add", "--space", &space, "--monimeer", &bob, "--role", "viewer"]);
    assert_eq!(added, json!({"spaceId": space, "monimeerId": bob, "role": "viewer"}));
    let changed = db.ok(&["member", "set-role", "--space", &space, "--monimeer", &bob, "--role", "developer"]);
    assert_eq!(changed["role"], "developer");

    // A scoped token with every option.
    let scoped = db.ok(&[
        "token",
        "create",
        "--monimeer",
        &bob,
        "--name",
        "ci",
        "--env",
        "test",
        "--permissions",
        "financial-accounts:read,internal-transfers:*",
        "--space",
        &space,
        "--allow-ip",
        "10.0.0.0/8",
        "--allow-ip",
        "2001:db8::/32",
        "--expires-in",
        "30d",
        "--api-version",
        "caph.2025-06-20",
    ]);
    let plaintext = scoped["token"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("mon_test_"), "{scoped}");
    assert!(id(&scoped).starts_with("tok-"));
    assert_eq!(scoped["environment"], "test");
    assert_eq!(
        scoped["permissions"],
        json!(["financial-accounts:read", "internal-transfers:read", "internal-transfers:write"])
    );
    assert_eq!(scoped["spaceId"], space.as_str());
    assert_eq!(scoped["allowedIps"], json!(["10.0.0.0/8", "2001:db8::/32"]));
    assert!(close_to(&scoped["expireTime"], time_fmt::now() + time::Duration::days(30)), "{scoped}");
    assert_eq!(scoped["apiVersion"], "caph.2025-06-20");
    assert_eq!(scoped["status"], "ACTIVE");
    assert_eq!(scoped["revokeTime"], Value::Null);

    // A live token with everything and no expiry.
    let live = db.ok(&[
        "token",
        "create",
        "--monimeer",
        &ada,
        "--name",
        "ops",
        "--env",
        "live",
        "--all-permissions",
        "--no-expiry",
    ]);
    let live_plaintext = live["token"].as_str().unwrap().to_owned();
    assert!(live_plaintext.starts_with("mon_") && !live_plaintext.starts_with("mon_test_"), "{live}");
    assert_eq!(live["environment"], "live");
    assert_eq!(live["expireTime"], Value::Null);
    assert_eq!(live["permissions"].as_array().unwrap().len(), Permission::ALL.len());
    assert_eq!(live["spaceId"], Value::Null);
    assert_eq!(live["apiVersion"], "caph.2025-08-23");

    // Defaults: a finite lifetime (60 days); `*` expands; an exact expiry is kept.
    let default = db.ok(&["token", "create", "--monimeer", &ada, "--name", "d", "--env", "test", "--permissions", "*"]);
    assert!(close_to(&default["expireTime"], time_fmt::now() + time::Duration::days(60)), "{default}");
    assert_eq!(default["permissions"].as_array().unwrap().len(), Permission::ALL.len());
    let at = time_fmt::rfc3339(time_fmt::now() + time::Duration::days(3));
    let exact = db.ok(&[
        "token",
        "create",
        "--monimeer",
        &ada,
        "--name",
        "x",
        "--env",
        "test",
        "--permissions",
        "payouts:read",
        "--expires-at",
        &at,
    ]);
    assert_eq!(exact["expireTime"], at.as_str());
    for (lifetime, days) in [("12h", 0.5), ("2w", 14.0), ("1y", 365.0)] {
        let t = db.ok(&[
            "token",
            "create",
            "--monimeer",
            &ada,
            "--name",
            "l",
            "--env",
            "test",
            "--permissions",
            "payouts:read",
            "--expires-in",
            lifetime,
        ]);
        let want = time_fmt::now() + time::Duration::seconds_f64(days * 86_400.0);
        assert!(close_to(&t["expireTime"], want), "{lifetime}: {t}");
    }

    // Lists show the tokens but never their secrets.
    let out = db.admin(&["token", "list", "--monimeer", &bob]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!text.contains(&plaintext), "the plaintext is shown only once");
    let listed: Value = serde_json::from_str(text.trim()).unwrap();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], scoped["id"]);
    assert!(tokens[0].get("token").is_none());
    assert!(tokens[0]["hint"].as_str().unwrap().ends_with(&plaintext[plaintext.len() - 4..]));
    assert_eq!(db.ok(&["token", "list", "--monimeer", &ada])["tokens"].as_array().unwrap().len(), 6);

    // Revocation, once.
    let revoked = db.ok(&["token", "revoke", id(&scoped)]);
    assert_eq!(revoked["status"], "REVOKED");
    assert!(close_to(&revoked["revokeTime"], time_fmt::now()));
    db.refused(&["token", "revoke", id(&scoped)], "token_already_revoked");
    assert_eq!(db.ok(&["token", "list", "--monimeer", &bob])["tokens"][0]["status"], "REVOKED");

    // Removal and offboarding.
    db.ok(&["member", "remove", "--space", &space, "--monimeer", &bob]);
    db.refused(&["member", "remove", "--space", &space, "--monimeer", &bob], "not found");
    let off = db.ok(&["monimeer", "offboard", &bob]);
    assert!(close_to(&off["offboardTime"], time_fmt::now()), "{off}");
    db.refused(
        &["token", "create", "--monimeer", &bob, "--name", "late", "--env", "test", "--all-permissions"],
        "monimeer_offboarded",
    );
    db.refused(&["member", "add", "--space", &space, "--monimeer", &bob, "--role", "viewer"], "monimeer_offboarded");

    // Without --json the same result is printed for people.
    let out =
        openmonime().args(["admin", "monimeer", "create", "--name", "Zed", "--database", &db.url]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("id: mmr-")), "{text}");
    assert!(text.lines().any(|l| l == "name: Zed"), "{text}");
}

#[test]
fn admin_refuses_bad_input_with_a_clear_message() {
    let db = Db::new();
    let ada = id(&db.ok(&["monimeer", "create", "--name", "Ada"])).to_owned();
    let space = id(&db.ok(&["space", "create", "--name", "Shop", "--owner", &ada])).to_owned();
    let token = |extra: &[&str]| {
        let mut args = vec!["token", "create", "--monimeer", ada.as_str(), "--name", "t", "--env", "test"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (token(&[]), "choose the token's permissions"),
        (token(&["--permissions", "nope:read"]), "`nope:read` is not a permission"),
        (token(&["--permissions", "payouts:delete"]), "`payouts:delete` is not a permission"),
        (token(&["--permissions", "payouts:read", "--all-permissions"]), "cannot be used with"),
        (token(&["--all-permissions", "--no-expiry", "--expires-in", "30d"]), "cannot be used with"),
        (token(&["--all-permissions", "--expires-in", "5x"]), "--expires-in must be a lifetime"),
        (token(&["--all-permissions", "--expires-in", "0d"]), "--expires-in must be a lifetime"),
        (token(&["--all-permissions", "--expires-in", "d"]), "--expires-in must be a lifetime"),
        (token(&["--all-permissions", "--expires-in", "3é"]), "--expires-in must be a lifetime"),
        (token(&["--all-permissions", "--expires-in", "99999999999999y"]), "lifetime"),
        (token(&["--all-permissions", "--expires-in", "500ms"]), "--expires-in must be a lifetime"),
        (
            token(&[&["--all-permissions"][..], &["--allow-ip", "10.0.0.1"].repeat(51)].concat()),
            "--allow-ip may hold at most 50 entries",
        ),
        (token(&["--all-permissions", "--expires-at", "2001-01-01T00:00:00Z"]), "must be in the future"),
        (token(&["--all-permissions", "--expires-at", "tomorrow"]), "--expires-at must be an RFC 3339 time"),
        (token(&["--all-permissions", "--api-version", "caph.1999-01-01"]), "--api-version must be one of"),
        (
            token(&["--all-permissions", "--allow-ip", "not-a-cidr"]),
            "every --allow-ip entry must be an IP address or CIDR",
        ),
        (token(&["--all-permissions", "--space", "shop"]), "--space must be a Space id"),
        (token(&["--all-permissions", "--space", "spc-doesnotexist"]), "not found"),
        (
            vec![
                "token".into(),
                "create".into(),
                "--monimeer".into(),
                ada.clone(),
                "--name".into(),
                "t".into(),
                "--env".into(),
                "prod".into(),
                "--all-permissions".into(),
            ],
            "--env must be `test` or `live`",
        ),
        (
            vec![
                "token".into(),
                "create".into(),
                "--monimeer".into(),
                ada.clone(),
                "--name".into(),
                "".into(),
                "--env".into(),
                "test".into(),
                "--all-permissions".into(),
            ],
            "--name must be 1 to 100 characters",
        ),
        (
            vec![
                "token".into(),
                "create".into(),
                "--monimeer".into(),
                "ada".into(),
                "--name".into(),
                "t".into(),
                "--env".into(),
                "test".into(),
                "--all-permissions".into(),
            ],
            "is not a valid Monimeer id",
        ),
        (
            vec![
                "token".into(),
                "create".into(),
                "--monimeer".into(),
                "mmr-nobody".into(),
                "--name".into(),
                "t".into(),
                "--env".into(),
                "test".into(),
                "--all-permissions".into(),
            ],
            "not found",
        ),
        (vec!["token".into(), "revoke".into(), "tok-nobody".into()], "not found"),
        (vec!["token".into(), "revoke".into(), "nobody".into()], "is not a valid token id"),
        (vec!["monimeer".into(), "create".into(), "--name".into(), "  ".into()], "--name must not be empty"),
        (vec!["monimeer".into(), "offboard".into(), "mmr-nobody".into()], "not found"),
        (
            vec!["space".into(), "create".into(), "--name".into(), "X".into(), "--owner".into(), "mmr-nobody".into()],
            "not found",
        ),
        (
            vec![
                "member".into(),
                "add".into(),
                "--space".into(),
                space.clone(),
                "--monimeer".into(),
                ada.clone(),
                "--role".into(),
                "viewer".into(),
            ],
            "already_a_member",
        ),
        (
            vec![
                "member".into(),
                "set-role".into(),
                "--space".into(),
                space.clone(),
                "--monimeer".into(),
                ada.clone(),
                "--role".into(),
                "emperor".into(),
            ],
            "role_unknown",
        ),
        (
            vec![
                "member".into(),
                "set-role".into(),
                "--space".into(),
                space.clone(),
                "--monimeer".into(),
                ada.clone(),
                "--role".into(),
                "viewer".into(),
            ],
            "last_owner",
        ),
        (
            vec!["member".into(), "remove".into(), "--space".into(), space.clone(), "--monimeer".into(), ada.clone()],
            "last_owner",
        ),
        (
            vec![
                "ledger".into(),
                "credit".into(),
                "--space".into(),
                space.clone(),
                "--env".into(),
                "test".into(),
                "--account".into(),
                "fac-nobody".into(),
                "--amount".into(),
                "5".into(),
            ],
            "not found",
        ),
        (
            vec![
                "ledger".into(),
                "credit".into(),
                "--space".into(),
                space.clone(),
                "--env".into(),
                "staging".into(),
                "--account".into(),
                "fac-nobody".into(),
                "--amount".into(),
                "5".into(),
            ],
            "--env must be",
        ),
        (
            vec![
                "ledger".into(),
                "credit".into(),
                "--space".into(),
                space.clone(),
                "--env".into(),
                "test".into(),
                "--account".into(),
                "fac-nobody".into(),
                "--amount".into(),
                "0".into(),
            ],
            "--amount must be a positive integer",
        ),
        (
            vec![
                "ledger".into(),
                "credit".into(),
                "--space".into(),
                space.clone(),
                "--env".into(),
                "test".into(),
                "--account".into(),
                "fac-nobody".into(),
                "--amount=-3".into(),
            ],
            "--amount must be a positive integer",
        ),
        (
            vec![
                "ledger".into(),
                "credit".into(),
                "--space".into(),
                space.clone(),
                "--env".into(),
                "test".into(),
                "--account".into(),
                "fac-nobody".into(),
                "--amount".into(),
                "5".into(),
                "--reference".into(),
                "".into(),
            ],
            "--reference must be 1 to 64 characters",
        ),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        db.refused(&args, needle);
    }
    // A database URL nobody understands.
    let out = openmonime()
        .args(["admin", "monimeer", "create", "--name", "A", "--database", "mysql://localhost/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot open database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing refused left a trace: still one person with no tokens.
    assert!(db.ok(&["token", "list", "--monimeer", &ada])["tokens"].as_array().unwrap().is_empty());
}

#[test]
fn admin_token_review_reports_the_tokens_of_a_space_that_need_attention() {
    let db = Db::new();
    let ada = db.ok(&["monimeer", "create", "--name", "Ada"]);
    let ada = id(&ada).to_owned();
    let space = db.ok(&["space", "create", "--name", "Shop", "--owner", &ada]);
    let space = id(&space).to_owned();
    let bob = db.ok(&["monimeer", "create", "--name", "Bob"]);
    let bob = id(&bob).to_owned();
    db.ok(&["member", "add", "--space", &space, "--monimeer", &bob, "--role", "developer"]);
    let carol = db.ok(&["monimeer", "create", "--name", "Carol"]);
    let carol = id(&carol).to_owned();

    let create = |who: &str, extra: &[&str]| -> String {
        let mut args = vec!["token", "create", "--monimeer", who, "--name", "t", "--env", "test"];
        args.extend_from_slice(extra);
        id(&db.ok(&args)).to_owned()
    };
    let mighty = create(&ada, &["--all-permissions", "--no-expiry"]);
    let soon = create(&bob, &["--permissions", "financial-accounts:read", "--expires-in", "3d", "--space", &space]);
    let calm = create(&bob, &["--permissions", "financial-accounts:read", "--expires-in", "60d"]);
    let stopped = create(&ada, &["--all-permissions", "--no-expiry"]);
    db.ok(&["token", "revoke", &stopped]);
    let stranger = create(&carol, &["--all-permissions", "--no-expiry"]);

    let report = db.ok(&["token", "review", "--space", &space]);
    assert_eq!(report["space"], space.as_str(), "{report}");
    assert_eq!(report["activeTokens"], 3, "the stranger's and the revoked token are not the Space's: {report}");
    assert_eq!(
        report["flagged"],
        json!({"never_used": 3, "idle": 0, "no_expiry": 1, "all_permissions": 1, "expires_soon": 1, "exposed": 0}),
        "{report}"
    );
    let listed: Vec<(&str, Value)> = report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["reviewFlags"].clone()))
        .collect();
    assert_eq!(listed[0], (mighty.as_str(), json!(["never_used", "no_expiry", "all_permissions"])), "{report}");
    assert!(listed.contains(&(soon.as_str(), json!(["never_used", "expires_soon"]))), "{report}");
    assert!(listed.contains(&(calm.as_str(), json!(["never_used"]))), "{report}");
    assert!(!report.to_string().contains(&stranger) && !report.to_string().contains(&stopped), "{report}");

    // Narrower spans move tokens out of "soon"; the report never prints a secret.
    let narrow = db.ok(&["token", "review", "--space", &space, "--expires-within", "1d"]);
    assert_eq!(narrow["flagged"]["expires_soon"], 0, "{narrow}");
    assert!(narrow["tokens"].as_array().unwrap().iter().all(|t| t.get("token").is_none()), "{narrow}");
    db.refused(&["token", "review", "--space", &space, "--idle-after", "soon"], "lifetime");
    db.refused(&["token", "review", "--space", "spc-nope"], "not found");
}

#[test]
fn ledger_credit_is_the_way_money_appears_and_verify_checks_it() {
    let db = Db::new();
    let ada = id(&db.ok(&["monimeer", "create", "--name", "Ada"])).to_owned();
    let space = id(&db.ok(&["space", "create", "--name", "Shop", "--owner", &ada])).to_owned();
    let main = db.main_account(&space);
    let credit = |amount: &str, extra: &[&str]| {
        let mut args = vec![
            "ledger",
            "credit",
            "--space",
            space.as_str(),
            "--env",
            "test",
            "--account",
            main.as_str(),
            "--amount",
            amount,
        ];
        args.extend_from_slice(extra);
        db.ok(&args)
    };
    let first = credit("1500", &["--reference", "topup-1"]);
    assert!(id(&first).starts_with("txn-"), "{first}");
    assert_eq!(first["type"], "credit");
    assert_eq!(first["amount"], json!({"currency": "SLE", "value": 1500}));
    assert_eq!(first["reference"], "topup-1");
    assert_eq!(first["financialAccountId"], main.as_str());
    assert_eq!(first["balanceAfter"], 1500);
    assert_eq!(first["ownershipGraph"]["owner"]["type"], "ledger_adjustment");
    assert!(first["ownershipGraph"]["owner"]["id"].as_str().unwrap().starts_with("adj-"));
    let second = credit("500", &[]);
    assert_eq!(second["balanceAfter"], 2000);
    assert!(second["reference"].as_str().is_some_and(|r| !r.is_empty()), "a reference is generated: {second}");
    // The test main account is not in the live environment.
    db.refused(
        &["ledger", "credit", "--space", &space, "--env", "live", "--account", &main, "--amount", "5"],
        "not found",
    );

    let report = db.ok(&["ledger", "verify"]);
    assert_eq!(report["consistent"], true, "{report}");
    let test_sle = json!({"currency": "SLE", "environment": "test", "balances": 2000, "creditsMinusDebits": 2000});
    assert!(report["totals"].as_array().unwrap().contains(&test_sle), "{report}");

    // Two Spaces each holding almost i64::MAX: their sum no longer fits an i64, and a healthy
    // ledger still verifies (totals are summed per currency and environment in i128).
    let huge = "9000000000000000000";
    credit(huge, &[]).as_object().expect("credited");
    let rich = id(&db.ok(&["space", "create", "--name", "Rich", "--owner", &ada])).to_owned();
    let rich_main = db.main_account(&rich);
    db.ok(&["ledger", "credit", "--space", &rich, "--env", "test", "--account", &rich_main, "--amount", huge]);
    let report = db.ok(&["ledger", "verify"]);
    assert_eq!(report["consistent"], true, "{report}");
    let total: i128 = 2 * 9_000_000_000_000_000_000 + 2000;
    let sle = report["totals"].as_array().unwrap().iter().find(|t| t["environment"] == "test").unwrap().clone();
    assert_eq!(sle["balances"].to_string(), total.to_string(), "{report}");
    assert_eq!(sle["creditsMinusDebits"].to_string(), total.to_string(), "{report}");

    // Break the ledger behind the server's back: verify notices and exits non-zero.
    db.store(async |store| {
        sqlx::query("UPDATE financial_accounts SET balance = balance + 7 WHERE id = $1")
            .bind(main.as_str())
            .execute(store.pool())
            .await
            .unwrap();
    });
    let out = db.admin(&["ledger", "verify"]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is still printed");
    assert_eq!(report["consistent"], false);
    assert_eq!(report["accountsNotMatchingEntries"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("inconsistent"));
}

#[test]
fn migrate_creates_the_database_and_is_repeatable() {
    let db = Db::new();
    for _ in 0..2 {
        let out = openmonime().args(["migrate", "--database", &db.url]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    }
    assert!(db.dir.path().join("openmonime.db").exists());
}

// ---------------------------------------------------------------- serve

/// A free port on the loopback: bind port 0, note the port, release it.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `openmonime serve`, its stdout lines arriving on a channel and its stderr collected.
struct Server {
    child: Child,
    port: u16,
    stdout: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Server {
    fn start(db: &Db) -> Server {
        Self::start_with(db, &[])
    }

    /// `serve` with `extra` arguments after the database and listen address, once it listens.
    fn start_with(db: &Db, extra: &[&str]) -> Server {
        let mut server = Server::spawn(&db.url, extra);
        server.wait_listening();
        server
    }

    /// Starts `openmonime serve --database URL EXTRA…` on a free port, without waiting for it.
    fn spawn(url: &str, extra: &[&str]) -> Server {
        let port = free_port();
        let mut child = openmonime()
            .args(["serve", "--database", url, "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Drained continuously so the log never fills the pipe and stalls the server.
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        Server { child, port, stdout, stderr }
    }

    /// Waits until the server accepts connections; fails with its log if it exits instead.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
                panic!("the server exited ({status}) before listening:\n{}", stderr.join().unwrap());
            }
            assert!(Instant::now() < deadline, "the server did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit; returns whether it was clean, every stdout line,
    /// and the log.
    fn finish(mut self) -> (bool, Vec<String>, String) {
        let stdout = std::mem::replace(&mut self.stdout, mpsc::channel().1);
        let (clean, log) = self.terminate();
        // The reader ends when the exited process's stdout closes.
        (clean, stdout.iter().collect(), log)
    }

    /// Every stdout line printed so far.
    fn printed(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit; returns whether it was clean, and the log.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.success(), self.stderr.join().unwrap())
    }

    /// A blocking HTTP/1.1 GET; returns status and JSON body.
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        self.request("GET", path, headers, None)
    }

    /// A blocking HTTP/1.1 POST of a JSON body; returns status and JSON body.
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
        self.request("POST", path, headers, Some(body))
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n", self.port);
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.map(Value::to_string).unwrap_or_default();
        if method != "GET" {
            request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_owned()
        };
        (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")))
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// Waits for the quick-start block and returns (Space id, token id, token).
fn quick_start(server: &Server) -> (String, String, String) {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = server
            .stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the quick-start block");
        lines.push(line.clone());
        if line.trim().starts_with("mon_test_") {
            break;
        }
    }
    let text = lines.join("\n");
    let after = |marker: &str| {
        text.split(marker).nth(1).map(|rest| rest.trim_start().split([' ', ',', '\n']).next().unwrap().to_owned())
    };
    let space = after("Space:").expect("a Space line");
    let token_id = after("Test token (").expect("a token line");
    let token = lines.last().unwrap().trim().to_owned();
    assert!(space.starts_with("spc-") && token_id.starts_with("tok-"), "{text}");
    (space, token_id, token)
}

#[test]
fn serve_prints_a_quick_start_token_once_and_stops_cleanly_on_sigterm() {
    let db = Db::new();
    let server = Server::start(&db);
    let (space, _, token) = quick_start(&server);
    let bearer = format!("Bearer {token}");

    let (status, root) = server.get("/", &[("Authorization", &bearer)]);
    assert_eq!(status, 200, "{root}");
    assert_eq!(root["status"], json!({"environment": "test", "isAuthenticated": true}));
    assert_eq!(root["apiVersion"]["apiSchemas"]["openApi"], format!("http://127.0.0.1:{}/openapi.json", server.port));
    let (_, anonymous) = server.get("/", &[]);
    assert_eq!(anonymous["status"]["isAuthenticated"], false);

    let (status, accounts) =
        server.get("/v1/financial-accounts", &[("Authorization", &bearer), ("Monime-Space-Id", &space)]);
    assert_eq!(status, 200, "{accounts}");
    assert_eq!(accounts["result"][0]["reference"], "main");

    let (clean, log) = server.terminate();
    assert!(clean, "serve must exit 0 on SIGTERM; log:\n{log}");
    assert!(!log.contains(&token), "the token reached the log");
    assert!(!log.contains(&token[token.len() - 12..]), "part of the token reached the log");

    // Second start on the same database: nothing is printed again, and the old token still works.
    let server = Server::start(&db);
    let (status, root) = server.get("/", &[("Authorization", &bearer)]);
    assert_eq!((status, &root["status"]["isAuthenticated"]), (200, &json!(true)));
    std::thread::sleep(Duration::from_millis(200));
    let printed = server.printed();
    let (clean, _) = server.terminate();
    assert!(clean);
    assert!(printed.iter().all(|l| !l.contains("mon_test_") && !l.contains("quick-start")), "{printed:?}");
}

#[test]
fn a_revocation_by_the_cli_reaches_a_running_server_within_a_second() {
    let db = Db::new();
    let server = Server::start(&db);
    let (space, token_id, token) = quick_start(&server);
    let headers = [("Authorization", format!("Bearer {token}")), ("Monime-Space-Id", space)];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(server.get("/v1/financial-accounts", &headers).0, 200, "the token is cached now");

    let revoked = db.ok(&["token", "revoke", &token_id]);
    assert_eq!(revoked["status"], "REVOKED");
    let started = Instant::now();
    let refused = loop {
        // 4 requests a second: under the default per-endpoint limit for test tokens.
        std::thread::sleep(Duration::from_millis(250));
        let (status, body) = server.get("/v1/financial-accounts", &headers);
        if status == 401 {
            break body;
        }
        assert!(status == 200 || status == 429, "{status} {body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still accepted {:?} after the revocation",
            started.elapsed()
        );
    };
    let elapsed = started.elapsed();
    assert_eq!(refused["error"]["reason"], "token_revoked", "{refused}");
    // The change feed is polled every 250 ms; allow for a loaded machine.
    assert!(elapsed <= Duration::from_millis(1_500), "took {elapsed:?}");
    let (clean, _) = server.terminate();
    assert!(clean);
}

#[test]
fn admin_manages_roles_policies_rotation_and_reads_the_audit_log() {
    let db = Db::new();
    let ada = db.ok(&["monimeer", "create", "--name", "Ada"]);
    let ada = id(&ada).to_owned();
    let space = db.ok(&["space", "create", "--name", "Shop", "--owner", &ada]);
    let space = id(&space).to_owned();

    let role =
        db.ok(&["role", "create", "--space", &space, "--name", "bookkeeper", "--permissions", "financial-accounts:*"]);
    assert_eq!(role["permissions"], json!(["financial-accounts:read", "financial-accounts:write"]));
    let bob = db.ok(&["monimeer", "create", "--name", "Bob"]);
    let bob = id(&bob).to_owned();
    db.ok(&["member", "add", "--space", &space, "--monimeer", &bob, "--role", "bookkeeper"]);
    let updated = db.ok(&[
        "role",
        "update",
        "--space",
        &space,
        "--name",
        "bookkeeper",
        "--permissions",
        "financial-accounts:read",
    ]);
    assert_eq!(updated["affected"]["members"], 1);
    db.refused(&["role", "delete", "--space", &space, "--name", "bookkeeper"], "role_in_use");
    db.refused(&["role", "create", "--space", &space, "--name", "Bad Name", "--permissions", "*"], "--name");
    db.refused(
        &["role", "create", "--space", &space, "--name", "x", "--permissions", "nope:read"],
        "unknown permission",
    );
    let roles = db.ok(&["role", "list", "--space", &space]);
    assert_eq!(roles["roles"].as_array().unwrap().len(), 5);

    let policy =
        db.ok(&["policy", "set", "--space", &space, "--max-token-lifetime", "30d", "--allow-unbound-tokens", "false"]);
    assert_eq!(
        policy,
        json!({
            "maxTokenLifetimeSeconds": 2_592_000,
            "allowUnboundTokens": false,
            "revokeExposedTokens": false,
            "idleTokenExpirySeconds": null
        })
    );
    assert_eq!(db.ok(&["policy", "show", "--space", &space]), policy);
    let cleared = db.ok(&["policy", "set", "--space", &space, "--max-token-lifetime", "none"]);
    assert_eq!(cleared["maxTokenLifetimeSeconds"], Value::Null);
    db.refused(&["policy", "set", "--space", &space, "--max-token-lifetime", "soon"], "lifetime");
    let strict = db.ok(&["policy", "set", "--space", &space, "--revoke-exposed-tokens", "true"]);
    assert_eq!((&strict["revokeExposedTokens"], &strict["allowUnboundTokens"]), (&json!(true), &json!(false)));
    let idle = db.ok(&["policy", "set", "--space", &space, "--idle-token-expiry", "90d"]);
    assert_eq!(idle["idleTokenExpirySeconds"], 7_776_000);
    db.refused(&["policy", "set", "--space", &space, "--idle-token-expiry", "2h"], "at least 1d");
    let off = db.ok(&["policy", "set", "--space", &space, "--idle-token-expiry", "none"]);
    assert_eq!(off["idleTokenExpirySeconds"], Value::Null);

    let token = db.ok(&["token", "create", "--monimeer", &ada, "--name", "t", "--env", "test", "--all-permissions"]);
    // The API's grace limit (30 days) holds for the operator too.
    db.refused(&["token", "rotate", id(&token), "--grace", "31d"], "--grace must be from 0 to 2592000");
    let rotated = db.ok(&["token", "rotate", id(&token), "--grace", "3600s"]);
    assert!(rotated["token"].as_str().unwrap().starts_with("mon_test_"));
    assert_eq!(rotated["replaces"], token["id"]);
    assert_ne!(rotated["token"], token["token"]);
    db.ok(&["token", "revoke", id(&rotated)]);
    db.refused(&["token", "rotate", id(&rotated)], "active");

    let audit = db.ok(&["audit", "list", "--space", &space, "--env", "test"]);
    let actions: Vec<&str> =
        audit["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["role.create", "role.update", "policy.update", "member.add", "space.create"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    assert!(!audit.to_string().contains(token["token"].as_str().unwrap()), "no plaintext in the audit log");
    let only = db.ok(&["audit", "list", "--space", &space, "--env", "test", "--action", "policy.update"]);
    assert_eq!(only["events"].as_array().unwrap().len(), 5);
    // Unbound tokens' changes are in no Space's log; the operator sees them per Monimeer.
    let mine = db.ok(&["audit", "list", "--monimeer", &ada, "--env", "test"]);
    let seen: Vec<(&str, &str)> = mine["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["subject"].as_str().unwrap_or_default()))
        .collect();
    for expected in [("token.create", id(&token)), ("token.rotate", id(&token)), ("token.revoke", id(&rotated))] {
        assert!(seen.contains(&expected), "{expected:?} missing from {seen:?}");
    }
    db.refused(&["audit", "list", "--env", "test"], "--space");
}

/// The quick start under several nodes and JSON logs (issue 12, finding 16).
#[path = "cli/quickstart.rs"]
mod quickstart;
/// Soak and crash tests (issue 8); a directory module so they share this one test binary.
#[path = "cli/resilience.rs"]
mod resilience;

#[path = "cli/client_ip.rs"]
mod client_ip;

/// Slow clients, timeouts, the connection cap, the drain and the header limit (issue 12).
#[path = "cli/slow_clients.rs"]
mod slow_clients;

/// One HTTP request a webhook receiver read: its head and body.
struct Received {
    head: String,
    body: Value,
}

/// Reads one HTTP/1.1 request (head, then `Content-Length` bytes) from `stream`.
fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { head, body: serde_json::from_slice(&body).ok()? })
}

#[test]
fn a_delivery_cut_off_by_kill_9_is_made_again_after_a_restart_with_the_same_event_id() {
    // The receiver holds its first connection open without answering (the node is killed
    // mid-attempt), answers 200 to every later one, and reports each request it read.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", receiver.local_addr().unwrap().port());
    let (tx, received) = mpsc::channel::<Received>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in receiver.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request) = read_request(&mut stream) else { continue };
            if held.is_empty() {
                held.push(stream);
            } else {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
            if tx.send(request).is_err() {
                return;
            }
        }
    });

    let db = Db::new();
    let lease = ["--webhook-lease", "15s"];
    let mut server = Server::start_with(&db, &lease);
    let (space, _, token) = quick_start(&server);
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Monime-Space-Id", space.as_str())];
    let hook = json!({
        "name": "kill", "url": url, "apiRelease": "caph", "events": ["financial_account.created"],
        "verificationMethod": {"type": "HS256", "secret": "whsec_kill_nine_test_secret_0123456789"},
    });
    let with_key = |key| [headers[0], headers[1], ("Idempotency-Key", key)];
    let (status, answer) = server.post("/v1/webhooks", &with_key("kill-9-hook"), &hook);
    assert_eq!(status, 200, "{answer}");
    let account = json!({"name": "n", "currency": "SLE"});
    let (status, answer) = server.post("/v1/financial-accounts", &with_key("kill-9-account"), &account);
    assert_eq!(status, 200, "{answer}");
    let account = answer["result"]["id"].as_str().unwrap().to_owned();

    let first = received.recv_timeout(Duration::from_secs(20)).expect("the first attempt reaches the receiver");
    assert_eq!(first.body["object"]["id"], account.as_str(), "{}", first.body);
    assert!(first.head.to_ascii_lowercase().contains("monime-signature: t="), "{}", first.head);
    // Killed while the receiver holds the attempt: nothing records it, the lease stays.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = Server::start_with(&db, &lease);
    let again = received.recv_timeout(Duration::from_secs(40)).expect("the restarted node makes the attempt again");
    assert_eq!(again.body["event"]["id"], first.body["event"]["id"], "the same event, so a receiver dedupes");
    assert_eq!(again.body, first.body);
    let hook_id = answer_id(&server, &headers);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, log) = server.get(&format!("/v1/webhooks/{hook_id}/deliveries"), &headers);
        assert_eq!(status, 200, "{log}");
        let done = log["result"].as_array().unwrap().iter().any(|a| a["outcome"] == "delivered");
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "the log never showed the delivery: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(received.recv_timeout(Duration::from_secs(1)).is_err(), "delivered once after the restart");
    let (clean, _) = server.terminate();
    assert!(clean);
}

/// The id of the only webhook of the Space.
fn answer_id(server: &Server, headers: &[(&str, &str)]) -> String {
    let (status, list) = server.get("/v1/webhooks", headers);
    assert_eq!(status, 200, "{list}");
    list["result"][0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn serve_takes_an_operators_catalogue_and_refuses_a_broken_one_before_listening() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let mut data: Value = serde_json::from_str(include_str!("../../http/catalogue.json")).unwrap();
    data["momos"][0]["name"] = "Operator's own".into();
    let own = dir.path().join("catalogue.json");
    std::fs::write(&own, data.to_string()).unwrap();
    let server = Server::start_with(&db, &["--catalogue", own.to_str().unwrap()]);
    let (_, _, token) = quick_start(&server);
    let (status, momo) = server.get("/v1/momos/m17", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!((status, momo["result"]["name"].as_str()), (200, Some("Operator's own")), "{momo}");
    assert!(server.terminate().0);

    data["momos"][0]["country"] = "GH".into();
    std::fs::write(&own, data.to_string()).unwrap();
    let missing = dir.path().join("missing.json");
    for (path, needle) in [(&own, "country `GH` is not listed"), (&missing, "cannot read the catalogue")] {
        let out = openmonime()
            .args(["serve", "--database", &db.url, "--listen", "127.0.0.1:0", "--catalogue", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started on a broken catalogue");
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    }
}

#[test]
fn serve_charges_an_operators_fee_schedule_and_refuses_a_broken_one_before_listening() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let fees = dir.path().join("fees.toml");
    std::fs::write(&fees, "[[default]]\ncode = \"processing\"\nbasisPoints = 200\nfixed = { SLE = 50 }\n").unwrap();
    let server = Server::start_with(&db, &["--fees", fees.to_str().unwrap()]);
    let (space, _, token) = quick_start(&server);
    let auth = format!("Bearer {token}");
    let headers =
        [("Authorization", auth.as_str()), ("Monime-Space-Id", space.as_str()), ("Idempotency-Key", "fees-1")];
    let (status, code) = server.post(
        "/v1/payment-codes",
        &headers,
        &serde_json::json!({"name": "Fees", "amount": {"currency": "SLE", "value": 1000}}),
    );
    assert_eq!(status, 200, "{code}");
    let dial = serde_json::json!({"dialString": code["result"]["ussdCode"], "phoneNumber": "+23276000001", "providerId": "m17"});
    let headers =
        [("Authorization", auth.as_str()), ("Monime-Space-Id", space.as_str()), ("Idempotency-Key", "fees-2")];
    let (status, paid) = server.post("/v1/test-helpers/ussd/dial", &headers, &dial);
    assert_eq!(status, 200, "{paid}");
    // 2 % of 1000 is 20, plus the fixed 50.
    assert_eq!(paid["result"]["payment"]["fees"][0]["amount"]["value"], 70, "{paid}");
    assert!(server.terminate().0);

    std::fs::write(&fees, "[[default]]\ncode = \"processing\"\nbasisPoints = 20000\n").unwrap();
    let missing = dir.path().join("missing.toml");
    for (path, needle) in [(&fees, "basisPoints must be at most 10000"), (&missing, "cannot read the fees")] {
        let out = openmonime()
            .args(["serve", "--database", &db.url, "--listen", "127.0.0.1:0", "--fees", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started on a broken fee schedule");
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    }
}

#[test]
fn payouts_cut_off_by_kill_9_are_paid_once_after_a_restart() {
    // Twenty payouts to the magic destination that settles 60 s (test clock) after it was sent;
    // the node is killed while they are processing, and a restarted node finishes them.
    let db = Db::new();
    let mut server = Server::start_with(&db, &["--rate-limits", "off"]);
    let (space, _, token) = quick_start(&server);
    let main = db.main_account(&space);
    db.ok(&["ledger", "credit", "--space", &space, "--env", "test", "--account", &main, "--amount", "100000"]);
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("Monime-Space-Id", space.as_str())];
    let mut ids = Vec::new();
    for i in 0..20 {
        let key = format!("kill-9-payout-{i}");
        let body = json!({"amount": {"currency": "SLE", "value": 100},
            "destination": {"type": "momo", "providerId": "m17", "phoneNumber": "+23276000101"}});
        let (status, answer) =
            server.post("/v1/payouts", &[headers[0], headers[1], ("Idempotency-Key", key.as_str())], &body);
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["result"]["id"].as_str().unwrap().to_owned());
    }
    let count = |server: &Server, status: &str| {
        let (code, list) = server.get(&format!("/v1/payouts?status={status}&limit=50"), &headers);
        assert_eq!(code, 200, "{list}");
        list["result"].as_array().unwrap().len()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&server, "processing") < ids.len() {
        assert!(Instant::now() < deadline, "the worker did not send every payout");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = Server::start_with(&db, &["--rate-limits", "off"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Advanced more than once: a payout the kill caught between `processing` and its provider is
    // sent by the restarted node, and settles 60 s after that.
    while count(&server, "completed") < ids.len() {
        assert!(Instant::now() < deadline, "the restarted node did not settle every payout");
        let (status, answer) = server.post("/v1/test-helpers/clock/advance", &headers, &json!({"seconds": 61}));
        assert_eq!(status, 200, "{answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let both the advance's run and the worker's next runs pass, then count what was paid.
    std::thread::sleep(Duration::from_millis(1500));
    let (clean, _) = server.terminate();
    assert!(clean);
    let space_id = space.clone();
    let (paid, completed) = db.store(async move |store| {
        let mut paid = Vec::new();
        for id in &ids {
            paid.push(store.test_rail_payouts_for(id).await.unwrap());
        }
        let tenant = openmonime_domain::entities::Tenant {
            space_id: openmonime_domain::ids::SpaceId::parse(&space_id).unwrap(),
            environment: openmonime_domain::Environment::Test,
        };
        let events = store.list_events(&tenant, None, 1000).await.unwrap();
        (paid, events.iter().filter(|e| e.name.as_str() == "payout.completed").count())
    });
    assert!(paid.iter().all(|n| *n == 1), "each payout reached its provider once: {paid:?}");
    assert_eq!(completed, 20, "each payout completed once");
    let report = db.ok(&["ledger", "verify"]);
    assert_eq!(report["payoutsNotHoldingTheirAmountAndFees"], 0, "{report}");
    assert_eq!(report["payoutsNotReturningTheirHold"], 0, "{report}");
}

/// `admin monimeer set-password`, the password on stdin.
fn set_password(db: &Db, monimeer: &str, stdin: &str) -> Output {
    let mut child = openmonime()
        .args(["admin", "monimeer", "set-password", "--monimeer", monimeer, "--database", &db.url, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn admin_sets_a_console_password_from_stdin_and_prints_one_time_sign_in_links() {
    let db = Db::new();
    let ada = db.ok(&["monimeer", "create", "--name", "Ada", "--email", "Ada@Example.SL"]);
    let ada = id(&ada).to_owned();
    let nobody = db.ok(&["monimeer", "create", "--name", "No Mail"]);
    let nobody = id(&nobody).to_owned();

    let out = set_password(&db, &ada, "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));
    let out = set_password(&db, &nobody, "a long enough passphrase\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no email address"));
    let out = set_password(&db, &ada, "a long enough passphrase\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["email"], "ada@example.sl");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("passphrase"), "the password is never printed");
    let stored = db.store(async |s| s.console_password("ADA@example.sl").await.unwrap()).expect("a password");
    assert_eq!(stored.0.as_str(), ada);
    assert!(openmonime_domain::console_auth::verify_password("a long enough passphrase", &stored.1));
    assert!(stored.1.starts_with("$argon2id$"), "only the hash is stored");

    let link = db.ok(&["monimeer", "sign-in-link", "--monimeer", &ada]);
    let url = link["url"].as_str().unwrap();
    let secret = url.strip_prefix("http://127.0.0.1:8080/console/sign-in/link/").expect(url);
    assert!(secret.len() >= 43, "{url}");
    let hash = openmonime_domain::console_auth::secret_hash(secret);
    let name = db.store(async |s| s.peek_sign_in_link(&hash).await.unwrap());
    assert_eq!(name.as_deref(), Some("Ada"));
    let at = db.ok(&["monimeer", "sign-in-link", "--monimeer", &ada, "--public-url", "https://pay.example.sl/"]);
    assert!(at["url"].as_str().unwrap().starts_with("https://pay.example.sl/console/sign-in/link/"), "{at}");
    db.ok(&["monimeer", "offboard", &ada]);
    db.refused(&["monimeer", "sign-in-link", "--monimeer", &ada], "monimeer_offboarded");
}
