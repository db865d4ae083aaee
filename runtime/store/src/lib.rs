//! # venue-store: the edge box's SQLite store
//!
//! Layer 2 of docs/architecture.md: below it only the standard library, rusqlite and
//! tokio's channels; it knows no domain table's meaning. Its map: [`priority`] (the
//! writer's and the checkpointer's CPU priority), `wal` (checkpoints and log restarts),
//! `migrations` (the numbered schema), and this file (the writer thread, group commit).
//!
//! The store: one SQLite database in WAL mode, owned by one thread.
//!
//! Async tasks never touch SQLite. They send a job (a closure over the connection) to the
//! store thread and await its reply. The thread drains up to [`GROUP_COMMIT_JOBS_MAX`]
//! waiting jobs, runs each inside its own savepoint of one transaction, commits once, and
//! only then replies. So a reply always means "durable", a failing job rolls back alone,
//! and a burst of scans or sales costs one commit instead of hundreds.
//!
//! The hot jobs (a scan's admission, a sale) are re-runnable ([`Store::write_rerunnable`]):
//! they run first in their group, with no savepoint, because a savepoint copies every page
//! a job touches first into its journal (a tenth of the writer's time when each sale had
//! its own; one savepoint shared by the whole run was slower still). If one of them fails,
//! the transaction is rolled back and they run again, each in a savepoint of its own, so
//! the failing job still rolls back alone.
//!
//! The store thread runs at a raised CPU priority where the box may raise it
//! ([`priority`]): it is on the critical path of every device message. The write-ahead
//! log's checkpoints and restarts are in `wal`.

mod migrations;
pub mod priority;
mod wal;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

pub use migrations::SCHEMA_VERSION;
#[cfg(any(test, feature = "testing"))]
pub use migrations::{at_version, migrate_for_test};
pub use wal::FRAMES_WRITTEN as WAL_FRAMES_WRITTEN;

/// Jobs committed together at most. Bounds the latency one commit adds to the first job
/// of a burst, and the work lost to a failed commit.
pub const GROUP_COMMIT_JOBS_MAX: usize = 256;

/// Jobs waiting for the store thread at most; senders wait (backpressure) beyond it.
pub const QUEUE_JOBS_MAX: usize = 8192;

/// How long a writer waits for a lock held by another process before failing.
pub(crate) const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The writer's page cache. SQLite's default (2 MiB) is smaller than the pages one group
/// commit of sales dirties (each terminal's sequence has its own hot leaf page in every
/// index keyed by event id): the commit spilled pages mid-transaction and read them back
/// (`cargo xtask bench sales-store`, before the journal's slimming: 7,300 sales/s with
/// 2 MiB, 9,300 with 32 MiB).
pub const WRITER_CACHE_KIB: u32 = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the store at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("the store stopped or could not commit; the change was not saved (see the log)")]
    Stopped,
    #[error(
        "the store's schema is version {found}, newer than this binary's {supported}: upgrade venue-edge"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("the store's migration to schema version {version} failed: {message}")]
    Migration { version: i64, message: String },
}

/// What a job hands back to the store thread: whether it succeeded (else its savepoint is
/// rolled back) and the reply to send once the group's fate is known.
struct Done {
    ok: bool,
    reply: Box<dyn FnOnce() + Send>,
}

type Job = Box<dyn FnOnce(&Connection) -> Done + Send>;

/// A job that can run again: its closure is `FnMut` and only its last run's result is
/// replied.
trait Rerunnable: Send {
    /// Runs the job once more; true if it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// The reply of its last run.
    fn done(self: Box<Self>) -> Done;
}

struct Rerun<F, T, E, R> {
    f: F,
    last: Option<Result<T, E>>,
    respond: R,
}

impl<T, E, F, R> Rerunnable for Rerun<F, T, E, R>
where
    F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
    R: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        self.last = Some(result);
        ok
    }

    fn done(self: Box<Self>) -> Done {
        let Rerun { last, respond, .. } = *self;
        let result = last.unwrap_or_else(|| Err(StoreError::Stopped.into()));
        Done {
            ok: result.is_ok(),
            reply: Box::new(move || respond(result)),
        }
    }
}

enum Queued {
    Once(Job),
    Rerunnable(Box<dyn Rerunnable>),
}

