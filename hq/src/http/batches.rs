//! `POST /api/v1/batches`: an edge box uploads a batch of records. Checked in this order:
//! token (401), edge token of the edge box named by `Venue-Edge-Id` (403), headers (400;
//! `Venue-Audit-Head`, the box's audit chain head, is optional but checked when sent),
//! content type and encoding (415), size (413), every line (400). Only then is it stored,
//! in one transaction, and answered `{"accepted":n,"duplicates":m}` after the commit.

use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;

use super::router::Call;
use super::{App, Reply, json_reply};
use crate::auth::Role;
use crate::encoding::{self, too_large};
use crate::error::ApiError;
use crate::store::Ingested;
use venue_wire::batch;

/// The longest edge id, in bytes.
pub const EDGE_ID_BYTES_MAX: usize = 128;

pub async fn upload(app: &App, call: Call) -> Result<Reply, ApiError> {
    let started = Instant::now();
    match receive(app, call).await {
        Ok((edge_id, seq, outcome)) => {
            let took = started.elapsed();
            app.metrics.batch(&edge_id, seq, &outcome, took);
            tracing::debug!(
                edge = %edge_id, batch = seq, accepted = outcome.accepted,
                duplicates = outcome.duplicates, replayed = outcome.replayed,
                ms = took.as_millis() as u64, "batch stored"
            );
            Ok(json_reply(
                StatusCode::OK,
                &serde_json::json!({ "accepted": outcome.accepted, "duplicates": outcome.duplicates }),
            ))
        }
        Err(e) => {
            app.metrics.refused();
            if e.status < 500 {
                tracing::info!(status = e.status, code = %e.code, message = %e.message, "batch refused");
            }
            Err(e)
        }
    }
}

async fn receive(app: &App, call: Call) -> Result<(String, i64, Ingested), ApiError> {
    let Role::Edge(token_edge) = &call.role else {
        return Err(ApiError::forbidden(format!(
            "only an edge token uploads batches; this request used {}",
            call.role.describe()
        )));
    };
    let edge_id = edge_id(call.header("venue-edge-id"))?;
    if edge_id != *token_edge {
        return Err(ApiError::forbidden(format!(
            "this token belongs to edge box {token_edge:?}, not to Venue-Edge-Id {edge_id:?}"
        )));
    }
    let seq = batch_seq(call.header("venue-batch-seq"))?;
    let audit_head = call
        .header(venue_wire::audit::HEADER)
        .map(venue_wire::audit::Head::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("bad_header", e))?;
    encoding::check_content_type(call.header("content-type"))?;
    let encoding = encoding::parse_encoding(call.header("content-encoding"))?;
    let max = app.max_batch_bytes;
    let declared = call
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let body = match Limited::new(call.body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large(max)),
        Err(e) => {
            return Err(ApiError::bad_request(
                "bad_body",
                format!("cannot read the request body: {e}"),
            ));
        }
    };
    let parse_edge = edge_id.clone();
    let batch = tokio::task::spawn_blocking(move || {
        let ndjson = encoding::decode(body, encoding, max)?;
        let mut batch = batch::parse(&parse_edge, seq, &ndjson)
            .map_err(|e| ApiError::bad_request("bad_record", e.to_string()))?;
        batch.audit_head = audit_head;
        Ok::<_, ApiError>(batch)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the batch parser failed: {e}")))??;
    // Stored on a task of its own: a client that hangs up mid-way cannot cut a transaction
    // short, and the answer is sent only after the commit.
    let store = app.store.clone();
    let outcome = tokio::spawn(async move { store.ingest(batch).await })
        .await
        .map_err(|e| ApiError::internal(format!("storing the batch failed: {e}")))??;
    Ok((edge_id, seq, outcome))
}

fn edge_id(header: Option<&str>) -> Result<String, ApiError> {
    let Some(id) = header.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad_request(
            "missing_header",
            "the Venue-Edge-Id header (this edge box's id) is required",
        ));
    };
    let fine = id.len() <= EDGE_ID_BYTES_MAX
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !fine {
        return Err(ApiError::bad_request(
            "bad_header",
            format!(
                "Venue-Edge-Id {id:?} must be 1 to {EDGE_ID_BYTES_MAX} characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"
            ),
        ));
    }
    Ok(id.to_owned())
}

fn batch_seq(header: Option<&str>) -> Result<i64, ApiError> {
    let Some(text) = header.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad_request(
            "missing_header",
            "the Venue-Batch-Seq header (the batch's number) is required",
        ));
    };
    text.parse::<u64>()
        .ok()
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_header",
                format!(
                    "Venue-Batch-Seq {text:?} is not a whole number from 0 to {}",
                    i64::MAX
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked() {
        assert_eq!(edge_id(Some("edge-main")).unwrap(), "edge-main");
        assert_eq!(edge_id(None).unwrap_err().code, "missing_header");
        assert_eq!(edge_id(Some("edge main")).unwrap_err().code, "bad_header");
        assert_eq!(batch_seq(Some("42")).unwrap(), 42);
        assert_eq!(batch_seq(None).unwrap_err().code, "missing_header");
        for bad in ["-1", "x", "18446744073709551615"] {
            assert_eq!(
                batch_seq(Some(bad)).unwrap_err().code,
                "bad_header",
                "{bad}"
            );
        }
    }
}
