//! The database behind HQ: SQLite (one file under `--data`, the default) or PostgreSQL
//! (`--database postgres://...`, everything in the schema `--pg-schema`). Both keep the same
//! tables: `edges`, `tokens`, `batches`, `records`, `revenue_lines` and `audit_heads`; both answer the
//! same operations, and a batch is one transaction in either.

mod postgres;
mod sqlite;

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Serialize;

use crate::report::GroupBy;
use crate::role::Role;
use venue_wire::audit::Anchor;
use venue_wire::batch::Batch;

pub use postgres::{PG_SCHEMA_SQL, PgStore, check_schema_name};
pub use sqlite::{SQLITE_FILE, SqliteStore};

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// The SQLite file at `path`.
    Sqlite { path: PathBuf },
    /// PostgreSQL at `url`, in `schema`, with at most `connections` at once.
    Postgres {
        url: String,
        schema: String,
        connections: usize,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cannot open the database {what}: {message}")]
    Open { what: String, message: String },
    #[error("the database thread stopped")]
    Stopped,
    #[error("PostgreSQL did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// Records stored now.
    pub accepted: u64,
    /// Records already stored (by an earlier batch, or repeated in this one).
    pub duplicates: u64,
    /// Revenue lines stored now (those of the accepted records).
    #[serde(skip)]
    pub revenue_lines: u64,
    /// The batch number had been stored before: nothing was stored now.
    #[serde(skip)]
    pub replayed: bool,
}

impl Ingested {
    /// The answer to a batch whose number HQ already has: every record a duplicate.
    pub fn replay(batch: &Batch) -> Ingested {
        Ingested {
            accepted: 0,
            duplicates: batch.sent,
            revenue_lines: 0,
            replayed: true,
        }
    }
}

pub use crate::report::DayRow;

/// What HQ knows of one edge box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeSummary {
    pub edge_id: String,
    pub last_batch_seq: Option<i64>,
    pub batches: i64,
    pub records: i64,
    pub duplicates: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// The store: cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens the database, creating its tables if they are missing.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        Ok(match config {
            DatabaseConfig::Sqlite { path } => Store::Sqlite(SqliteStore::open(path)?),
            DatabaseConfig::Postgres {
                url,
                schema,
                connections,
            } => Store::Postgres(PgStore::open(url, schema, *connections).await?),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Stores a batch in one transaction: its number, its new records and their revenue
    /// lines. Returns after the commit.
    pub async fn ingest(&self, batch: Batch) -> Result<Ingested, StoreError> {
        match self {
            Store::Sqlite(s) => s.ingest(batch).await,
            Store::Postgres(s) => s.ingest(batch).await,
        }
    }

    /// Revenue per business day and key from `from` to `to` (inclusive).
    pub async fn revenue_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        by: GroupBy,
    ) -> Result<Vec<DayRow>, StoreError> {
        match self {
            Store::Sqlite(s) => s.revenue_by_day(from, to, by).await,
            Store::Postgres(s) => s.revenue_by_day(from, to, by).await,
        }
    }

    /// The role of the token with this digest, if any.
    pub async fn role_of(&self, digest: &str) -> Result<Option<Role>, StoreError> {
        match self {
            Store::Sqlite(s) => s.role_of(digest).await,
            Store::Postgres(s) => s.role_of(digest).await,
        }
    }

    /// Stores a token's digest with its role (and registers an edge token's edge box).
    pub async fn add_token(
        &self,
        digest: &str,
        role: &Role,
        label: &str,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.add_token(digest, role, label).await,
            Store::Postgres(s) => s.add_token(digest, role, label).await,
        }
    }

    /// Every known edge box, by id.
    pub async fn edges(&self) -> Result<Vec<EdgeSummary>, StoreError> {
        match self {
            Store::Sqlite(s) => s.edges().await,
            Store::Postgres(s) => s.edges().await,
        }
    }

    /// The audit chain heads an edge box's batches carried, in batch order.
    pub async fn audit_anchors(&self, edge_id: &str) -> Result<Vec<Anchor>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_anchors(edge_id).await,
            Store::Postgres(s) => s.audit_anchors(edge_id).await,
        }
    }

    /// Fails unless the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Postgres(s) => s.ping().await,
        }
    }
}

/// Now, as stored in SQLite and shown in the API: RFC 3339 UTC to the second.
pub(crate) fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
