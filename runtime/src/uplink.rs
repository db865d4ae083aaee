//! The uplink: sends the outbox to HQ in numbered batches (protocol.md, section 3).
//!
//! - A batch is formed when `batch_records` records wait or the oldest has waited
//!   `batch_age_ms`. Its number and record range are stored before it is sent, so a retry
//!   (after a failure, a timeout, or a restart) sends the same number with the same
//!   records, and HQ recognises it.
//! - Body: NDJSON compressed with zstd; headers `Venue-Edge-Id`, `Venue-Batch-Seq` and
//!   `Venue-Audit-Head` (the audit chain's last row and hash as the batch leaves, which HQ
//!   keeps: a box whose log was cut back and rebuilt is caught there).
//! - When HQ answers 200 the batch is marked acknowledged and its records leave the
//!   outbox, in one store job. Anything else is retried with capped exponential backoff
//!   and full jitter. HQ's 413 halves the batch size; a refused token or record raises an
//!   alert and keeps retrying (nothing is dropped; an operator fixes the cause).
//! - The uplink reads the outbox on a connection of its own (WAL readers do not block the
//!   writer); gates, POS and settlement never wait for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use venue_domain::config::UplinkConfig;
use venue_model::alert::Alert;
use venue_store::{Store, StoreError};
use venue_wire::audit::Head as AuditHead;

/// How often an idle uplink looks for new records.
const POLL: Duration = Duration::from_millis(200);
/// HQ's answer body is read up to this size.
const ANSWER_BYTES_MAX: usize = 64 * 1024;
/// zstd level: fast, and NDJSON of facts compresses ~10x at it.
const ZSTD_LEVEL: i32 = 3;

/// What `/healthz` and `/metrics` show of the uplink.
#[derive(Default)]
pub struct UplinkState {
    pub enabled: AtomicBool,
    pub pending_records: AtomicI64,
    pub oldest_age_ms: AtomicI64,
    pub last_acked_batch: AtomicU64,
    pub failures_in_a_row: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    pub last_ack_at: Mutex<Option<String>>,
}

impl UplinkState {
    pub fn to_json(&self, url: Option<&str>) -> serde_json::Value {
        if !self.enabled.load(Ordering::Relaxed) {
            return serde_json::json!({ "state": "off" });
        }
        let failures = self.failures_in_a_row.load(Ordering::Relaxed);
        serde_json::json!({
            "state": if failures == 0 { "ok" } else { "retrying" },
            "url": url,
            "pending_records": self.pending_records.load(Ordering::Relaxed),
            "oldest_age_s": self.oldest_age_ms.load(Ordering::Relaxed) / 1000,
            "last_acked_batch": self.last_acked_batch.load(Ordering::Relaxed),
            "last_ack_at": self.last_ack_at.lock().ok().and_then(|g| g.clone()),
            "failures_in_a_row": failures,
            "last_error": self.last_error.lock().ok().and_then(|g| g.clone()),
        })
    }
}

/// A batch as stored: its number and the outbox range it covers.
#[derive(Debug, Clone, Copy)]
struct Batch {
    seq: u64,
    first: i64,
    last: i64,
    records: i64,
}

/// What `next_batch` found: a batch still unacknowledged, or a new range ready to form one.
enum Ready {
    Pending(Batch),
    New(i64, i64, i64),
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("HQ unreachable: {0}")]
    Transport(String),
    #[error("no answer from HQ within {0:?}")]
    Timeout(Duration),
    #[error("HQ answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> Self {
        UploadError::Store(e.to_string())
    }
}

impl From<rusqlite::Error> for UploadError {
    fn from(e: rusqlite::Error) -> Self {
        UploadError::Store(e.to_string())
    }
}

pub struct Uplink {
    pub config: UplinkConfig,
    pub edge_id: String,
    pub store: Store,
    pub db_path: PathBuf,
    pub state: Arc<UplinkState>,
    pub metrics: Arc<Metrics>,
    pub alerts: mpsc::Sender<Alert>,
    pub clock: venue_model::clock::Clock,
}

type Client = venue_domain::https::PinnedClient;

/// The client for HQ: plain HTTP, or HTTPS trusting only the CA in `ca_file` (pinned; the
/// system's roots are never consulted).
fn client(config: &UplinkConfig) -> Result<Client, String> {
    venue_domain::https::pinned_client(config.ca_file.as_deref(), "uplink.ca_file")
}

