//! SQLite's hot single-row reads, run on the calling thread through rusqlite instead of sqlx.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every query is handed to that
//! thread and its rows handed back: two cross-thread wake-ups, which under load cost more than the
//! query (docs/design.md, "SQLite reads and sqlx's driver thread"; measured 3.1× in
//! `bench/direct read-rusqlite`). A primary-key read takes microseconds, so blocking the runtime
//! thread for it is cheaper than the hand-offs. Each runtime thread keeps one read-only connection
//! per database file; WAL readers never block the writer, which stays on sqlx behind the store's
//! write gate, and each statement reads the latest committed state. Only single-row reads by key
//! come here: a scan would stall the thread's other tasks.

use crate::error::{StoreError, StoreResult};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// Connections a thread keeps open at most (one per database file; a test process opens many).
const PER_THREAD: usize = 8;

thread_local! {
    static READERS: RefCell<Vec<(Arc<str>, rusqlite::Connection)>> = const { RefCell::new(Vec::new()) };
}

/// Where a SQLite store's fast reads go: its database file.
#[derive(Debug, Clone)]
pub(crate) struct FastReads {
    path: Arc<str>,
}

impl FastReads {
    /// For a `sqlite:PATH[?…]` URL naming a file; `None` for an in-memory database (another
    /// connection would see another database).
    pub(crate) fn for_url(url: &str) -> Option<FastReads> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        Some(FastReads { path: path.into() })
    }

    /// The one row `sql` (SQLite's `?N` parameters) selects, decoded by `decode`, or `None`.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        READERS.with(|readers| {
            let mut readers = readers.try_borrow_mut().map_err(|_| StoreError::Invariant("a nested fast read"))?;
            let at = match readers.iter().position(|(p, _)| *p == self.path) {
                Some(at) => at,
                None => {
                    if readers.len() >= PER_THREAD {
                        readers.remove(0);
                    }
                    readers.push((self.path.clone(), open(&self.path)?));
                    readers.len() - 1
                }
            };
            let connection = &readers[at].1;
            let mut statement = connection.prepare_cached(sql).map_err(sqlite)?;
            let mut rows = statement.query(params).map_err(sqlite)?;
            match rows.next().map_err(sqlite)? {
                Some(row) => decode(row).map(Some),
                None => Ok(None),
            }
        })
    }
}

fn open(path: &str) -> StoreResult<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let connection = rusqlite::Connection::open_with_flags(path, flags).map_err(sqlite)?;
    connection.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
    Ok(connection)
}

/// A driver error, for the log only (like sqlx's): the message names no value.
fn sqlite(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite read: {e}"))
}

/// A column of a rusqlite row, as the store's codecs read columns.
pub(crate) fn column<T: rusqlite::types::FromSql>(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<T> {
    row.get(col).map_err(|_| StoreError::Corrupt(col.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_file_gets_fast_reads() {
        assert_eq!(FastReads::for_url("sqlite:/tmp/x.db").unwrap().path.as_ref(), "/tmp/x.db");
        assert_eq!(FastReads::for_url("sqlite:data.db?mode=rwc").unwrap().path.as_ref(), "data.db");
        assert_eq!(FastReads::for_url("sqlite:///var/lib/x.db").unwrap().path.as_ref(), "/var/lib/x.db");
        assert!(FastReads::for_url("sqlite::memory:").is_none());
        assert!(FastReads::for_url("postgres://localhost/x").is_none());
    }
}
