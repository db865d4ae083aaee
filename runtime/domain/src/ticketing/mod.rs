//! Ticketing: orders, tickets, refunds and rebooking (protocol.md, section 2, Buying).
//!
//! Every operation here runs inside one store job: it reads, checks and writes in one
//! transaction, so capacity can never be oversold and an idempotency key can never issue
//! twice. What gates must learn afterwards comes back as [`WhitelistChange`]s, published
//! by the caller only once the job has committed.

mod orders;
mod rebook;
mod refunds;
pub mod rules;
mod views;

pub use orders::{OrderRequest, Placed, place_order};

/// The request types of `POST /api/v1/orders`, for code that builds orders.
pub mod orders_api {
    pub use super::orders::{ItemRequest, PaymentRequest, VisitorRequest};
}
pub use rebook::{RebookRequest, Rebooked, rebook_ticket};
pub use refunds::{RefundRequest, Refunded, refund_order};
pub use views::{OrderView, TicketView, find_orders, load_order};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
pub use venue_model::order::{Channel, TicketStatus, WhitelistEntry};

use venue_model::BusinessDate;
use venue_model::money::Fen;

use crate::error::DomainError;
use crate::venue::Venue;

/// Tickets one order may issue at most (a large tour group fits; a runaway client does not).
pub const TICKETS_PER_ORDER_MAX: u32 = 1000;
/// Lines in one order at most.
pub const ITEMS_PER_ORDER_MAX: usize = 50;
/// Length of any caller-supplied text field at most, in bytes.
pub const TEXT_FIELD_BYTES_MAX: usize = 256;

/// What the gates of one area must add or remove after a committed change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhitelistChange {
    pub area: String,
    pub add: Vec<WhitelistEntry>,
    pub remove: Vec<String>,
}

/// The ticket row as admission and ticketing use it.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub ticket_id: String,
    pub order_id: String,
    pub code: String,
    pub product: String,
    pub visit_date: BusinessDate,
    pub slot: Option<String>,
    pub price_fen: Fen,
    pub status: TicketStatus,
    pub entries_used: u32,
    pub last_entry_date: Option<BusinessDate>,
    pub id_index: Option<String>,
    pub group_code: Option<String>,
}

pub(crate) const TICKET_COLUMNS: &str = "ticket_id, order_id, code, product, visit_date, slot, price_fen, status, \
     entries_used, last_entry_date, id_index, group_code";

pub(crate) fn ticket_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketRow> {
    Ok(TicketRow {
        ticket_id: r.get(0)?,
        order_id: r.get(1)?,
        code: r.get(2)?,
        product: r.get(3)?,
        visit_date: r.get(4)?,
        slot: r.get(5)?,
        price_fen: r.get(6)?,
        status: r.get(7)?,
        entries_used: r.get(8)?,
        last_entry_date: r.get(9)?,
        id_index: r.get(10)?,
        group_code: r.get(11)?,
    })
}

pub fn ticket_by_id(conn: &Connection, ticket_id: &str) -> rusqlite::Result<Option<TicketRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket_id = ?1"
    ))?
    .query_row(params![ticket_id], ticket_from_row)
    .optional()
}

pub fn ticket_by_code(conn: &Connection, code: &str) -> rusqlite::Result<Option<TicketRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE code = ?1"
    ))?
    .query_row(params![code], ticket_from_row)
    .optional()
}

pub fn tickets_of_order(conn: &Connection, order_id: &str) -> rusqlite::Result<Vec<TicketRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE order_id = ?1 ORDER BY ticket_id"
    ))?;
    let rows = stmt.query_map(params![order_id], ticket_from_row)?;
    rows.collect()
}

pub fn tickets_of_group(conn: &Connection, group_code: &str) -> rusqlite::Result<Vec<TicketRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE group_code = ?1 ORDER BY ticket_id"
    ))?;
    let rows = stmt.query_map(params![group_code], ticket_from_row)?;
    rows.collect()
}

