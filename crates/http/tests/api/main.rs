//! The HTTP integration suite: a real server on port 0, a real HTTP client, a real database.
//!
//! Backend: SQLite in a fresh temporary file per test by default; with
//! `OPENMONIME_TEST_DATABASE_URL=postgres://…` every test runs against one fresh PostgreSQL
//! database per test process instead, and isolates by creating its own Space.

mod support;

mod accounts;
mod authz_matrix;
mod cancellation;
mod catalogue;
mod checkout;
mod cluster;
mod collections;
mod console;
mod cursors;
mod deliveries;
mod duplicates;
mod events;
mod forwarding;
mod foundation;
mod fuzz_findings;
mod grants;
mod identity;
mod journal;
mod management;
mod openapi_doc;
mod path_ids;
mod payouts;
mod ratelimits;
mod shutdown;
mod token_hygiene;
mod transfers;
mod webhooks;
