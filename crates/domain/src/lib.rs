//! openmonime's domain model: the rules of the Monime platform as pure functions and types, with no I/O.
//!
//! Everything here is deterministic given its inputs (randomness comes from a CSPRNG passed in or the
//! thread RNG), so the storage and HTTP crates can share one definition of what a token, a permission,
//! an amount of money or a valid request field is.

#![forbid(unsafe_code)]

pub mod amount_limit;
pub mod checkout;
pub mod console_auth;
pub mod cursor;
pub mod duration;
pub mod entities;
pub mod environment;
pub mod escalation;
pub mod event;
pub mod fees;
pub mod grant;
pub mod ids;
pub mod issuance;
pub mod leak_report;
pub mod metadata;
pub mod money;
pub mod payment;
pub mod payment_code;
pub mod payout;
pub mod permission;
pub mod receipt;
pub mod review;
pub mod role;
pub mod test_rail;
pub mod time_fmt;
pub mod token;
pub mod ussd_otp;
pub mod uvan;
pub mod validation;
pub mod version;
pub mod webhook;
pub mod webhook_destination;
pub mod webhook_retry;
pub mod webhook_signature;

pub use environment::Environment;
pub use validation::{FieldError, Validation};