pub(crate) fn whitelist_entry(venue: &Venue, t: &TicketRow) -> WhitelistEntry {
    WhitelistEntry {
        code: t.code.clone(),
        ticket_id: t.ticket_id.clone(),
        visit_date: t.visit_date,
        slot: t.slot.clone(),
        entries: venue.product(&t.product).and_then(|p| p.entries),
        party_size: 1,
    }
}

/// Adds `delta` tickets sold for each of the areas a product grants and its slot, failing
/// with `capacity_full` when a daily maximum or a slot quota would be exceeded.
pub(crate) fn take_capacity(
    conn: &Connection,
    venue: &Venue,
    product: &str,
    visit_date: BusinessDate,
    slot: Option<&str>,
    count: u32,
) -> Result<(), DomainError> {
    let Some(p) = venue.product(product) else {
        return Err(DomainError::bad_request(
            "unknown_product",
            format!("no product {product:?}"),
        ));
    };
    for area in &p.grants {
        let sold = sold_for(conn, area, visit_date)?;
        if let Some(max) = venue.area(area).and_then(|a| a.daily_max)
            && !rules::fits(sold, count, Some(max))
        {
            return Err(DomainError::rule(
                "capacity_full",
                format!(
                    "area {area} is sold out for {visit_date}: {sold} of {max} sold, {count} asked"
                ),
            ));
        }
        conn.prepare_cached(
            "INSERT INTO sold (area, visit_date, sold) VALUES (?1, ?2, ?3)
             ON CONFLICT (area, visit_date) DO UPDATE SET sold = sold + excluded.sold",
        )?
        .execute(params![area, visit_date, count])?;
    }
    if let Some(slot) = slot {
        let quota = p.slot(slot).map(|s| s.quota).unwrap_or(0);
        let sold: i64 = conn
            .prepare_cached(
                "SELECT sold FROM slot_sold WHERE product = ?1 AND visit_date = ?2 AND slot = ?3",
            )?
            .query_row(params![product, visit_date, slot], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        if !rules::fits(sold, count, Some(quota)) {
            return Err(DomainError::rule(
                "capacity_full",
                format!(
                    "slot {slot} of {product} on {visit_date} is full: {sold} of {quota} sold, {count} asked"
                ),
            ));
        }
        conn.prepare_cached(
            "INSERT INTO slot_sold (product, visit_date, slot, sold) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (product, visit_date, slot) DO UPDATE SET sold = sold + excluded.sold",
        )?
        .execute(params![product, visit_date, slot, count])?;
    }
    Ok(())
}

/// Gives back capacity taken by [`take_capacity`] (a refund, the old date of a rebooking).
pub(crate) fn release_capacity(
    conn: &Connection,
    venue: &Venue,
    product: &str,
    visit_date: BusinessDate,
    slot: Option<&str>,
    count: u32,
) -> rusqlite::Result<()> {
    let Some(p) = venue.product(product) else {
        return Ok(());
    };
    for area in &p.grants {
        conn.prepare_cached(
            "UPDATE sold SET sold = MAX(0, sold - ?3) WHERE area = ?1 AND visit_date = ?2",
        )?
        .execute(params![area, visit_date, count])?;
    }
    if let Some(slot) = slot {
        conn.prepare_cached(
            "UPDATE slot_sold SET sold = MAX(0, sold - ?4) WHERE product = ?1 AND visit_date = ?2 AND slot = ?3",
        )?
        .execute(params![product, visit_date, slot, count])?;
    }
    Ok(())
}

pub fn sold_for(conn: &Connection, area: &str, visit_date: BusinessDate) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT sold FROM sold WHERE area = ?1 AND visit_date = ?2")?
        .query_row(params![area, visit_date], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// A caller-supplied text must be present and bounded.
pub(crate) fn check_text(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::bad_request(
            "missing_field",
            format!("{field} must not be empty"),
        ));
    }
    if value.len() > TEXT_FIELD_BYTES_MAX {
        return Err(DomainError::bad_request(
            "field_too_long",
            format!("{field} is longer than {TEXT_FIELD_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

/// The SHA-256 of a request's canonical JSON: the same request in any formatting hashes
/// the same, a different request differently.
pub(crate) fn canonical_sha256<T: Serialize>(value: &T) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&json))
}

/// Tickets sold or refunded as revenue facts (category `ticket`) and one ledger transfer:
/// a sale moves cash in and credits each product's revenue, a refund the reverse.
/// What caused a ticket money movement: the ledger fact, the payment method, when.
pub(crate) struct TicketPosting<'a> {
    pub fact_kind: &'a str,
    pub fact_id: &'a str,
    pub method: &'a str,
    pub at: &'a str,
    pub day: BusinessDate,
    /// What HQ is told besides the money (order or refund details).
    pub details: serde_json::Value,
}

pub(crate) fn record_ticket_revenue(
    conn: &Connection,
    venue: &Venue,
    tickets: &[&TicketRow],
    refund: bool,
    posting: &TicketPosting<'_>,
) -> Result<(), DomainError> {
    let kind = if refund { "refund" } else { "sale" };
    let mut fact = conn.prepare_cached(
        "INSERT INTO revenue_facts (source, fact_id, kind, product, area, category, business_date, amount_fen, count)
         VALUES ('ticket', ?1, ?2, ?3, ?4, 'ticket', ?5, ?6, ?7)",
    )?;
    let mut by_product: std::collections::BTreeMap<&str, Fen> = std::collections::BTreeMap::new();
    let overflow = |e: venue_model::money::MoneyError| DomainError::internal(e.to_string());
    for t in tickets {
        let area = venue
            .product(&t.product)
            .and_then(|p| p.grants.first().cloned());
        fact.execute(params![
            t.ticket_id,
            kind,
            t.product,
            area,
            posting.day,
            t.price_fen,
            if refund { 0 } else { 1 }
        ])?;
        let sum = by_product.entry(t.product.as_str()).or_default();
        *sum = sum
            .checked_add(t.price_fen, "a product's tickets")
            .map_err(overflow)?;
    }
    let sign = if refund { -1 } else { 1 };
    let total = Fen::sum(by_product.values().copied(), "the tickets").map_err(overflow)?;
    let mut counts: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for t in tickets {
        *counts.entry(t.product.as_str()).or_default() += 1;
    }
    let revenue: Vec<crate::outbox::RevenueLine> = by_product
        .iter()
        .map(|(p, fen)| {
            let count = if refund { 0 } else { counts[p] };
            crate::outbox::ticket_line(venue, p, refund, fen.get(), count)
        })
        .collect();
    let mut data = posting.details.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("total_fen".into(), total.get().into());
        o.insert("method".into(), posting.method.into());
        o.insert("tickets".into(), (tickets.len() as i64).into());
        o.insert(
            "revenue".into(),
            serde_json::to_value(&revenue).unwrap_or_default(),
        );
    }
    let record = if refund {
        crate::outbox::Kind::Refund
    } else {
        crate::outbox::Kind::Order
    };
    crate::outbox::push(
        conn,
        record,
        posting.fact_id,
        posting.day,
        posting.at,
        &data,
    )?;
    let mut legs = vec![crate::ledger::Leg::debit(
        format!("cash:{}", posting.method),
        Fen::new(sign * total.get()),
    )];
    legs.extend(by_product.iter().map(|(p, fen)| {
        crate::ledger::Leg::credit(format!("revenue:ticket:{p}"), Fen::new(sign * fen.get()))
    }));
    crate::ledger::post(
        conn,
        crate::ledger::Fact::new(posting.fact_kind, posting.fact_id),
        posting.at,
        posting.day,
        &format!("ticket {kind}"),
        &legs,
    )
    .map_err(|e| DomainError::internal(e.to_string()))?;
    Ok(())
}