impl Uplink {
    /// Uploads until `shutdown`. A batch in flight at shutdown is sent again next start.
    pub async fn run(self, shutdown: CancellationToken) {
        self.state.enabled.store(true, Ordering::Relaxed);
        let reader = match venue_store::open_reader(&self.db_path) {
            Ok(c) => Arc::new(Mutex::new(c)),
            Err(e) => {
                tracing::error!(error = %e, "uplink: cannot open the outbox for reading; uploads are off");
                self.state.enabled.store(false, Ordering::Relaxed);
                return;
            }
        };
        let client = match client(&self.config) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "uplink: cannot set up the connection to HQ; uploads are off");
                if let Ok(mut g) = self.state.last_error.lock() {
                    *g = Some(e);
                }
                self.state.failures_in_a_row.store(1, Ordering::Relaxed);
                return;
            }
        };
        let url = format!("{}/api/v1/batches", self.config.url.trim_end_matches('/'));
        let mut limit = self.config.batch_records as i64;
        let mut backoff = Duration::from_millis(self.config.backoff_min_ms);
        let mut backlog_alerted = false;
        let mut refused_alerted: Option<u16> = None;
        tracing::info!(url = %url, "uplink: started");
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            backlog_alerted = self.watch_backlog(&reader, backlog_alerted).await;
            let outcome = async {
                let Some(batch) = self.next_batch(&reader, limit).await? else {
                    return Ok(None);
                };
                let (body, head) = self.body(&reader, batch).await?;
                let answer = tokio::select! {
                    a = self.send(&client, &url, batch, body, head) => a,
                    _ = shutdown.cancelled() => return Ok(None),
                };
                Ok::<_, UploadError>(Some((batch, answer)))
            }
            .await;
            let wait = match outcome {
                Ok(None) => POLL,
                Ok(Some((batch, Ok((accepted, duplicates))))) => {
                    match self.acknowledge(batch, accepted, duplicates).await {
                        Ok(()) => {
                            backoff = Duration::from_millis(self.config.backoff_min_ms);
                            refused_alerted = None;
                            limit = self.config.batch_records as i64;
                            Duration::ZERO
                        }
                        Err(e) => self.failed(&e, &mut backoff),
                    }
                }
                Ok(Some((batch, Err(e)))) => {
                    if let UploadError::Status { status, body } = &e {
                        match *status {
                            413 if batch.records > 1 => {
                                // Too large for HQ: form it again at half the size (HQ kept
                                // nothing of it, so its number can be reused).
                                limit = (batch.records / 2).max(1);
                                let _ = self.forget(batch).await;
                                tracing::warn!(
                                    batch = batch.seq,
                                    records = limit,
                                    "uplink: HQ refused the batch as too large; halving"
                                );
                            }
                            400 | 401 | 403 | 413 | 415 if refused_alerted != Some(*status) => {
                                refused_alerted = Some(*status);
                                crate::alerts::raise(
                                    &self.alerts,
                                    Alert::new(
                                        "uplink_refused",
                                        self.clock.now_rfc3339(),
                                        serde_json::json!({
                                            "status": status, "batch": batch.seq, "hq_says": body,
                                            "message": "HQ refuses this box's uploads; records wait in the outbox until the cause is fixed",
                                        }),
                                    ),
                                );
                            }
                            _ => {}
                        }
                    }
                    self.failed(&e, &mut backoff)
                }
                Err(e) => self.failed(&e, &mut backoff),
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }

    /// Counts a failure and returns how long to wait: a full-jitter delay under the
    /// current backoff, which then doubles up to its cap.
    fn failed(&self, e: &UploadError, backoff: &mut Duration) -> Duration {
        let n = self.state.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut g) = self.state.last_error.lock() {
            *g = Some(e.to_string());
        }
        self.metrics.uplink_failure();
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(error = %e, failures_in_a_row = n, "uplink: upload failed; retrying with backoff");
        }
        let cap = Duration::from_millis(self.config.backoff_max_ms);
        let wait = backoff.mul_f64(rand::random_range(0.5..=1.0));
        *backoff = (*backoff * 2).min(cap);
        wait
    }

    /// Refreshes the backlog figures and alerts once when they cross a limit.
    async fn watch_backlog(&self, reader: &Arc<Mutex<Connection>>, alerted: bool) -> bool {
        let reader = reader.clone();
        let backlog = tokio::task::spawn_blocking(move || {
            let conn = reader.lock().map_err(|_| ())?;
            venue_domain::outbox::backlog(&conn).map_err(|_| ())
        })
        .await;
        let Ok(Ok((records, oldest_ms))) = backlog else {
            return alerted;
        };
        let oldest_ms = oldest_ms.unwrap_or(0);
        self.state.pending_records.store(records, Ordering::Relaxed);
        self.state.oldest_age_ms.store(oldest_ms, Ordering::Relaxed);
        self.metrics.uplink_backlog(records, oldest_ms);
        let over = records as u64 > self.config.backlog_alert_records
            || oldest_ms as u64 > self.config.backlog_alert_age_s * 1000;
        if over && !alerted {
            crate::alerts::raise(
                &self.alerts,
                Alert::new(
                    "uplink_backlog",
                    self.clock.now_rfc3339(),
                    serde_json::json!({
                        "pending_records": records, "oldest_age_s": oldest_ms / 1000,
                        "message": "HQ has not taken this box's records for too long; they are kept, nothing is dropped",
                    }),
                ),
            );
        }
        over
    }

    /// The batch to send: the unacknowledged one if there is one, else a new one if
    /// enough records wait or the oldest is old enough.
    async fn next_batch(
        &self,
        reader: &Arc<Mutex<Connection>>,
        limit: i64,
    ) -> Result<Option<Batch>, UploadError> {
        // Both reads go through the uplink's own connection: an idle poll costs the
        // writer nothing.
        let (age_ms, reader) = (self.config.batch_age_ms as i64, reader.clone());
        let candidate = tokio::task::spawn_blocking(move || -> Result<Option<Ready>, UploadError> {
            let conn = reader.lock().map_err(|_| UploadError::Store("reader poisoned".into()))?;
            let pending = conn
                .prepare_cached(
                    "SELECT batch_seq, first_seq, last_seq, records FROM uplink_batches WHERE acked_at IS NULL ORDER BY batch_seq LIMIT 1",
                )?
                .query_row([], |r| {
                    Ok(Batch { seq: r.get::<_, i64>(0)? as u64, first: r.get(1)?, last: r.get(2)?, records: r.get(3)? })
                })
                .optional()?;
            if let Some(batch) = pending {
                return Ok(Some(Ready::Pending(batch)));
            }
            let (first, last, n, oldest): (Option<i64>, Option<i64>, i64, Option<i64>) = conn
                .prepare_cached(
                    "SELECT MIN(seq), MAX(seq), COUNT(*), MIN(queued_ms) FROM (SELECT seq, queued_ms FROM outbox ORDER BY seq LIMIT ?1)",
                )?
                .query_row(params![limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            let (Some(first), Some(last), Some(oldest)) = (first, last, oldest) else {
                return Ok(None);
            };
            let ready = n >= limit || venue_domain::outbox::now_ms() - oldest >= age_ms;
            Ok(ready.then_some(Ready::New(first, last, n)))
        })
        .await
        .map_err(|e| UploadError::Store(e.to_string()))??;
        let (first, last, records) = match candidate {
            None => return Ok(None),
            Some(Ready::Pending(batch)) => return Ok(Some(batch)),
            Some(Ready::New(first, last, records)) => (first, last, records),
        };
        let now = self.clock.now_rfc3339();
        let batch = self
            .store
            .write(move |c| -> Result<Batch, UploadError> {
                let seq: i64 = c.query_row(
                    "SELECT COALESCE(MAX(batch_seq), 0) + 1 FROM uplink_batches",
                    [],
                    |r| r.get(0),
                )?;
                c.prepare_cached(
                    "INSERT INTO uplink_batches (batch_seq, first_seq, last_seq, records, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![seq, first, last, records, now])?;
                Ok(Batch { seq: seq as u64, first, last, records })
            })
            .await?;
        Ok(Some(batch))
    }

    /// The batch's records as zstd-compressed NDJSON, and the audit chain's head now.
    async fn body(
        &self,
        reader: &Arc<Mutex<Connection>>,
        batch: Batch,
    ) -> Result<(Bytes, AuditHead), UploadError> {
        let (reader, edge_id) = (reader.clone(), self.edge_id.clone());
        tokio::task::spawn_blocking(move || -> Result<(Bytes, AuditHead), UploadError> {
            let conn = reader.lock().map_err(|_| UploadError::Store("reader poisoned".into()))?;
            let head = venue_domain::audit::anchor(&conn)?;
            let mut stmt = conn.prepare_cached(
                "SELECT seq, kind, event_id, business_date, at, data FROM outbox WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![batch.first, batch.last])?;
            let mut ndjson = Vec::with_capacity(batch.records as usize * 256);
            let edge = serde_json::to_string(&edge_id).unwrap_or_default();
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let kind: String = r.get(1)?;
                let event_id: String = r.get(2)?;
                let day: String = r.get(3)?;
                let at: String = r.get(4)?;
                let queued = r.get_ref(5)?.as_str().map_err(|e| UploadError::Store(e.to_string()))?;
                let data = venue_domain::outbox::journal_data(&conn, queued)?;
                venue_wire::batch::write_line(&mut ndjson, &edge, seq, &kind, &event_id, &day, &at, &data)
                    .map_err(|e| UploadError::Store(e.to_string()))?;
            }
            let compressed = zstd::bulk::compress(&ndjson, ZSTD_LEVEL).map_err(|e| UploadError::Store(e.to_string()))?;
            Ok((Bytes::from(compressed), head))
        })
        .await
        .map_err(|e| UploadError::Store(e.to_string()))?
    }

    /// Posts one batch; Ok carries HQ's `accepted` and `duplicates`.
    async fn send(
        &self,
        client: &Client,
        url: &str,
        batch: Batch,
        body: Bytes,
        head: AuditHead,
    ) -> Result<(i64, i64), UploadError> {
        let request = hyper::Request::post(url)
            .header("authorization", format!("Bearer {}", self.config.token))
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", "zstd")
            .header("venue-edge-id", &self.edge_id)
            .header("venue-batch-seq", batch.seq.to_string())
            .header(venue_wire::audit::HEADER, head.to_string())
            .body(Full::new(body))
            .map_err(|e| UploadError::Transport(e.to_string()))?;
        let timeout = Duration::from_secs(self.config.timeout_s);
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| UploadError::Transport(venue_domain::https::error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| UploadError::Transport(e.to_string()))?
                .to_bytes();
            Ok::<_, UploadError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UploadError::Timeout(timeout))??;
        if status != 200 {
            return Err(UploadError::Status {
                status,
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            });
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| UploadError::Status {
                status,
                body: format!("not JSON ({e})"),
            })?;
        Ok((
            answer["accepted"].as_i64().unwrap_or(0),
            answer["duplicates"].as_i64().unwrap_or(0),
        ))
    }

    /// HQ has the batch: mark it and let its records go, in one job.
    async fn acknowledge(
        &self,
        batch: Batch,
        accepted: i64,
        duplicates: i64,
    ) -> Result<(), UploadError> {
        let now = self.clock.now_rfc3339();
        let at = now.clone();
        self.store
            .write(move |c| -> Result<(), UploadError> {
                c.prepare_cached(
                    "UPDATE uplink_batches SET acked_at = ?2, accepted = ?3, duplicates = ?4, attempts = attempts + 1 WHERE batch_seq = ?1",
                )?
                .execute(params![batch.seq as i64, at, accepted, duplicates])?;
                c.prepare_cached("DELETE FROM outbox WHERE seq <= ?1")?
                    .execute(params![batch.last])?;
                Ok(())
            })
            .await?;
        self.state.failures_in_a_row.store(0, Ordering::Relaxed);
        self.state
            .last_acked_batch
            .store(batch.seq, Ordering::Relaxed);
        if let Ok(mut g) = self.state.last_ack_at.lock() {
            *g = Some(now);
        }
        self.metrics
            .uplink_batch(batch.records, accepted, duplicates);
        tracing::debug!(
            batch = batch.seq,
            records = batch.records,
            accepted,
            duplicates,
            "uplink: batch acknowledged"
        );
        Ok(())
    }

    /// Drops an unacknowledged batch's row (its records stay queued).
    async fn forget(&self, batch: Batch) -> Result<(), UploadError> {
        self.store
            .write(move |c| -> Result<(), UploadError> {
                c.prepare_cached(
                    "DELETE FROM uplink_batches WHERE batch_seq = ?1 AND acked_at IS NULL",
                )?
                .execute(params![batch.seq as i64])?;
                Ok(())
            })
            .await
    }
}
