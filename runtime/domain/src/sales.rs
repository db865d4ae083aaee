//! The sales journal: sales, refunds and voids from POS terminals (protocol.md, section 1),
//! checked, journaled once per `event_id`, posted to the ledger, in one store job. The
//! terminal's ack is sent only after that job committed.
//!
//! An accepted message is one row of `sales` (its lines inside it), which is also what makes
//! a redelivery an answer instead of a second sale. A rejected message is journaled too (in
//! `pos_refusals`, with its reason), so a redelivery gets the same answer and the refusal
//! can be audited. Event ids are unique across terminals: the same id from a second
//! terminal is refused (`duplicate_event_id`), never a second sale.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub use venue_model::sale::{Ack, Sale, SaleKind, SaleLine};

use crate::ledger::{self, Leg};
use crate::venue::Venue;
use venue_model::BusinessDate;
use venue_model::clock::rfc3339;
use venue_model::money::Fen;

/// Lines one sale may carry at most.
pub const LINES_PER_SALE_MAX: usize = 500;
/// Quantity of one line at most (a typo guard: 10,000 cups of tea is a mistake).
pub const LINE_QTY_MAX: u32 = 10_000;

/// Marks a voided sale's revenue facts (`?1`: the sale's event id).
const VOID_FACTS: &str = "UPDATE revenue_facts SET voided = 1
    WHERE id BETWEEN (SELECT facts_first FROM sales WHERE event_id = ?1)
                 AND (SELECT facts_last FROM sales WHERE event_id = ?1)
      AND source = 'pos' AND fact_id = ?1";
/// A sale's revenue by category (`?1`: the sale's event id).
const SALE_FACTS: &str = "SELECT category, amount_fen FROM revenue_facts
    WHERE id BETWEEN (SELECT facts_first FROM sales WHERE event_id = ?1)
                 AND (SELECT facts_last FROM sales WHERE event_id = ?1)
      AND source = 'pos' AND fact_id = ?1 AND kind = 'sale'
    ORDER BY category";
/// What a refund or void needs to know of the sale it names (`?1`).
const ORIGINAL_SALE: &str =
    "SELECT s.rowid, merchant, business_date, total_fen, refunded_fen, voided,
        EXISTS (SELECT 1 FROM revenue_facts f JOIN bills b ON b.bill_id = f.bill_id
                WHERE f.id BETWEEN s.facts_first AND s.facts_last
                  AND f.source = 'pos' AND f.fact_id = s.event_id AND b.status != 'draft')
    FROM sales s WHERE event_id = ?1 AND kind = 'sale'";
/// The statements that look up a sale's revenue facts (their plans are tested: a sale's
/// facts are found through its row, never by scanning).
#[cfg(test)]
pub(crate) const FACT_LOOKUPS: [&str; 3] = [VOID_FACTS, SALE_FACTS, ORIGINAL_SALE];

#[derive(Debug)]
pub struct Recorded {
    pub ack: Ack,
    /// The `event_id` was seen before: this is the journaled answer.
    pub replay: bool,
}

struct Refusal(String);

fn refuse<T>(code: &str, message: impl std::fmt::Display) -> Result<T, Refusal> {
    Err(Refusal(format!("{code}: {message}")))
}

