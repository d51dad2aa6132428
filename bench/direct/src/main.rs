//! The benchmark's database ceiling: the SQL that openmonime issues for `GET
//! /v1/financial-accounts/{id}` and for `POST /v1/internal-transfers`, issued directly through the
//! same driver and pool (`Store::open(…).pool()`, the same pool size, the same SQLite pragmas and
//! write serialization), with no HTTP, JSON parsing or authorization in front of it; and the
//! store's own transfer call, to split what a transfer costs between the store and the HTTP layer.
//!
//! ```text
//! openmonime-bench-direct read     --database URL --space spc-… --env test --accounts FILE
//!                                  [--seconds 5] [--concurrency 64] [--max-connections N]
//! openmonime-bench-direct read-rusqlite --database sqlite:PATH … (as `read`)
//! openmonime-bench-direct transfer --database URL --space spc-… --env test --accounts FILE
//!                                  --monimeer mmr-… [--seconds 5] [--concurrency 32] [--max-connections N]
//! openmonime-bench-direct transfer-store --database URL --space spc-… --env test --accounts FILE
//!                                  --monimeer mmr-… --token tok-… [--seconds 5] [--concurrency 32]
//!                                  [--max-connections N]
//! ```
//!
//! `read-rusqlite` issues the read through rusqlite on the calling runtime thread (one
//! connection per thread), to weigh a driver without sqlx's per-connection thread (docs/design.md).
//!
//! `--max-connections` overrides the pool size (default: the server's, `StoreOptions::default()`),
//! to see how much of a gap the pool size explains.
//!
//! `FILE` holds financial account ids (`fac-…`), one a line, all in that Space and environment and
//! funded. Each run prints one JSON object: operations, rate, latency percentiles, errors.
//!
//! `transfer` issues, statement for statement, what the store issued for a transfer when the
//! benchmark's run 6 was measured (idempotency record, two guarded balance updates, a debit and a
//! credit entry, the transfer row), so `openmonime admin ledger verify` still holds afterwards. It
//! is kept as it was, as that fixed reference: the store has since learned to do more per transfer.
//!
//! `transfer-store` is the same workload through `Store::create_transfer`, called as
//! `POST /v1/internal-transfers`'s handler calls it: the Space and environment as the tenant,
//! `NewTransfer { amount: 1 SLE minor unit, source, destination, no description, no metadata }`,
//! the token `tok-…` as the spender (the handler always passes the caller's token, so its money
//! limits are read even when it has none), a claim with a fresh Idempotency-Key per operation under
//! the Monimeer `mmr-…` (the token's owner, as the handler's claim names it) with a request
//! checksum of the same size, and a `render` that writes a body of the API's shape and size. So it
//! pays everything the store does today (limits, events and their deliveries, journal) and nothing
//! of HTTP, JSON parsing or authorization: API ÷ `transfer-store` is what the HTTP layer costs, and
//! `transfer-store` ÷ `transfer` what the store's extra work costs. The store serializes SQLite's
//! writers itself (`begin_write`), so this mode adds no gate of its own.

/// The same allocator as openmonime, so the ratio measures only what the API adds.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use openmonime_domain::entities::{InternalTransfer, Tenant};
use openmonime_domain::ids::{
    new_transaction_reference, FinancialAccountId, FinancialTransactionId, InternalTransferId, MonimeerId, SpaceId,
    TokenId,
};
use openmonime_domain::money::{Currency, Money};
use openmonime_domain::{time_fmt, Environment};
use openmonime_store::backend::StoreOptions;
use openmonime_store::ledger::NewTransfer;
use openmonime_store::{Backend, IdempotencyClaim, Outcome, Store};
use rand::Rng;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The columns `get_account` selects and decodes.
const ACCOUNT_SQL: &str = "SELECT seq, id, uvan, name, currency, reference, description, metadata, balance, \
     created_at, updated_at FROM financial_accounts WHERE id = $1 AND space_id = $2 AND environment = $3";

