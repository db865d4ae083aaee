//! The HTTP API of the edge box (protocol.md, section 2): JSON over HTTP/1.1 with
//! keep-alive, bearer tokens, errors as `{"error":{"code","message"}}`.

mod admin;
mod console;
mod finance;
mod router;
pub use router::ROUTES;
mod session;
mod ticketing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, SignInLimiter};
use crate::metrics::Metrics;
use venue_bus::Bus;
use venue_domain::error::{DomainError, ErrorKind};
use venue_domain::ticketing::WhitelistChange;
use venue_domain::venue::SharedVenue;
use venue_plugin_host::PluginHost;
use venue_store::Store;

/// A JSON request body at most. An order for a large tour group is well under this.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// A plugin upload (`PUT /api/v1/plugins/{id}`) at most.
pub const PLUGIN_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Connections served at once at most; more wait in the listen backlog.
pub const CONNECTIONS_MAX: usize = 1024;
/// A request's headers must arrive within this, or the connection is closed: a client that
/// opens connections and sends half a request holds nothing for long.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A request's body must arrive within this (408 otherwise).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What request handlers share.
pub struct Api {
    pub venue: SharedVenue,
    pub store: Store,
    pub auth: Arc<Auth>,
    pub sign_ins: SignInLimiter,
    pub plugins: Arc<PluginHost>,
    pub whitelist: mpsc::Sender<Vec<WhitelistChange>>,
    pub metrics: Arc<Metrics>,
    pub bus: Bus,
    pub plugin_dir: std::path::PathBuf,
    pub started: Instant,
    pub uplink: Arc<crate::uplink::UplinkState>,
    /// Served over HTTPS: session cookies are `Secure`.
    pub tls: bool,
    /// The newest alerts, for the console.
    pub alerts: Arc<crate::alerts::Recent>,
}

pub type Reply = Response<Full<Bytes>>;

/// Serves until `shutdown` (over TLS with `tls`); then stops accepting and lets open
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    api: Arc<Api>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        let (stream, peer) = tokio::select! {
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
        let api = api.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            match tls {
                None => serve_connection(stream, api, peer, shutdown).await,
                // The handshake, like the headers, must come within the header timeout.
                Some(acceptor) => {
                    match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, api, peer, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "https: handshake failed"),
                        Err(_) => tracing::debug!(%peer, "https: handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// One connection, plain or TLS, until it ends or `shutdown`.
async fn serve_connection<I>(io: I, api: Arc<Api>, peer: SocketAddr, shutdown: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let api = api.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(api, req, peer).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => { if let Err(e) = r { tracing::debug!(error = %e, "http connection ended"); } }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle(api: Arc<Api>, req: Request<Incoming>, peer: SocketAddr) -> Reply {
    let reply = match router::route(&api, req, peer).await {
        Ok(reply) => reply,
        Err(e) => error_reply(&e),
    };
    api.metrics.http_response(reply.status().as_u16());
    reply
}

pub fn json_reply<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(
            Response::new(Full::new(Bytes::from(body))),
            status,
            "application/json",
        ),
        Err(e) => error_reply(&DomainError::internal(format!(
            "cannot encode the response: {e}"
        ))),
    }
}

pub fn error_reply(e: &DomainError) -> Reply {
    let body = serde_json::json!({ "error": { "code": e.code, "message": e.message } });
    let status = status_of(e.kind);
    with_type(
        Response::new(Full::new(Bytes::from(body.to_string()))),
        status,
        "application/json",
    )
}

/// The one place a domain error becomes an HTTP status (protocol.md, section 2).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::NotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Plugin => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

pub fn bytes_reply(status: StatusCode, body: Vec<u8>, content_type: &str) -> Reply {
    with_type(
        Response::new(Full::new(Bytes::from(body))),
        status,
        content_type,
    )
}

fn with_type(mut r: Reply, status: StatusCode, content_type: &str) -> Reply {
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// Reads a body of at most `max` bytes.
pub async fn read_body(body: Incoming, max: usize) -> Result<Bytes, DomainError> {
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max).collect()).await;
    let Ok(read) = read else {
        return Err(DomainError::new(
            ErrorKind::Timeout,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        ));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(DomainError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            format!("the request body is larger than {max} bytes"),
        )),
        Err(e) => Err(DomainError::bad_request(
            "bad_body",
            format!("cannot read the request body: {e}"),
        )),
    }
}

/// Parses a JSON body, naming the problem (line, column, field) when it is malformed.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DomainError> {
    serde_json::from_slice(body).map_err(|e| {
        DomainError::bad_request("bad_json", format!("the request body is not valid: {e}"))
    })
}
