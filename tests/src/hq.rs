//! The HQ receiver for end-to-end tests: [`Hq`] runs the real `venue-hq serve` on a fresh
//! data folder, on SQLite or on the PostgreSQL at 127.0.0.1:5432 (in a schema of its own,
//! dropped when the `Hq` is dropped). Point an edge box's uplink at [`Hq::url`] with a
//! token from [`Hq::edge_token`].

use std::ffi::OsStr;

use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use venue_devices::http::HttpClient;

use crate::{binary, spawn_logged, unique_zone};

/// The PostgreSQL the tests use; `VENUE_HQ_TEST_DATABASE` overrides it.
pub fn pg_url() -> String {
    std::env::var("VENUE_HQ_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Which database HQ keeps its data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HqDatabase {
    Sqlite,
    Postgres,
}

/// A running `venue-hq` process.
pub struct Hq {
    child: Option<Child>,
    /// The data folder (`--data`; the SQLite file is in it).
    pub data: tempfile::TempDir,
    pub database: HqDatabase,
    /// The PostgreSQL schema (`--pg-schema`), unique to this `Hq`.
    pub pg_schema: String,
    /// `host:port` HQ listens on.
    pub http_addr: String,
    pub api: HttpClient,
    /// A manager token, used by [`Hq::revenue`] and [`Hq::edges`].
    pub manager_token: String,
    /// `--tls-cert` and `--tls-key`: HQ serves HTTPS.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Hq {
    /// Starts HQ on a fresh data folder (and, on PostgreSQL, a fresh schema).
    pub async fn start(database: HqDatabase) -> Hq {
        Self::start_with(database, None).await
    }

    /// Starts HQ serving HTTPS with a certificate chain and key (PEM files).
    pub async fn start_tls(
        database: HqDatabase,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Hq {
        Self::start_with(database, Some((cert.to_owned(), key.to_owned()))).await
    }

    async fn start_with(
        database: HqDatabase,
        tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    ) -> Hq {
        let mut hq = Hq {
            child: None,
            data: tempfile::tempdir().expect("temp dir"),
            database,
            pg_schema: format!("hq_{}", unique_zone()),
            http_addr: "127.0.0.1:0".into(),
            api: HttpClient::new("127.0.0.1:1"),
            manager_token: String::new(),
            tls,
            log: Arc::default(),
        };
        hq.manager_token = hq.role_token("manager");
        hq.spawn().await;
        hq
    }

    /// `http://host:port`, for an edge box's uplink.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The `--data`/`--database`/`--pg-schema` flags of this HQ.
    fn database_args(&self) -> Vec<String> {
        let mut args = vec!["--data".into(), self.data.path().display().to_string()];
        if self.database == HqDatabase::Postgres {
            args.extend([
                "--database".into(),
                pg_url(),
                "--pg-schema".into(),
                self.pg_schema.clone(),
            ]);
        }
        args
    }

    /// Starts the process (again) on the same data, on the same address if it is free
    /// (else on a new port: `http_addr` and `api` follow).
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "venue-hq is already running");
        let addr = self.http_addr.clone();
        if let Some(child) = self.try_spawn(&addr) {
            self.child = Some(child);
            return;
        }
        if addr != "127.0.0.1:0"
            && let Some(child) = self.try_spawn("127.0.0.1:0")
        {
            self.child = Some(child);
            return;
        }
        panic!("venue-hq did not start; its log:\n{}", self.log_text());
    }

    fn try_spawn(&mut self, addr: &str) -> Option<Child> {
        let mut command = Command::new(binary("venue-hq"));
        command
            .arg("serve")
            .args(self.database_args())
            .args(["--http", addr])
            .args(self.tls.iter().flat_map(|(cert, key)| {
                [
                    OsStr::new("--tls-cert"),
                    cert.as_os_str(),
                    OsStr::new("--tls-key"),
                    key.as_os_str(),
                ]
            }))
            .env("VENUE_HQ_LOG", "info");
        let (mut child, rx) = spawn_logged(
            command,
            &["venue-hq: HTTP on http://", "venue-hq: HTTP on https://"],
            &self.log,
        );
        // The reader thread ends (and the channel closes) if the process exits first.
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(bound) => {
                self.http_addr = bound;
                self.api = HttpClient::new(&self.http_addr);
                Some(child)
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// Everything the process logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// The process id of the running `venue-hq`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn token(&self, who: &[&str]) -> String {
        let out = Command::new(binary("venue-hq"))
            .args(["token", "add"])
            .args(self.database_args())
            .args(who)
            .output()
            .expect("venue-hq token add");
        assert!(
            out.status.success(),
            "venue-hq token add {who:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Runs `venue-hq ARGS` on this HQ's database (its `--data`, and on PostgreSQL its
    /// `--database` and schema too).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary("venue-hq"))
            .args(args)
            .args(self.database_args())
            .output()
            .expect("run venue-hq")
    }

    /// A new token with which `edge_id` uploads (`venue-hq token add --edge`).
    pub fn edge_token(&self, edge_id: &str) -> String {
        self.token(&["--edge", edge_id])
    }

    /// A new token for `manager`, `finance` or `auditor`.
    pub fn role_token(&self, role: &str) -> String {
        self.token(&["--role", role])
    }

    /// Kills the process with SIGKILL (no shutdown at all).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("venue-hq is running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().expect("wait for venue-hq")
    }

    /// `GET /api/v1/reports/revenue?{query}` with the manager token; panics unless 200.
    /// `query` is e.g. `from=2026-11-24&to=2026-11-24&period=day&by=product`.
    pub async fn revenue(&self, query: &str) -> serde_json::Value {
        let r = self
            .api
            .get(
                &format!("/api/v1/reports/revenue?{query}"),
                Some(&self.manager_token),
            )
            .await
            .expect("HTTP request to HQ");
        assert_eq!(r.status, 200, "HQ revenue report {query}: {}", r.text());
        r.json()
    }

    /// `GET /api/v1/edges` with the manager token: `{"edges":[{edge_id, last_batch_seq,
    /// batches, records, duplicates, first_seen, last_seen}]}`.
    pub async fn edges(&self) -> serde_json::Value {
        let r = self
            .api
            .get("/api/v1/edges", Some(&self.manager_token))
            .await
            .expect("HTTP request to HQ");
        assert_eq!(r.status, 200, "HQ edges: {}", r.text());
        r.json()
    }

    /// Uploads an uncompressed NDJSON batch as an edge box does; returns status and body.
    pub async fn post_batch(
        &self,
        token: &str,
        edge_id: &str,
        batch_seq: u64,
        ndjson: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let request = hyper::Request::post(format!("{}/api/v1/batches", self.url()))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-ndjson")
            .header("venue-edge-id", edge_id)
            .header("venue-batch-seq", batch_seq.to_string())
            .body(Full::new(Bytes::from(ndjson)))
            .expect("request");
        let response = client.request(request).await.expect("HTTP request to HQ");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("HQ's answer")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl Drop for Hq {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- venue-hq log ----\n{}\n---- end of log ----",
                self.log_text()
            );
        }
        if self.database == HqDatabase::Postgres {
            drop_schema(&self.pg_schema);
        }
    }
}

