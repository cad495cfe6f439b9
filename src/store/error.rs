//! Store errors: domain outcomes the protocol layer maps to status codes, and
//! backend failures that become 500s.

use thiserror::Error;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    /// The parent of the target is missing or cannot hold it (409).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// An `If-Match` / `If-None-Match` condition failed inside the transaction.
    #[error("precondition failed")]
    PreconditionFailed,
    /// Another object of the collection already has this UID.
    #[error("UID already used by {existing_name}")]
    UidConflict { existing_name: String },
    #[error("quota exceeded")]
    QuotaExceeded,
    #[error("unknown or expired sync token")]
    InvalidSyncToken,
    #[error("database schema version {found} is newer than this program ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}
