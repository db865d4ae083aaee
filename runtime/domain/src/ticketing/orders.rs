//! `POST /api/v1/orders`: check, price, take capacity, issue tickets, in one transaction.

use std::collections::BTreeMap;
pub use venue_model::order::{ItemRequest, OrderRequest, PaymentRequest, VisitorRequest};

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Channel, ITEMS_PER_ORDER_MAX, OrderView, TICKETS_PER_ORDER_MAX, WhitelistChange,
    WhitelistEntry, canonical_sha256, check_text, load_order, rules, take_capacity,
};
use crate::error::DomainError;
use crate::realname::mask;
use crate::venue::Venue;
use venue_model::clock::rfc3339;
use venue_model::money::Fen;
use venue_model::{BusinessDate, ids};

/// The outcome of placing an order.
pub struct Placed {
    pub order: OrderView,
    /// False when `order_ref` was seen before with the same body: nothing new was issued.
    pub created: bool,
    pub whitelist: Vec<WhitelistChange>,
}

/// Places an order at `now` (the box's time). `source_plugin` names the ticketing adapter
/// an integration push came through. Runs inside a store job.
pub fn place_order(
    conn: &Connection,
    venue: &Venue,
    req: &OrderRequest,
    actor: &crate::actor::Actor,
    source_plugin: Option<&str>,
    now: DateTime<FixedOffset>,
) -> Result<Placed, DomainError> {
    let body_sha256 = canonical_sha256(req);
    check_text("order_ref", &req.order_ref)?;
    if let Some((order_id, seen_sha)) = conn
        .prepare_cached("SELECT order_id, body_sha256 FROM orders WHERE order_ref = ?1")?
        .query_row(params![req.order_ref], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
    {
        if seen_sha != body_sha256 {
            return Err(DomainError::conflict(
                "order_ref_conflict",
                format!(
                    "order_ref {:?} was already used for a different order ({order_id}); use a new order_ref",
                    req.order_ref
                ),
            ));
        }
        let order = load_order(conn, venue, &order_id)?
            .ok_or_else(|| DomainError::internal("an order vanished during the request"))?;
        return Ok(Placed {
            order,
            created: false,
            whitelist: Vec::new(),
        });
    }

    let today = venue.clock.business_date(&now);
    let plan = plan_order(venue, req, today)?;
    let now = rfc3339(now);
    let order_id = ids::new_id("ord");
    let group_code = (req.channel == Channel::Group).then(ids::new_group_code);

    for item in &plan.items {
        take_capacity(
            conn,
            venue,
            &item.product,
            req.visit_date,
            item.slot.as_deref(),
            item.qty,
        )?;
    }
    conn.prepare_cached(
        "INSERT INTO orders (order_id, order_ref, body_sha256, channel, visit_date, slot, total_fen, status,
                             payment_method, payment_ref, group_code, source_plugin, created_at, business_date)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'paid', ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        order_id,
        req.order_ref,
        body_sha256,
        req.channel.as_str(),
        req.visit_date,
        req.slot,
        plan.total_fen,
        req.payment.method,
        req.payment.reference,
        group_code,
        source_plugin,
        now,
        today,
    ])?;

    let mut whitelist: BTreeMap<String, WhitelistChange> = BTreeMap::new();
    let mut insert = conn.prepare_cached(
        "INSERT INTO tickets (ticket_id, order_id, code, product, visit_date, slot, price_fen, status,
                              visitor_name, id_type, id_cipher, id_index, id_masked, group_code,
                              id_province)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'valid', ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for item in &plan.items {
        let product = venue.product(&item.product);
        for n in 0..item.qty as usize {
            let ticket_id = ids::new_id("tkt");
            let code = ids::new_ticket_code();
            let visitor = item.visitors.get(n);
            let (cipher, index, masked) = match visitor {
                Some(v) => (
                    Some(
                        venue
                            .vault
                            .encrypt(&v.id_number)
                            .map_err(|e| DomainError::internal(e.to_string()))?,
                    ),
                    Some(venue.vault.index(&v.id_number)),
                    Some(mask(&v.id_number)),
                ),
                None => (None, None, None),
            };
            insert.execute(params![
                ticket_id,
                order_id,
                code,
                item.product,
                req.visit_date,
                item.slot,
                item.unit_price_fen,
                visitor.map(|v| v.name.as_str()),
                visitor.map(|v| v.id_type.as_str()),
                cipher,
                index,
                masked,
                group_code,
                visitor.and_then(|v| crate::realname::province_of(&v.id_type, &v.id_number)),
            ])?;
            for area in product.map(|p| p.grants.as_slice()).unwrap_or_default() {
                let change = whitelist
                    .entry(area.clone())
                    .or_insert_with(|| WhitelistChange {
                        area: area.clone(),
                        ..Default::default()
                    });
                change.add.push(WhitelistEntry {
                    code: code.clone(),
                    ticket_id: ticket_id.clone(),
                    visit_date: req.visit_date,
                    slot: item.slot.clone(),
                    entries: product.and_then(|p| p.entries),
                    party_size: 1,
                });
            }
        }
    }
    if let Some(group_code) = &group_code {
        let party = plan.items.iter().map(|i| i.qty).sum::<u32>();
        for change in whitelist.values_mut() {
            change.add.push(WhitelistEntry {
                code: group_code.clone(),
                ticket_id: order_id.clone(),
                visit_date: req.visit_date,
                slot: req.slot.clone(),
                entries: Some(1),
                party_size: party,
            });
        }
    }
    let tickets = super::tickets_of_order(conn, &order_id)?;
    let sold: Vec<&super::TicketRow> = tickets.iter().collect();
    super::record_ticket_revenue(
        conn,
        venue,
        &sold,
        false,
        &super::TicketPosting {
            fact_kind: "order",
            fact_id: &order_id,
            method: &req.payment.method,
            at: &now,
            day: today,
            details: serde_json::json!({
                "order_id": order_id, "channel": req.channel.as_str(),
                "visit_date": req.visit_date, "slot": req.slot, "group": group_code.is_some(),
            }),
        },
    )?;
    crate::audit::append(
        conn,
        &now,
        actor,
        "order.create",
        &order_id,
        &format!(
            "order_ref={} channel={} total_fen={}",
            req.order_ref,
            req.channel.as_str(),
            plan.total_fen
        ),
    )?;
    let order = load_order(conn, venue, &order_id)?
        .ok_or_else(|| DomainError::internal("a new order could not be read back"))?;
    Ok(Placed {
        order,
        created: true,
        whitelist: whitelist.into_values().collect(),
    })
}

