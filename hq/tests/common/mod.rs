//! What the receiver tests share: a real `venue-hq serve` process on SQLite or on the
//! PostgreSQL at 127.0.0.1:5432 (in a schema of its own, dropped afterwards), a small HTTP
//! client that sends the upload headers, and record builders.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The PostgreSQL the tests use (trust auth); `VENUE_HQ_TEST_DATABASE` overrides it.
pub fn pg_url() -> String {
    std::env::var("VENUE_HQ_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

static SCHEMAS: AtomicU32 = AtomicU32::new(0);

/// A running `venue-hq serve`.
pub struct Server {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub schema: String,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    client: Client<HttpConnector, Full<Bytes>>,
    extra: Vec<String>,
}

/// An answer: status, content type, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl Server {
    pub async fn start(db: Db) -> Server {
        Server::start_with(db, &[]).await
    }

    /// Starts with extra `serve` flags (e.g. `--max-batch-bytes`).
    pub async fn start_with(db: Db, extra: &[&str]) -> Server {
        let schema = format!(
            "hq_test_{}_{}",
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::Relaxed)
        );
        let mut server = Server {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            db,
            schema,
            addr: "127.0.0.1:0".into(),
            log: Arc::default(),
            client: Client::builder(TokioExecutor::new()).build({
                let mut c = HttpConnector::new();
                c.set_nodelay(true);
                c
            }),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    /// `--data`, `--database` and `--pg-schema` as this server uses them.
    pub fn database_args(&self) -> Vec<String> {
        let mut args = vec!["--data".into(), self.dir.path().display().to_string()];
        if self.db == Db::Postgres {
            args.extend([
                "--database".into(),
                pg_url(),
                "--pg-schema".into(),
                self.schema.clone(),
            ]);
        }
        args
    }

    /// Starts the process (again) on the same data and, after the first start, the same
    /// address.
    pub fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_venue-hq"))
            .arg("serve")
            .args(self.database_args())
            .args(["--http", &self.addr])
            .args(&self.extra)
            .env("VENUE_HQ_LOG", "info,venue_hq=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start venue-hq");
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = log.lock() {
                    l.push(line);
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("venue-hq: HTTP on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("venue-hq did not start; its log:\n{}", self.log_text())
            });
        self.addr = addr;
        self.child = Some(child);
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// SIGTERM, and waits for the process; true if it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `venue-hq token add` with these flags (`--edge X` or `--role R`); the token.
    pub fn token(&self, who: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_venue-hq"))
            .args(["token", "add"])
            .args(self.database_args())
            .args(who)
            .output()
            .expect("venue-hq token add");
        assert!(
            out.status.success(),
            "token add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub fn edge_token(&self, edge: &str) -> String {
        self.token(&["--edge", edge])
    }

    pub fn role_token(&self, role: &str) -> String {
        self.token(&["--role", role])
    }

    /// Sends a request with the given headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .client
            .request(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
            .expect("HTTP request");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// Uploads NDJSON as batch `seq` of `edge` with `token`, as an edge box does.
    pub async fn upload(
        &self,
        token: &str,
        edge: &str,
        seq: u64,
        body: Vec<u8>,
        zstd: bool,
    ) -> Answer {
        let auth = format!("Bearer {token}");
        let seq = seq.to_string();
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("venue-edge-id", edge),
            ("venue-batch-seq", seq.as_str()),
            ("content-type", "application/x-ndjson"),
        ];
        let body = if zstd {
            headers.push(("content-encoding", "zstd"));
            zstd::bulk::compress(&body, 3).expect("zstd")
        } else {
            body
        };
        self.send("POST", "/api/v1/batches", &headers, body).await
    }

    /// GETs with a token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        self.send("GET", path, &[("authorization", &auth)], Vec::new())
            .await
    }

    /// The revenue report for `query` (`from=..&to=..&period=..&by=..`), which must succeed.
    pub async fn revenue(&self, token: &str, query: &str) -> Value {
        let a = self
            .get(&format!("/api/v1/reports/revenue?{query}"), token)
            .await;
        assert_eq!(a.status, 200, "report {query}: {}", a.text());
        a.json()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- venue-hq log ----\n{}\n---- end of log ----",
                self.log_text()
            );
        }
        if self.db == Db::Postgres {
            drop_schema(&self.schema);
        }
    }
}

/// Drops a test schema, on a thread of its own (this may run inside an async runtime).
pub fn drop_schema(schema: &str) {
    let schema = schema.to_owned();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
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

/// Counts rows of a table in the server's database.
pub async fn count_rows(server: &Server, table: &str) -> i64 {
    match server.db {
        Db::Sqlite => {
            let path = server.dir.path().join("hq.sqlite3");
            let conn = rusqlite::Connection::open(Path::new(&path)).expect("open sqlite");
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        }
        Db::Postgres => {
            let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(conn);
            client
                .query_one(
                    &format!("SELECT COUNT(*) FROM \"{}\".{table}", server.schema),
                    &[],
                )
                .await
                .expect("count")
                .get(0)
        }
    }
}

/// A revenue line.
pub fn line(
    source: &str,
    product: Option<&str>,
    party: Option<&str>,
    kind: &str,
    amount_fen: i64,
    count: i64,
) -> Value {
    json!({
        "source": source, "product": product,
        "merchant": if source == "pos" { Some("m-tea-house") } else { None },
        "area": "park", "category": if source == "pos" { "food" } else { "ticket" },
        "party": party, "kind": kind, "amount_fen": amount_fen, "count": count,
    })
}

/// A record of `kind` with these revenue lines.
pub fn record(
    edge: &str,
    seq: u64,
    kind: &str,
    event_id: &str,
    day: &str,
    revenue: Vec<Value>,
) -> Value {
    json!({
        "edge_id": edge, "seq": seq, "kind": kind, "event_id": event_id,
        "business_date": day, "at": format!("{day}T10:00:00+08:00"),
        "data": { "note": "ignored by HQ", "revenue": revenue },
    })
}

/// A ticket sale of `product` for `amount_fen`.
pub fn ticket_sale(
    edge: &str,
    seq: u64,
    event_id: &str,
    day: &str,
    product: &str,
    amount_fen: i64,
) -> Value {
    record(
        edge,
        seq,
        "sale",
        event_id,
        day,
        vec![line(
            "ticket",
            Some(product),
            Some("p-park"),
            "sale",
            amount_fen,
            1,
        )],
    )
}

/// A scan: no money.
pub fn scan(edge: &str, seq: u64, event_id: &str, day: &str) -> Value {
    json!({
        "edge_id": edge, "seq": seq, "kind": "scan", "event_id": event_id,
        "business_date": day, "at": format!("{day}T09:00:00+08:00"),
        "data": { "device": "g-south-1", "decision": "admit" },
    })
}

/// Records as an NDJSON body.
pub fn ndjson(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}
