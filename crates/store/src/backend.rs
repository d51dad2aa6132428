//! The two backends behind [`Store`]: how each connects, migrates, and keeps concurrent writers
//! safe. Everything above this module is backend-neutral.
//!
//! - **SQLite** (embedded default): WAL journal with `synchronous=FULL`, so a committed transfer
//!   is on disk before it is acknowledged, and readers never block the writer. SQLite allows one
//!   writer at a time; writers in this process queue on an async gate instead of spinning on
//!   `SQLITE_BUSY`, and each write transaction starts with `BEGIN IMMEDIATE` so a writer in another
//!   process (the admin CLI) is waited for (`busy_timeout`) rather than failing mid-transaction.
//! - **PostgreSQL**: ordinary `READ COMMITTED` transactions; ledger writes take row locks in a
//!   deterministic order (see `ledger`), so transfers on different accounts run in parallel and
//!   never deadlock.

use crate::error::StoreResult;
use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Transaction};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// `MIGRATIONS_SQLITE` and `MIGRATIONS_POSTGRES`, written by `build.rs`.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// Which database engine a [`Store`] talks to, chosen from the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The backend's migrations, embedded from `migrations/<backend>/` by the build script.
    fn migrations(self) -> Vec<Migration> {
        let files = match self {
            Backend::Sqlite => embedded::MIGRATIONS_SQLITE,
            Backend::Postgres => embedded::MIGRATIONS_POSTGRES,
        };
        files
            .iter()
            .map(|(v, name, sql)| {
                Migration::new(*v, Cow::Borrowed(*name), MigrationType::Simple, Cow::Borrowed(*sql), false)
            })
            .collect()
    }
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a request waits for a pool connection.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The storage interface. Cheap to clone; all clones share one pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// SQLite only: connections whose commits do not wait for the disk (`synchronous = NORMAL`),
    /// for bookkeeping a power cut may lose without harm (see [`Store::begin_write_relaxed`]).
    relaxed_pool: Option<AnyPool>,
    backend: Backend,
    /// PostgreSQL only: the URL, for the notification listener's own connection.
    listen_url: Option<String>,
    /// SQLite only: one in-process writer at a time.
    write_gate: Option<Arc<Mutex<()>>>,
    /// SQLite on a file only: hot single-row reads on the calling thread (see `fast_read`).
    pub(crate) fast_reads: Option<crate::fast_read::FastReads>,
    /// The list-cursor key, read from the database once (see `deployment`).
    pub(crate) cursor_key: Arc<tokio::sync::OnceCell<openmonime_domain::cursor::CursorKey>>,
    /// Signalled when a transaction that wrote deliveries commits, so this process's delivery
    /// worker starts at once instead of at its next poll (other nodes find them by polling).
    pub(crate) deliveries_due: Arc<tokio::sync::Notify>,
}

/// A write transaction, holding the SQLite write gate (if any) until it ends.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    /// Set when the transaction queued deliveries: the worker is woken once it commits.
    pub(crate) queued_deliveries: bool,
    deliveries_due: Arc<tokio::sync::Notify>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if self.queued_deliveries {
            self.deliveries_due.notify_one();
        }
        Ok(())
    }

    /// Undoes the transaction before the write gate is released.
    pub(crate) async fn rollback(self) -> StoreResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

