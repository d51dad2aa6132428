//! Collecting money: payment codes, the payments they take, USSD OTPs, checkout sessions and their
//! receipts, the dial that pays or
//! verifies them, the sweep that fires expiries and late confirmations on time, and each Space's
//! test clock. Every change commits with its events in one transaction.

mod checkout;
pub(crate) mod clock;
mod dial;
mod payment_codes;
mod payments;
pub(crate) mod sweep;
mod ussd_otps;

pub use checkout::{CheckoutAttempt, CheckoutFilter, CheckoutPaid, CheckoutRefusal, NewCheckoutSession};
pub use dial::{Dial, DialRejection, Dialed};
pub use payment_codes::{CodeRejection, NewPaymentCode, PaymentCodeFilter, PaymentCodePatch};
pub use payments::{PaymentFilter, PaymentPatch};
pub use sweep::Swept;
pub use ussd_otps::{NewUssdOtp, UssdOtpFilter};

/// The most attempts at drawing a free dial string before giving up (each draw collides only
/// with the deployment's live codes, a tiny share of the space).
const DIAL_STRING_DRAWS: usize = 8;