struct Args {
    mode: String,
    database: String,
    space: String,
    env: String,
    accounts: Vec<String>,
    monimeer: String,
    token: String,
    seconds: f64,
    concurrency: usize,
    max_connections: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: openmonime-bench-direct read|read-rusqlite|transfer|transfer-store --database URL --space SPC \
         --env test|live --accounts FILE [--monimeer MMR] [--token TOK] [--seconds S] [--concurrency N] \
         [--max-connections N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Result<Args, Error> {
    let mut raw = std::env::args().skip(1);
    let mode = raw.next().unwrap_or_else(|| usage());
    if !["read", "read-rusqlite", "transfer", "transfer-store"].contains(&mode.as_str()) {
        usage();
    }
    let mut args = Args {
        concurrency: if mode.starts_with("read") { 64 } else { 32 },
        mode,
        database: String::new(),
        space: String::new(),
        env: "test".into(),
        accounts: Vec::new(),
        monimeer: String::new(),
        token: String::new(),
        seconds: 5.0,
        max_connections: None,
    };
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--database" => args.database = value,
            "--space" => args.space = value,
            "--env" => args.env = value,
            "--monimeer" => args.monimeer = value,
            "--token" => args.token = value,
            "--seconds" => args.seconds = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            "--max-connections" => args.max_connections = Some(value.parse()?),
            "--accounts" => {
                args.accounts = std::fs::read_to_string(&value)?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            _ => usage(),
        }
    }
    if args.database.is_empty() || args.space.is_empty() || args.accounts.len() < 2 {
        usage();
    }
    if args.mode.starts_with("transfer") && args.monimeer.is_empty() {
        usage();
    }
    if args.mode == "transfer-store" && args.token.is_empty() {
        usage();
    }
    Ok(args)
}

/// What every worker shares.
struct Shared {
    store: Store,
    args: Args,
    /// `transfer` on SQLite only: the store serializes this process's writers on an async gate;
    /// so does this (`transfer-store` goes through the store's own).
    write_gate: Option<Mutex<()>>,
    /// `transfer-store` only: what the handler has at hand when it calls the store.
    store_call: Option<StoreCall>,
}

/// The values `POST /v1/internal-transfers`'s handler passes the store that do not change per
/// request: the caller's tenant, token (the spender) and Monimeer (the claim's), and the accounts
/// already parsed (the handler parses them from the body).
struct StoreCall {
    tenant: Tenant,
    spender: TokenId,
    monimeer: MonimeerId,
    accounts: Vec<FinancialAccountId>,
}

impl StoreCall {
    fn new(args: &Args) -> Result<Self, Error> {
        let accounts = args
            .accounts
            .iter()
            .map(|a| FinancialAccountId::parse(a).ok_or_else(|| format!("not a financial account id: {a}")))
            .collect::<Result<_, _>>()?;
        Ok(StoreCall {
            tenant: Tenant {
                space_id: SpaceId::parse(&args.space).ok_or("--space is not a Space id (`spc-…`)")?,
                environment: Environment::parse(&args.env).ok_or("--env is test or live")?,
            },
            spender: TokenId::parse(&args.token).ok_or("--token is not a token id (`tok-…`)")?,
            monimeer: MonimeerId::parse(&args.monimeer).ok_or("--monimeer is not a Monimeer id (`mmr-…`)")?,
            accounts,
        })
    }
}

/// `get_account`: one row, every column decoded.
async fn read_once(shared: &Shared, account: &str) -> Result<(), Error> {
    let row = sqlx::query(ACCOUNT_SQL)
        .bind(account)
        .bind(&shared.args.space)
        .bind(&shared.args.env)
        .fetch_optional(shared.store.pool())
        .await?
        .ok_or("account not found")?;
    decode_account(&row)
}

fn decode_account(row: &AnyRow) -> Result<(), Error> {
    let _: i64 = row.try_get("seq")?;
    for col in ["id", "uvan", "name", "currency"] {
        let _: String = row.try_get(col)?;
    }
    for col in ["reference", "description", "metadata"] {
        let _: Option<String> = row.try_get(col)?;
    }
    let _: i64 = row.try_get("balance")?;
    let _: i64 = row.try_get("created_at")?;
    let _: Option<i64> = row.try_get("updated_at")?;
    Ok(())
}

/// `create_transfer` with an Idempotency-Key, statement for statement.
async fn transfer_once(s: &Shared, source: &str, destination: &str, amount: i64) -> Result<(), Error> {
    let _gate = match &s.write_gate {
        Some(gate) => Some(gate.lock().await),
        None => None,
    };
    let pool = s.store.pool();
    let mut tx = match s.store.backend() {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    let (space, env) = (s.args.space.as_str(), s.args.env.as_str());
    let key = format!("direct-{}", InternalTransferId::generate());
    let fingerprint: String = (0..32).map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>())).collect();
    let lock = match s.store.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "SELECT id, currency, balance FROM financial_accounts \
         WHERE id IN ($1, $2) AND space_id = $3 AND environment = $4 ORDER BY id{lock}"
    ))
    .bind(source)
    .bind(destination)
    .bind(space)
    .bind(env)
    .fetch_all(&mut *tx)
    .await?;
    if rows.len() != 2 {
        return Err("account not found".into());
    }
    let balance_of = |account: &str| -> Result<i64, Error> {
        let row = rows.iter().find(|r| r.try_get::<String, _>("id").is_ok_and(|id| id == account));
        let row = row.ok_or("account not found")?;
        let _: String = row.try_get("currency")?;
        Ok(row.try_get::<i64, _>("balance")?)
    };
    let source_after = balance_of(source)?.checked_sub(amount).filter(|b| *b >= 0);
    let destination_after = balance_of(destination)?.checked_add(amount);
    let now = time_fmt::to_micros(time_fmt::now());
    let id = InternalTransferId::generate();
    let reference = new_transaction_reference();
    let settled = source_after.is_some() && destination_after.is_some();
    if let (Some(source_after), Some(destination_after)) = (source_after, destination_after) {
        sqlx::query(
            "UPDATE financial_accounts \
             SET balance = balance + CASE WHEN id = $1 THEN -$3 ELSE $3 END, updated_at = $4 \
             WHERE id IN ($1, $2) AND space_id = $5 AND environment = $6 \
               AND ((id = $1 AND balance >= $3) OR (id = $2 AND balance <= $7 - $3))",
        )
        .bind(source)
        .bind(destination)
        .bind(amount)
        .bind(now)
        .bind(space)
        .bind(env)
        .bind(i64::MAX)
        .execute(&mut *tx)
        .await?;
        let mut insert = sqlx::query(
            "INSERT INTO financial_transactions (id, space_id, environment, account_id, kind, currency, amount, balance_after, \
             reference, owner_id, owner_type, owner_metadata, created_at) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13), \
             ($14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
        );
        for (account, kind, after) in [(source, "debit", source_after), (destination, "credit", destination_after)] {
            insert = insert
                .bind(FinancialTransactionId::generate().to_string())
                .bind(space)
                .bind(env)
                .bind(account)
                .bind(kind)
                .bind("SLE")
                .bind(amount)
                .bind(after)
                .bind(reference.clone())
                .bind(id.as_str())
                .bind("internal_transfer")
                .bind(None::<String>)
                .bind(now);
        }
        insert.execute(&mut *tx).await?;
    }
    let status = if settled { "completed" } else { "failed" };
    let (failure_code, failure_message) = if settled {
        (None, None)
    } else {
        (Some("fund_insufficient"), Some("the source account's available balance is lower than the amount"))
    };
    sqlx::query(
        "INSERT INTO internal_transfers (id, space_id, environment, status, currency, amount, source_id, destination_id, \
         transaction_reference, description, failure_code, failure_message, metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id.as_str())
    .bind(space)
    .bind(env)
    .bind(status)
    .bind("SLE")
    .bind(amount)
    .bind(source)
    .bind(destination)
    .bind(settled.then_some(reference.as_str()))
    .bind(None::<String>)
    .bind(failure_code)
    .bind(failure_message)
    .bind(None::<String>)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The response body the API records for replays: about the same size as the real one.
    let body = json!({"success": true, "messages": [], "result": {
        "id": id.as_str(), "status": status, "amount": {"currency": "SLE", "value": amount},
        "sourceFinancialAccount": {"id": source}, "destinationFinancialAccount": {"id": destination},
        "financialTransactionReference": reference, "description": null, "failureDetail": null,
        "createTime": time_fmt::rfc3339(time_fmt::from_micros(now)), "updateTime": time_fmt::rfc3339(time_fmt::from_micros(now)),
        "metadata": null}})
    .to_string();
    let recorded = sqlx::query(
        "INSERT INTO idempotency_records (space_id, environment, monimeer_id, idem_key, fingerprint, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(space)
    .bind(env)
    .bind(&s.args.monimeer)
    .bind(&key)
    .bind(&fingerprint)
    .bind(&body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() != 1 {
        return Err("idempotency key collision".into());
    }
    tx.commit().await?;
    if settled {
        Ok(())
    } else {
        Err("fund_insufficient".into())
    }
}

/// `Store::create_transfer` as the API's handler calls it (see the module notes).
async fn transfer_store_once(s: &Shared, source: usize, destination: usize, amount: i64) -> Result<(), Error> {
    let call = s.store_call.as_ref().ok_or("transfer-store without its arguments")?;
    let new = NewTransfer {
        amount: Money { currency: Currency::Sle, value: amount },
        source: call.accounts[source].clone(),
        destination: call.accounts[destination].clone(),
        description: None,
        metadata: None,
    };
    // A fresh Idempotency-Key per operation, as wrk's transfers.lua sends; the API's fingerprint is
    // a SHA-256 of the request in hex, so 64 hex characters here.
    let claim = IdempotencyClaim {
        monimeer_id: call.monimeer.clone(),
        key: format!("direct-store-{}", InternalTransferId::generate()),
        fingerprint: (0..32).map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>())).collect(),
    };
    let result =
        s.store.create_transfer(&call.tenant, &new, Some(&call.spender), Some(&claim), render_transfer).await?;
    match result {
        Ok(Outcome::Fresh { value, .. }) if value.transaction_reference.is_some() => Ok(()),
        Ok(Outcome::Fresh { value, .. }) => Err(format!("transfer {}: {}", value.id, value.status.as_str()).into()),
        Ok(Outcome::Replayed { .. }) => Err("idempotency key collision".into()),
        Err(rejection) => Err(format!("{rejection:?}").into()),
    }
}

