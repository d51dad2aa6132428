//! openmonime's storage: one `Store` interface over SQLite (the embedded default) and PostgreSQL.
//!
//! Both backends speak the same SQL subset (numbered `$n` parameters, `RETURNING`, `BIGINT` and
//! `TEXT` columns), so each query is written once; what differs per backend — connecting, its
//! migrations, how concurrent writers are kept safe — lives in [`backend`]. Every tenant-scoped
//! method takes a [`Tenant`](openmonime_domain::entities::Tenant) as a required argument, and
//! its queries are built by `tenant::scoped`, which writes and binds the Space and environment
//! predicate, so a query that forgets either cannot be written. Every change is journalled in its
//! own transaction ([`journal`]).

#![forbid(unsafe_code)]

pub mod amount_limits;
pub mod audit;
pub mod backend;
mod codec;
pub mod collections;
pub mod console;
pub mod deliveries;
pub mod deployment;
pub mod error;
pub mod events;
mod fast_read;
pub mod idempotency;
pub mod identity;
pub mod journal;
pub mod ledger;
pub mod management;
pub mod payouts;
pub mod secret_url;
mod tenant;
pub mod token_lifecycle;
pub mod webhooks;

pub use backend::{Backend, Store};
pub use error::{Conflict, StoreError};
pub use idempotency::{IdempotencyClaim, Outcome};

/// A page of results and the sequence number to continue after, if there is more.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

/// A list's filter, as it binds a list cursor: the cursor of one list opens only on that list
/// with the same filter (see `openmonime_domain::cursor`).
pub trait ListFilter {
    /// The list's name, as the API spells its path.
    const LIST: &'static str;

    /// A stable encoding of the filter: the same filter gives the same bytes on every node.
    fn fingerprint(&self) -> Vec<u8>;
}

/// Implements [`ListFilter`] for a `Serialize` filter: its JSON (fields in declaration order).
macro_rules! list_filter {
    ($($filter:ty => $list:literal),* $(,)?) => {$(
        impl ListFilter for $filter {
            const LIST: &'static str = $list;

            fn fingerprint(&self) -> Vec<u8> {
                serde_json::to_vec(self).expect("a filter of strings and enums serializes")
            }
        }
    )*};
}

list_filter! {
    ledger::AccountFilter => "financial-accounts",
    ledger::TransactionFilter => "financial-transactions",
    ledger::TransferFilter => "internal-transfers",
    audit::AuditFilter => "audit-events",
    audit::TokenAuditFilter => "me/audit-events",
    webhooks::WebhookFilter => "webhooks",
    deliveries::DeliveryFilter => "webhooks/deliveries",
    collections::PaymentCodeFilter => "payment-codes",
    collections::PaymentFilter => "payments",
    collections::UssdOtpFilter => "ussd-otps",
    collections::CheckoutFilter => "checkout-sessions",
    payouts::PayoutFilter => "payouts",
}

/// Turns rows fetched with `LIMIT limit + 1` into a page.
pub(crate) fn page_of<T>(
    rows: Vec<sqlx::any::AnyRow>,
    limit: u32,
    decode: fn(&sqlx::any::AnyRow) -> error::StoreResult<T>,
) -> error::StoreResult<Page<T>> {
    let limit = limit as usize;
    let has_more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_after = if has_more { rows.last().map(|r| codec::int(r, "seq")).transpose()? } else { None };
    Ok(Page { items: rows.iter().map(decode).collect::<error::StoreResult<_>>()?, next_after })
}

/// Where a list starts and how much it returns.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Sequence number of the last item of the previous page; `None` for the first page.
    pub after: Option<i64>,
    /// 1..=50, validated by the caller.
    pub limit: u32,
}
