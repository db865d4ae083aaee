//! One code, one day (`GET /api/v1/reports/visitor?code=[&date=]`): where a park runs a
//! one-code wallet, its POS terminals name the ticket a visitor paid with (`ticket_code`,
//! contract 1.1.0). This report lays out that ticket's business day in order of time:
//! its admitted entries and exits, its purchases, and what was given back of them, with
//! the day's spend.
//!
//! The day is the ticket's visit date unless `date` names another. The spend is the day's
//! purchases less their refunds and voids, whenever those came; it is summed from the
//! events listed and checked against the journal's own running figures before it is
//! answered.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::ReportError;
use crate::error::DomainError;
use venue_model::BusinessDate;
use venue_model::clock::parse_rfc3339;

/// `?code=...` (required) and `?date=YYYY-MM-DD` (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorQuery {
    pub code: String,
    pub date: Option<BusinessDate>,
}

/// Longest ticket code looked up.
const CODE_BYTES_MAX: usize = 128;

impl VisitorQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<VisitorQuery, ReportError> {
        let bad = ReportError::BadQuery;
        let (mut code, mut date) = (None, None);
        for (key, value) in pairs {
            match key.as_str() {
                "code" => {
                    let v = value.trim();
                    if v.is_empty() || v.len() > CODE_BYTES_MAX {
                        return Err(bad(format!(
                            "code must be a ticket code of 1 to {CODE_BYTES_MAX} bytes"
                        )));
                    }
                    code = Some(v.to_string());
                }
                "date" => {
                    date = Some(BusinessDate::parse(value).map_err(|e| bad(format!("date: {e}")))?)
                }
                "lang" => {}
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; the report takes code and date"
                    )));
                }
            }
        }
        let code = code.ok_or_else(|| bad("code is required: a ticket's code".into()))?;
        Ok(VisitorQuery { code, date })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitorDay {
    pub code: String,
    pub ticket_id: String,
    pub product: String,
    pub date: BusinessDate,
    pub entries: i64,
    pub exits: i64,
    pub purchases: i64,
    /// Purchases less what was refunded or voided of them.
    pub spend_fen: i64,
    pub events: Vec<Event>,
}

/// One thing that happened to the ticket that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at: String,
    /// `entry`, `exit`, `purchase`, `refund` or `void`.
    pub kind: &'static str,
    /// Entries and exits: the area and the gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Purchases, refunds and voids: the POS event, its merchant and amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// What the event adds to the day's spend (negative for a refund or void).
    pub spend_fen: i64,
}

/// A purchase and what later events took back of it, as the journal keeps them.
struct Purchase {
    event_id: String,
    total_fen: i64,
    refunded_fen: i64,
    voided: bool,
}