/// Checks and journals one POS message from `device` (whose merchant is `merchant`).
/// Runs inside a store job.
/// `now` is the box's clock, against which the terminal's `at` is checked.
pub fn record(
    conn: &Connection,
    venue: &Venue,
    device: &str,
    merchant: &str,
    sale: &Sale,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> rusqlite::Result<Recorded> {
    let replay = |error| {
        Ok(Recorded {
            ack: Ack {
                event_id: sale.event_id.clone(),
                error,
            },
            replay: true,
        })
    };
    if let Some(error) = conn
        .prepare_cached("SELECT error FROM pos_refusals WHERE device = ?1 AND event_id = ?2")?
        .query_row(params![device, sale.event_id], |r| r.get::<_, String>(0))
        .optional()?
    {
        return replay(Some(error));
    }
    let journaled_from = conn
        .prepare_cached("SELECT device FROM sales WHERE event_id = ?1")?
        .query_row(params![sale.event_id], |r| r.get::<_, String>(0))
        .optional()?;
    if journaled_from.as_deref() == Some(device) {
        return replay(None);
    }
    let outcome = match journaled_from {
        Some(other) => Some(format!(
            "duplicate_event_id: event id {} was journaled from terminal {other}",
            sale.event_id
        )),
        None => match check_and_write(conn, venue, device, merchant, sale, now)? {
            Ok(()) => None,
            Err(Refusal(reason)) => Some(reason),
        },
    };
    if let Some(error) = &outcome {
        conn.prepare_cached(
            "INSERT INTO pos_refusals (device, event_id, error, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![device, sale.event_id, error, rfc3339(now)])?;
    }
    Ok(Recorded {
        ack: Ack {
            event_id: sale.event_id.clone(),
            error: outcome,
        },
        replay: false,
    })
}

/// The outer `Result` is the store's; the inner one is the terminal's answer.
fn check_and_write(
    conn: &Connection,
    venue: &Venue,
    device: &str,
    merchant: &str,
    sale: &Sale,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> rusqlite::Result<Result<(), Refusal>> {
    let checked = match check(conn, venue, merchant, sale, now)? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let area = venue.config.merchant(merchant).and_then(|m| m.area.clone());
    let lines = serde_json::to_string(&sale.lines)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    // A sale's or refund's revenue facts, one per category, before the sale's row, which
    // keeps their ids: a void or refund finds them by those ids instead of through an
    // index keyed by event id (whose page per terminal every group commit wrote again).
    let facts = match sale.kind {
        SaleKind::Sale | SaleKind::Refund => {
            let mut fact = conn.prepare_cached(
                "INSERT INTO revenue_facts (source, fact_id, kind, merchant, area, category, business_date, amount_fen, count)
                 VALUES ('pos', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut ids: Option<(i64, i64)> = None;
            for (category, amount) in &checked.by_category {
                let count = if sale.kind == SaleKind::Sale { 1 } else { 0 };
                fact.execute(params![
                    sale.event_id,
                    sale.kind.as_str(),
                    merchant,
                    area,
                    category,
                    checked.business_date,
                    amount,
                    count
                ])?;
                let id = conn.last_insert_rowid();
                ids = Some((ids.map_or(id, |f| f.0), id));
            }
            ids
        }
        SaleKind::Void => None,
    };
    conn.prepare_cached(
        "INSERT INTO sales (event_id, device, merchant, kind, refers_to, at, business_date, payment, total_fen, received_at, lines, facts_first, facts_last, ticket_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        sale.event_id,
        device,
        merchant,
        sale.kind.as_str(),
        sale.refers_to,
        sale.at,
        checked.business_date,
        sale.payment,
        sale.total_fen,
        rfc3339(now),
        lines,
        facts.map(|f| f.0),
        facts.map(|f| f.1),
        sale.ticket_code
    ])?;
    let sale_row = conn.last_insert_rowid();
    let revenue = format!("revenue:merchant:{merchant}");
    let cash = format!(
        "cash:{}",
        if sale.payment.is_empty() {
            "unknown"
        } else {
            sale.payment.as_str()
        }
    );
    match sale.kind {
        SaleKind::Sale | SaleKind::Refund => {
            let legs = if sale.kind == SaleKind::Sale {
                vec![
                    Leg::debit(cash, sale.total_fen),
                    Leg::credit(revenue, sale.total_fen),
                ]
            } else {
                vec![
                    Leg::debit(revenue, sale.total_fen),
                    Leg::credit(cash, sale.total_fen),
                ]
            };
            let kind = format!("pos-{}", sale.kind.as_str());
            ledger::post(
                conn,
                ledger::Fact::of_sale(&kind, &sale.event_id, sale_row),
                &sale.at,
                checked.business_date,
                &kind,
                &legs,
            )
            .map_err(ledger_to_sqlite)?;
            if sale.kind == SaleKind::Refund {
                conn.prepare_cached(
                    "UPDATE sales SET refunded_fen = refunded_fen + ?2 WHERE rowid = ?1",
                )?
                .execute(params![original_row(&checked)?, sale.total_fen])?;
            }
        }
        SaleKind::Void => {
            let original = sale.refers_to.as_deref().unwrap_or_default();
            let row = original_row(&checked)?;
            conn.prepare_cached("UPDATE sales SET voided = 1 WHERE rowid = ?1")?
                .execute(params![row])?;
            conn.prepare_cached(VOID_FACTS)?
                .execute(params![original])?;
            ledger::reverse(
                conn,
                ledger::Fact::of_sale("pos-sale", original, row),
                "pos-void",
                &sale.at,
                checked.business_date,
            )
            .map_err(ledger_to_sqlite)?;
        }
    }
    queue_for_hq(conn, venue, device, merchant, sale, &checked)?;
    Ok(Ok(()))
}

/// The outbox record of an accepted POS message. Revenue lines count a sale once (on its
/// first category); a void takes back the original's lines.
fn queue_for_hq(
    conn: &Connection,
    venue: &Venue,
    device: &str,
    merchant: &str,
    sale: &Sale,
    checked: &Checked,
) -> rusqlite::Result<()> {
    use crate::outbox::{LineKind, RevenueLine, pos_line};
    let revenue: Vec<RevenueLine> = match sale.kind {
        SaleKind::Sale | SaleKind::Refund => checked
            .by_category
            .iter()
            .enumerate()
            .map(|(i, (category, amount))| {
                let count = i64::from(sale.kind == SaleKind::Sale && i == 0);
                let kind = if sale.kind == SaleKind::Refund {
                    LineKind::Refund
                } else {
                    LineKind::Sale
                };
                pos_line(venue, merchant, category, kind, *amount, count)
            })
            .collect(),
        SaleKind::Void => {
            let original = sale.refers_to.as_deref().unwrap_or_default();
            let mut stmt = conn.prepare_cached(SALE_FACTS)?;
            let rows = stmt.query_map(params![original], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut lines = Vec::new();
            for (i, row) in rows.enumerate() {
                let (category, amount) = row?;
                let count = if i == 0 { -1 } else { 0 };
                lines.push(pos_line(
                    venue,
                    merchant,
                    &category,
                    LineKind::Sale,
                    -amount,
                    count,
                ));
            }
            lines
        }
    };
    crate::outbox::push(
        conn,
        crate::outbox::Kind::Sale,
        &sale.event_id,
        checked.business_date,
        &sale.at,
        &SaleRecord {
            device,
            kind: sale.kind.as_str(),
            merchant,
            payment: &sale.payment,
            refers_to: sale.refers_to.as_deref(),
            revenue: &revenue,
            total_fen: sale.total_fen,
        },
    )
}

/// The `data` of a sale's outbox record (protocol.md, section 3), serialized straight from
/// borrowed fields: this runs for every sale inside the writer's transaction.
#[derive(Serialize)]
struct SaleRecord<'a> {
    device: &'a str,
    kind: &'static str,
    merchant: &'a str,
    payment: &'a str,
    refers_to: Option<&'a str>,
    revenue: &'a [crate::outbox::RevenueLine],
    total_fen: Fen,
}

/// The row of the sale a refund or void names (`check` found it, or refused the message).
fn original_row(checked: &Checked) -> rusqlite::Result<i64> {
    checked.original_row.ok_or_else(|| {
        rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(
            "sales: a refund or void reached the journal without its original sale",
        )))
    })
}

/// A ledger failure inside a store job fails the job (and rolls it back).
fn ledger_to_sqlite(e: ledger::LedgerError) -> rusqlite::Error {
    match e {
        ledger::LedgerError::Sqlite(e) => e,
        other => rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(
            other.to_string(),
        ))),
    }
}

