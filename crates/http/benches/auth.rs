//! Micro-benchmarks of the authorization pipeline as a request runs it: the full
//! [`openmonime_http::auth::authorize`] call for a Space-scoped route on a warm cache, on a cold
//! miss (an unknown but well-formed token: one database lookup), on a garbage token (bad
//! checksum: refused before any lookup); the permission decision; and the envelope serialization
//! of a rendered financial account. The store is a temporary SQLite database.
//!
//! Targets (issue 7): warm ≤ 1 µs, garbage token ≤ 50 ns. Run with
//! `cargo bench -p openmonime-http --bench auth`.

use axum::http::{HeaderMap, HeaderValue};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use openmonime_domain::entities::{FinancialAccount, NewAccessToken};
use openmonime_domain::ids::FinancialAccountId;
use openmonime_domain::money::Currency;
use openmonime_domain::permission::{decide, Permission, PermissionSet};
use openmonime_domain::role::BuiltinRole;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token, Environment};
use openmonime_http::auth::{authorize, presented_token, Access};
use openmonime_http::views::{self, One};
use openmonime_http::{AppState, ServerConfig};
use openmonime_store::backend::StoreOptions;
use openmonime_store::Store;
use std::net::IpAddr;

const ACCESS: Access = Access::Space(Permission::FinancialAccountsRead);

fn headers(token: &str, space: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).expect("ASCII token"));
    h.insert("monime-space-id", HeaderValue::from_str(space).expect("ASCII id"));
    h
}

/// A Monimeer owning a Space, and a test token with every permission bound to it.
async fn fixture(store: &Store) -> (String, String) {
    let owner = store.create_monimeer("Bench owner", None).await.expect("monimeer");
    let space =
        store.create_space("Bench Space", &owner.id, &openmonime_store::journal::Actor::Operator).await.expect("space");
    let minted = token::generate(Environment::Test);
    let new = NewAccessToken {
        monimeer_id: owner.id.clone(),
        name: "bench".into(),
        environment: Environment::Test,
        permissions: PermissionSet::all(),
        space_id: Some(space.id.clone()),
        allowed_ips: Vec::new(),
        expires_at: Some(time_fmt::now() + time::Duration::days(1)),
        api_version: ApiVersion::LATEST,
        created_by: None,
        amount_limits: Vec::new(),
    };
    store
        .create_token(&new, &minted.hash, &minted.hint, &openmonime_store::journal::Actor::Operator)
        .await
        .expect("token");
    (minted.plaintext.expose().to_owned(), space.id.to_string())
}

/// `token` with one character of its random part changed: well formed, wrong checksum.
fn with_bad_checksum(token: &str) -> String {
    let mut garbage = token.to_owned();
    let i = garbage.len() - 10;
    let replacement = if &garbage[i..i + 1] == "A" { "B" } else { "A" };
    garbage.replace_range(i..i + 1, replacement);
    garbage
}

fn bench_authorize(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let store = rt.block_on(Store::open(&url, StoreOptions::default())).expect("store");
    let (token, space) = rt.block_on(fixture(&store));
    let state = AppState::new(store.clone(), ServerConfig::default(), None);
    let ip = IpAddr::from([127, 0, 0, 1]);

    let warm = headers(&token, &space);
    rt.block_on(authorize(&state, ACCESS, &warm, ip)).map_err(|e| e.reason).expect("the fixture token is authorized");
    c.bench_function("authorize_warm_hit", |b| {
        b.to_async(&rt).iter(|| async { black_box(authorize(&state, ACCESS, black_box(&warm), ip).await.is_ok()) })
    });

    // Every iteration presents a token never seen before, so each one misses the cache (a miss
    // leaves a negative entry behind) and costs one lookup in the database.
    c.bench_function("authorize_cold_miss", |b| {
        b.to_async(&rt).iter_batched(
            || headers(token::generate(Environment::Test).plaintext.expose(), &space),
            |h| {
                let state = &state;
                async move {
                    let refused = authorize(state, ACCESS, &h, ip).await.err().map(|e| e.reason);
                    assert_eq!(refused, Some("token_unknown"));
                }
            },
            BatchSize::SmallInput,
        )
    });

    let garbage = headers(&with_bad_checksum(&token), &space);
    let refused = rt.block_on(authorize(&state, ACCESS, &garbage, ip)).err().map(|e| e.reason);
    assert_eq!(refused, Some("token_checksum_invalid"));
    c.bench_function("authorize_garbage_token", |b| {
        b.to_async(&rt).iter(|| async { black_box(authorize(&state, ACCESS, black_box(&garbage), ip).await.is_err()) })
    });
    // The offline check alone (header, prefix, checksum) and the `ApiError` it returns.
    c.bench_function("presented_token_garbage_checksum", |b| {
        b.iter(|| black_box(presented_token(black_box(&garbage)).is_err()))
    });

    rt.block_on(store.close());
}

fn bench_decision(c: &mut Criterion) {
    let token_set = PermissionSet::all();
    let role_set = BuiltinRole::Developer.permissions();
    c.bench_function("permission_decide", |b| {
        b.iter(|| decide(black_box(Permission::InternalTransfersWrite), black_box(token_set), black_box(role_set)))
    });
}

fn bench_envelope(c: &mut Criterion) {
    let account = FinancialAccount {
        id: FinancialAccountId::generate(),
        uvan: "662677270667".into(),
        name: "Settlements".into(),
        currency: Currency::Sle,
        reference: Some("settlements-2025".into()),
        description: Some("Where the day's takings land".into()),
        metadata: serde_json::json!({"region": "western-area", "team": "payments"}).as_object().cloned(),
        balance: 1_250_000,
        created_at: time_fmt::now(),
        updated_at: Some(time_fmt::now()),
    };
    // The handler owns the record it renders, so the copy is made outside the measurement.
    c.bench_function("envelope_one_account_to_bytes", |b| {
        b.iter_batched(
            || account.clone(),
            |account| {
                let body = One::new(views::ledger::FinancialAccount::new(black_box(account), true));
                black_box(serde_json::to_vec(&body).expect("serializable"))
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_authorize, bench_decision, bench_envelope);
criterion_main!(benches);
