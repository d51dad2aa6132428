//! The fees charged on a payment: a per-Space schedule of rules, each a percentage (in basis
//! points) plus a fixed amount per currency, from the operator's configuration (none by default).
//!
//! Rounding: a rule's percentage part is `amount × basisPoints / 10 000` rounded half up to the
//! minor unit (integer arithmetic, never floating point). Rules apply in order, and each fee is
//! capped at what the earlier ones left, so the fees never exceed the payment: the receiving
//! account is never debited below what the payment credited. A fee that comes to zero is not
//! listed.

use crate::money::{Currency, Money};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One rule of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FeeRule {
    /// The fee's `code` on the payment (`processing`, `platform`, …).
    pub code: String,
    /// Hundredths of a percent: 150 is 1.5 %. At most 10 000.
    #[serde(default)]
    pub basis_points: u32,
    /// A fixed part in minor units, per currency code (`{"SLE": 100}`).
    #[serde(default)]
    pub fixed: BTreeMap<String, i64>,
}

/// The operator's fee configuration: a default schedule and Spaces with their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeConfig {
    #[serde(default)]
    pub default: Vec<FeeRule>,
    /// By Space id; a Space listed here uses its own schedule instead of the default.
    #[serde(default)]
    pub spaces: BTreeMap<String, Vec<FeeRule>>,
}

impl FeeConfig {
    /// Refuses a configuration that could charge nonsense; the message names the rule.
    pub fn check(&self) -> Result<(), String> {
        for (space, rules) in
            std::iter::once(("default", &self.default)).chain(self.spaces.iter().map(|(s, r)| (s.as_str(), r)))
        {
            if space != "default" && crate::ids::SpaceId::parse(space).is_none() {
                return Err(format!("`{space}` is not a Space id"));
            }
            for rule in rules {
                let at = format!("{space}: fee `{}`", rule.code);
                if rule.code.is_empty() || rule.code.len() > 64 {
                    return Err(format!("{at}: a code must have 1 to 64 characters"));
                }
                if rule.basis_points > 10_000 {
                    return Err(format!("{at}: basisPoints must be at most 10000 (100 %)"));
                }
                for (currency, value) in &rule.fixed {
                    if Currency::parse(currency).is_none() {
                        return Err(format!("{at}: `{currency}` is not a supported currency"));
                    }
                    if *value < 0 {
                        return Err(format!("{at}: a fixed fee cannot be negative"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The schedule of `space`.
    pub fn schedule(&self, space: &str) -> &[FeeRule] {
        self.spaces.get(space).unwrap_or(&self.default)
    }
}

/// The fees a payment of `amount` pays under `rules`.
pub fn fees_for(rules: &[FeeRule], amount: Money) -> Vec<crate::payment::Fee> {
    let mut left = amount.value.max(0);
    let mut fees = Vec::new();
    for rule in rules {
        let percent = (i128::from(amount.value) * i128::from(rule.basis_points) + 5_000) / 10_000;
        let fixed = rule.fixed.get(amount.currency.code()).copied().unwrap_or(0);
        let due = (percent + i128::from(fixed)).clamp(0, i128::from(left));
        let due = i64::try_from(due).unwrap_or(left);
        if due > 0 {
            left -= due;
            fees.push(crate::payment::Fee {
                code: rule.code.clone(),
                amount: Money { currency: amount.currency, value: due },
            });
        }
    }
    fees
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(code: &str, bp: u32, sle: i64) -> FeeRule {
        FeeRule { code: code.into(), basis_points: bp, fixed: [("SLE".to_owned(), sle)].into() }
    }

    fn sle(value: i64) -> Money {
        Money { currency: Currency::Sle, value }
    }

    #[test]
    fn percent_rounds_half_up_fixed_is_per_currency_and_fees_stop_at_the_amount() {
        let fees = fees_for(&[rule("processing", 150, 100)], sle(10_050));
        // 1.5 % of 10 050 = 150.75 → 151; plus 100 fixed.
        assert_eq!(fees[0].amount.value, 251);
        assert_eq!(fees_for(&[rule("p", 50, 0)], sle(100))[0].amount.value, 1, "0.5 rounds up");
        assert!(fees_for(&[rule("p", 49, 0)], sle(100)).is_empty(), "0.49 rounds to nothing, and is not listed");
        let usd = Money { currency: Currency::Usd, value: 1_000 };
        assert!(fees_for(&[rule("p", 0, 100)], usd).is_empty(), "the fixed part is per currency");
        let capped = fees_for(&[rule("a", 0, 80), rule("b", 0, 80)], sle(100));
        assert_eq!(capped.iter().map(|f| f.amount.value).collect::<Vec<_>>(), vec![80, 20]);
        assert!(fees_for(&[], sle(100)).is_empty(), "no schedule, no fees");
    }

    #[test]
    fn configuration_is_checked_and_spaces_override_the_default() {
        let config: FeeConfig = serde_json::from_value(serde_json::json!({
            "default": [{"code": "processing", "basisPoints": 100}],
            "spaces": {"spc-abc": []}
        }))
        .unwrap();
        config.check().unwrap();
        assert_eq!(config.schedule("spc-abc").len(), 0);
        assert_eq!(config.schedule("spc-other").len(), 1);
        for bad in [
            serde_json::json!({"default": [{"code": "p", "basisPoints": 10001}]}),
            serde_json::json!({"default": [{"code": "p", "fixed": {"EUR": 1}}]}),
            serde_json::json!({"default": [{"code": "p", "fixed": {"SLE": -1}}]}),
            serde_json::json!({"default": [{"code": ""}]}),
            serde_json::json!({"spaces": {"nope": []}}),
        ] {
            let config: FeeConfig = serde_json::from_value(bad.clone()).unwrap();
            assert!(config.check().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn fees_never_exceed_the_amount(value in 0i64..i64::MAX, bp in 0u32..=10_000, fixed in 0i64..i64::MAX) {
            let fees = fees_for(&[rule("a", bp, fixed), rule("b", bp, fixed)], sle(value));
            let total: i128 = fees.iter().map(|f| i128::from(f.amount.value)).sum();
            prop_assert!(total <= i128::from(value));
            prop_assert!(fees.iter().all(|f| f.amount.value > 0));
        }
    }
}
