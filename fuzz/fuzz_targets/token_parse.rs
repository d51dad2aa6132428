//! Fuzzes the offline token check: any text is either a token of one environment or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openmonime_domain::token;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(env) = token::parse(text) {
            assert!(text.starts_with(token::prefix_for(env)));
        }
    }
});
