//! Storage errors: what a caller can act on, with database causes kept for the log only.

/// The database driver's error, for callers that tell a busy pool from a broken query.
pub use sqlx::Error as SqlxError;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist in the given scope.
    #[error("not found")]
    NotFound,
    /// The write would break a rule (a duplicate reference, the last owner leaving, …). The word
    /// is the stable `reason` the API reports.
    #[error("conflict: {0}")]
    Conflict(&'static str),
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
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
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
