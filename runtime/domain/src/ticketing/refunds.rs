//! `POST /api/v1/orders/{order_id}/refunds`: give money back for unused tickets.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{
    OrderView, TicketRow, TicketStatus, WhitelistChange, canonical_sha256, check_text, load_order,
    release_capacity, tickets_of_order,
};
use crate::config::RefundRule;
use crate::error::DomainError;
use crate::venue::Venue;
use venue_model::ids;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The caller's idempotency key.
    pub refund_ref: String,
    /// Tickets to refund; none: every unused ticket of the order.
    #[serde(default)]
    pub tickets: Option<Vec<String>>,
    #[serde(default)]
    pub reason: String,
}

pub struct Refunded {
    pub order: OrderView,
    pub refund_id: String,
    pub created: bool,
    pub whitelist: Vec<WhitelistChange>,
}

/// Refunds an order's unused tickets at `now` (the box's time). Runs inside a store job.
pub fn refund_order(
    conn: &Connection,
    venue: &Venue,
    order_id: &str,
    req: &RefundRequest,
    actor: &crate::actor::Actor,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Refunded, DomainError> {
    check_text("refund_ref", &req.refund_ref)?;
    let body_sha256 = canonical_sha256(&(order_id, req));
    if let Some((refund_id, seen_order, seen_sha)) = conn
        .prepare_cached(
            "SELECT refund_id, order_id, body_sha256 FROM refunds WHERE refund_ref = ?1",
        )?
        .query_row(params![req.refund_ref], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?
    {
        if seen_sha != body_sha256 {
            return Err(DomainError::conflict(
                "refund_ref_conflict",
                format!(
                    "refund_ref {:?} was already used for another refund ({refund_id})",
                    req.refund_ref
                ),
            ));
        }
        let order = load_order(conn, venue, &seen_order)?
            .ok_or_else(|| DomainError::internal("a refunded order vanished"))?;
        return Ok(Refunded {
            order,
            refund_id,
            created: false,
            whitelist: Vec::new(),
        });
    }
    let Some(_) = load_order(conn, venue, order_id)? else {
        return Err(DomainError::not_found(
            "order_not_found",
            format!("no order {order_id}"),
        ));
    };
    let all = tickets_of_order(conn, order_id)?;
    let chosen: Vec<&TicketRow> = match &req.tickets {
        Some(ids) => {
            if ids.is_empty() {
                return Err(DomainError::bad_request(
                    "no_tickets",
                    "tickets is empty; omit it to refund every unused ticket",
                ));
            }
            let mut chosen = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(t) = all.iter().find(|t| &t.ticket_id == id) else {
                    return Err(DomainError::not_found(
                        "ticket_not_found",
                        format!("ticket {id} is not part of order {order_id}"),
                    ));
                };
                if chosen
                    .iter()
                    .any(|c: &&TicketRow| c.ticket_id == t.ticket_id)
                {
                    return Err(DomainError::bad_request(
                        "duplicate_ticket",
                        format!("ticket {id} is listed twice"),
                    ));
                }
                if t.status == TicketStatus::Refunded {
                    return Err(DomainError::conflict(
                        "ticket_refunded",
                        format!("ticket {id} is already refunded"),
                    ));
                }
                if t.entries_used > 0 {
                    return Err(DomainError::conflict(
                        "ticket_used",
                        format!("ticket {id} has been used and cannot be refunded"),
                    ));
                }
                chosen.push(t);
            }
            chosen
        }
        None => all
            .iter()
            .filter(|t| t.status != TicketStatus::Refunded && t.entries_used == 0)
            .collect(),
    };
    if chosen.is_empty() {
        return Err(DomainError::conflict(
            "nothing_to_refund",
            format!("order {order_id} has no unused tickets left"),
        ));
    }
    let today = venue.clock.business_date(&now);
    for t in &chosen {
        let rule = venue
            .product(&t.product)
            .map(|p| p.refund)
            .unwrap_or(RefundRule::Never);
        if !rule.allows(t.visit_date, today) {
            return Err(DomainError::rule(
                "not_refundable",
                format!(
                    "ticket {} ({}) can no longer be refunded: the product's rule is {}, the visit date is {}",
                    t.ticket_id,
                    t.product,
                    rule.as_str(),
                    t.visit_date
                ),
            ));
        }
    }
    let refund_id = ids::new_id("rfd");
    let now = venue_model::clock::rfc3339(now);
    let amount_fen = venue_model::money::Fen::sum(chosen.iter().map(|t| t.price_fen), "a refund")
        .map_err(|e| DomainError::internal(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO refunds (refund_id, refund_ref, order_id, body_sha256, amount_fen, reason, created_at, business_date)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![refund_id, req.refund_ref, order_id, body_sha256, amount_fen, req.reason, now, today])?;
    let method: String = conn
        .prepare_cached("SELECT payment_method FROM orders WHERE order_id = ?1")?
        .query_row(params![order_id], |r| r.get(0))?;
    super::record_ticket_revenue(
        conn,
        venue,
        &chosen,
        true,
        &super::TicketPosting {
            fact_kind: "refund",
            fact_id: &refund_id,
            method: &method,
            at: &now,
            day: today,
            details: serde_json::json!({
                "refund_id": refund_id, "order_id": order_id, "reason": req.reason,
            }),
        },
    )?;
    let mut whitelist: BTreeMap<String, WhitelistChange> = BTreeMap::new();
    for t in &chosen {
        conn.prepare_cached(
            "INSERT INTO refund_tickets (refund_id, ticket_id, amount_fen) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![refund_id, t.ticket_id, t.price_fen])?;
        conn.prepare_cached("UPDATE tickets SET status = 'refunded' WHERE ticket_id = ?1")?
            .execute(params![t.ticket_id])?;
        release_capacity(conn, venue, &t.product, t.visit_date, t.slot.as_deref(), 1)?;
        for area in venue
            .product(&t.product)
            .map(|p| p.grants.as_slice())
            .unwrap_or_default()
        {
            whitelist
                .entry(area.clone())
                .or_insert_with(|| WhitelistChange {
                    area: area.clone(),
                    ..Default::default()
                })
                .remove
                .push(t.code.clone());
        }
    }
    let still_valid = all.len()
        > chosen.len()
            + all
                .iter()
                .filter(|t| t.status == TicketStatus::Refunded)
                .count();
    if !still_valid {
        conn.prepare_cached("UPDATE orders SET status = 'refunded' WHERE order_id = ?1")?
            .execute(params![order_id])?;
    }
    crate::audit::append(
        conn,
        &now,
        actor,
        "order.refund",
        order_id,
        &format!("refund_id={refund_id} amount_fen={amount_fen}"),
    )?;
    let order = load_order(conn, venue, order_id)?
        .ok_or_else(|| DomainError::internal("an order vanished"))?;
    Ok(Refunded {
        order,
        refund_id,
        created: true,
        whitelist: whitelist.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use venue_model::BusinessDate;

    #[test]
    fn each_refund_rule_allows_its_own_days() {
        let d = |s: &str| BusinessDate::parse(s).unwrap();
        let visit = d("2027-01-05");
        // (rule, today, allowed)
        let cases = [
            (RefundRule::UntilEndOfVisitDate, "2027-01-04", true),
            (RefundRule::UntilEndOfVisitDate, "2027-01-05", true),
            (RefundRule::UntilEndOfVisitDate, "2027-01-06", false),
            (RefundRule::UntilDayBefore, "2027-01-04", true),
            (RefundRule::UntilDayBefore, "2027-01-05", false),
            (RefundRule::Never, "2026-12-01", false),
            (RefundRule::Never, "2027-01-05", false),
        ];
        for (rule, today, allowed) in cases {
            assert_eq!(
                rule.allows(visit, d(today)),
                allowed,
                "{} on {today}",
                rule.as_str()
            );
        }
    }

    #[test]
    fn a_rule_is_written_as_the_config_writes_it() {
        for rule in [
            RefundRule::UntilEndOfVisitDate,
            RefundRule::UntilDayBefore,
            RefundRule::Never,
        ] {
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
        }
    }
}
