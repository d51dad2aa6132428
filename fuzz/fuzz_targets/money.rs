//! Fuzzes balance arithmetic: never a panic or a wrap; a debit then credit restores the balance.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openmonime_domain::money::{credit, debit};

fuzz_target!(|input: (i64, i64)| {
    let (balance, amount) = input;
    if let Ok(after) = debit(balance, amount) {
        assert!(after >= 0);
        assert_eq!(credit(after, amount), Ok(balance));
    }
    if let Ok(after) = credit(balance, amount) {
        assert_eq!(after.checked_sub(amount), Some(balance));
    }
});
