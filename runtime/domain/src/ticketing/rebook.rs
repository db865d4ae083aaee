//! `POST /api/v1/tickets/{ticket_id}/rebook`: move an unused ticket to another day or slot.
//! The ticket keeps its code; capacity moves with it; on the old date gates answer
//! `not_valid_today`.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::rules::{self, RebookFacts};
use super::{
    TicketView, WhitelistChange, load_order, release_capacity, take_capacity, ticket_by_id,
    whitelist_entry,
};
use crate::error::DomainError;
use crate::venue::Venue;
use venue_model::clock::rfc3339;
use venue_model::ids;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RebookRequest {
    /// `YYYY-MM-DD` exactly.
    pub visit_date: venue_model::BusinessDate,
    #[serde(default)]
    pub slot: Option<String>,
}

pub struct Rebooked {
    pub ticket: TicketView,
    pub whitelist: Vec<WhitelistChange>,
}

/// Moves a ticket at `now` (the box's time). Runs inside a store job.
pub fn rebook_ticket(
    conn: &Connection,
    venue: &Venue,
    ticket_id: &str,
    req: &RebookRequest,
    actor: &crate::actor::Actor,
    now: DateTime<FixedOffset>,
) -> Result<Rebooked, DomainError> {
    let Some(t) = ticket_by_id(conn, ticket_id)? else {
        return Err(DomainError::not_found(
            "ticket_not_found",
            format!("no ticket {ticket_id}"),
        ));
    };
    let Some(product) = venue.product(&t.product) else {
        return Err(DomainError::conflict(
            "unknown_product",
            format!(
                "ticket {ticket_id}'s product {} is no longer sold",
                t.product
            ),
        ));
    };
    let today = venue.clock.business_date(&now);
    let new_date = req.visit_date;
    rules::check_rebook(
        ticket_id,
        RebookFacts {
            status: t.status,
            entries_used: t.entries_used,
            from: t.visit_date,
            to: new_date,
        },
        today,
    )?;
    let new_slot = rules::pick_slot(product, req.slot.as_deref())?;
    let unchanged = new_date == t.visit_date && new_slot == t.slot;
    let mut whitelist = Vec::new();
    if !unchanged {
        release_capacity(conn, venue, &t.product, t.visit_date, t.slot.as_deref(), 1)?;
        take_capacity(conn, venue, &t.product, new_date, new_slot.as_deref(), 1)?;
        let now = rfc3339(now);
        conn.prepare_cached("UPDATE tickets SET visit_date = ?2, slot = ?3 WHERE ticket_id = ?1")?
            .execute(params![ticket_id, new_date, new_slot])?;
        let rebook_id = ids::new_id("rbk");
        conn.prepare_cached(
            "INSERT INTO rebooks (rebook_id, ticket_id, from_date, from_slot, to_date, to_slot, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![rebook_id, ticket_id, t.visit_date, t.slot, new_date, new_slot, now])?;
        crate::outbox::push(
            conn,
            crate::outbox::Kind::Rebook,
            &rebook_id,
            today,
            &now,
            &serde_json::json!({
                "rebook_id": rebook_id, "ticket_id": ticket_id, "product": t.product,
                "from_date": t.visit_date, "from_slot": t.slot, "to_date": new_date, "to_slot": new_slot,
            }),
        )?;
        crate::audit::append(
            conn,
            &now,
            actor,
            "ticket.rebook",
            ticket_id,
            &format!(
                "{} {:?} -> {} {:?}",
                t.visit_date, t.slot, new_date, new_slot
            ),
        )?;
        let moved = super::TicketRow {
            visit_date: new_date,
            slot: new_slot.clone(),
            ..t.clone()
        };
        for area in &product.grants {
            // The same code is re-added with its new date: a gate replaces the entry.
            whitelist.push(WhitelistChange {
                area: area.clone(),
                add: vec![whitelist_entry(venue, &moved)],
                remove: Vec::new(),
            });
        }
    }
    let order = load_order(conn, venue, &t.order_id)?
        .ok_or_else(|| DomainError::internal("an order vanished"))?;
    let ticket = order
        .tickets
        .into_iter()
        .find(|v| v.ticket_id == ticket_id)
        .ok_or_else(|| DomainError::internal("a ticket vanished"))?;
    Ok(Rebooked { ticket, whitelist })
}
