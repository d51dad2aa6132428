//! Money as integer minor units with checked arithmetic: an overflow is an error, never a wrap.

use serde::{Deserialize, Serialize};

/// The currencies Monime supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "SLE")]
    Sle,
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Sle => "SLE",
            Currency::Usd => "USD",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SLE" => Some(Currency::Sle),
            "USD" => Some(Currency::Usd),
            _ => None,
        }
    }
}

/// An amount in minor units (1 SLE = 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub currency: Currency,
    pub value: i64,
}

/// Why a balance computation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount would overflow the balance")]
    Overflow,
    #[error("the balance is too low")]
    Insufficient,
}

/// Adds a credit to a balance.
pub fn credit(balance: i64, amount: i64) -> Result<i64, MoneyError> {
    balance.checked_add(amount).ok_or(MoneyError::Overflow)
}

/// Takes a debit from a balance; balances never go below zero.
pub fn debit(balance: i64, amount: i64) -> Result<i64, MoneyError> {
    let after = balance.checked_sub(amount).ok_or(MoneyError::Overflow)?;
    if after < 0 {
        return Err(MoneyError::Insufficient);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(credit(i64::MAX, 1), Err(MoneyError::Overflow));
        assert_eq!(debit(5, 6), Err(MoneyError::Insufficient));
        assert_eq!(debit(5, 5), Ok(0));
        assert_eq!(debit(i64::MIN, 1), Err(MoneyError::Overflow));
    }

    proptest! {
        #[test]
        fn arithmetic_never_panics_and_conserves(balance in 0i64..=i64::MAX, amount in 1i64..=i64::MAX) {
            if let Ok(after) = debit(balance, amount) {
                prop_assert_eq!(credit(after, amount), Ok(balance));
            }
            if let Ok(after) = credit(balance, amount) {
                prop_assert_eq!(debit(after, amount), Ok(balance));
            }
        }
    }
}
