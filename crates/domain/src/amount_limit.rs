//! Money limits a token carries: per currency, the largest single movement and a rolling 24-hour
//! total, for the movements a token makes (internal transfers and payouts). Enforced by the store
//! inside the moving transaction; a child token's limits never exceed its parent's.

use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use time::Duration;

/// The window of the rolling total.
pub const WINDOW: Duration = Duration::hours(24);

/// One currency's limits, in minor units; `None` is no limit on that axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountLimit {
    pub currency: Currency,
    pub per_movement: Option<i64>,
    pub per_24_hours: Option<i64>,
}

/// Which limit a movement would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitBreach {
    PerMovement { limit: i64 },
    Per24Hours { limit: i64, spent: i64 },
}

/// The limit for `currency`, if the token has one.
pub fn limit_for(limits: &[AmountLimit], currency: Currency) -> Option<&AmountLimit> {
    limits.iter().find(|l| l.currency == currency)
}

/// Whether `amount` may move, given `spent` in the window already.
pub fn check(limits: &[AmountLimit], amount: Money, spent: i64) -> Result<(), LimitBreach> {
    let Some(limit) = limit_for(limits, amount.currency) else { return Ok(()) };
    if let Some(max) = limit.per_movement {
        if amount.value > max {
            return Err(LimitBreach::PerMovement { limit: max });
        }
    }
    if let Some(max) = limit.per_24_hours {
        if spent.checked_add(amount.value).is_none_or(|total| total > max) {
            return Err(LimitBreach::Per24Hours { limit: max, spent });
        }
    }
    Ok(())
}

/// Whether `child`'s limits are within `parent`'s: every axis the parent limits, the child limits
/// no higher, in every currency.
pub fn within(child: &[AmountLimit], parent: &[AmountLimit]) -> bool {
    parent.iter().all(|p| {
        let Some(c) = limit_for(child, p.currency) else { return false };
        let axis = |pv: Option<i64>, cv: Option<i64>| pv.is_none_or(|pv| cv.is_some_and(|cv| cv <= pv));
        axis(p.per_movement, c.per_movement) && axis(p.per_24_hours, c.per_24_hours)
    })
}

/// Why a requested list of limits is refused.
pub fn validate(limits: &[AmountLimit]) -> Result<(), &'static str> {
    for (i, l) in limits.iter().enumerate() {
        if limits[..i].iter().any(|o| o.currency == l.currency) {
            return Err("each currency may appear once");
        }
        if [l.per_movement, l.per_24_hours].iter().flatten().any(|v| *v <= 0) {
            return Err("limits must be positive minor units");
        }
        if l.per_movement.is_none() && l.per_24_hours.is_none() {
            return Err("a limit needs `perMovement`, `per24Hours` or both");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sle(per_movement: Option<i64>, per_24_hours: Option<i64>) -> AmountLimit {
        AmountLimit { currency: Currency::Sle, per_movement, per_24_hours }
    }

    #[test]
    fn each_limit_names_itself() {
        let limits = [sle(Some(100), Some(250))];
        let m = |v| Money { currency: Currency::Sle, value: v };
        assert_eq!(check(&limits, m(100), 0), Ok(()));
        assert_eq!(check(&limits, m(101), 0), Err(LimitBreach::PerMovement { limit: 100 }));
        assert_eq!(check(&limits, m(100), 200), Err(LimitBreach::Per24Hours { limit: 250, spent: 200 }));
        assert_eq!(check(&limits, Money { currency: Currency::Usd, value: 10_000 }, 0), Ok(()));
        assert_eq!(check(&limits, m(1), i64::MAX), Err(LimitBreach::Per24Hours { limit: 250, spent: i64::MAX }));
    }

    proptest! {
        /// Within is "no axis the parent limits is looser or missing in the child".
        #[test]
        fn a_child_within_its_parent_never_allows_more(
            pm in proptest::option::of(1i64..1000), pd in proptest::option::of(1i64..1000),
            cm in proptest::option::of(1i64..1000), cd in proptest::option::of(1i64..1000),
            amount in 1i64..1000, spent in 0i64..1000,
        ) {
            let (parent, child) = ([sle(pm, pd)], [sle(cm, cd)]);
            let money = Money { currency: Currency::Sle, value: amount };
            if within(&child, &parent) {
                prop_assert!(check(&child, money, spent).is_err() || check(&parent, money, spent).is_ok());
            }
        }
    }
}