enum Msg {
    Job(Job),
    Rerunnable(Box<dyn Rerunnable>),
    /// Run with no transaction around it (e.g. `VACUUM INTO`, checkpoints).
    Raw(Job),
}

/// A handle to the store thread. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: std_mpsc::SyncSender<Msg>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and starts the
    /// store thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = open_connection(path)?;
        // Checkpoints (which fsync the database file) run on a connection of their own, so
        // the writer never stalls on one: SQLite's automatic checkpoint would run inside
        // the commit of whichever job crossed the threshold.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", wal::SIZE_LIMIT_BYTES)?;
        conn.pragma_update(None, "cache_size", -(WRITER_CACHE_KIB as i64))?;
        // After `wal_autocheckpoint`: that pragma would replace the hook.
        conn.wal_hook(Some(wal::count_frames));
        let alive = Arc::new(());
        let restart = Arc::new(AtomicBool::new(false));
        let position = Arc::new(AtomicI64::new(0));
        wal::start_checkpointer(
            path,
            Arc::downgrade(&alive),
            restart.clone(),
            position.clone(),
        );
        let (tx, rx) = std_mpsc::sync_channel::<Msg>(QUEUE_JOBS_MAX);
        thread::Builder::new()
            .name("venue-store".into())
            .spawn(move || {
                priority::raise_writer();
                run(conn, rx, &restart, wal::Restarts::new(position));
                drop(alive);
            })
            .map_err(|e| StoreError::Open {
                path: path.to_owned(),
                message: format!("cannot start the store thread: {e}"),
            })?;
        Ok(Store {
            tx,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a savepoint of the next group commit; resolves after the commit.
    ///
    /// If `f` returns `Err`, its changes are rolled back and the error is returned. If the
    /// commit itself fails, every job in the group gets `StoreError`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, false).await
    }

    /// Like [`Store::write`] for a job that may run more than once before its one reply:
    /// it runs without a savepoint of its own and is run again, in one, if a job of its
    /// group fails. For the hot paths; `f` must do the same thing each time.
    pub async fn write_rerunnable<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel::<Result<T, E>>();
        let job: Box<dyn Rerunnable> = Box::new(Rerun {
            f,
            last: None,
            respond: move |result| {
                let _ = reply_tx.send(result);
            },
        });
        self.send(Msg::Rerunnable(job)).await?;
        reply_rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `f` on a read-only connection of its own, on a blocking thread, seeing the
    /// last commit: for long reads (reports) that must not hold up the writer.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = open_reader(&path).map_err(StoreError::from)?;
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    /// Runs `f` outside any transaction (for statements SQLite forbids inside one).
    pub async fn raw<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, true).await
    }

    async fn submit<T, E, F>(&self, f: F, raw: bool) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel::<Result<T, E>>();
        let job = make_job(f, move |result| {
            let _ = reply_tx.send(result);
        });
        let msg = if raw { Msg::Raw(job) } else { Msg::Job(job) };
        self.send(msg).await?;
        reply_rx.await.map_err(|_| StoreError::Stopped)?
    }

    async fn send(&self, msg: Msg) -> Result<(), StoreError> {
        let tx = self.tx.clone();
        // A full queue blocks the sender: do that off the async threads.
        let sent = match tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(std_mpsc::TrySendError::Full(msg)) => {
                tokio::task::spawn_blocking(move || tx.send(msg))
                    .await
                    .map_err(|_| ())
                    .and_then(|r| r.map_err(|_| ()))
            }
            Err(std_mpsc::TrySendError::Disconnected(_)) => Err(()),
        };
        sent.map_err(|_| StoreError::Stopped)
    }

    /// A blocking variant of [`Store::write`] for threads outside the async runtime.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = std_mpsc::sync_channel::<Result<T, E>>(1);
        let job = make_job(f, move |result| {
            let _ = reply_tx.send(result);
        });
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| StoreError::Stopped)?;
        reply_rx.recv().map_err(|_| StoreError::Stopped)?
    }
}

fn make_job<T, E, F, R>(f: F, respond: R) -> Job
where
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    R: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Box::new(move |conn: &Connection| {
        let result = f(conn);
        Done {
            ok: result.is_ok(),
            reply: Box::new(move || respond(result)),
        }
    })
}

