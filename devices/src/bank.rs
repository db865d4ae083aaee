//! A payout-bank simulator: the HTTP API the `bank-transfer` connector speaks, over HTTP
//! or HTTPS ([`start_tls`]).
//!
//! ```text
//! POST /payouts              {"payout_id","account","amount_fen","memo"}  (Idempotency-Key: payout_id)
//!   200 {"payout_id","status":"succeeded","reference"} | 422 {"payout_id","status":"failed","reason"}
//! GET  /payouts/{payout_id}  200 the same | 404 {"status":"unknown"}
//! POST /_control/accounts/{account}  {"mode":"ok"|"fail"|"slow"|"timeout","reason":"..."}
//! GET  /_control/payments    every payment made, for tests
//! ```
//! A payout id is paid at most once: a repeated request gets the first answer. `slow`
//! answers after 2 s; `timeout` pays, then answers only after 30 s (longer than any caller
//! waits), so the caller must ask for the status.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

const BODY_BYTES_MAX: usize = 64 * 1024;
const SLOW: Duration = Duration::from_secs(2);
const HANG: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub payout_id: String,
    pub account: String,
    pub amount_fen: i64,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Mode {
    mode: String,
    #[serde(default)]
    reason: String,
}

#[derive(Default)]
struct Bank {
    payouts: Mutex<HashMap<String, Payment>>,
    modes: Mutex<HashMap<String, Mode>>,
    /// Money actually moved: one entry per payout that succeeded.
    moved: Mutex<Vec<Payment>>,
}

/// Starts the simulator on `addr` (port 0 picks one); returns where it listens.
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    serve(addr, None).await
}

/// Starts the simulator serving HTTPS with the certificate chain and key of two PEM files.
pub async fn start_tls(
    addr: SocketAddr,
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
) -> std::io::Result<SocketAddr> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let certs = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|e| bad(&e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad(&e))?;
    serve(
        addr,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

async fn serve(
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let bank = Arc::new(Bank::default());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (bank, tls) = (bank.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let bank = bank.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(&bank, req).await) }
                });
                let http = http1::Builder::new();
                match tls {
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                    }
                    Some(acceptor) => {
                        // A client that does not trust the certificate ends here.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                }
            });
        }
    });
    Ok(local)
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(bank: &Bank, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let body = match Limited::new(body, BODY_BYTES_MAX).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error": "body too large"}),
            );
        }
    };
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match (&parts.method, p.as_slice()) {
        (&Method::POST, ["payouts"]) => pay(bank, &body).await,
        (&Method::GET, ["payouts", id]) => {
            match bank.payouts.lock().ok().and_then(|m| m.get(*id).cloned()) {
                Some(p) => reply(StatusCode::OK, serde_json::to_value(&p).unwrap_or_default()),
                None => reply(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"payout_id": id, "status": "unknown"}),
                ),
            }
        }
        (&Method::POST, ["_control", "accounts", account]) => {
            match serde_json::from_slice::<Mode>(&body) {
                Ok(mode) => {
                    if let Ok(mut m) = bank.modes.lock() {
                        m.insert(account.to_string(), mode);
                    }
                    reply(StatusCode::OK, serde_json::json!({"ok": true}))
                }
                Err(e) => reply(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": e.to_string()}),
                ),
            }
        }
        (&Method::GET, ["_control", "payments"]) => {
            let moved = bank.moved.lock().map(|m| m.clone()).unwrap_or_default();
            reply(
                StatusCode::OK,
                serde_json::to_value(&moved).unwrap_or_default(),
            )
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "no such endpoint"}),
        ),
    }
}

async fn pay(bank: &Bank, body: &[u8]) -> Response<Full<Bytes>> {
    let mut p: Payment = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": format!("bad payout: {e}")}),
            );
        }
    };
    if p.amount_fen <= 0 || p.payout_id.is_empty() || p.account.is_empty() {
        return reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "payout_id, account and a positive amount_fen are required"}),
        );
    }
    // Idempotency: a known payout id gets its first answer, and no money moves again.
    if let Some(seen) = bank
        .payouts
        .lock()
        .ok()
        .and_then(|m| m.get(&p.payout_id).cloned())
    {
        let status = if seen.status == "failed" {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return reply(status, serde_json::to_value(&seen).unwrap_or_default());
    }
    let mode = bank
        .modes
        .lock()
        .ok()
        .and_then(|m| m.get(&p.account).cloned())
        .unwrap_or_default();
    if mode.mode == "fail" {
        p.status = "failed".into();
        p.reason = Some(if mode.reason.is_empty() {
            "account closed".into()
        } else {
            mode.reason
        });
    } else {
        p.status = "succeeded".into();
        p.reference = Some(format!("BANK-{}", p.payout_id));
        if let Ok(mut moved) = bank.moved.lock() {
            moved.push(p.clone());
        }
    }
    if let Ok(mut m) = bank.payouts.lock() {
        m.insert(p.payout_id.clone(), p.clone());
    }
    match mode.mode.as_str() {
        "slow" => tokio::time::sleep(SLOW).await,
        "timeout" => tokio::time::sleep(HANG).await,
        _ => {}
    }
    let status = if p.status == "failed" {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    reply(status, serde_json::to_value(&p).unwrap_or_default())
}
