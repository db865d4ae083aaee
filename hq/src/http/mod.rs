//! The HTTP server: HTTP/1.1 with keep-alive, bearer tokens, JSON answers, errors as
//! `{"error":{"code","message"}}`. Routes are in [`router`].

mod batches;
mod reports;
mod router;
mod status;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::TokenCache;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::Store;

/// Connections served at once at most; more wait in the listen backlog.
pub const CONNECTIONS_MAX: usize = 1024;

/// What request handlers share.
pub struct App {
    pub store: Store,
    pub tokens: TokenCache,
    pub metrics: Metrics,
    /// The largest batch, compressed or decompressed, in bytes.
    pub max_batch_bytes: usize,
}

pub type Reply = Response<Full<Bytes>>;

/// Serves until `shutdown`; then stops accepting and lets open requests finish.
/// With `tls`, every connection is TLS (HTTPS) and a failed handshake just ends it.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, app, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "tls handshake failed"),
                        Err(_) => tracing::debug!("tls handshake timed out"),
                    }
                }
                None => serve_connection(stream, app, shutdown).await,
            }
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve_connection<S>(stream: S, app: Arc<App>, shutdown: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(app, req).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => { if let Err(e) = r { tracing::debug!(error = %e, "http connection ended"); } }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle(app: Arc<App>, req: Request<hyper::body::Incoming>) -> Reply {
    let reply = match router::route(&app, req).await {
        Ok(reply) => reply,
        Err(e) => error_reply(&e),
    };
    app.metrics.response(reply.status().as_u16());
    reply
}

pub fn json_reply<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => bytes_reply(status, body, "application/json"),
        Err(e) => error_reply(&ApiError::internal(format!(
            "cannot encode the answer: {e}"
        ))),
    }
}

pub fn error_reply(e: &ApiError) -> Reply {
    let body = serde_json::json!({ "error": { "code": e.code, "message": e.message } });
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    bytes_reply(status, body.to_string().into_bytes(), "application/json")
}

pub fn bytes_reply(status: StatusCode, body: Vec<u8>, content_type: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}