/// A read-only connection to the store's database (WAL mode lets it read beside the
/// writer).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    Ok(conn)
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    }
    let conn = Connection::open(path).map_err(|e| StoreError::Open {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode: a commit is durable against a process crash; an OS crash can
    // lose the last commits but never corrupts the database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Each job runs in a savepoint; its rollback journal (the statement journal) and
    // temporary indexes stay in memory instead of a temporary file written per job.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Migrations run with foreign keys off (they check them before committing).
    migrations::migrate(&conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Group commits and the jobs in them, since start (for `/metrics`).
pub static COMMITS: AtomicU64 = AtomicU64::new(0);
pub static COMMITTED_JOBS: AtomicU64 = AtomicU64::new(0);

fn run(
    conn: Connection,
    rx: std_mpsc::Receiver<Msg>,
    restart: &AtomicBool,
    mut wal: wal::Restarts,
) {
    let mut batch: Vec<Queued> = Vec::with_capacity(GROUP_COMMIT_JOBS_MAX);
    while let Ok(first) = rx.recv() {
        let first = match first {
            Msg::Raw(job) => {
                let reply = job(&conn);
                finish(reply);
                continue;
            }
            Msg::Job(job) => Queued::Once(job),
            Msg::Rerunnable(job) => Queued::Rerunnable(job),
        };
        batch.push(first);
        let mut raw_after = None;
        while batch.len() < GROUP_COMMIT_JOBS_MAX {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(Queued::Once(job)),
                Ok(Msg::Rerunnable(job)) => batch.push(Queued::Rerunnable(job)),
                Ok(Msg::Raw(job)) => {
                    raw_after = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        COMMITS.fetch_add(1, Ordering::Relaxed);
        COMMITTED_JOBS.fetch_add(batch.len() as u64, Ordering::Relaxed);
        commit_group(&conn, &mut batch);
        if let Some(job) = raw_after {
            finish(job(&conn));
        }
        wal.after_commit(&conn, restart);
    }
}

fn commit_group(conn: &Connection, batch: &mut Vec<Queued>) {
    // The jobs of a group were submitted concurrently, so their order among themselves is
    // free: the re-runnable ones run first, straight after BEGIN, with no savepoint.
    let mut rerunnable: Vec<Box<dyn Rerunnable>> = Vec::new();
    let mut once: Vec<Job> = Vec::new();
    for job in batch.drain(..) {
        match job {
            Queued::Rerunnable(job) => rerunnable.push(job),
            Queued::Once(job) => once.push(job),
        }
    }
    let mut began = begin(conn);
    if began && !rerunnable.iter_mut().all(|job| job.run(conn)) {
        // One failed: nothing but these ran in this transaction. Start again with each
        // in a savepoint of its own, so only the failing one rolls back.
        let _ = conn.execute_batch("ROLLBACK");
        began = begin(conn);
        for job in rerunnable.iter_mut() {
            in_savepoint(conn, |conn| {
                let ok = job.run(conn);
                (ok, ())
            });
        }
    } else if !began {
        // Run each job on its own; SQLite autocommits each statement. Better than losing
        // the work, and the error is logged.
        for job in rerunnable.iter_mut() {
            job.run(conn);
        }
    }
    let mut replies: Vec<Done> = rerunnable.into_iter().map(|job| job.done()).collect();
    for job in once {
        replies.push(if began {
            in_savepoint(conn, |conn| {
                let done = job(conn);
                (done.ok, done)
            })
        } else {
            job(conn)
        });
    }
    if !began {
        replies.into_iter().for_each(finish);
        return;
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for reply in replies {
                finish(reply);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "store: commit failed; the group is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            // Dropping the replies closes their channels: each caller sees `Stopped`-like
            // failure and nothing it did is believed durable.
            drop(replies);
        }
    }
}

fn begin(conn: &Connection) -> bool {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "store: cannot begin a transaction");
            false
        }
    }
}

/// Runs `f` in a savepoint, rolled back unless `f` says it succeeded.
fn in_savepoint<R>(conn: &Connection, f: impl FnOnce(&Connection) -> (bool, R)) -> R {
    // Prepared once and cached: these run for every job or run of jobs.
    if let Err(e) = run_cached(conn, "SAVEPOINT job") {
        tracing::error!(error = %e, "store: cannot open a savepoint");
    }
    let (ok, out) = f(conn);
    if !ok {
        let _ = run_cached(conn, "ROLLBACK TO job");
    }
    let _ = run_cached(conn, "RELEASE job");
    out
}

fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

fn finish(done: Done) {
    (done.reply)();
}

/// An in-memory database with the whole schema and the store's foreign keys, for unit tests
/// of the modules that write it.
#[cfg(any(test, feature = "testing"))]
pub fn migrated_in_memory() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    migrations::migrate(&conn).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    conn
}

/// How many of the named tables and indexes exist (tests of the migrations).
#[cfg(any(test, feature = "testing"))]
pub fn schema_objects(conn: &Connection, names: &[&str]) -> i64 {
    names
        .iter()
        .map(|name| {
            conn.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
        })
        .sum()
}

/// Every row `sql` returns, each read with `row` (unit tests).
#[cfg(any(test, feature = "testing"))]
pub fn all_rows<T>(
    conn: &Connection,
    sql: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], row)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Asserts that SQLite answers `sql` (bound to `params`) without scanning a table or an
