//! The money core: financial accounts, ledger entries, internal transfers, operator adjustments
//! and verification, one module each. Every query here is scoped by a [`Tenant`].
//!
//! Balances change only through guarded single-statement updates
//! (`balance = balance - $a WHERE balance >= $a`), taken in ascending account-id order inside one
//! transaction, so concurrent transfers never lose an update, never overdraw, and never deadlock.

mod accounts;
mod adjustments;
mod transactions;
mod transfers;
mod verification;

pub(crate) use accounts::{account_in, insert_main_account};
pub use accounts::{AccountFilter, AccountPatch, NewAccount};
pub(crate) use adjustments::apply_delta;
pub(crate) use transactions::insert_entries_of;
pub use transactions::TransactionFilter;
pub use transfers::{NewTransfer, TransferFilter, TransferPatch, TransferRejection};
pub use verification::{CurrencyTotal, LedgerReport};
