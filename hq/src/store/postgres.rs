//! The PostgreSQL store. Everything lives in one schema (`--pg-schema`), created with the
//! tables of `deploy/hq/postgres.sql` at start. A small pool of connections lets several
//! edge boxes upload at once.
//!
//! A batch is one transaction: its number goes into `batches` first (a number seen before
//! stops there), its records and revenue lines are streamed with binary `COPY` into
//! temporary staging tables, then one statement moves the records into `records` with
//! `ON CONFLICT DO NOTHING` and the revenue lines of exactly the records it inserted into
//! `revenue_lines`. A record already stored is a duplicate and its lines are not counted
//! again. The day partitions a batch needs are created before its transaction, in a short
//! transaction of their own under an advisory lock.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls};

use super::{DayRow, EdgeSummary, Ingested, StoreError};
use crate::report::GroupBy;
use crate::role::Role;
use venue_wire::audit::{Anchor, Head};
use venue_wire::batch::Batch;

/// The schema file, applied at start.
pub const PG_SCHEMA_SQL: &str = include_str!("../../../deploy/hq/postgres.sql");

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `/healthz` waits for PostgreSQL.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Staging tables, one pair per connection, emptied at every commit.
const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS hq_stage_records (
    kind text NOT NULL, event_id text NOT NULL, seq bigint NOT NULL,
    business_date date NOT NULL, at text NOT NULL, data jsonb NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hq_stage_lines (
    record_kind text NOT NULL, event_id text NOT NULL, business_date date NOT NULL,
    source text NOT NULL, product text, merchant text, area text, category text, party text,
    kind text NOT NULL, amount_fen bigint NOT NULL, count bigint NOT NULL
) ON COMMIT DELETE ROWS;";

const COPY_RECORDS: &str = "COPY pg_temp.hq_stage_records (kind, event_id, seq, business_date, at, data) FROM STDIN (FORMAT binary)";
const RECORD_TYPES: [Type; 6] = [
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::DATE,
    Type::TEXT,
    Type::JSONB,
];

const COPY_LINES: &str = "COPY pg_temp.hq_stage_lines (record_kind, event_id, business_date, source, product, merchant, area, category, party, kind, amount_fen, count) FROM STDIN (FORMAT binary)";
const LINE_TYPES: [Type; 12] = [
    Type::TEXT,
    Type::TEXT,
    Type::DATE,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
];

/// Moves the staged batch in: the records not stored yet, and the lines of those only.
/// `$1` edge id, `$2` batch number.
const MERGE: &str = "
WITH inserted AS (
    INSERT INTO records (edge_id, kind, event_id, seq, business_date, at, data, batch_seq)
    SELECT $1, kind, event_id, seq, business_date, at, data, $2 FROM pg_temp.hq_stage_records
    ON CONFLICT DO NOTHING
    RETURNING kind, event_id, business_date
), lines AS (
    INSERT INTO revenue_lines (edge_id, business_date, record_kind, event_id, source, product,
                               merchant, area, category, party, kind, amount_fen, count)
    SELECT $1, l.business_date, l.record_kind, l.event_id, l.source, l.product,
           l.merchant, l.area, l.category, l.party, l.kind, l.amount_fen, l.count
    FROM pg_temp.hq_stage_lines l
    JOIN inserted i ON i.kind = l.record_kind AND i.event_id = l.event_id
                   AND i.business_date = l.business_date
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM lines)";

const EDGE_SEEN: &str = "
INSERT INTO edges (edge_id, last_batch_seq, batches, records, duplicates, first_seen, last_seen)
VALUES ($1, $2, 1, $3, $4, now(), now())
ON CONFLICT (edge_id) DO UPDATE SET
    last_batch_seq = GREATEST(edges.last_batch_seq, EXCLUDED.last_batch_seq),
    batches = edges.batches + 1,
    records = edges.records + EXCLUDED.records,
    duplicates = edges.duplicates + EXCLUDED.duplicates,
    first_seen = COALESCE(edges.first_seen, EXCLUDED.first_seen),
    last_seen = EXCLUDED.last_seen";

/// Fails unless `name` is a plain lower-case identifier (so it needs no quoting rules
/// beyond double quotes, and means the same to `psql`).
pub fn check_schema_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "--pg-schema {name:?} must be 1 to 63 characters of a-z, 0-9 and _, not starting with a digit"
        ))
    }
}