/// Drops a PostgreSQL schema, on a thread of its own (this may run inside a runtime).
fn drop_schema(schema: &str) {
    let schema = schema.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok((client, conn)) =
                tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
            else {
                return;
            };
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await;
        });
    })
    .join();
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(database: HqDatabase) {
        let mut hq = Hq::start(database).await;
        let token = hq.edge_token("edge-h");
        let record = serde_json::json!({
            "edge_id": "edge-h", "seq": 1, "kind": "sale", "event_id": "o-1",
            "business_date": "2026-11-24", "at": "2026-11-24T10:00:00+08:00",
            "data": {"revenue": [{"source": "ticket", "product": "park-day", "merchant": null,
                "area": "park", "category": "ticket", "party": null, "kind": "sale",
                "amount_fen": 12000, "count": 1}]},
        });
        let body = format!("{record}\n").into_bytes();
        let (status, answer) = hq.post_batch(&token, "edge-h", 1, body.clone()).await;
        assert_eq!(
            (status, answer["accepted"].as_i64()),
            (200, Some(1)),
            "{answer}"
        );
        let addr = hq.http_addr.clone();
        hq.kill();
        hq.spawn().await;
        assert_eq!(hq.http_addr, addr, "started again on the same address");
        let (_, answer) = hq.post_batch(&token, "edge-h", 1, body).await;
        assert_eq!(answer["duplicates"].as_i64(), Some(1), "{answer}");
        let report = hq
            .revenue("from=2026-11-24&to=2026-11-24&period=day&by=product")
            .await;
        assert_eq!(report["total"]["net_fen"], 12000);
        assert_eq!(hq.edges().await["edges"][0]["last_batch_seq"], 1);
        assert!(!hq.role_token("auditor").is_empty());
        assert!(hq.stop().success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hq_on_sqlite_stores_and_reports() {
        round_trip(HqDatabase::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hq_on_postgres_stores_and_reports() {
        round_trip(HqDatabase::Postgres).await;
    }
}