/// The body the API records for replays: its envelope and fields (`One<InternalTransfer>`), so the
/// same size.
fn render_transfer(t: &InternalTransfer) -> String {
    json!({"success": true, "messages": [], "result": {
        "id": t.id.as_str(), "status": t.status.as_str(),
        "amount": {"currency": t.amount.currency.code(), "value": t.amount.value},
        "sourceFinancialAccount": {"id": t.source.as_str()},
        "destinationFinancialAccount": {"id": t.destination.as_str()},
        "financialTransactionReference": t.transaction_reference, "description": t.description,
        "failureDetail": t.failure.as_ref().map(|(code, message)| json!({"code": code.as_str(), "message": message})),
        "ownershipGraph": null, "createTime": time_fmt::rfc3339(t.created_at),
        "updateTime": t.updated_at.map(time_fmt::rfc3339), "metadata": t.metadata}})
    .to_string()
}

thread_local! {
    /// `read-rusqlite`: each runtime thread's own connection, opened on first use.
    static CONNECTION: std::cell::RefCell<Option<rusqlite::Connection>> = const { std::cell::RefCell::new(None) };
}

/// The same read through rusqlite, run on the calling runtime thread (no hand-off to a driver
/// thread and back): what a short-read path that skips sqlx's thread would cost. Then yields, as a
/// server task would on its socket.
async fn read_once_rusqlite(shared: &Shared, account: &str) -> Result<(), Error> {
    let path = shared.args.database.strip_prefix("sqlite:").ok_or("read-rusqlite needs a sqlite: URL")?;
    let sql = ACCOUNT_SQL.replace("$1", "?1").replace("$2", "?2").replace("$3", "?3");
    CONNECTION.with(|cell| -> Result<(), Error> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let connection = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            *slot = Some(connection);
        }
        let connection = slot.as_ref().ok_or("no connection")?;
        let mut statement = connection.prepare_cached(&sql)?;
        statement.query_row(rusqlite::params![account, shared.args.space, shared.args.env], |row| {
            let _: i64 = row.get("seq")?;
            for col in ["id", "uvan", "name", "currency"] {
                let _: String = row.get(col)?;
            }
            for col in ["reference", "description", "metadata"] {
                let _: Option<String> = row.get(col)?;
            }
            let _: i64 = row.get("balance")?;
            let _: i64 = row.get("created_at")?;
            let _: Option<i64> = row.get("updated_at")?;
            Ok(())
        })?;
        Ok(())
    })?;
    tokio::task::yield_now().await;
    Ok(())
}

