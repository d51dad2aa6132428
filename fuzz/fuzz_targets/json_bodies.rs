//! Fuzzes every JSON request body: any bytes decode or are refused with a 400.
#![no_main]
use axum::http::StatusCode;
use libfuzzer_sys::fuzz_target;
use openmonime_http::handlers::{access_tokens, financial_accounts, internal_transfers};
use openmonime_http::json::decode;

fuzz_target!(|data: &[u8]| {
    let results = [
        decode::<financial_accounts::CreateBody>(data).map(|_| ()),
        decode::<financial_accounts::UpdateBody>(data).map(|_| ()),
        decode::<internal_transfers::CreateBody>(data).map(|_| ()),
        decode::<internal_transfers::PatchBody>(data).map(|_| ()),
        decode::<access_tokens::CreateBody>(data).map(|_| ()),
    ];
    for r in results {
        if let Err(e) = r {
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }
});