/// A PostgreSQL error with the server's detail and hint when it sent them.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// A handle to the PostgreSQL store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Arc<Pool>,
    /// Days whose partitions are known to exist.
    days: Arc<Mutex<HashSet<NaiveDate>>>,
}

impl PgStore {
    /// Connects, creates the schema and its tables if missing, and readies the pool.
    pub async fn open(url: &str, schema: &str, connections: usize) -> Result<PgStore, StoreError> {
        check_schema_name(schema).map_err(|message| StoreError::Open {
            what: "schema".into(),
            message,
        })?;
        let mut config = Config::from_str(url).map_err(|e| StoreError::Open {
            what: "URL".into(),
            message: format!("{e}; expected postgres://user@host:port/database"),
        })?;
        config
            .application_name("venue-hq")
            .connect_timeout(CONNECT_TIMEOUT);
        let pool = Arc::new(Pool {
            config,
            schema: schema.to_owned(),
            idle: Mutex::default(),
            slots: Arc::new(Semaphore::new(connections.max(1))),
        });
        let store = PgStore {
            pool,
            days: Arc::default(),
        };
        store.apply_schema().await?;
        Ok(store)
    }

    fn quoted_schema(&self) -> String {
        format!("\"{}\"", self.pool.schema)
    }

    /// Creates the schema and applies `deploy/hq/postgres.sql` in it, one process at a time.
    async fn apply_schema(&self) -> Result<(), StoreError> {
        let client = self.pool.connect_bare().await?;
        let schema = self.quoted_schema();
        client
            .batch_execute(&format!(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(hashtext('venue-hq schema'));
                 CREATE SCHEMA IF NOT EXISTS {schema};
                 SET LOCAL search_path TO {schema};
                 {PG_SCHEMA_SQL}
                 COMMIT;"
            ))
            .await?;
        Ok(())
    }