/// One worker: operations until the deadline; returns each one's latency and the error count.
async fn worker(shared: Arc<Shared>, deadline: Instant) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    let n = shared.args.accounts.len();
    while Instant::now() < deadline {
        let (a, b) = {
            let mut rng = rand::thread_rng();
            let a = rng.gen_range(0..n);
            let mut b = rng.gen_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            (a, b)
        };
        let started = Instant::now();
        let result = if shared.args.mode == "read" {
            read_once(&shared, &shared.args.accounts[a]).await
        } else if shared.args.mode == "read-rusqlite" {
            read_once_rusqlite(&shared, &shared.args.accounts[a]).await
        } else if shared.args.mode == "transfer-store" {
            transfer_store_once(&shared, a, b, 1).await
        } else {
            transfer_once(&shared, &shared.args.accounts[a], &shared.args.accounts[b], 1).await
        };
        latencies.push(started.elapsed());
        if let Err(e) = result {
            if errors == 0 {
                eprintln!("{}: {e}", shared.args.mode);
            }
            errors += 1;
        }
    }
    (latencies, errors)
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let args = parse_args()?;
    let mut options = StoreOptions::default();
    if let Some(n) = args.max_connections {
        options.max_connections = n;
    }
    let store = Store::open(&args.database, options).await?;
    let write_gate = (store.backend() == Backend::Sqlite && args.mode == "transfer").then(|| Mutex::new(()));
    let store_call = if args.mode == "transfer-store" { Some(StoreCall::new(&args)?) } else { None };
    let shared = Arc::new(Shared { store, args, write_gate, store_call });
    // Warm the pool the way a running server's would be.
    read_once(&shared, &shared.args.accounts[0]).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(shared.args.seconds);
    let tasks: Vec<_> = (0..shared.args.concurrency).map(|_| tokio::spawn(worker(shared.clone(), deadline))).collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let ok = latencies.len() as u64 - errors;
    let report = json!({
        "mode": shared.args.mode,
        "backend": format!("{:?}", shared.store.backend()).to_lowercase(),
        "concurrency": shared.args.concurrency,
        "max_connections": shared.store.pool().options().get_max_connections(),
        "seconds": elapsed,
        "operations": latencies.len(),
        "errors": errors,
        "rate": ok as f64 / elapsed,
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p90_ms": percentile_ms(&latencies, 90.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
    });
    println!("{report}");
    shared.store.close().await;
    Ok(())
}
