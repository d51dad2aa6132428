//! The console's read-only money pages: accounts with balances, transactions, transfers, payment
//! codes, payouts.
//!
//! Each table is drawn from the API's own view of the object (`crate::views`), serialized once
//! and read by JSON pointer, so the console shows what the API answers, field for field.

use super::{page, Answer, Console, Frame};
use crate::views;
use askama::Template;
use axum::extract::Query;
use openmonime_domain::permission::Permission;
use openmonime_store::ledger::AccountFilter;
use openmonime_store::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rows per money page.
const PER_PAGE: u32 = 50;

/// A column: its heading and where its value is in the API's view (`…/value` under a money
/// object is shown with its currency).
type Column = (&'static str, &'static str);

/// One cell's text: a money object as `SLE 12.50`, a scalar as itself, absent as empty.
fn cell(view: &Value, pointer: &str) -> String {
    match view.pointer(pointer) {
        Some(Value::Object(m)) if m.contains_key("currency") && m.contains_key("value") => {
            let currency = m["currency"].as_str().unwrap_or("");
            let value = m["value"].as_i64().unwrap_or(0);
            let major = value.unsigned_abs() / 100;
            let sign = if value < 0 { "-" } else { "" };
            format!("{currency} {sign}{major}.{:02}", value.unsigned_abs() % 100)
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A table of API views.
pub(super) struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn of<T: Serialize>(items: &[T], columns: &[Column]) -> Table {
        let rows = items
            .iter()
            .map(|item| {
                let view = serde_json::to_value(item).unwrap_or(Value::Null);
                columns.iter().map(|(_, p)| cell(&view, p)).collect()
            })
            .collect();
        Table { headers: columns.iter().map(|(h, _)| *h).collect(), rows }
    }
}

/// A tab of the money pages, shown when the role may read it.
pub struct Tab {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "console/money.html")]
struct MoneyPage {
    frame: Frame,
    heading: &'static str,
    tabs: Vec<Tab>,
    table: Table,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub(super) after: Option<i64>,
}

/// The money tabs: path under `…/money`, label, and the permission that shows it.
const TABS: [(&str, &str, Permission); 5] = [
    ("", "Accounts", Permission::FinancialAccountsRead),
    ("/transactions", "Transactions", Permission::FinancialTransactionsRead),
    ("/transfers", "Transfers", Permission::InternalTransfersRead),
    ("/payment-codes", "Payment codes", Permission::PaymentCodesRead),
    ("/payouts", "Payouts", Permission::PayoutsRead),
];

fn money_page<T, V: Serialize>(
    console: &Console,
    tab: &str,
    found: Page<T>,
    view: impl Fn(T) -> V,
    columns: &[Column],
) -> Answer {
    let base = format!("{}/money", console.base());
    let heading = TABS.iter().find(|(p, _, _)| *p == tab).map(|(_, l, _)| *l).unwrap_or("Money");
    let tabs = TABS
        .iter()
        .filter(|(_, _, p)| console.may(*p))
        .map(|(path, label, _)| Tab { href: format!("{base}{path}"), label, current: *path == tab })
        .collect();
    let items: Vec<V> = found.items.into_iter().map(view).collect();
    let page_ = MoneyPage {
        frame: Frame::new(console, "money"),
        heading,
        tabs,
        table: Table::of(&items, columns),
        next: found.next_after.map(|after| format!("{base}{tab}?after={after}")),
    };
    Ok(page(&page_.frame, &page_))
}

pub(super) fn request(q: &PageQuery) -> PageRequest {
    PageRequest { after: q.after, limit: PER_PAGE }
}

/// `GET …/money`: the Space's financial accounts with their balances.
pub async fn accounts(console: Console, Query(q): Query<PageQuery>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_accounts(tenant, &AccountFilter::default(), request(&q)).await?;
    let columns = [
        ("Account", "/id"),
        ("Name", "/name"),
        ("Currency", "/currency"),
        ("Available", "/balance/available"),
        ("Reference", "/reference"),
        ("Created", "/createTime"),
    ];
    money_page(&console, "", found, |a| views::ledger::FinancialAccount::new(a, true), &columns)
}

/// `GET …/money/transactions`.
pub async fn transactions(console: Console, Query(q): Query<PageQuery>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_transactions(tenant, &Default::default(), request(&q)).await?;
    let columns = [
        ("Transaction", "/id"),
        ("Kind", "/type"),
        ("Amount", "/amount"),
        ("Account", "/financialAccount/id"),
        ("Reference", "/reference"),
        ("Time", "/timestamp"),
    ];
    money_page(&console, "/transactions", found, views::ledger::FinancialTransaction::new, &columns)
}

/// `GET …/money/transfers`.
pub async fn transfers(console: Console, Query(q): Query<PageQuery>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_transfers(tenant, &Default::default(), request(&q)).await?;
    let columns = [
        ("Transfer", "/id"),
        ("Status", "/status"),
        ("Amount", "/amount"),
        ("From", "/sourceFinancialAccount/id"),
        ("To", "/destinationFinancialAccount/id"),
        ("Created", "/createTime"),
    ];
    money_page(&console, "/transfers", found, views::ledger::InternalTransfer::new, &columns)
}

/// `GET …/money/payment-codes`.
pub async fn payment_codes(console: Console, Query(q): Query<PageQuery>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_payment_codes(tenant, &Default::default(), request(&q)).await?;
    let columns = [
        ("Code", "/id"),
        ("Name", "/name"),
        ("Status", "/status"),
        ("Mode", "/mode"),
        ("Amount", "/amount"),
        ("USSD", "/ussdCode"),
        ("Expires", "/expireTime"),
    ];
    money_page(&console, "/payment-codes", found, views::collections::PaymentCode::new, &columns)
}

/// `GET …/money/payouts`.
pub async fn payouts(console: Console, Query(q): Query<PageQuery>) -> Answer {
    let tenant = &console.in_space()?.tenant;
    let found = console.state.store.list_payouts(tenant, &Default::default(), request(&q)).await?;
    let columns = [
        ("Payout", "/id"),
        ("Status", "/status"),
        ("Amount", "/amount"),
        ("Destination", "/destination/type"),
        ("Failure", "/failureDetail/code"),
        ("Created", "/createTime"),
    ];
    money_page(&console, "/payouts", found, views::payouts::Payout::new, &columns)
}