struct PlannedItem {
    product: String,
    qty: u32,
    slot: Option<String>,
    unit_price_fen: Fen,
    visitors: Vec<VisitorRequest>,
}

struct Plan {
    items: Vec<PlannedItem>,
    total_fen: Fen,
}

/// Checks an order against the products and prices it, touching nothing: a pure function
/// of the venue's products, the request and today (its rules are in `rules`).
fn plan_order(venue: &Venue, req: &OrderRequest, today: BusinessDate) -> Result<Plan, DomainError> {
    rules::check_visit_date(req.visit_date, today)?;
    check_text("payment.method", &req.payment.method)?;
    check_text("payment.ref", &req.payment.reference)?;
    if req.items.is_empty() {
        return Err(DomainError::bad_request(
            "no_items",
            "an order needs at least one item",
        ));
    }
    if req.items.len() > ITEMS_PER_ORDER_MAX {
        return Err(DomainError::bad_request(
            "too_many_items",
            format!("an order has at most {ITEMS_PER_ORDER_MAX} items"),
        ));
    }
    let mut items = Vec::with_capacity(req.items.len());
    let mut total_fen = Fen::ZERO;
    let mut tickets: u32 = 0;
    for item in &req.items {
        let Some(product) = venue.product(&item.product) else {
            return Err(DomainError::bad_request(
                "unknown_product",
                format!(
                    "no product {:?}; GET /api/v1/products lists them",
                    item.product
                ),
            ));
        };
        if item.qty == 0 {
            return Err(DomainError::bad_request(
                "bad_qty",
                format!("qty of {} must be at least 1", product.id),
            ));
        }
        tickets = tickets.saturating_add(item.qty);
        if tickets > TICKETS_PER_ORDER_MAX {
            return Err(DomainError::bad_request(
                "too_many_tickets",
                format!("an order issues at most {TICKETS_PER_ORDER_MAX} tickets"),
            ));
        }
        let slot = rules::pick_slot(product, req.slot.as_deref())?;
        rules::check_visitors(product, item.qty, &item.visitors)?;
        for v in &item.visitors {
            check_text("visitor.name", &v.name)?;
            check_text("visitor.id_type", &v.id_type)?;
            check_text("visitor.id_number", &v.id_number)?;
        }
        let unit_price_fen = rules::unit_price(product, req.channel, item.qty)?;
        let overflow = |_| DomainError::bad_request("amount_overflow", "the order total overflows");
        let line = unit_price_fen
            .times(i64::from(item.qty), "an order line")
            .map_err(overflow)?;
        total_fen = total_fen
            .checked_add(line, "an order's total")
            .map_err(overflow)?;
        items.push(PlannedItem {
            product: product.id.clone(),
            qty: item.qty,
            slot,
            unit_price_fen,
            visitors: item.visitors.clone(),
        });
    }
    Ok(Plan { items, total_fen })
}
