//! # venue-hq: the Venue Edge headquarters receiver
//!
//! Edge boxes upload their settled records to HQ in numbered batches
//! (`POST /api/v1/batches`, NDJSON, optionally zstd). HQ checks every line, drops what it
//! already has (by batch number and by each record's `(edge_id, kind, event_id)`), stores
//! the rest in one transaction in SQLite or PostgreSQL, and answers only after the commit.
//! Managers, finance and auditors read revenue reports across all edge boxes
//! (`GET /api/v1/reports/revenue`). See docs/hq.md.
//!
//! - the upload format and its checks are `venue_wire::batch`, shared with the edge box;
//! - [`encoding`]: content type, zstd, size limits;
//! - [`store`]: SQLite and PostgreSQL;
//! - [`report`]: the revenue report;
//! - [`http`]: the server and its routes;
//! - [`role`]: what a token may do; [`auth`]: tokens and their digests;
//! - [`audit`]: whether an edge box's audit chain heads belong to one growing chain;
//! - [`metrics`], [`error`].

pub mod audit;
pub mod auth;
pub mod encoding;
pub mod error;
pub mod http;
pub mod metrics;
pub mod report;
pub mod role;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::store::{DatabaseConfig, Store};

/// The default `--max-batch-bytes`: 64 MiB.
pub const MAX_BATCH_BYTES_DEFAULT: usize = 64 * 1024 * 1024;

/// What `venue-hq serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub database: DatabaseConfig,
    /// Where to listen, e.g. `0.0.0.0:8443` or `127.0.0.1:0`.
    pub http: String,
    pub max_batch_bytes: usize,
    /// HTTPS instead of HTTP.
    pub tls: Option<tls::TlsFiles>,
}

/// A running server.
pub struct Running {
    /// The address actually bound.
    pub addr: SocketAddr,
    pub database: &'static str,
    /// Serving HTTPS.
    pub tls: bool,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets requests in progress finish (a batch being stored is
    /// committed and answered), then returns.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}

/// Opens the database and starts serving HTTP.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    let store = Store::open(&options.database)
        .await
        .context("opening the database")?;
    let edges = store.edges().await.context("reading the edge boxes")?;
    let listener = tokio::net::TcpListener::bind(&options.http)
        .await
        .with_context(|| format!("cannot listen on {}", options.http))?;
    let addr = listener.local_addr()?;
    let database = store.kind();
    let app = Arc::new(http::App {
        store,
        tokens: auth::TokenCache::default(),
        metrics: metrics::Metrics::with_edges(
            edges
                .into_iter()
                .filter_map(|e| Some((e.edge_id, e.last_batch_seq?))),
        ),
        max_batch_bytes: options.max_batch_bytes,
    });
    let shutdown = CancellationToken::new();
    let tls = match &options.tls {
        Some(files) => Some(tls::acceptor(files)?),
        None => None,
    };
    let server = tokio::spawn(http::serve(listener, app, tls, shutdown.clone()));
    tracing::info!(%addr, database, "venue-hq: serving");
    Ok(Running {
        addr,
        database,
        tls: options.tls.is_some(),
        shutdown,
        server,
    })
}