struct Checked {
    business_date: BusinessDate,
    by_category: BTreeMap<String, i64>,
    /// The row in `sales` of the sale a refund or void names.
    original_row: Option<i64>,
}

fn check(
    conn: &Connection,
    venue: &Venue,
    merchant: &str,
    sale: &Sale,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> rusqlite::Result<Result<Checked, Refusal>> {
    Ok(check_inner(conn, venue, merchant, sale, now))
}

fn check_inner(
    conn: &Connection,
    venue: &Venue,
    merchant: &str,
    sale: &Sale,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Checked, Refusal> {
    if sale.merchant != merchant {
        return refuse(
            "merchant_mismatch",
            format!(
                "this terminal records sales of {merchant}, the message names {}",
                sale.merchant
            ),
        );
    }
    let Some(at) = venue_model::clock::parse_rfc3339(&sale.at) else {
        return refuse(
            "bad_time",
            format!("at {:?} is not an RFC 3339 time with an offset", sale.at),
        );
    };
    let skew_max = venue.config.admission.clock_skew_s_max;
    if let Some(off) = venue_model::clock::skew_beyond(now, at, skew_max) {
        return refuse(
            "clock_skew",
            format!(
                "at {} is {off} s from the edge box's clock; a terminal's clock may be off by at most {skew_max} s (admission.clock_skew_s_max): set the terminal's clock",
                sale.at
            ),
        );
    }
    let business_date = venue.clock.business_date(&at);
    if sale.total_fen.is_negative() {
        return refuse(
            "bad_total",
            "total_fen must not be negative (refunds are positive numbers)",
        );
    }
    let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
    let mut original_row = None;
    if sale.kind != SaleKind::Void {
        if sale.lines.is_empty() {
            return refuse("no_lines", "a sale or refund needs at least one line");
        }
        if sale.lines.len() > LINES_PER_SALE_MAX {
            return refuse(
                "too_many_lines",
                format!("at most {LINES_PER_SALE_MAX} lines"),
            );
        }
        let mut sum = Fen::ZERO;
        for (i, l) in sale.lines.iter().enumerate() {
            if l.qty == 0 || l.qty > LINE_QTY_MAX {
                return refuse(
                    "bad_line",
                    format!("line {i}: qty must be 1 to {LINE_QTY_MAX}"),
                );
            }
            if l.unit_price_fen.is_negative() {
                return refuse(
                    "bad_line",
                    format!("line {i}: unit_price_fen must not be negative"),
                );
            }
            if l.category.trim().is_empty() || l.sku.trim().is_empty() {
                return refuse(
                    "bad_line",
                    format!("line {i}: sku and category are required"),
                );
            }
            let amount = l
                .unit_price_fen
                .times(i64::from(l.qty), "a line")
                .map_err(|_| Refusal(format!("amount_overflow: line {i}")))?;
            sum = sum
                .checked_add(amount, "the lines")
                .map_err(|_| Refusal("amount_overflow: lines".into()))?;
            // No category's part can overflow: the sum of them all did not.
            *by_category.entry(l.category.clone()).or_default() += amount.get();
        }
        if sum != sale.total_fen {
            return refuse(
                "total_mismatch",
                format!("lines sum to {sum}, total says {}", sale.total_fen),
            );
        }
    }
    if sale.kind == SaleKind::Sale {
        if sale.refers_to.is_some() {
            return refuse("bad_refers_to", "a sale refers to nothing");
        }
    } else {
        let Some(original_id) = &sale.refers_to else {
            return refuse(
                "missing_refers_to",
                format!(
                    "a {} names the original sale's event_id in refers_to",
                    sale.kind.as_str()
                ),
            );
        };
        let original =
            original_sale(conn, original_id).map_err(|e| Refusal(format!("store: {e}")))?;
        let Some(original) = original else {
            return refuse(
                "unknown_sale",
                format!("no sale {original_id} is journaled"),
            );
        };
        if original.merchant != merchant {
            return refuse(
                "foreign_sale",
                format!("sale {original_id} belongs to another merchant"),
            );
        }
        if original.voided {
            return refuse("sale_voided", format!("sale {original_id} was voided"));
        }
        original_row = Some(original.row);
        match sale.kind {
            SaleKind::Refund => {
                let left = original.total_fen - original.refunded_fen;
                if sale.total_fen.get() > left {
                    return refuse(
                        "refund_exceeds_sale",
                        format!(
                            "{left} fen of sale {original_id} is left to refund, the refund asks {}",
                            sale.total_fen
                        ),
                    );
                }
            }
            SaleKind::Void => {
                if original.business_date != business_date {
                    return refuse(
                        "void_not_same_day",
                        format!(
                            "sale {original_id} is of {}, a void must be the same business day; refund it instead",
                            original.business_date
                        ),
                    );
                }
                if original.refunded_fen > 0 {
                    return refuse(
                        "sale_refunded",
                        format!("sale {original_id} was partly refunded; refund the rest instead"),
                    );
                }
                if original.billed {
                    return refuse(
                        "sale_settled",
                        format!("sale {original_id} is on an approved bill; refund it instead"),
                    );
                }
            }
            SaleKind::Sale => {}
        }
    }
    Ok(Checked {
        business_date,
        by_category,
        original_row,
    })
}

struct Original {
    row: i64,
    merchant: String,
    business_date: BusinessDate,
    total_fen: i64,
    refunded_fen: i64,
    voided: bool,
    billed: bool,
}

fn original_sale(conn: &Connection, event_id: &str) -> rusqlite::Result<Option<Original>> {
    conn.prepare_cached(ORIGINAL_SALE)?
        .query_row(params![event_id], |r| {
            Ok(Original {
                row: r.get(0)?,
                merchant: r.get(1)?,
                business_date: r.get(2)?,
                total_fen: r.get(3)?,
                refunded_fen: r.get(4)?,
                voided: r.get::<_, i64>(5)? != 0,
                billed: r.get::<_, i64>(6)? != 0,
            })
        })
        .optional()
}

/// A sale as `GET /api/v1/sales` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SaleView {
    pub event_id: String,
    pub device: String,
    pub merchant: String,
    pub kind: String,
    pub refers_to: Option<String>,
    pub at: String,
    pub business_date: BusinessDate,
    pub payment: String,
    pub total_fen: i64,
    pub voided: bool,
    pub refunded_fen: i64,
    pub lines: Vec<SaleLine>,
    /// The ticket a one-code wallet sale was paid with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<String>,
}

/// The journaled sales, refunds and voids of a business day, in arrival order.
pub fn of_day(conn: &Connection, day: BusinessDate, limit: u32) -> rusqlite::Result<Vec<SaleView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT event_id, device, merchant, kind, refers_to, at, business_date, payment, total_fen, voided, refunded_fen, lines, ticket_code
         FROM sales WHERE business_date = ?1 ORDER BY rowid LIMIT ?2",
    )?;
    stmt.query_map(params![day, limit], |r| {
        let lines: String = r.get(11)?;
        Ok(SaleView {
            event_id: r.get(0)?,
            device: r.get(1)?,
            merchant: r.get(2)?,
            kind: r.get(3)?,
            refers_to: r.get(4)?,
            at: r.get(5)?,
            business_date: r.get(6)?,
            payment: r.get(7)?,
            total_fen: r.get(8)?,
            voided: r.get::<_, i64>(9)? != 0,
            refunded_fen: r.get(10)?,
            lines: serde_json::from_str(&lines).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    11,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            ticket_code: r.get(12)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::RevenueLine;

    /// The record HQ receives says what it said when it was built as a JSON value (every
    /// key, `refers_to` null or a string; the order of keys inside a line may differ).
    #[test]
    fn a_sale_record_serializes_as_before() {
        let revenue = vec![RevenueLine {
            source: "pos".into(),
            product: None,
            merchant: Some("m-tea-house".into()),
            area: Some("park".into()),
            category: Some("drink".into()),
            party: Some("p-tea-house".into()),
            kind: crate::outbox::LineKind::Sale,
            amount_fen: 1800,
            count: 1,
        }];
        for refers_to in [None, Some("pos-1-000001")] {
            let record = SaleRecord {
                device: "pos-1",
                kind: "refund",
                merchant: "m-tea-house",
                payment: "wechat",
                refers_to,
                revenue: &revenue,
                total_fen: Fen::new(1800),
            };
            let before = serde_json::json!({
                "device": "pos-1", "merchant": "m-tea-house", "kind": "refund",
                "refers_to": refers_to, "payment": "wechat", "total_fen": 1800,
                "revenue": revenue,
            });
            let text = serde_json::to_string(&record).unwrap();
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                before
            );
        }
    }
}
