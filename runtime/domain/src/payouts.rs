//! Paying a bill (settlement.md, Paying): the party's payment-connector plugin turns the
//! payout into the provider's request, the host performs it (only to the hosts the
//! manifest lists), and the provider's answer is recorded on the bill.
//!
//! - The payout id is the idempotency key the provider sees.
//! - A timeout is resolved by asking the provider for the payout's status, never by paying
//!   again; a bill that stays `paying` is resolved the same way by the next `pay` call.
//! - Only a definite failure allows a new attempt (a new payout id): never two payments.
//! - Whoever approved a bill cannot pay it.

use std::time::Duration;
use venue_model::contract::{BillStatus, PayoutState};
use venue_model::money::Fen;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::DomainError;
use crate::ledger::{self, Leg};
use crate::settlement::settle::{self, BillView};
use crate::venue::Venue;
use venue_plugin_host::bindings::types::Payout;
use venue_plugin_host::connector::{HttpRequest, HttpResponse, PayoutStatus};
use venue_plugin_host::{Loaded, PluginHost};
use venue_store::Store;

/// How long the host waits for the provider's answer before asking for the status.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);
/// A provider's response body at most.
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024;
/// The venue's account payouts leave from, in the ledger.
pub const VENUE_BANK_ACCOUNT: &str = "bank:venue";

/// What a pay call starts from.
struct Attempt {
    payout: Payout,
    connector: String,
    fresh: bool,
}

/// Pays (or resolves the pending payment of) a bill.
pub async fn pay(
    venue: &Venue,
    store: &Store,
    plugins: &PluginHost,
    bill_id: &str,
    payer: &crate::actor::Actor,
) -> Result<BillView, DomainError> {
    let attempt = {
        let (venue_cfg, id, payer) = (venue_clone(venue), bill_id.to_owned(), payer.to_owned());
        store
            .write(move |c| start(c, &venue_cfg, &id, &payer))
            .await?
    };
    let connector = plugins.get(&attempt.connector)?;
    let outcome = if attempt.fresh {
        match send(&connector, &connector.build_payout(&attempt.payout).await?).await {
            Ok(response) => connector.read_response(&attempt.payout, &response).await?,
            Err(e) => {
                tracing::warn!(payout = %attempt.payout.payout_id, error = %e, "payout request unanswered; asking for its status");
                status_of(&connector, &attempt.payout).await?
            }
        }
    } else {
        status_of(&connector, &attempt.payout).await?
    };
    // The provider has never seen this payout (the request never arrived): send it again,
    // with the same payout id, so at most one payment can result.
    let outcome = match outcome {
        PayoutStatus::Unknown => {
            match send(&connector, &connector.build_payout(&attempt.payout).await?).await {
                Ok(response) => connector.read_response(&attempt.payout, &response).await?,
                Err(_) => PayoutStatus::Pending,
            }
        }
        other => other,
    };
    let now = venue.clock.now_rfc3339();
    let payout_id = attempt.payout.payout_id.clone();
    let id = bill_id.to_owned();
    store
        .write(move |c| finish(c, &id, &payout_id, outcome, &now))
        .await
}

fn venue_clone(v: &Venue) -> VenueFacts {
    VenueFacts {
        parties: v
            .config
            .parties
            .iter()
            .map(|p| (p.id.clone(), p.account.clone(), p.connector.clone()))
            .collect(),
        now: v.clock.now_rfc3339(),
    }
}

/// The parts of the venue the store job needs.
struct VenueFacts {
    parties: Vec<(String, String, Option<String>)>,
    now: String,
}

async fn status_of(connector: &Loaded, payout: &Payout) -> Result<PayoutStatus, DomainError> {
    match send(connector, &connector.build_status_query(payout).await?).await {
        Ok(response) => Ok(connector.read_response(payout, &response).await?),
        Err(e) => {
            tracing::warn!(payout = %payout.payout_id, error = %e, "payout status unanswered; the bill stays paying");
            Ok(PayoutStatus::Pending)
        }
    }
}

