//! Orders and tickets as the API shows them. ID numbers appear only masked.

use rusqlite::{Connection, OptionalExtension, params};
pub use venue_model::order::{
    OrderView, PaymentView, RefundView, TicketState, TicketView, VisitorView,
};

use crate::error::DomainError;
use crate::venue::Venue;

pub fn load_order(
    conn: &Connection,
    venue: &Venue,
    order_id: &str,
) -> Result<Option<OrderView>, DomainError> {
    let head = conn
        .prepare_cached(
            "SELECT order_id, order_ref, status, channel, visit_date, slot, total_fen, group_code,
                    payment_method, payment_ref, created_at
             FROM orders WHERE order_id = ?1",
        )?
        .query_row(params![order_id], |r| {
            Ok((
                OrderView {
                    order_id: r.get(0)?,
                    order_ref: r.get(1)?,
                    status: r.get(2)?,
                    channel: r.get(3)?,
                    visit_date: r.get(4)?,
                    slot: r.get(5)?,
                    total_fen: r.get(6)?,
                    group_code: r.get(7)?,
                    tickets: Vec::new(),
                    payments: Vec::new(),
                    refunds: Vec::new(),
                    created_at: r.get(10)?,
                },
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
            ))
        })
        .optional()?;
    let Some((mut order, method, reference)) = head else {
        return Ok(None);
    };
    order.payments.push(PaymentView {
        method,
        reference,
        amount_fen: order.total_fen,
    });
    let mut stmt = conn.prepare_cached(
        "SELECT ticket_id, code, product, visit_date, slot, price_fen, status, entries_used,
                visitor_name, id_type, id_masked
         FROM tickets WHERE order_id = ?1 ORDER BY ticket_id",
    )?;
    let tickets = stmt.query_map(params![order_id], |r| {
        let name: Option<String> = r.get(8)?;
        let product: String = r.get(2)?;
        let entries_used: u32 = r.get(7)?;
        let entries = venue.product(&product).and_then(|p| p.entries);
        let status = TicketState::of(r.get(6)?, entries_used, entries);
        Ok(TicketView {
            ticket_id: r.get(0)?,
            code: r.get(1)?,
            product,
            visit_date: r.get(3)?,
            slot: r.get(4)?,
            price_fen: r.get(5)?,
            status,
            entries_used,
            visitor: match name {
                Some(name) => Some(VisitorView {
                    name,
                    id_type: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                    id_number: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                }),
                None => None,
            },
        })
    })?;
    order.tickets = tickets.collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT refund_id, refund_ref, amount_fen, reason, created_at FROM refunds WHERE order_id = ?1 ORDER BY created_at",
    )?;
    let refunds = stmt
        .query_map(params![order_id], |r| {
            Ok(RefundView {
                refund_id: r.get(0)?,
                refund_ref: r.get(1)?,
                amount_fen: r.get(2)?,
                reason: r.get(3)?,
                tickets: Vec::new(),
                created_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut ticket_stmt = conn.prepare_cached(
        "SELECT ticket_id FROM refund_tickets WHERE refund_id = ?1 ORDER BY ticket_id",
    )?;
    for mut refund in refunds {
        refund.tickets = ticket_stmt
            .query_map(params![refund.refund_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        order.refunds.push(refund);
    }
    Ok(Some(order))
}

/// Orders a ticket clerk's search finds, newest first, at most 20: by order id, by a
/// ticket's or a group's code, or by a visitor's ID number, matched through the keyed
/// index (the number itself is never stored or compared in clear).
pub fn find_orders(
    conn: &Connection,
    venue: &Venue,
    search: &str,
) -> Result<Vec<String>, DomainError> {
    let search = search.trim();
    if search.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<String> = conn
        .prepare_cached(
            "SELECT order_id FROM orders WHERE order_id = ?1 OR group_code = ?1
             UNION SELECT order_id FROM tickets WHERE code = ?1",
        )?
        .query_map(params![search], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if found.is_empty() {
        found = conn
            .prepare_cached(
                "SELECT DISTINCT order_id FROM tickets WHERE id_index = ?1
                 ORDER BY order_id DESC LIMIT 20",
            )?
            .query_map(params![venue.vault.index(search)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    found.sort_unstable_by(|a, b| b.cmp(a));
    found.truncate(20);
    Ok(found)
}
