//! Fuzzes cursor decoding: any `after` value decodes to a positive position or is refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openmonime_domain::cursor;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(seq) = cursor::decode(text) {
            assert!(seq > 0);
            assert_eq!(cursor::decode(&cursor::encode(seq)), Some(seq));
        }
    }
});
