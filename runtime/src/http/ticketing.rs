//! Handlers for products, orders, refunds, rebooking, partner pushes and capacity.

use hyper::StatusCode;
use serde::Serialize;

use super::router::Call;
use super::{Api, BODY_BYTES_MAX, Reply, bytes_reply, json_reply, parse_json, read_body};
use venue_domain::actor::Actor;
use venue_domain::error::DomainError;
use venue_domain::ticketing::{self, OrderRequest, RebookRequest, RefundRequest, WhitelistChange};

#[derive(Serialize)]
pub struct ProductView {
    id: String,
    name: String,
    price_fen: venue_model::money::Fen,
    grants: Vec<String>,
    entries: Option<u32>,
    reentry: bool,
    real_name: bool,
    group_min_size: Option<u32>,
    group_price_fen: Option<venue_model::money::Fen>,
    /// As the config spells it: `until_end_of_visit_date`, `until_day_before`, `never`.
    refund: venue_domain::config::RefundRule,
    slots: Vec<SlotView>,
    /// Daily capacity of each granted area that has one.
    capacity: Vec<AreaCapacity>,
}

#[derive(Serialize)]
struct SlotView {
    time: String,
    quota: u32,
    entry_from_min_before: u32,
    entry_until_min_after: u32,
}

#[derive(Serialize)]
struct AreaCapacity {
    area: String,
    daily_max: Option<u32>,
    instant_max: Option<u32>,
}

pub fn products(api: &Api) -> Vec<ProductView> {
    api.venue
        .config
        .products
        .iter()
        .map(|p| ProductView {
            id: p.id.clone(),
            name: p.name.clone(),
            price_fen: p.price_fen,
            grants: p.grants.clone(),
            entries: p.entries,
            reentry: p.reentry,
            real_name: p.real_name,
            group_min_size: p.group_min_size,
            group_price_fen: p.group_price_fen,
            refund: p.refund,
            slots: p
                .slots
                .iter()
                .map(|s| SlotView {
                    time: s.time.clone(),
                    quota: s.quota,
                    entry_from_min_before: p.slot_entry_before_min,
                    entry_until_min_after: p.slot_entry_after_min,
                })
                .collect(),
            capacity: p
                .grants
                .iter()
                .filter_map(|g| api.venue.area(g))
                .map(|a| AreaCapacity {
                    area: a.id.clone(),
                    daily_max: a.daily_max,
                    instant_max: a.instant_max,
                })
                .collect(),
        })
        .collect()
}

pub async fn create_order(api: &Api, call: Call) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let req: OrderRequest = parse_json(&body)?;
    place(api, req, actor, None)
        .await
        .map(|(status, order, _)| json_reply(status, &order))
}

/// Places an order and tells the gates; 201 when created, 200 when `order_ref` repeats.
pub(super) async fn place(
    api: &Api,
    req: OrderRequest,
    actor: Actor,
    plugin: Option<String>,
) -> Result<(StatusCode, ticketing::OrderView, bool), DomainError> {
    let venue = api.venue.clone();
    let placed = api
        .store
        .write(move |c| {
            let now = venue.clock.now();
            ticketing::place_order(c, &venue, &req, &actor, plugin.as_deref(), now)
        })
        .await?;
    if placed.created {
        api.metrics.order_created();
    }
    publish(api, placed.whitelist).await;
    let status = if placed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, placed.order, placed.created))
}

async fn publish(api: &Api, changes: Vec<WhitelistChange>) {
    if !changes.is_empty() && api.whitelist.send(changes).await.is_err() {
        tracing::warn!(
            "whitelist publisher stopped; gates will learn of this change at their next resync"
        );
    }
}

pub async fn get_order(api: &Api, order_id: &str) -> Result<Reply, DomainError> {
    let venue = api.venue.clone();
    let id = order_id.to_owned();
    let order = api
        .store
        .write(move |c| ticketing::load_order(c, &venue, &id))
        .await?;
    match order {
        Some(o) => Ok(json_reply(StatusCode::OK, &o)),
        None => Err(DomainError::not_found(
            "order_not_found",
            format!("no order {order_id}"),
        )),
    }
}

