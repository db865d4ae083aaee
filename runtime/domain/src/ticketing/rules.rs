//! The ticketing rules as pure functions: which visit dates may be sold or moved to, which
//! slot an order names, whether a count still fits, what one ticket costs on a channel,
//! which visitors a line needs, and whether a ticket may be rebooked. Today is an argument;
//! nothing here reads the store or the clock. Their tables are in `rules/tests.rs`.

use venue_model::BusinessDate;
use venue_model::order::{Channel, TicketStatus, VisitorRequest};

use crate::config::ProductConfig;
use crate::error::DomainError;

/// A visit date may be sold or moved to from today on.
pub fn check_visit_date(visit: BusinessDate, today: BusinessDate) -> Result<(), DomainError> {
    if visit < today {
        return Err(DomainError::rule(
            "visit_date_past",
            format!("visit_date {visit} is before today ({today})"),
        ));
    }
    Ok(())
}

/// The slot a line is sold for: none for a product without slots, else one of its own.
pub fn pick_slot(
    product: &ProductConfig,
    asked: Option<&str>,
) -> Result<Option<String>, DomainError> {
    match (asked, product.slots.is_empty()) {
        (_, true) => Ok(None),
        (Some(slot), false) if product.slot(slot).is_some() => Ok(Some(slot.to_owned())),
        (Some(slot), false) => {
            let known: Vec<&str> = product.slots.iter().map(|s| s.time.as_str()).collect();
            Err(DomainError::bad_request(
                "bad_slot",
                format!(
                    "{} has no slot {slot:?}; its slots are {}",
                    product.id,
                    known.join(", ")
                ),
            ))
        }
        (None, false) => Err(DomainError::bad_request(
            "missing_slot",
            format!("{} is sold by time slot: give \"slot\"", product.id),
        )),
    }
}

/// Whether `count` more tickets fit where `sold` are sold of at most `max` (none: no limit).
pub fn fits(sold: i64, count: u32, max: Option<u32>) -> bool {
    match max {
        None => true,
        Some(max) => sold.saturating_add(i64::from(count)) <= i64::from(max),
    }
}

/// What one ticket of `product` costs in a line of `qty` sold through `channel`: the group
/// price for a group of at least the product's smallest party, else the list price.
pub fn unit_price(
    product: &ProductConfig,
    channel: Channel,
    qty: u32,
) -> Result<venue_model::money::Fen, DomainError> {
    if channel != Channel::Group {
        return Ok(product.price_fen);
    }
    match (product.group_min_size, product.group_price_fen) {
        (Some(min), Some(price)) if qty >= min => Ok(price),
        (Some(min), Some(_)) => Err(DomainError::rule(
            "group_too_small",
            format!(
                "a group order of {} needs at least {min} tickets, got {qty}",
                product.id
            ),
        )),
        _ => Err(DomainError::rule(
            "no_group_sales",
            format!("{} is not sold to groups", product.id),
        )),
    }
}

/// A real-name product needs one visitor per ticket; any other takes one per ticket or none.
pub fn check_visitors(
    product: &ProductConfig,
    qty: u32,
    visitors: &[VisitorRequest],
) -> Result<(), DomainError> {
    let (given, wanted) = (visitors.len(), qty as usize);
    if product.real_name && given != wanted {
        return Err(DomainError::bad_request(
            "visitors_required",
            format!(
                "{} is a real-name product: give one visitor per ticket ({qty} tickets, {given} visitors)",
                product.id
            ),
        ));
    }
    if !product.real_name && given != 0 && given != wanted {
        return Err(DomainError::bad_request(
            "visitors_mismatch",
            format!("give one visitor per ticket or none ({qty} tickets, {given} visitors)"),
        ));
    }
    Ok(())
}

/// What a rebooking looks at: the ticket as it stands, and where it is asked to go.
#[derive(Debug, Clone, Copy)]
pub struct RebookFacts {
    pub status: TicketStatus,
    pub entries_used: u32,
    pub from: BusinessDate,
    pub to: BusinessDate,
}

/// A ticket moves only while it is valid, unused, and neither its day nor the new one has
/// passed.
pub fn check_rebook(
    ticket_id: &str,
    facts: RebookFacts,
    today: BusinessDate,
) -> Result<(), DomainError> {
    if facts.status == TicketStatus::Refunded {
        return Err(DomainError::conflict(
            "ticket_refunded",
            format!("ticket {ticket_id} is refunded"),
        ));
    }
    if facts.entries_used > 0 {
        return Err(DomainError::conflict(
            "ticket_used",
            format!("ticket {ticket_id} has been used and cannot be rebooked"),
        ));
    }
    check_visit_date(facts.to, today)?;
    if facts.from < today {
        return Err(DomainError::rule(
            "visit_date_past",
            format!(
                "ticket {ticket_id} was for {}, which has passed",
                facts.from
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