    /// Creates the missing day partitions of `records` and `revenue_lines` for `days`.
    async fn ensure_days(
        &self,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<(), StoreError> {
        let missing: Vec<NaiveDate> = {
            let known = self.days.lock().map_err(|_| StoreError::Stopped)?;
            days.into_iter().filter(|d| !known.contains(d)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let schema = self.quoted_schema();
        let mut sql =
            String::from("BEGIN; SELECT pg_advisory_xact_lock(hashtext('venue-hq partitions'));");
        for day in &missing {
            let next = day.succ_opt().unwrap_or(*day);
            let suffix = day.format("%Y%m%d");
            for table in ["records", "revenue_lines"] {
                sql.push_str(&format!(
                    "CREATE TABLE IF NOT EXISTS {schema}.{table}_p{suffix} PARTITION OF {schema}.{table} FOR VALUES FROM ('{day}') TO ('{next}');"
                ));
            }
        }
        sql.push_str("COMMIT;");
        let client = self.pool.get().await?;
        if let Err(e) = client.batch_execute(&sql).await {
            // Leave no transaction open on a pooled connection.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e.into());
        }
        if let Ok(mut known) = self.days.lock() {
            known.extend(missing);
        }
        Ok(())
    }

    pub async fn ingest(&self, batch: Batch) -> Result<Ingested, StoreError> {
        let result = self.ingest_once(batch).await;
        if let Err(StoreError::Postgres(e)) = &result
            && e.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
        {
            // Perhaps a day's partition was dropped behind our back ("no partition of
            // relation found for row"): check them all again on the edge box's retry.
            if let Ok(mut known) = self.days.lock() {
                known.clear();
            }
        }
        result
    }

    async fn ingest_once(&self, batch: Batch) -> Result<Ingested, StoreError> {
        self.ensure_days(batch.days()).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let fresh = tx
            .execute(
                "INSERT INTO batches (edge_id, batch_seq, records) VALUES ($1, $2, $3)
                 ON CONFLICT (edge_id, batch_seq) DO NOTHING",
                &[&batch.edge_id, &batch.seq, &(batch.sent as i64)],
            )
            .await?;
        if fresh == 0 {
            tx.rollback().await?;
            return Ok(Ingested::replay(&batch));
        }
        // The staged tables have no statistics: a nested loop over them would be quadratic.
        tx.batch_execute("SET LOCAL enable_nestloop = off").await?;
        copy_records(&tx, &batch).await?;
        if batch.revenue_lines() > 0 {
            copy_lines(&tx, &batch).await?;
        }
        let row = tx.query_one(MERGE, &[&batch.edge_id, &batch.seq]).await?;
        let accepted = row.get::<_, i64>(0) as u64;
        let lines = row.get::<_, i64>(1) as u64;
        let duplicates = batch.sent - accepted;
        if let Some(head) = &batch.audit_head {
            tx.execute(
                "INSERT INTO audit_heads (edge_id, batch_seq, audit_row, audit_hash) VALUES ($1, $2, $3, $4)",
                &[&batch.edge_id, &batch.seq, &head.row, &head.hash],
            )
            .await?;
        }
        tx.execute(
            "UPDATE batches SET accepted = $3, duplicates = $4 WHERE edge_id = $1 AND batch_seq = $2",
            &[&batch.edge_id, &batch.seq, &(accepted as i64), &(duplicates as i64)],
        )
        .await?;
        tx.execute(
            EDGE_SEEN,
            &[
                &batch.edge_id,
                &batch.seq,
                &(accepted as i64),
                &(duplicates as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Ingested {
            accepted,
            duplicates,
            revenue_lines: lines,
            replayed: false,
        })
    }

    pub async fn revenue_by_day(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        by: GroupBy,
    ) -> Result<Vec<DayRow>, StoreError> {
        let sql = format!(
            "SELECT business_date, COALESCE({col}, '-'),
                    COALESCE(SUM(amount_fen) FILTER (WHERE kind = 'sale'), 0)::int8,
                    COALESCE(SUM(amount_fen) FILTER (WHERE kind = 'refund'), 0)::int8,
                    COALESCE(SUM(count) FILTER (WHERE kind = 'sale'), 0)::int8
             FROM revenue_lines WHERE business_date BETWEEN $1 AND $2
             GROUP BY 1, 2",
            col = by.column()
        );
        let client = self.pool.get().await?;
        let rows = client.query(&sql, &[&from, &to]).await?;
        Ok(rows
            .iter()
            .map(|r| DayRow {
                day: r.get(0),
                key: r.get(1),
                gross_fen: r.get(2),
                refunds_fen: r.get(3),
                count: r.get(4),
            })
            .collect())
    }

    pub async fn audit_anchors(&self, edge_id: &str) -> Result<Vec<Anchor>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT batch_seq, audit_row, audit_hash FROM audit_heads WHERE edge_id = $1
                 ORDER BY batch_seq",
                &[&edge_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Anchor {
                batch_seq: r.get(0),
                head: Head {
                    row: r.get(1),
                    hash: r.get(2),
                },
            })
            .collect())
    }

    pub async fn role_of(&self, digest: &str) -> Result<Option<Role>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT role, edge_id FROM tokens WHERE token_sha256 = $1",
                &[&digest],
            )
            .await?;
        Ok(row.and_then(|r| Role::from_columns(r.get(0), r.get(1))))
    }

    pub async fn add_token(
        &self,
        digest: &str,
        role: &Role,
        label: &str,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (name, edge) = role.to_columns();
        tx.execute(
            "INSERT INTO tokens (token_sha256, role, edge_id, label) VALUES ($1, $2, $3, $4)",
            &[&digest, &name, &edge, &label],
        )
        .await?;
        if let Some(edge) = edge {
            tx.execute(
                "INSERT INTO edges (edge_id) VALUES ($1) ON CONFLICT (edge_id) DO NOTHING",
                &[&edge],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn edges(&self) -> Result<Vec<EdgeSummary>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT edge_id, last_batch_seq, batches, records, duplicates, first_seen, last_seen
                 FROM edges ORDER BY edge_id",
                &[],
            )
            .await?;
        let time = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        Ok(rows
            .iter()
            .map(|r| EdgeSummary {
                edge_id: r.get(0),
                last_batch_seq: r.get(1),
                batches: r.get(2),
                records: r.get(3),
                duplicates: r.get(4),
                first_seen: time(r.get(5)),
                last_seen: time(r.get(6)),
            })
            .collect())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        tokio::time::timeout(PING_TIMEOUT, async {
            let client = self.pool.get().await?;
            client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
        .map_err(|_| StoreError::Timeout(PING_TIMEOUT))?
    }
}

async fn copy_records(
    tx: &tokio_postgres::Transaction<'_>,
    batch: &Batch,
) -> Result<(), StoreError> {
    let sink = tx.copy_in(COPY_RECORDS).await?;
    let writer = BinaryCopyInWriter::new(sink, &RECORD_TYPES);
    let mut writer = std::pin::pin!(writer);
    for r in &batch.records {
        let kind = r.kind.as_str();
        writer
            .as_mut()
            .write(&[
                &kind,
                &r.event_id,
                &r.seq,
                &r.business_date,
                &r.at,
                &RawJson(&r.data),
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

async fn copy_lines(tx: &tokio_postgres::Transaction<'_>, batch: &Batch) -> Result<(), StoreError> {
    let sink = tx.copy_in(COPY_LINES).await?;
    let writer = BinaryCopyInWriter::new(sink, &LINE_TYPES);
    let mut writer = std::pin::pin!(writer);
    for r in &batch.records {
        let record_kind = r.kind.as_str();
        for l in &r.revenue {
            let kind = l.kind.as_str();
            writer
                .as_mut()
                .write(&[
                    &record_kind,
                    &r.event_id,
                    &r.business_date,
                    &l.source,
                    &l.product,
                    &l.merchant,
                    &l.area,
                    &l.category,
                    &l.party,
                    &kind,
                    &l.amount_fen,
                    &l.count,
                ])
                .await?;
        }
    }
    writer.finish().await?;
    Ok(())
}

/// JSON text sent as `json` or `jsonb` without parsing it again on this side.
#[derive(Debug)]
struct RawJson<'a>(&'a str);

impl ToSql for RawJson<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.put_u8(1); // jsonb's binary format version
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }

    to_sql_checked!();
}

/// At most `slots` connections, kept open between uses; a closed one is replaced.
struct Pool {
    config: Config,
    schema: String,
    idle: Mutex<Vec<Client>>,
    slots: Arc<Semaphore>,
}

impl Pool {
    /// A connection with no schema set up (to create it).
    async fn connect_bare(&self) -> Result<Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %describe(&e), "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    async fn get(self: &Arc<Self>) -> Result<Pooled, StoreError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Stopped)?;
        let reused = loop {
            let next = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match next {
                Some(c) if c.is_closed() => continue,
                other => break other,
            }
        };
        let client = match reused {
            Some(c) => c,
            None => {
                let client = self.connect_bare().await?;
                client
                    .batch_execute(&format!(
                        "SET search_path TO \"{}\"; {STAGING}",
                        self.schema
                    ))
                    .await?;
                client
            }
        };
        Ok(Pooled {
            client: Some(client),
            pool: self.clone(),
            _permit: permit,
        })
    }
}

/// A connection on loan from the pool; it goes back when dropped (unless it broke).
struct Pooled {
    client: Option<Client>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Pooled {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a pooled connection until dropped")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a pooled connection until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("venue_hq").is_ok());
        assert!(check_schema_name("t_42").is_ok());
        assert!(check_schema_name("").is_err());
        assert!(check_schema_name("4x").is_err());
        assert!(check_schema_name("a\"; drop").is_err());
        assert!(check_schema_name("Upper").is_err());
    }
}