/// Opens (or reopens) a payout attempt in one store job.
fn start(
    c: &Connection,
    venue: &VenueFacts,
    bill_id: &str,
    payer: &crate::actor::Actor,
) -> Result<Attempt, DomainError> {
    let bill = settle::load_bill(c, bill_id)?
        .ok_or_else(|| DomainError::not_found("bill_not_found", format!("no bill {bill_id}")))?;
    if bill.approved_by.as_deref() == Some(payer.user.as_str()) {
        return Err(DomainError::forbidden(format!(
            "{} approved bill {bill_id} and cannot also pay it",
            payer.user
        )));
    }
    let Some((_, account, connector)) = venue
        .parties
        .iter()
        .find(|(id, _, _)| *id == bill.party)
        .cloned()
    else {
        return Err(DomainError::rule(
            "unknown_party",
            format!("party {} is not in the venue config", bill.party),
        ));
    };
    let Some(connector) = connector else {
        return Err(DomainError::rule(
            "no_connector",
            format!("party {} has no payment connector configured", bill.party),
        ));
    };
    let last: Option<(String, i64, PayoutState)> = c
        .prepare_cached("SELECT payout_id, attempt, status FROM payouts WHERE bill_id = ?1 ORDER BY attempt DESC LIMIT 1")?
        .query_row(params![bill_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let payout = |payout_id: String| Payout {
        payout_id,
        bill_id: bill_id.to_owned(),
        party: bill.party.clone(),
        amount_fen: bill.amounts.payable_fen.get(),
        account: account.clone(),
        memo: format!(
            "Venue Edge settlement {} {}..{}",
            bill.bill_id, bill.period_start, bill.period_end
        ),
    };
    match bill.status {
        // A payment under way is resolved, never repeated.
        BillStatus::Paying => {
            let Some((payout_id, _, _)) = last else {
                return Err(DomainError::internal(format!(
                    "bill {bill_id} is paying without a payout"
                )));
            };
            return Ok(Attempt {
                payout: payout(payout_id),
                connector,
                fresh: false,
            });
        }
        BillStatus::Approved | BillStatus::Failed => {}
        other => {
            return Err(DomainError::conflict(
                "bill_not_payable",
                format!("bill {bill_id} is {other}; only approved or failed bills are paid"),
            ));
        }
    }
    if bill.amounts.payable_fen <= Fen::ZERO {
        return Err(DomainError::rule(
            "nothing_to_pay",
            format!("bill {bill_id} has nothing payable"),
        ));
    }
    if account.is_empty() {
        return Err(DomainError::rule(
            "no_account",
            format!("party {} has no bank account configured", bill.party),
        ));
    }
    let attempt = last.map(|(_, n, _)| n + 1).unwrap_or(1);
    let payout_id = format!("{bill_id}-p{attempt}");
    c.prepare_cached(
        "INSERT INTO payouts (payout_id, bill_id, attempt, amount_fen, account, status, requested_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![payout_id, bill_id, attempt, bill.amounts.payable_fen, account, PayoutState::Requested, payer.user, venue.now])?;
    c.prepare_cached("UPDATE bills SET status = 'paying', updated_at = ?2 WHERE bill_id = ?1")?
        .execute(params![bill_id, venue.now])?;
    crate::audit::append(
        c,
        &venue.now,
        payer,
        "bill.pay",
        bill_id,
        &format!("payout {payout_id} of {} fen", bill.amounts.payable_fen),
    )?;
    queue_payout(c, &payout_id)?;
    settle::queue_bill(c, bill_id)?;
    Ok(Attempt {
        payout: payout(payout_id),
        connector,
        fresh: true,
    })
}

/// Records the provider's answer on the payout and the bill.
fn finish(
    c: &Connection,
    bill_id: &str,
    payout_id: &str,
    outcome: PayoutStatus,
    now: &str,
) -> Result<BillView, DomainError> {
    let (payout_status, bill_status, reference, reason) = match &outcome {
        PayoutStatus::Succeeded(r) => (
            PayoutState::Succeeded,
            BillStatus::Paid,
            Some(r.clone()),
            None,
        ),
        PayoutStatus::Failed(r) => (
            PayoutState::Failed,
            BillStatus::Failed,
            None,
            Some(r.clone()),
        ),
        PayoutStatus::Pending | PayoutStatus::Unknown => {
            (PayoutState::Pending, BillStatus::Paying, None, None)
        }
    };
    c.prepare_cached("UPDATE payouts SET status = ?2, provider_ref = ?3, reason = ?4, updated_at = ?5 WHERE payout_id = ?1")?
        .execute(params![payout_id, payout_status, reference, reason, now])?;
    c.prepare_cached("UPDATE bills SET status = ?2, updated_at = ?3 WHERE bill_id = ?1")?
        .execute(params![bill_id, bill_status, now])?;
    if let PayoutStatus::Succeeded(_) = outcome {
        let bill = settle::load_bill(c, bill_id)?
            .ok_or_else(|| DomainError::internal("a bill vanished"))?;
        let legs = [
            Leg::debit(format!("payable:{}", bill.party), bill.amounts.payable_fen),
            Leg::credit(VENUE_BANK_ACCOUNT, bill.amounts.payable_fen),
        ];
        ledger::post(
            c,
            ledger::Fact::new("payout", payout_id),
            now,
            day_of(now)?,
            "payout",
            &legs,
        )
        .map_err(|e| DomainError::internal(e.to_string()))?;
    }
    crate::audit::append(
        c,
        now,
        &crate::actor::Actor::system("bank"),
        &format!("payout.{payout_status}"),
        bill_id,
        &reason.unwrap_or_default(),
    )?;
    queue_payout(c, payout_id)?;
    settle::queue_bill(c, bill_id)?.ok_or_else(|| DomainError::internal("a bill vanished"))
}

/// The business day of a time the box wrote (RFC 3339 in the venue's offset).
fn day_of(stamp: &str) -> Result<venue_model::BusinessDate, DomainError> {
    venue_model::clock::parse_rfc3339(stamp)
        .map(|t| venue_model::BusinessDate::from_naive(t.date_naive()))
        .ok_or_else(|| {
            DomainError::internal(format!("a stored time that is not RFC 3339: {stamp:?}"))
        })
}

/// Queues a payout's current state for HQ (one record per status it reaches).
fn queue_payout(c: &Connection, payout_id: &str) -> Result<(), DomainError> {
    let row = c
        .prepare_cached(
            "SELECT bill_id, attempt, amount_fen, account, status, provider_ref, reason, requested_by, created_at, updated_at
             FROM payouts WHERE payout_id = ?1",
        )?
        .query_row(params![payout_id], |r| {
            Ok(serde_json::json!({
                "payout_id": payout_id, "bill_id": r.get::<_, String>(0)?, "attempt": r.get::<_, i64>(1)?,
                "amount_fen": r.get::<_, i64>(2)?, "account": r.get::<_, String>(3)?,
                "status": r.get::<_, PayoutState>(4)?, "provider_ref": r.get::<_, Option<String>>(5)?,
                "reason": r.get::<_, Option<String>>(6)?, "requested_by": r.get::<_, String>(7)?,
                "created_at": r.get::<_, String>(8)?, "updated_at": r.get::<_, String>(9)?,
            }))
        })?;
    let status = row["status"].as_str().unwrap_or_default().to_owned();
    let at = row["updated_at"].as_str().unwrap_or_default().to_owned();
    crate::outbox::push(
        c,
        crate::outbox::Kind::Payout,
        &format!("{payout_id}:{status}"),
        day_of(&at)?,
        &at,
        &row,
    )?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0} is not in the connector's allowed_hosts")]
    NotAllowed(String),
    #[error("bad request from the connector: {0}")]
    Bad(String),
    #[error("no answer within {PROVIDER_TIMEOUT:?}")]
    Timeout,
    #[error("transport: {0}")]
    Transport(String),
}

/// Performs a connector's request, only to a host its manifest allows.
async fn send(connector: &Loaded, req: &HttpRequest) -> Result<HttpResponse, SendError> {
    let uri: hyper::Uri = req
        .url
        .parse()
        .map_err(|e| SendError::Bad(format!("url {:?}: {e}", req.url)))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") if connector.manifest.ca_file.is_some() => {}
        Some("https") => {
            return Err(SendError::Bad(format!(
                "{:?} is https:// but the connector's manifest names no ca_file (the CA that alone is trusted for its hosts)",
                req.url
            )));
        }
        _ => {
            return Err(SendError::Bad(format!(
                "only http:// and https:// URLs are supported, not {:?}",
                req.url
            )));
        }
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    if !connector.manifest.allowed_hosts.contains(&authority) {
        return Err(SendError::NotAllowed(authority));
    }
    let method = hyper::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| SendError::Bad(e.to_string()))?;
    let mut builder = hyper::Request::builder().method(method).uri(uri);
    for h in &req.headers {
        builder = builder.header(h.name.as_str(), h.value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| SendError::Bad(e.to_string()))?;
    let client = crate::https::pinned_client(
        connector.manifest.ca_file.as_deref(),
        &format!("plugin {} ca_file", connector.manifest.id),
    )
    .map_err(SendError::Bad)?;
    let response = tokio::time::timeout(PROVIDER_TIMEOUT, client.request(request))
        .await
        .map_err(|_| SendError::Timeout)?
        .map_err(|e| SendError::Transport(crate::https::error_chain(&e)))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| venue_plugin_host::connector::Header {
            name: k.to_string(),
            value: v.to_str().unwrap_or("").to_owned(),
        })
        .collect();
    let body = tokio::time::timeout(
        PROVIDER_TIMEOUT,
        Limited::new(response.into_body(), RESPONSE_BYTES_MAX).collect(),
    )
    .await
    .map_err(|_| SendError::Timeout)?
    .map_err(|e| SendError::Transport(e.to_string()))?
    .to_bytes()
    .to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
