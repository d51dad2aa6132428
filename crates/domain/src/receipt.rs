//! Receipts: what a completed checkout leaves the customer — one entitlement per line item (its
//! quantity is the limit) — and their redemption: all requested units, or none.

use crate::checkout::LineItem;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    NotRedeemed,
    PartiallyRedeemed,
    FullyRedeemed,
}

impl ReceiptStatus {
    pub const ALL: [ReceiptStatus; 3] =
        [ReceiptStatus::NotRedeemed, ReceiptStatus::PartiallyRedeemed, ReceiptStatus::FullyRedeemed];

    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::NotRedeemed => "not_redeemed",
            ReceiptStatus::PartiallyRedeemed => "partially_redeemed",
            ReceiptStatus::FullyRedeemed => "fully_redeemed",
        }
    }
}

/// A right the receipt grants: `limit` units, `current` of them redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub key: String,
    pub name: Option<String>,
    pub limit: i64,
    pub current: i64,
}

impl Entitlement {
    pub fn remaining(&self) -> i64 {
        self.limit - self.current
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub order_number: String,
    pub order_name: Option<String>,
    pub order_amount: Money,
    pub entitlements: Vec<Entitlement>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A redemption request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Every remaining unit of every entitlement.
    All,
    /// These units of these entitlements (by key).
    Units(Vec<(String, i64)>),
}

/// Why nothing was redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemRefusal {
    /// No entitlement has this key.
    UnknownKey(String),
    /// More units than remain.
    OverLimit(String),
    /// `redeemAll` on a receipt with nothing left.
    NothingLeft,
}

impl Receipt {
    /// Entitlements from line items: the item's id as key (stable and unique), its quantity as the
    /// limit.
    pub fn entitlements_of(items: &[LineItem]) -> Vec<Entitlement> {
        items
            .iter()
            .map(|i| Entitlement { key: i.id.clone(), name: Some(i.name.clone()), limit: i.quantity, current: 0 })
            .collect()
    }

    pub fn status(&self) -> ReceiptStatus {
        let redeemed: i64 = self.entitlements.iter().map(|e| e.current).sum();
        if redeemed == 0 {
            ReceiptStatus::NotRedeemed
        } else if self.entitlements.iter().all(|e| e.remaining() == 0) {
            ReceiptStatus::FullyRedeemed
        } else {
            ReceiptStatus::PartiallyRedeemed
        }
    }

    /// Applies `redemption` whole, or changes nothing and says why.
    pub fn redeem(&mut self, redemption: &Redemption) -> Result<(), RedeemRefusal> {
        let mut next = self.entitlements.clone();
        match redemption {
            Redemption::All => {
                if next.iter().all(|e| e.remaining() == 0) {
                    return Err(RedeemRefusal::NothingLeft);
                }
                for e in &mut next {
                    e.current = e.limit;
                }
            }
            Redemption::Units(units) => {
                for (key, n) in units {
                    let e = next
                        .iter_mut()
                        .find(|e| &e.key == key)
                        .ok_or_else(|| RedeemRefusal::UnknownKey(key.clone()))?;
                    if *n < 1 || *n > e.remaining() {
                        return Err(RedeemRefusal::OverLimit(key.clone()));
                    }
                    e.current += n;
                }
            }
        }
        self.entitlements = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn receipt() -> Receipt {
        let now = crate::time_fmt::now();
        Receipt {
            order_number: "MON-000000000001".into(),
            order_name: None,
            order_amount: Money { currency: Currency::Sle, value: 100 },
            entitlements: vec![
                Entitlement { key: "a".into(), name: None, limit: 2, current: 0 },
                Entitlement { key: "b".into(), name: None, limit: 1, current: 0 },
            ],
            metadata: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn redemption_is_all_or_nothing_and_never_over_the_limit() {
        let mut r = receipt();
        assert_eq!(r.status(), ReceiptStatus::NotRedeemed);
        let over = Redemption::Units(vec![("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(r.redeem(&over), Err(RedeemRefusal::OverLimit("b".into())));
        assert_eq!(r.status(), ReceiptStatus::NotRedeemed, "nothing of a refused redemption stays");
        assert_eq!(r.redeem(&Redemption::Units(vec![("c".into(), 1)])), Err(RedeemRefusal::UnknownKey("c".into())));
        r.redeem(&Redemption::Units(vec![("a".into(), 1)])).unwrap();
        assert_eq!(r.status(), ReceiptStatus::PartiallyRedeemed);
        r.redeem(&Redemption::All).unwrap();
        assert_eq!(r.status(), ReceiptStatus::FullyRedeemed);
        assert_eq!(r.redeem(&Redemption::All), Err(RedeemRefusal::NothingLeft));
        assert_eq!(r.redeem(&Redemption::Units(vec![("a".into(), 1)])), Err(RedeemRefusal::OverLimit("a".into())));
    }
}
