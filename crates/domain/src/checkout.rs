//! Checkout sessions: a hosted page where a customer pays for a merchant's line items, and the
//! receipt a completed one leaves.
//!
//! Lifecycle: `pending` (awaiting the customer; a failed payment attempt leaves it pending, so the
//! customer can retry with another method) → `completed` (a payment completed) | `cancelled` (the
//! customer cancelled on the page) | `expired` (nothing completed within [`DEFAULT_LIFETIME`]). A
//! session is `started` once the customer submits a payment on its page; DELETE is allowed only
//! before that.
//!
//! The page's address is a capability: `{public-url}/checkout/<token>`, the token 256 random bits
//! (not derived from the session id), good only while the session is pending.

use crate::ids::{random_base62, CheckoutSessionId, FinancialAccountId};
use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// How long a session waits for its customer. Monime publishes no figure; an hour is long
/// enough to pay by mobile money (the slowest method here) and short enough that a link left in a
/// chat or a browser history stops working the same day.
pub const DEFAULT_LIFETIME: Duration = Duration::hours(1);
pub const MAX_LINE_ITEMS: usize = 16;
pub const MAX_QUANTITY: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Pending,
    Cancelled,
    Expired,
    Completed,
}

impl CheckoutStatus {
    /// In the document's order.
    pub const ALL: [CheckoutStatus; 4] =
        [CheckoutStatus::Pending, CheckoutStatus::Cancelled, CheckoutStatus::Expired, CheckoutStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutStatus::Pending => "pending",
            CheckoutStatus::Cancelled => "cancelled",
            CheckoutStatus::Expired => "expired",
            CheckoutStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One thing the customer buys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// Made by the server (`itm-…`); a receipt's entitlement key.
    pub id: String,
    pub name: String,
    pub price: Money,
    pub quantity: i64,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
}

/// Which providers of one method a session offers: `enabled` (if given) wins over `disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodOptions {
    pub disable: bool,
    pub enabled_providers: Option<Vec<String>>,
    pub disabled_providers: Option<Vec<String>>,
}

impl MethodOptions {
    /// Whether the session offers `provider` of this method.
    pub fn allows(&self, provider: &str) -> bool {
        if self.disable {
            return false;
        }
        let listed = |list: &Option<Vec<String>>| list.as_ref().is_some_and(|l| l.iter().any(|p| p == provider));
        match &self.enabled_providers {
            Some(_) => listed(&self.enabled_providers),
            None => !listed(&self.disabled_providers),
        }
    }
}

/// The methods a session offers (the document's four; the rails here collect by mobile money).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOptions {
    pub card: MethodOptions,
    pub bank: MethodOptions,
    pub momo: MethodOptions,
    pub wallet: MethodOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    pub name: String,
    pub description: Option<String>,
    pub status: CheckoutStatus,
    /// The order a completed session's payment and receipt carry.
    pub order_number: String,
    pub reference: Option<String>,
    /// The page's capability token (the last segment of `redirectUrl`).
    pub token: String,
    pub cancel_url: Option<String>,
    pub success_url: Option<String>,
    /// Returned to `successUrl` / `cancelUrl`; never shown in reads.
    pub callback_state: Option<String>,
    pub line_items: Vec<LineItem>,
    pub financial_account: FinancialAccountId,
    pub payment_options: PaymentOptions,
    pub primary_color: Option<String>,
    /// When the customer first submitted a payment on the page.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expire_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub metadata: Option<Map<String, Value>>,
}

impl CheckoutSession {
    /// What the customer pays: the line items' prices times their quantities.
    pub fn total(&self) -> Option<Money> {
        total(&self.line_items)
    }

    /// Whether the page may still take a payment at `now`.
    pub fn payable(&self, now: OffsetDateTime) -> bool {
        self.status == CheckoutStatus::Pending && now < self.expire_at
    }
}

/// The sum of `items`, in their one currency; `None` for no items, mixed currencies, or an
/// overflow.
pub fn total(items: &[LineItem]) -> Option<Money> {
    let currency = items.first()?.price.currency;
    let mut value: i64 = 0;
    for item in items {
        if item.price.currency != currency {
            return None;
        }
        value = value.checked_add(item.price.value.checked_mul(item.quantity)?)?;
    }
    Some(Money { currency, value })
}

/// A fresh page token: 43 base62 characters, about 256 bits.
pub fn new_page_token() -> String {
    random_base62(43)
}

/// A fresh order number: `MON-` and 12 digits (the document caps an order number at 20).
pub fn new_order_number() -> String {
    use rand::Rng;
    format!("MON-{:012}", rand::thread_rng().gen_range(0..1_000_000_000_000u64))
}

/// A line item's server-made id.
pub fn new_line_item_id() -> String {
    format!("itm-{}", random_base62(16))
}

/// An amount as a person reads it: `SLE 1,234.50`.
pub fn display_money(money: Money) -> String {
    let minor = money.value.unsigned_abs();
    let (major, cents) = (minor / 100, minor % 100);
    let digits = major.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if money.value < 0 { "-" } else { "" };
    let code = match money.currency {
        Currency::Sle => "SLE",
        Currency::Usd => "USD",
    };
    format!("{sign}{code} {grouped}.{cents:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(value: i64, quantity: i64, currency: Currency) -> LineItem {
        LineItem {
            id: new_line_item_id(),
            name: "x".into(),
            price: Money { currency, value },
            quantity,
            reference: None,
            description: None,
            images: None,
        }
    }

    #[test]
    fn a_total_is_one_currency_and_checked() {
        let sle = Currency::Sle;
        assert_eq!(total(&[item(250, 2, sle), item(100, 1, sle)]), Some(Money { currency: sle, value: 600 }));
        assert_eq!(total(&[item(1, 1, sle), item(1, 1, Currency::Usd)]), None);
        assert_eq!(total(&[item(i64::MAX, 2, sle)]), None);
        assert_eq!(total(&[]), None);
    }

    #[test]
    fn enabled_providers_win_over_disabled_ones_and_disable_wins_over_both() {
        let mut momo = MethodOptions::default();
        assert!(momo.allows("m17"));
        momo.disabled_providers = Some(vec!["m17".into()]);
        assert!(!momo.allows("m17") && momo.allows("m18"));
        momo.enabled_providers = Some(vec!["m17".into()]);
        assert!(momo.allows("m17") && !momo.allows("m18"), "in both lists: allowed");
        momo.disable = true;
        assert!(!momo.allows("m17"));
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(display_money(Money { currency: Currency::Sle, value: 123_450 }), "SLE 1,234.50");
        assert_eq!(display_money(Money { currency: Currency::Usd, value: 5 }), "USD 0.05");
        assert_eq!(display_money(Money { currency: Currency::Sle, value: 100_000_000 }), "SLE 1,000,000.00");
    }

    #[test]
    fn tokens_and_order_numbers_have_their_shapes() {
        assert_eq!(new_page_token().len(), 43);
        let order = new_order_number();
        assert!(order.len() == 16 && order.starts_with("MON-"), "{order}");
    }
}
