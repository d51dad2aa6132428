//! Fuzzes `Authorization` and `Monime-Space-Id` parsing: never a panic, only 401s and 400s.
#![no_main]
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use openmonime_http::auth::{presented_token, space_header};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let mut h = HeaderMap::new();
    h.insert("authorization", value.clone());
    h.insert("monime-space-id", value);
    if let Err(e) = presented_token(&h) {
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
    }
    if let Err(e) = space_header(&h) {
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
});
