//! The SQLite store: one file in WAL mode (`synchronous=FULL`). One writer thread owns
//! the writing connection and stores each batch in one transaction with prepared
//! `INSERT ... ON CONFLICT DO NOTHING` statements; reports and token look-ups read on
//! connections of their own, so they never wait for a batch being stored.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{DayRow, EdgeSummary, Ingested, StoreError, now_text};
use crate::report::GroupBy;
use crate::role::Role;
use venue_wire::audit::{Anchor, Head};
use venue_wire::batch::Batch;

/// The database file's name in `--data`.
pub const SQLITE_FILE: &str = "hq.sqlite3";

const SCHEMA: &str = include_str!("sqlite.sql");

/// How long a statement waits for a lock held by another process (`token add`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Batches waiting for the writer thread at most; uploads wait beyond it.
const QUEUE_MAX: usize = 16;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the SQLite store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts the writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_error = |message: String| StoreError::Open {
            what: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits to a power cut,
        // and an edge box deletes what HQ acknowledged. The WAL is synced once per batch
        // commit, not per record, which costs nothing measurable at batch sizes.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE_MAX);
        std::thread::Builder::new()
            .name("venue-hq-sqlite".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| open_error(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            jobs,
            readers: Arc::default(),
            path: path.to_owned(),
        })
    }

    /// Runs `f` on the writer thread.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `f` on a reading connection, off the async threads.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (readers, path) = (self.readers.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let conn = match readers.lock().ok().and_then(|mut r| r.pop()) {
                Some(c) => c,
                None => open_reader(&path)?,
            };
            let result = f(&conn);
            if let Ok(mut r) = readers.lock() {
                r.push(conn);
            }
            result
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    }

    pub async fn ingest(&self, batch: Batch) -> Result<Ingested, StoreError> {
        self.write(move |conn| ingest(conn, &batch)).await
    }

    pub async fn revenue_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        by: GroupBy,
    ) -> Result<Vec<DayRow>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT business_date, COALESCE({col}, '-'),
                        SUM(CASE WHEN kind = 'sale' THEN amount_fen ELSE 0 END),
                        SUM(CASE WHEN kind = 'refund' THEN amount_fen ELSE 0 END),
                        SUM(CASE WHEN kind = 'sale' THEN count ELSE 0 END)
                 FROM revenue_lines WHERE business_date BETWEEN ?1 AND ?2
                 GROUP BY 1, 2",
                col = by.column()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![from.to_string(), to.to_string()], |r| {
                let day: String = r.get(0)?;
                Ok(DayRow {
                    day: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    key: r.get(1)?,
                    gross_fen: r.get(2)?,
                    refunds_fen: r.get(3)?,
                    count: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn role_of(&self, digest: &str) -> Result<Option<Role>, StoreError> {
        let digest = digest.to_owned();
        self.read(move |conn| {
            let row: Option<(String, Option<String>)> = conn
                .prepare_cached("SELECT role, edge_id FROM tokens WHERE token_sha256 = ?1")?
                .query_row([digest], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.and_then(|(role, edge)| Role::from_columns(&role, edge)))
        })
        .await
    }

    pub async fn add_token(
        &self,
        digest: &str,
        role: &Role,
        label: &str,
    ) -> Result<(), StoreError> {
        let (digest, role, label) = (digest.to_owned(), role.clone(), label.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (name, edge) = role.to_columns();
            tx.execute(
                "INSERT INTO tokens (token_sha256, role, edge_id, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![digest, name, edge, label, now_text()],
            )?;
            if let Some(edge) = edge {
                tx.execute(
                    "INSERT INTO edges (edge_id) VALUES (?1) ON CONFLICT (edge_id) DO NOTHING",
                    [edge],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn edges(&self) -> Result<Vec<EdgeSummary>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT edge_id, last_batch_seq, batches, records, duplicates, first_seen, last_seen
                 FROM edges ORDER BY edge_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(EdgeSummary {
                    edge_id: r.get(0)?,
                    last_batch_seq: r.get(1)?,
                    batches: r.get(2)?,
                    records: r.get(3)?,
                    duplicates: r.get(4)?,
                    first_seen: r.get(5)?,
                    last_seen: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn audit_anchors(&self, edge_id: &str) -> Result<Vec<Anchor>, StoreError> {
        let edge_id = edge_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT batch_seq, audit_row, audit_hash FROM audit_heads WHERE edge_id = ?1
                 ORDER BY batch_seq",
            )?;
            let rows = stmt.query_map([edge_id], |r| {
                Ok(Anchor {
                    batch_seq: r.get(0)?,
                    head: Head {
                        row: r.get(1)?,
                        hash: r.get(2)?,
                    },
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM meta", [], |_| Ok(()))?))
            .await
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Stores one batch in one transaction; a batch number seen before stores nothing.
fn ingest(conn: &mut Connection, batch: &Batch) -> Result<Ingested, StoreError> {
    let now = now_text();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh = tx
        .prepare_cached(
            "INSERT INTO batches (edge_id, batch_seq, records, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (edge_id, batch_seq) DO NOTHING",
        )?
        .execute(params![batch.edge_id, batch.seq, batch.sent as i64, now])?;
    if fresh == 0 {
        return Ok(Ingested::replay(batch));
    }
    let (mut accepted, mut lines) = (0u64, 0u64);
    {
        let mut record = tx.prepare_cached(
            "INSERT INTO records (edge_id, kind, event_id, seq, business_date, at, data, batch_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )?;
        let mut line = tx.prepare_cached(
            "INSERT INTO revenue_lines (edge_id, business_date, record_kind, event_id, source, product,
                                        merchant, area, category, party, kind, amount_fen, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for r in &batch.records {
            let day = r.business_date.to_string();
            let stored = record.execute(params![
                batch.edge_id,
                r.kind.as_str(),
                r.event_id,
                r.seq,
                day,
                r.at,
                r.data,
                batch.seq
            ])?;
            if stored == 0 {
                continue;
            }
            accepted += 1;
            for l in &r.revenue {
                line.execute(params![
                    batch.edge_id,
                    day,
                    r.kind.as_str(),
                    r.event_id,
                    l.source,
                    l.product,
                    l.merchant,
                    l.area,
                    l.category,
                    l.party,
                    l.kind.as_str(),
                    l.amount_fen,
                    l.count
                ])?;
                lines += 1;
            }
        }
    }
    let duplicates = batch.sent - accepted;
    if let Some(head) = &batch.audit_head {
        tx.prepare_cached(
            "INSERT INTO audit_heads (edge_id, batch_seq, audit_row, audit_hash, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![batch.edge_id, batch.seq, head.row, head.hash, now])?;
    }
    tx.prepare_cached(
        "UPDATE batches SET accepted = ?3, duplicates = ?4 WHERE edge_id = ?1 AND batch_seq = ?2",
    )?
    .execute(params![
        batch.edge_id,
        batch.seq,
        accepted as i64,
        duplicates as i64
    ])?;
    tx.prepare_cached(
        "INSERT INTO edges (edge_id, last_batch_seq, batches, records, duplicates, first_seen, last_seen)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5)
         ON CONFLICT (edge_id) DO UPDATE SET
             last_batch_seq = MAX(COALESCE(last_batch_seq, excluded.last_batch_seq), excluded.last_batch_seq),
             batches = batches + 1,
             records = records + excluded.records,
             duplicates = duplicates + excluded.duplicates,
             first_seen = COALESCE(first_seen, excluded.first_seen),
             last_seen = excluded.last_seen",
    )?
    .execute(params![batch.edge_id, batch.seq, accepted as i64, duplicates as i64, now])?;
    tx.commit()?;
    Ok(Ingested {
        accepted,
        duplicates,
        revenue_lines: lines,
        replayed: false,
    })
}
