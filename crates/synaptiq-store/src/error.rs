//! What can go wrong in storage.

/// What can go wrong in storage, in words the server maps to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; `existing_id` names the object already there.
    #[error("{param} already exists")]
    Conflict {
        /// The field that must be unique (wire name).
        param: &'static str,
        /// The id of the object that holds the value, when known.
        existing_id: Option<String>,
    },
    /// The database cannot be reached or timed out: retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data.
    #[error("storage error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => transient_database_error(db.as_ref()),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(e.to_string())
        }
    }
}

/// Whether a database error clears up by retrying later: the database is busy, restarting,
/// unreachable or out of connections, or the transaction lost a race it can win next time.
fn transient_database_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes: the low byte is the primary code. SQLITE_BUSY (5, beyond the
        // busy timeout, including BUSY_SNAPSHOT) and SQLITE_LOCKED (6).
        let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        return matches!(code & 0xff, 5 | 6);
    }
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // SQLSTATE: 08 connection exception, 53 insufficient resources (too many
        // connections), 57P01-03 shutdown / not accepting connections, 57014 statement
        // timeout, 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
        let code = db.code().unwrap_or_default();
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(
                code.as_ref(),
                "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01" | "55P03"
            );
    }
    false
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;