pub async fn refund(api: &Api, call: Call, order_id: &str) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let req: RefundRequest = parse_json(&body)?;
    let done = refund_order(api, order_id, req, actor).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_reply(
        status,
        &serde_json::json!({ "refund_id": done.refund_id, "order": done.order }),
    ))
}

/// Refunds (the API's and the console's) and tells the gates.
pub(super) async fn refund_order(
    api: &Api,
    order_id: &str,
    req: RefundRequest,
    actor: Actor,
) -> Result<ticketing::Refunded, DomainError> {
    let venue = api.venue.clone();
    let id = order_id.to_owned();
    let mut done = api
        .store
        .write(move |c| {
            let now = venue.clock.now();
            ticketing::refund_order(c, &venue, &id, &req, &actor, now)
        })
        .await?;
    publish(api, std::mem::take(&mut done.whitelist)).await;
    Ok(done)
}

pub async fn rebook(api: &Api, call: Call, ticket_id: &str) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let req: RebookRequest = parse_json(&body)?;
    let ticket = rebook_ticket(api, ticket_id, req, actor).await?;
    Ok(json_reply(StatusCode::OK, &ticket))
}

/// Rebooks (the API's and the console's) and tells the gates.
pub(super) async fn rebook_ticket(
    api: &Api,
    ticket_id: &str,
    req: RebookRequest,
    actor: Actor,
) -> Result<venue_model::order::TicketView, DomainError> {
    let venue = api.venue.clone();
    let id = ticket_id.to_owned();
    let done = api
        .store
        .write(move |c| {
            let now = venue.clock.now();
            ticketing::rebook_ticket(c, &venue, &id, &req, &actor, now)
        })
        .await?;
    publish(api, done.whitelist).await;
    Ok(done.ticket)
}

/// A partner's raw order push: decoded by its ticketing-adapter plugin, placed like any
/// order, answered in the partner's format.
pub async fn integration_order(
    api: &Api,
    call: Call,
    plugin_id: &str,
) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let plugin = api.plugins.get(plugin_id)?;
    if plugin.world() != venue_plugin_host::World::TicketingAdapter {
        return Err(DomainError::not_found(
            "plugin_not_found",
            format!("{plugin_id} is not a ticketing-adapter plugin"),
        ));
    }
    let content_type = call.content_type.clone();
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let req = match plugin.decode_order(&body, &content_type).await? {
        Ok(req) => req,
        Err(e) => {
            return Err(DomainError::bad_request(
                "bad_partner_order",
                format!(
                    "{plugin_id} could not decode the order ({}): {}",
                    e.code, e.message
                ),
            ));
        }
    };
    let (status, order, _) = place(api, req, actor, Some(plugin_id.to_owned())).await?;
    let encoded = plugin.encode_confirmation(&order).await?;
    Ok(bytes_reply(status, encoded, "application/json"))
}

#[derive(Serialize)]
struct CapacityRow {
    area: String,
    daily_max: Option<u32>,
    instant_max: Option<u32>,
    sold: i64,
    in_park: i64,
}

pub async fn capacity(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let date = call
        .date("date")?
        .unwrap_or_else(|| api.venue.clock.today());
    let venue = api.venue.clone();
    let rows = api
        .store
        .write(move |c| -> Result<Vec<CapacityRow>, DomainError> {
            let mut rows = Vec::new();
            for a in &venue.config.areas {
                rows.push(CapacityRow {
                    area: a.id.clone(),
                    daily_max: a.daily_max,
                    instant_max: a.instant_max,
                    sold: ticketing::sold_for(c, &a.id, date)?,
                    in_park: venue_domain::admission::presence(c, &a.id, date)?,
                });
            }
            Ok(rows)
        })
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "date": date.to_string(), "areas": rows }),
    ))
}
