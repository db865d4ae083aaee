//! Admission: judge a scan against the ticket's product rules and its state, journal it,
//! and say what the turnstile must do (protocol.md, section 1).
//!
//! One scan is one store job: the replay check, the decision, the ticket's new state, the
//! area's presence count and the journal row commit together. A redelivered `event_id`
//! finds its journal row and gets the same verdict again, also after a restart.

mod presence;
mod rules;

pub use presence::presence;

pub use rules::judge;
pub use venue_model::alert::Alert;
pub use venue_model::scan::{Decision, Direction, Reason, Scan, Verdict};

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};

use crate::ticketing::WhitelistChange;
use crate::venue::Venue;

/// Where a scan came from.
#[derive(Debug, Clone)]
pub struct Lane {
    pub device: String,
    pub area: String,
    /// A real-name lane: real-name tickets need a matching ID number.
    pub realname: bool,
}

/// What admitting a scan produced.
#[derive(Debug)]
pub struct Admission {
    pub verdict: Verdict,
    /// The `event_id` was seen before: this is the journaled verdict, nothing changed.
    pub replay: bool,
    pub alerts: Vec<Alert>,
    pub whitelist: Vec<WhitelistChange>,
}

/// Judges and journals one scan at the box's time `now`. Runs inside a store job.
pub fn admit(
    conn: &Connection,
    venue: &Venue,
    lane: &Lane,
    scan: &Scan,
    received: Instant,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> rusqlite::Result<Admission> {
    if let Some(verdict) = journaled_verdict(conn, &lane.device, &scan.event_id)? {
        return Ok(Admission {
            verdict,
            replay: true,
            alerts: Vec::new(),
            whitelist: Vec::new(),
        });
    }
    let outcome = judge(conn, venue, lane, scan, now)?;
    let latency_us = received.elapsed().as_micros().min(i64::MAX as u128) as i64;
    let business_date = venue_model::clock::parse_rfc3339(&scan.at)
        .map(|at| venue.clock.business_date(&at))
        .unwrap_or_else(|| venue.clock.business_date(&now));
    let v = &outcome.verdict;
    conn.prepare_cached(
        "INSERT INTO scans (device, event_id, area, code, ticket_id, direction, at, business_date, count, offline,
                            decision, reason, admitted, entries_left, message, conflict, latency_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        lane.device,
        scan.event_id,
        lane.area,
        scan.code,
        v.ticket_id,
        scan.direction.as_str(),
        scan.at,
        business_date,
        scan.count,
        scan.offline,
        v.decision.as_str(),
        v.reason.as_str(),
        v.admitted,
        v.entries_left,
        v.message,
        outcome.conflict,
        latency_us,
    ])?;
    // The busiest fact: its outbox record points at the journal row, and the uplink reads
    // the scan from there when it sends it (off the writer, off the scan's commit).
    crate::outbox::push_journal_ref(
        conn,
        crate::outbox::Kind::Scan,
        &format!("{}:{}", lane.device, scan.event_id),
        business_date,
        &scan.at,
        "scans",
        conn.last_insert_rowid(),
    )?;
    let mut alerts = outcome.alerts;
    if outcome.conflict {
        alerts.push(Alert::new(
            "offline_conflict",
            venue.clock.now_rfc3339(),
            serde_json::json!({
                "device": lane.device, "event_id": scan.event_id, "ticket_id": v.ticket_id,
                "reason": v.reason.as_str(),
                "message": "a turnstile admitted offline a ticket the edge box would have denied",
            }),
        ));
    }
    Ok(Admission {
        verdict: outcome.verdict,
        replay: false,
        alerts,
        whitelist: outcome.whitelist,
    })
}

fn journaled_verdict(
    conn: &Connection,
    device: &str,
    event_id: &str,
) -> rusqlite::Result<Option<Verdict>> {
    conn.prepare_cached(
        "SELECT decision, reason, ticket_id, admitted, entries_left, message FROM scans WHERE device = ?1 AND event_id = ?2",
    )?
    .query_row(params![device, event_id], |r| {
        Ok(Verdict {
            event_id: event_id.to_owned(),
            decision: Decision::parse(&r.get::<_, String>(0)?),
            reason: Reason::parse(&r.get::<_, String>(1)?),
            ticket_id: r.get(2)?,
            admitted: r.get(3)?,
            entries_left: r.get(4)?,
            message: r.get(5)?,
        })
    })
    .optional()
}
