//! Storage errors: what a caller can act on, with database causes kept for the log only.

/// The database driver's error, for callers that tell a busy pool from a broken query.
pub use sqlx::Error as SqlxError;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist in the given scope.
    #[error("not found")]
    NotFound,
    /// The write would break a rule of the current state (a duplicate reference, the last owner
    /// leaving, …).
    #[error("conflict: {}", .0.reason())]
    Conflict(Conflict),
    /// The request's own authority does not cover the change (decided inside the write, against
    /// the state the write changes).
    #[error("refused: {}", .0.reason())]
    Refused(openmonime_domain::grant::GrantRefusal),
    /// The idempotency key was used before for a different request.
    #[error("idempotency key in use for a different request")]
    IdempotencyKeyInUse,
    /// A stored value failed to decode: the database holds something this code did not write.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A check that cannot fail did: the transaction is rolled back rather than committed.
    #[error("invariant violated: {0}")]
    Invariant(&'static str),
    /// The token's money limits refuse the movement (decided inside the moving transaction).
    #[error("amount limit")]
    AmountLimit(crate::amount_limits::LimitRefusal),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Why a write conflicts with the state it would change: each has the stable `reason` the API
/// reports and its own message, which the API and the admin CLI both show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another financial account in the Space and environment has the reference.
    ReferenceInUse,
    /// Only a pending transfer can be deleted.
    TransferNotPending,
    /// An adjustment must move a positive amount.
    AmountNotPositive,
    /// The balance would leave the 64-bit range.
    BalanceOverflow,
    /// A role with the name exists in the Space.
    RoleExists,
    /// A built-in role cannot be changed or deleted.
    RoleBuiltin,
    /// A role some member holds cannot be deleted.
    RoleInUse,
    /// No role with the name exists in the Space.
    RoleUnknown,
    /// The token was revoked before.
    TokenAlreadyRevoked,
    /// The Monimeer has been offboarded.
    MonimeerOffboarded,
    /// The Monimeer was offboarded before.
    MonimeerAlreadyOffboarded,
    /// The change would leave the Space without an owner.
    LastOwner,
    /// The Monimeer is a member of the Space already.
    AlreadyAMember,
    /// A test clock may run at most ten years ahead.
    ClockLimit,
    /// The payment code has ended (completed, expired, cancelled): it changes no more.
    PaymentCodeEnded,
    /// What a payment is measured against (amount, account, duration, target) changes only
    /// before the code's first payment.
    PaymentCodeInUse,
    /// A checkout session can be deleted only while pending and before its customer started.
    CheckoutStarted,
    /// A payout changes (PATCH) or is deleted only while `pending`, before it was sent.
    PayoutNotPending,
    /// Another Monimeer signs in to the console with this email address.
    EmailInUse,
}

impl Conflict {
    /// Every conflict, for tests that check each has its own reason and message.
    pub const ALL: [Conflict; 19] = [
        Conflict::ReferenceInUse,
        Conflict::TransferNotPending,
        Conflict::AmountNotPositive,
        Conflict::BalanceOverflow,
        Conflict::RoleExists,
        Conflict::RoleBuiltin,
        Conflict::RoleInUse,
        Conflict::RoleUnknown,
        Conflict::TokenAlreadyRevoked,
        Conflict::MonimeerOffboarded,
        Conflict::MonimeerAlreadyOffboarded,
        Conflict::LastOwner,
        Conflict::AlreadyAMember,
        Conflict::ClockLimit,
        Conflict::PaymentCodeEnded,
        Conflict::PaymentCodeInUse,
        Conflict::CheckoutStarted,
        Conflict::PayoutNotPending,
        Conflict::EmailInUse,
    ];

    /// The stable word the API reports as the error's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Conflict::ReferenceInUse => "reference_in_use",
            Conflict::TransferNotPending => "transfer_not_pending",
            Conflict::AmountNotPositive => "amount_not_positive",
            Conflict::BalanceOverflow => "balance_overflow",
            Conflict::RoleExists => "role_exists",
            Conflict::RoleBuiltin => "role_builtin",
            Conflict::RoleInUse => "role_in_use",
            Conflict::RoleUnknown => "role_unknown",
            Conflict::TokenAlreadyRevoked => "token_already_revoked",
            Conflict::MonimeerOffboarded => "monimeer_offboarded",
            Conflict::MonimeerAlreadyOffboarded => "monimeer_already_offboarded",
            Conflict::LastOwner => "last_owner",
            Conflict::AlreadyAMember => "already_a_member",
            Conflict::ClockLimit => "clock_limit",
            Conflict::PaymentCodeEnded => "payment_code_ended",
            Conflict::PaymentCodeInUse => "payment_code_in_use",
            Conflict::CheckoutStarted => "checkout_session_started",
            Conflict::PayoutNotPending => "payout_not_pending",
            Conflict::EmailInUse => "email_in_use",
        }
    }

    /// What a person reads: what conflicts and, where there is one, what to do instead.
    pub fn message(self) -> &'static str {
        match self {
            Conflict::ReferenceInUse => {
                "another financial account in this Space and environment already has this reference"
            }
            Conflict::TransferNotPending => "only a pending transfer can be deleted; this one has already settled",
            Conflict::AmountNotPositive => "the amount must be greater than zero",
            Conflict::BalanceOverflow => "the balance would overflow",
            Conflict::RoleExists => "a role with this name already exists in the Space; choose another name",
            Conflict::RoleBuiltin => "a built-in role cannot be changed or deleted; create a custom role instead",
            Conflict::RoleInUse => "members still hold this role; give them another role before deleting it",
            Conflict::RoleUnknown => "no role with this name exists in the Space",
            Conflict::TokenAlreadyRevoked => "the token was already revoked",
            Conflict::MonimeerOffboarded => "the Monimeer has been offboarded",
            Conflict::MonimeerAlreadyOffboarded => "the Monimeer was already offboarded",
            Conflict::LastOwner => "a Space must keep at least one owner",
            Conflict::AlreadyAMember => "the Monimeer is already a member of this Space",
            Conflict::ClockLimit => "a Space's test clock may run at most ten years ahead of the system's",
            Conflict::PaymentCodeEnded => "the payment code has ended (completed, expired or cancelled) and cannot change",
            Conflict::PaymentCodeInUse => {
                "the payment code has taken a payment: its amount, duration, account, mode and target no longer change, and it cannot be deleted"
            }
            Conflict::CheckoutStarted => {
                "the customer has started this checkout session (or it has ended): it can no longer be deleted"
            }
            Conflict::EmailInUse => "another Monimeer signs in to the console with this email address",
            Conflict::PayoutNotPending => {
                "the payout has been sent to its provider (or has ended): it can no longer be changed or deleted"
            }
        }
    }
}

impl StoreError {
    /// True when the database refused a write because a unique constraint was hit.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::Database(db) => db.is_unique_violation(),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::Conflict;
    use std::collections::HashSet;

    #[test]
    fn every_conflict_has_its_own_reason_and_message() {
        let reasons: HashSet<_> = Conflict::ALL.iter().map(|c| c.reason()).collect();
        let messages: HashSet<_> = Conflict::ALL.iter().map(|c| c.message()).collect();
        assert_eq!(reasons.len(), Conflict::ALL.len());
        assert_eq!(messages.len(), Conflict::ALL.len());
        assert!(reasons.iter().all(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }
}
