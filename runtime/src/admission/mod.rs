//! Admission: judge a scan against the ticket's product rules and its state, journal it,
//! and say what the turnstile must do (protocol.md, section 1).
//!
//! One scan is one store job: the replay check, the decision, the ticket's new state, the
//! area's presence count and the journal row commit together. A redelivered `event_id`
//! finds its journal row and gets the same verdict again, also after a restart.

mod rules;
mod types;

pub use rules::judge;
pub use types::{Decision, Direction, Reason, Scan, Verdict};

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

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

/// An alert for `venue/{zone}/alerts`, published after the commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: String,
    pub at: String,
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    pub fn new(kind: &str, at: String, detail: serde_json::Value) -> Alert {
        let detail = match detail {
            serde_json::Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("detail".into(), other);
                map
            }
        };
        Alert {
            kind: kind.into(),
            at,
            detail,
        }
    }
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

/// Judges and journals one scan. Runs inside a store job.
pub fn admit(
    conn: &Connection,
    venue: &Venue,
    lane: &Lane,
    scan: &Scan,
    received: Instant,
) -> rusqlite::Result<Admission> {
    if let Some(verdict) = journaled_verdict(conn, &lane.device, &scan.event_id)? {
        return Ok(Admission {
            verdict,
            replay: true,
            alerts: Vec::new(),
            whitelist: Vec::new(),
        });
    }
    let outcome = judge(conn, venue, lane, scan)?;
    let latency_us = received.elapsed().as_micros().min(i64::MAX as u128) as i64;
    let business_date = venue_model::clock::parse_rfc3339(&scan.at)
        .map(|at| venue.clock.business_date(&at))
        .unwrap_or_else(|| venue.clock.today())
        .to_string();
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
        &business_date,
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

/// People inside an area now.
pub fn presence(conn: &Connection, area: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT inside FROM presence WHERE area = ?1")?
        .query_row(params![area], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}
