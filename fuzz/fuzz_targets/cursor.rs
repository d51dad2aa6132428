//! Fuzzes cursor decoding: any `after` value decodes to a positive position or is refused, and
//! what decodes in one scope is refused in another.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openmonime_domain::cursor::{CursorKey, CursorScope};
use openmonime_domain::Environment;

fuzz_target!(|data: &[u8]| {
    let key = CursorKey::from_bytes(&[7; CursorKey::LEN]);
    let scope = CursorScope::new(&key, "spc-fuzz", Environment::Test, "financial-accounts", b"{}");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(seq) = scope.decode(text) {
            assert!(seq > 0);
            assert_eq!(scope.decode(&scope.encode(seq)), Some(seq));
            let other = CursorScope::new(&key, "spc-other", Environment::Test, "financial-accounts", b"{}");
            assert_eq!(other.decode(text), None);
        }
    }
});
