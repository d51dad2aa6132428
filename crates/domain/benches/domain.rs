//! Micro-benchmarks of the pure parts of the auth check: offline token validation, hashing, and
//! the permission decision.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use openmonime_domain::permission::{decide, Permission, PermissionSet};
use openmonime_domain::role::BuiltinRole;
use openmonime_domain::token::{self, TokenHash};
use openmonime_domain::Environment;

fn bench(c: &mut Criterion) {
    let valid = token::generate(Environment::Live);
    let valid = valid.plaintext.expose().to_owned();
    let mut garbage = valid.clone();
    garbage.replace_range(10..11, if &valid[10..11] == "A" { "B" } else { "A" });

    c.bench_function("token_parse_valid", |b| b.iter(|| token::parse(black_box(&valid))));
    c.bench_function("token_parse_garbage_checksum", |b| b.iter(|| token::parse(black_box(&garbage))));
    c.bench_function("token_parse_not_a_token", |b| b.iter(|| token::parse(black_box("Bearer nonsense"))));
    c.bench_function("token_hash_sha256", |b| b.iter(|| TokenHash::of(black_box(&valid))));
    let token_set = PermissionSet::all();
    let role_set = BuiltinRole::Viewer.permissions();
    c.bench_function("permission_decide", |b| {
        b.iter(|| decide(black_box(Permission::InternalTransfersWrite), black_box(token_set), black_box(role_set)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
