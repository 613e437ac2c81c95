//! Helpers every resource's SQL and row mapping use: the column reads of both backends'
//! rows ([`Cols`]), page bounds, counts, JSON columns and unique-violation mapping.

use sqlx::{ColumnIndex, Decode, Row, Type};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::error::{Result, StoreError};

/// A stored value the store itself could not have written.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("corrupt stored value in {what}"))
}

/// The column reads the mappers need. Integer columns are BIGINT except `score` and
/// `pepper_version` (INTEGER), which PostgreSQL decodes only as `i32`.
pub(crate) trait Cols {
    /// A TEXT column.
    fn text(&self, col: &str) -> Result<String>;
    /// A nullable TEXT column.
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    /// A BIGINT column.
    fn int(&self, col: &str) -> Result<i64>;
    /// A nullable BIGINT column.
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// An INTEGER column.
    fn int4(&self, col: &str) -> Result<i32>;
    /// A BOOLEAN column.
    fn boolean(&self, col: &str) -> Result<bool>;

    /// A nullable BIGINT timestamp column.
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>> {
        Ok(self.opt_int(col)?.map(Timestamp))
    }
}

impl<R> Cols for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
    fn int4(&self, col: &str) -> Result<i32> {
        Ok(self.try_get(col)?)
    }
    fn boolean(&self, col: &str) -> Result<bool> {
        Ok(self.try_get(col)?)
    }
}

/// Bumps the change epoch; run inside the transaction of the change it announces.
pub(crate) const BUMP_EPOCH: &str = "UPDATE change_epoch SET epoch = epoch + 1 WHERE id = 1";

/// `LIMIT` and `OFFSET` of a page.
pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.limit),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// A row count as the traits report it.
pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}

/// A JSON text column's value.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Maps a unique-constraint violation to a `Conflict` on `param`; anything else as usual.
pub(crate) fn conflict_or(e: sqlx::Error, param: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict {
            param,
            existing_id: None,
        };
    }
    e.into()
}

/// A pooled connection running a statement list that opens and ends its own transaction
/// (`BEGIN …; COMMIT`, see `ONE_MESSAGE_CHANGES`). If the caller is dropped before the list
/// has answered (its client went away, its request timed out), sqlx's SQLite worker stops the
/// list at the statement it is on, possibly inside the transaction, and the connection would go
/// back to the pool mid-transaction, where every later `BEGIN` fails. Such a connection is
/// closed instead, which rolls the transaction back (sqlx's own `Transaction` queues a
/// rollback on drop; a raw list has no such guard, so this is one).
pub(crate) struct ListConn<DB: sqlx::Database> {
    conn: sqlx::pool::PoolConnection<DB>,
    /// Set until the list has answered.
    running: bool,
}

impl<DB: sqlx::Database> ListConn<DB> {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<DB>) -> Self {
        Self {
            conn,
            running: true,
        }
    }

    /// The connection, for the list and whatever follows it.
    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// The list answered (success or failure handled): back to the pool as usual.
    pub(crate) fn done(mut self) {
        self.running = false;
    }
}

impl<DB: sqlx::Database> Drop for ListConn<DB> {
    fn drop(&mut self) {
        if self.running {
            self.conn.close_on_drop();
        }
    }
}