/// The ticket's day, or 404 `unknown_ticket` when the code is no ticket of this box.
pub fn visitor_day(conn: &Connection, query: &VisitorQuery) -> Result<VisitorDay, DomainError> {
    let sql = |e: rusqlite::Error| ReportError::Store(e.to_string());
    let ticket: Option<(String, String, BusinessDate)> = conn
        .query_row(
            "SELECT ticket_id, product, visit_date FROM tickets WHERE code = ?1",
            params![query.code],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(sql)?;
    let Some((ticket_id, product, visit_date)) = ticket else {
        return Err(DomainError::not_found(
            "unknown_ticket",
            format!("no ticket has the code {:?}", query.code),
        ));
    };
    let date = query.date.unwrap_or(visit_date);
    let mut events: Vec<(DateTime<FixedOffset>, Event)> = Vec::new();
    let at = |s: String| -> Result<(DateTime<FixedOffset>, String), ReportError> {
        let t = parse_rfc3339(&s)
            .ok_or_else(|| ReportError::Store(format!("a journaled time is not RFC 3339: {s}")))?;
        Ok((t, s))
    };

    let mut scans = conn
        .prepare_cached(
            "SELECT at, direction, area, device FROM scans
             WHERE ticket_id = ?1 AND business_date = ?2 AND admitted = 1",
        )
        .map_err(sql)?;
    let mut rows = scans.query(params![ticket_id, date]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let (t, s) = at(r.get(0).map_err(sql)?)?;
        let entering = r.get::<_, String>(1).map_err(sql)? == "in";
        events.push((
            t,
            Event {
                at: s,
                kind: if entering { "entry" } else { "exit" },
                area: Some(r.get(2).map_err(sql)?),
                device: Some(r.get(3).map_err(sql)?),
                event_id: None,
                merchant: None,
                spend_fen: 0,
            },
        ));
    }

    let mut purchases: Vec<Purchase> = Vec::new();
    let mut sales = conn
        .prepare_cached(
            "SELECT event_id, merchant, at, total_fen, refunded_fen, voided FROM sales
             WHERE ticket_code = ?1 AND business_date = ?2 AND kind = 'sale'",
        )
        .map_err(sql)?;
    let mut rows = sales.query(params![query.code, date]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let p = Purchase {
            event_id: r.get(0).map_err(sql)?,
            total_fen: r.get(3).map_err(sql)?,
            refunded_fen: r.get(4).map_err(sql)?,
            voided: r.get::<_, i64>(5).map_err(sql)? != 0,
        };
        let (t, s) = at(r.get(2).map_err(sql)?)?;
        events.push((
            t,
            Event {
                at: s,
                kind: "purchase",
                area: None,
                device: None,
                event_id: Some(p.event_id.clone()),
                merchant: Some(r.get(1).map_err(sql)?),
                spend_fen: p.total_fen,
            },
        ));
        purchases.push(p);
    }

    // What was given back of those purchases, on whatever day it was.
    let mut backs = conn
        .prepare_cached(
            "SELECT event_id, merchant, at, kind, total_fen FROM sales
             WHERE refers_to = ?1 AND kind IN ('refund', 'void')",
        )
        .map_err(sql)?;
    for p in &purchases {
        let mut rows = backs.query(params![p.event_id]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let kind: String = r.get(3).map_err(sql)?;
            let (t, s) = at(r.get(2).map_err(sql)?)?;
            let (kind, spend_fen) = if kind == "void" {
                ("void", -p.total_fen)
            } else {
                ("refund", -r.get::<_, i64>(4).map_err(sql)?)
            };
            events.push((
                t,
                Event {
                    at: s,
                    kind,
                    area: None,
                    device: None,
                    event_id: Some(r.get(0).map_err(sql)?),
                    merchant: Some(r.get(1).map_err(sql)?),
                    spend_fen,
                },
            ));
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.kind.cmp(b.1.kind)));
    let events: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();

    let spend_fen = spend_of(&events)?;
    let journal_fen = purchases.iter().try_fold(0i64, |sum, p| {
        let kept = if p.voided {
            0
        } else {
            p.total_fen - p.refunded_fen
        };
        sum.checked_add(kept)
    });
    if journal_fen != Some(spend_fen) {
        return Err(ReportError::Store(format!(
            "ticket {}'s spend on {date}: its events sum to {spend_fen} fen, its purchases' running figures to {journal_fen:?}",
            query.code
        ))
        .into());
    }
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count() as i64;
    Ok(VisitorDay {
        code: query.code.clone(),
        ticket_id,
        product,
        date,
        entries: count("entry"),
        exits: count("exit"),
        purchases: count("purchase"),
        spend_fen,
        events,
    })
}

/// The day's spend: the sum of what each event adds.
fn spend_of(events: &[Event]) -> Result<i64, ReportError> {
    events
        .iter()
        .try_fold(0i64, |sum, e| sum.checked_add(e.spend_fen))
        .ok_or(ReportError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_is_parsed_at_the_door() {
        let date = BusinessDate::parse("2026-11-25").unwrap();
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<VisitorQuery, &'a str>);
        let cases: &[Case] = &[
            (
                &[("code", "T-8F2K")],
                Ok(VisitorQuery {
                    code: "T-8F2K".into(),
                    date: None,
                }),
            ),
            (
                &[("code", " T-8F2K "), ("date", "2026-11-25")],
                Ok(VisitorQuery {
                    code: "T-8F2K".into(),
                    date: Some(date),
                }),
            ),
            (&[], Err("code is required: a ticket's code")),
            (
                &[("code", "")],
                Err("code must be a ticket code of 1 to 128 bytes"),
            ),
            (&[("code", "T"), ("date", "2026-11-5")], Err("date: ")),
            (
                &[("code", "T"), ("from", "2026-11-25")],
                Err("unknown parameter \"from\"; the report takes code and date"),
            ),
        ];
        for (input, want) in cases {
            let got = VisitorQuery::parse(&pairs(input));
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g, w, "{input:?}"),
                (Err(ReportError::BadQuery(g)), Err(w)) => {
                    assert!(
                        g.starts_with(w),
                        "{input:?}: {g:?} does not start with {w:?}"
                    )
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_spend_sums_what_each_event_adds() {
        let ev = |kind: &'static str, spend_fen: i64| Event {
            at: String::new(),
            kind,
            area: None,
            device: None,
            event_id: None,
            merchant: None,
            spend_fen,
        };
        type Case = (&'static [(&'static str, i64)], Result<i64, ()>);
        let cases: &[Case] = &[
            (&[], Ok(0)),
            (&[("entry", 0), ("purchase", 3600), ("exit", 0)], Ok(3600)),
            (
                &[("purchase", 3600), ("refund", -1800), ("purchase", 900)],
                Ok(2700),
            ),
            (&[("purchase", 3600), ("void", -3600)], Ok(0)),
            (&[("purchase", i64::MAX), ("purchase", 1)], Err(())),
        ];
        for (list, want) in cases {
            let events: Vec<Event> = list.iter().map(|(k, f)| ev(k, *f)).collect();
            assert_eq!(spend_of(&events).map_err(|_| ()), *want, "{list:?}");
        }
    }
}