/// Set on every SQLite connection: WAL so readers never block the writer; `synchronous = FULL`
/// so a commit is on disk before the response; a 5 s wait for another process's write lock.
/// A pooled connection idle at least this long is pinged before it is handed out again.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// The relaxed connection's: as above, but a commit is not flushed to disk before it returns.
/// In WAL mode the log is sequential, so a later flushed commit (any money's) flushes these
/// too: a power cut can lose only the relaxed commits made since the last flushed one.
const SQLITE_RELAXED_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// SQLite URLs get `mode=rwc` so the file is created on first start.
fn normalize_sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl Store {
    /// Connects to `url` (`sqlite:PATH` or `postgres://…`) without migrating.
    pub async fn connect(url: &str, options: StoreOptions) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(
                format!("unsupported database URL scheme (expected sqlite: or postgres://): {}", url_scheme(url))
                    .into(),
            )
        })?;
        // sqlx pings every connection it hands out by default: one extra round trip per
        // transaction. Only a connection that sat idle can have gone stale (a restarted server, a
        // dropped TCP session), so only those are pinged; a busy pool pays nothing.
        let mut pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
        let url = match backend {
            Backend::Sqlite => {
                pool = pool.after_connect(|conn, _meta| {
                    Box::pin(async move {
                        sqlx::Executor::execute(&mut *conn, SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                });
                normalize_sqlite_url(url)
            }
            Backend::Postgres => url.to_owned(),
        };
        let relaxed_pool = match backend {
            Backend::Sqlite => Some(
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            sqlx::Executor::execute(&mut *conn, SQLITE_RELAXED_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect_lazy(&url)?,
            ),
            Backend::Postgres => None,
        };
        let pool = pool.connect(&url).await?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let fast_reads = match backend {
            Backend::Sqlite => crate::fast_read::FastReads::for_url(&url),
            Backend::Postgres => None,
        };
        let listen_url = (backend == Backend::Postgres).then(|| url.clone());
        Ok(Store {
            pool,
            relaxed_pool,
            backend,
            listen_url,
            write_gate,
            fast_reads,
            cursor_key: Arc::default(),
            deliveries_due: Arc::default(),
        })
    }

    /// Connects and applies any pending migrations.
    pub async fn open(url: &str, options: StoreOptions) -> StoreResult<Store> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; safe to run from several processes at once. On PostgreSQL the
    /// migrator holds an advisory lock. On SQLite it takes none, so two processes opening one new
    /// file would both apply migration 1 and one would fail ("table already exists"): there the
    /// whole run is one `BEGIN IMMEDIATE` transaction (each migration a savepoint in it), so a
    /// second process waits for the first (`busy_timeout`), then finds every migration applied.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = Migrator {
            migrations: Cow::Owned(self.backend.migrations()),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        match self.backend {
            Backend::Postgres => migrator.run(&self.pool).await?,
            Backend::Sqlite => {
                let mut tx = self.begin_write().await?;
                migrator.run(&mut *tx.tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for benchmarks that compare the API with the same query issued directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Round-trips to the database: the readiness probe.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_: AnyQueryResult| ())?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(relaxed) = &self.relaxed_pool {
            relaxed.close().await;
        }
        self.pool.close().await;
    }

    /// Starts a write transaction (see the module notes for what each backend does).
    pub(crate) async fn begin_write(&self) -> StoreResult<WriteTx> {
        self.begin_on(self.pool.clone(), false).await
    }

    /// Starts a write transaction whose commit does not wait for the disk: for the delivery
    /// worker's bookkeeping (leases, the attempt log), where a commit lost to a power cut only
    /// makes an attempt again, which at-least-once delivery allows, and where waiting for the
    /// disk twice per batch would cap deliveries at the disk's flush rate. Never for money,
    /// events or anything an answer promised: those use [`Store::begin_write`].
    pub(crate) async fn begin_write_relaxed(&self) -> StoreResult<WriteTx> {
        match &self.relaxed_pool {
            Some(relaxed) => self.begin_on(relaxed.clone(), false).await,
            None => self.begin_on(self.pool.clone(), true).await,
        }
    }

    /// `relaxed_commit` (PostgreSQL): `SET LOCAL synchronous_commit = off`, for this
    /// transaction only.
    async fn begin_on(&self, pool: AnyPool, relaxed_commit: bool) -> StoreResult<WriteTx> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        // `BEGIN` runs in its own task: sqlx's begin is not cancel-safe, and a caller dropped
        // mid-begin would return a connection to the pool inside an open transaction (on SQLite,
        // holding the write lock for every process).
        let backend = self.backend;
        let tx = tokio::spawn(async move {
            match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => pool.begin().await,
            }
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("begin task failed: {e}")))??;
        let mut tx = WriteTx {
            tx,
            backend: self.backend,
            queued_deliveries: false,
            deliveries_due: self.deliveries_due.clone(),
            _gate: gate,
        };
        if relaxed_commit {
            sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx.tx).await?;
        }
        Ok(tx)
    }
}

/// The channel on which PostgreSQL announces new change-feed entries.
pub const CHANGES_CHANNEL: &str = "openmonime_auth_changes";

/// Push notice of change-feed entries (PostgreSQL `LISTEN`); the feed itself stays the source of
/// truth, so a missed notice only delays an eviction until the next poll.
pub struct ChangeListener {
    listener: sqlx::postgres::PgListener,
}

impl ChangeListener {
    /// Waits for the next notice. An error means the connection dropped (it reconnects on the
    /// next call).
    pub async fn recv(&mut self) -> StoreResult<()> {
        self.listener.recv().await?;
        Ok(())
    }
}

impl Store {
    /// A listener for change notices; `None` on SQLite (which is polled).
    pub async fn listen_changes(&self) -> StoreResult<Option<ChangeListener>> {
        let Some(url) = &self.listen_url else { return Ok(None) };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(Some(ChangeListener { listener }))
    }
}

/// The scheme part of a URL, for an error message that must not echo credentials.
fn url_scheme(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::Backend;

    /// An applied migration must never change: sqlx refuses to start on a database whose applied
    /// migration's checksum differs. These are the first bytes of each one's SHA-384.
    #[test]
    fn applied_migrations_keep_their_checksums() {
        let pinned = [
            (
                Backend::Sqlite,
                [
                    "a351d3fc3c3b4576",
                    "3619043cb3432192",
                    "60ed6b7de0a3b4ff",
                    "34c88dc4faefc96b",
                    "0df424d66675fce9",
                    "d48b279756605cc1",
                    "f3e8ebd08fda70f2",
                ],
            ),
            (
                Backend::Postgres,
                [
                    "2386237f5057c6e8",
                    "3619043cb3432192",
                    "60ed6b7de0a3b4ff",
                    "34c88dc4faefc96b",
                    "0df424d66675fce9",
                    "2e7d187b33b16cfd",
                    "cae0e37bb404d862",
                ],
            ),
        ];
        for (backend, checksums) in pinned {
            let migrations = backend.migrations();
            let names: Vec<_> = migrations.iter().map(|m| (m.version, m.description.to_string())).collect();
            assert_eq!(
                names[..checksums.len()],
                [
                    (1, "init".to_owned()),
                    (2, "management".to_owned()),
                    (3, "entry owner index".to_owned()),
                    (4, "deployment".to_owned()),
                    (5, "token lineage".to_owned()),
                    (6, "events".to_owned()),
                    (7, "webhooks".to_owned()),
                ],
                "{backend:?}"
            );
            for (migration, pinned) in migrations.iter().zip(checksums) {
                assert_eq!(
                    &hex::encode(&migration.checksum)[..16],
                    pinned,
                    "{backend:?} migration {}",
                    migration.version
                );
            }
        }
    }
}
