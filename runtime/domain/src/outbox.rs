//! The outbox: every fact HQ must see (scan, sale, order, refund, rebook, bill change,
//! payout) is queued here by the same store job, in the same SQLite transaction, that
//! writes the fact itself (architecture.md, data flow 3). The uplink sends the queue in
//! batches and removes what HQ acknowledged; the journal tables are never touched by it.
//!
//! A record is what docs/protocol.md section 3 names (its format is `venue_wire`'s): `kind`, `event_id`, `business_date`,
//! `at`, and `data`. Money records carry `data.revenue`, one line per revenue fact, so HQ
//! can report revenue across edge boxes without knowing any venue's configuration.

use std::borrow::Cow;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::venue::Venue;
use venue_model::BusinessDate;

pub use venue_wire::{Kind, LineKind, RevenueLine};

/// Ticket revenue: under its product and the first area the product grants.
pub fn ticket_line(
    venue: &Venue,
    product: &str,
    refund: bool,
    amount_fen: i64,
    count: i64,
) -> RevenueLine {
    let area = venue
        .product(product)
        .and_then(|p| p.grants.first().cloned());
    RevenueLine {
        source: Cow::Borrowed(venue_wire::record::SOURCE_TICKET),
        product: Some(product.to_owned()),
        merchant: None,
        area,
        category: Some("ticket".into()),
        party: party_covering(venue, Some(product), None),
        kind: if refund {
            LineKind::Refund
        } else {
            LineKind::Sale
        },
        amount_fen,
        count,
    }
}

/// POS revenue: under its merchant, category and the merchant's area.
pub fn pos_line(
    venue: &Venue,
    merchant: &str,
    category: &str,
    kind: LineKind,
    amount_fen: i64,
    count: i64,
) -> RevenueLine {
    RevenueLine {
        source: Cow::Borrowed(venue_wire::record::SOURCE_POS),
        product: None,
        merchant: Some(merchant.to_owned()),
        area: venue.config.merchant(merchant).and_then(|m| m.area.clone()),
        category: Some(category.to_owned()),
        party: party_covering(venue, None, Some(merchant)),
        kind,
        amount_fen,
        count,
    }
}

/// The party whose configured contract covers a product (ticket revenue) or a merchant
/// (POS revenue).
pub(crate) fn party_covering(
    venue: &Venue,
    product: Option<&str>,
    merchant: Option<&str>,
) -> Option<String> {
    let named =
        |names: &[String], name: Option<&str>| name.is_some_and(|n| names.iter().any(|x| x == n));
    venue
        .config
        .contracts
        .iter()
        .find(|c| named(&c.products, product) || named(&c.merchants, merchant))
        .map(|c| c.party.clone())
}

/// Inserts a record under the next sequence number: one after the highest queued; with
/// the outbox empty, one after the highest any batch ever covered (or where the counter
/// of the schema before migration 8 stood). Never a number a record already had, so a
/// batch's range names the same records for good. Both ends come from primary keys: a page
/// or two already in cache, where AUTOINCREMENT made every commit write its counter's page.
const INSERT: &str = "INSERT INTO outbox (seq, kind, event_id, business_date, at, data, queued_ms)
     VALUES (COALESCE((SELECT MAX(seq) FROM outbox),
                      MAX(COALESCE((SELECT last_seq FROM uplink_batches ORDER BY batch_seq DESC LIMIT 1), 0),
                          COALESCE((SELECT MAX(seq) FROM outbox_seq_floor), 0))) + 1,
             ?1, ?2, ?3, ?4, ?5, ?6)";

/// Queues one record. Call it inside the store job that writes the fact.
pub fn push(
    conn: &Connection,
    kind: Kind,
    event_id: &str,
    business_date: BusinessDate,
    at: &str,
    data: &impl Serialize,
) -> rusqlite::Result<()> {
    let data = serde_json::to_string(data)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.prepare_cached(INSERT)?.execute(params![
        kind.as_str(),
        event_id,
        business_date,
        at,
        data,
        now_ms()
    ])?;
    Ok(())
}

/// Queues a record whose data is a row of a journal table, read when the record is sent
/// (see [`journal_data`]). Keeps the writer's work for the busiest facts to a few bytes.
pub fn push_journal_ref(
    conn: &Connection,
    kind: Kind,
    event_id: &str,
    business_date: BusinessDate,
    at: &str,
    table: &'static str,
    rowid: i64,
) -> rusqlite::Result<()> {
    push(
        conn,
        kind,
        event_id,
        business_date,
        at,
        &serde_json::json!({ JOURNAL_REF: table, "rowid": rowid }),
    )
}

/// The key marking a journal reference in a queued record's data.
pub const JOURNAL_REF: &str = "$journal";

/// The data HQ receives for a queued record: `queued` itself, or, for a journal
/// reference, the journal row it points at.
pub fn journal_data(conn: &Connection, queued: &str) -> rusqlite::Result<String> {
    if !queued.starts_with("{\"$journal\"") {
        return Ok(queued.to_owned());
    }
    let reference: serde_json::Value = serde_json::from_str(queued).unwrap_or_default();
    let rowid = reference["rowid"].as_i64().unwrap_or(0);
    match reference[JOURNAL_REF].as_str() {
        Some("scans") => conn
            .prepare_cached(
                "SELECT device, area, ticket_id, direction, count, offline, decision, reason, admitted, conflict
                 FROM scans WHERE rowid = ?1",
            )?
            .query_row(params![rowid], |r| {
                Ok(serde_json::json!({
                    "device": r.get::<_, String>(0)?, "area": r.get::<_, String>(1)?,
                    "ticket_id": r.get::<_, Option<String>>(2)?, "direction": r.get::<_, String>(3)?,
                    "count": r.get::<_, i64>(4)?, "offline": r.get::<_, bool>(5)?,
                    "decision": r.get::<_, String>(6)?, "reason": r.get::<_, String>(7)?,
                    "admitted": r.get::<_, i64>(8)?, "conflict": r.get::<_, bool>(9)?,
                })
                .to_string())
            }),
        _ => Ok(queued.to_owned()),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What is waiting: about how many records (the span of queued sequence numbers, so a
/// rolled-back job's unused number counts), and the age of the oldest in milliseconds.
/// Cheap at any size: both come from the primary key's ends.
pub fn backlog(conn: &Connection) -> rusqlite::Result<(i64, Option<i64>)> {
    conn.prepare_cached(
        "SELECT MAX(seq) - MIN(seq) + 1, (SELECT queued_ms FROM outbox ORDER BY seq LIMIT 1) FROM outbox",
    )?
    .query_row([], |r| {
        let span: Option<i64> = r.get(0)?;
        let oldest: Option<i64> = r.get(1)?;
        Ok((span.unwrap_or(0), oldest.map(|q| (now_ms() - q).max(0))))
    })
}