/// index from end to end (unit tests of the hot lookups).
#[cfg(any(test, feature = "testing"))]
pub fn assert_no_scan(conn: &Connection, sql: &str, params: impl rusqlite::Params) {
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // A `SEARCH` with no `USING` reads the whole table for each outer row.
    assert!(
        !plan.iter().any(|step| step.starts_with("SCAN")
            || (step.starts_with("SEARCH") && !step.contains(" USING "))),
        "{sql}\n{plan:#?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Refused;
    impl From<StoreError> for Refused {
        fn from(_: StoreError) -> Refused {
            Refused
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_rolls_back_alone_and_the_others_in_its_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store
            .write(|c| -> Result<(), StoreError> {
                Ok(c.execute_batch("CREATE TABLE t (n INTEGER)")?)
            })
            .await
            .unwrap();
        let mut jobs = Vec::new();
        for n in 0..200i64 {
            let store = store.clone();
            jobs.push(tokio::spawn(async move {
                store
                    .write(move |c| -> Result<(), Refused> {
                        c.execute("INSERT INTO t (n) VALUES (?1)", [n])
                            .map_err(|_| Refused)?;
                        if n % 10 == 0 { Err(Refused) } else { Ok(()) }
                    })
                    .await
            }));
        }
        let mut failed = 0;
        for j in jobs {
            if j.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 20);
        let (count, bad): (i64, i64) = store
            .write(|c| -> Result<(i64, i64), StoreError> {
                Ok(
                    c.query_row("SELECT COUNT(*), SUM(n % 10 = 0) FROM t", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(
            (count, bad),
            (180, 0),
            "only the failed jobs' rows are gone"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rerunnable_jobs_run_without_savepoints_and_a_failing_one_still_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store
            .write(|c| -> Result<(), StoreError> {
                Ok(c.execute_batch("CREATE TABLE t (n INTEGER)")?)
            })
            .await
            .unwrap();
        let runs = Arc::new(AtomicU64::new(0));
        let mut jobs = Vec::new();
        for n in 0..400i64 {
            let (store, runs) = (store.clone(), runs.clone());
            jobs.push(tokio::spawn(async move {
                let job = move |c: &Connection| -> Result<(), Refused> {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [n])
                        .map_err(|_| Refused)?;
                    if n % 25 == 0 { Err(Refused) } else { Ok(()) }
                };
                // Mostly re-runnable jobs, with one-shot jobs in between.
                if n % 7 == 0 {
                    store.write(job).await
                } else {
                    store
                        .write_rerunnable(move |c| {
                            runs.fetch_add(1, Ordering::Relaxed);
                            job(c)
                        })
                        .await
                }
            }));
        }
        let mut failed = 0;
        for j in jobs {
            if j.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 16);
        let (count, distinct, bad): (i64, i64, i64) = store
            .write(|c| -> Result<(i64, i64, i64), StoreError> {
                Ok(c.query_row(
                    "SELECT COUNT(*), COUNT(DISTINCT n), SUM(n % 25 = 0) FROM t",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(
            (count, distinct, bad),
            (384, 384, 0),
            "each job's row once, the failed jobs' rows gone"
        );
        let rerunnable = (0..400).filter(|n| n % 7 != 0).count() as u64;
        assert!(
            runs.load(Ordering::Relaxed) > rerunnable,
            "a failure runs the group's re-runnable jobs again"
        );
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap();
        match Store::open(&path) {
            Err(StoreError::TooNew { found: 999, .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }
}
