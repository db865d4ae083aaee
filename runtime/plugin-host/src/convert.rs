//! Between the WIT shapes plugins speak and the host's own types. Anything a plugin hands
//! over is checked here before the host acts on it.

use super::DecodeError;
use super::bindings::pos_1_0::venue::edge::types as wit_1_0;
use super::bindings::types as wit;
use venue_model::money::Fen;
use venue_model::order::{Channel, OrderRequest, OrderView, WhitelistEntry};
use venue_model::scan::{Decision, Direction, Reason, Scan, Verdict};

/// Longest `event_id` or `code` accepted from a device.
pub const ID_BYTES_MAX: usize = 128;

/// A whitelist delta for one gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delta {
    pub gate: String,
    pub seq: u64,
    pub add: Vec<WhitelistEntry>,
    pub remove: Vec<String>,
}

/// A decoded scan, checked: a scan without an `event_id` or a code cannot be judged.
pub fn scan_from_wit(s: wit::Scan) -> Result<Scan, DecodeError> {
    let bad = |code: &str, message: String, event_id: Option<String>| DecodeError {
        code: code.to_owned(),
        message,
        event_id,
    };
    if s.event_id.is_empty() || s.event_id.len() > ID_BYTES_MAX {
        return Err(bad(
            "bad_event_id",
            format!("event_id must be 1 to {ID_BYTES_MAX} bytes"),
            None,
        ));
    }
    let event_id = Some(s.event_id.clone());
    if s.code.is_empty() || s.code.len() > ID_BYTES_MAX {
        return Err(bad(
            "bad_code",
            format!("code must be 1 to {ID_BYTES_MAX} bytes"),
            event_id,
        ));
    }
    Ok(Scan {
        event_id: s.event_id,
        code: s.code,
        direction: match s.direction {
            wit::Direction::In => Direction::In,
            wit::Direction::Out => Direction::Out,
        },
        at: s.at,
        count: s.count,
        id_number: s.id_number,
        offline: s.offline,
    })
}

pub fn decode_error_from_wit(e: wit::DecodeError) -> DecodeError {
    DecodeError {
        code: e.code,
        message: e.message,
        event_id: e
            .event_id
            .filter(|id| !id.is_empty() && id.len() <= ID_BYTES_MAX),
    }
}

pub fn verdict_to_wit(v: &Verdict) -> wit::Verdict {
    wit::Verdict {
        event_id: v.event_id.clone(),
        decision: match v.decision {
            Decision::Admit => wit::Decision::Admit,
            Decision::Deny => wit::Decision::Deny,
        },
        reason: reason_to_wit(v.reason),
        ticket_id: v.ticket_id.clone(),
        admitted: v.admitted,
        entries_left: v.entries_left,
        message: v.message.clone(),
    }
}

fn reason_to_wit(r: Reason) -> wit::Reason {
    match r {
        Reason::Ok => wit::Reason::Ok,
        Reason::UnknownTicket => wit::Reason::UnknownTicket,
        Reason::AlreadyUsed => wit::Reason::AlreadyUsed,
        Reason::NotValidToday => wit::Reason::NotValidToday,
        Reason::OutsideTimeSlot => wit::Reason::OutsideTimeSlot,
        Reason::Refunded => wit::Reason::Refunded,
        Reason::Rebooked => wit::Reason::Rebooked,
        Reason::Passback => wit::Reason::Passback,
        Reason::WrongArea => wit::Reason::WrongArea,
        Reason::CapacityFull => wit::Reason::CapacityFull,
        Reason::RealnameMismatch => wit::Reason::RealnameMismatch,
        Reason::BadRequest => wit::Reason::BadRequest,
        Reason::PluginError => wit::Reason::PluginError,
    }
}

pub fn delta_to_wit(d: &Delta) -> wit::WhitelistDelta {
    wit::WhitelistDelta {
        gate: d.gate.clone(),
        seq: d.seq,
        add: d
            .add
            .iter()
            .map(|e| wit::WhitelistEntry {
                code: e.code.clone(),
                ticket_id: e.ticket_id.clone(),
                visit_date: e.visit_date.to_string(),
                slot: e.slot.clone(),
                entries: e.entries,
                party_size: e.party_size,
            })
            .collect(),
        remove: d.remove.clone(),
    }
}

/// A partner's order as the plugin decoded it; its visit date is parsed here, the door of
/// this path, with the same rule as `POST /api/v1/orders`.
pub fn order_from_wit(o: wit::Order) -> Result<OrderRequest, DecodeError> {
    use venue_model::order::{ItemRequest, PaymentRequest, VisitorRequest};
    let visit_date = venue_model::BusinessDate::parse(&o.visit_date).map_err(|e| DecodeError {
        code: "bad_date".into(),
        message: format!("visit_date: {e}"),
        event_id: Some(o.order_ref.clone()),
    })?;
    Ok(OrderRequest {
        order_ref: o.order_ref,
        channel: match o.channel {
            wit::Channel::Web => Channel::Web,
            wit::Channel::Window => Channel::Window,
            wit::Channel::Ota => Channel::Ota,
            wit::Channel::Group => Channel::Group,
        },
        visit_date,
        slot: o.slot,
        items: o
            .items
            .into_iter()
            .map(|i| ItemRequest {
                product: i.product,
                qty: i.qty,
                visitors: i
                    .visitors
                    .into_iter()
                    .map(|v| VisitorRequest {
                        name: v.name,
                        id_type: v.id_type,
                        id_number: v.id_number,
                    })
                    .collect(),
            })
            .collect(),
        payment: PaymentRequest {
            method: o.payment.method,
            reference: o.payment.reference,
        },
    })
}

pub fn confirmation_to_wit(o: &OrderView) -> wit::OrderConfirmation {
    wit::OrderConfirmation {
        order_id: o.order_id.clone(),
        order_ref: o.order_ref.clone(),
        total_fen: o.total_fen.get(),
        tickets: o
            .tickets
            .iter()
            .map(|t| wit::Ticket {
                ticket_id: t.ticket_id.clone(),
                code: t.code.clone(),
                product: t.product.clone(),
                visit_date: t.visit_date.to_string(),
                slot: t.slot.clone(),
                visitor_name: t.visitor.as_ref().map(|v| v.name.clone()),
            })
            .collect(),
        group_code: o.group_code.clone(),
    }
}

/// A decoded sale, checked for what the journal cannot do without.
pub fn sale_from_wit(s: wit::Sale) -> Result<venue_model::sale::Sale, DecodeError> {
    if s.event_id.is_empty() || s.event_id.len() > ID_BYTES_MAX {
        return Err(DecodeError {
            code: "bad_event_id".into(),
            message: format!("event_id must be 1 to {ID_BYTES_MAX} bytes"),
            event_id: None,
        });
    }
    if let Some(code) = &s.ticket_code
        && (code.is_empty() || code.len() > ID_BYTES_MAX || code.chars().any(char::is_control))
    {
        return Err(DecodeError {
            code: "bad_ticket_code".into(),
            message: format!(
                "ticket_code must be 1 to {ID_BYTES_MAX} bytes without control characters"
            ),
            event_id: Some(s.event_id),
        });
    }
    Ok(venue_model::sale::Sale {
        event_id: s.event_id,
        merchant: s.merchant,
        kind: match s.kind {
            wit::SaleKind::Sale => venue_model::sale::SaleKind::Sale,
            wit::SaleKind::Refund => venue_model::sale::SaleKind::Refund,
            wit::SaleKind::Void => venue_model::sale::SaleKind::Void,
        },
        refers_to: s.refers_to,
        at: s.at,
        payment: s.payment,
        lines: s
            .lines
            .into_iter()
            .map(|l| venue_model::sale::SaleLine {
                sku: l.sku,
                category: l.category,
                qty: l.qty,
                unit_price_fen: Fen::new(l.unit_price_fen),
            })
            .collect(),
        total_fen: Fen::new(s.total_fen),
        ticket_code: s.ticket_code,
    })
}

/// A 1.0.0 adapter's sale in the current shape: it never names a ticket code.
pub fn sale_from_wit_1_0(s: wit_1_0::Sale) -> wit::Sale {
    wit::Sale {
        event_id: s.event_id,
        merchant: s.merchant,
        kind: match s.kind {
            wit_1_0::SaleKind::Sale => wit::SaleKind::Sale,
            wit_1_0::SaleKind::Refund => wit::SaleKind::Refund,
            wit_1_0::SaleKind::Void => wit::SaleKind::Void,
        },
        refers_to: s.refers_to,
        at: s.at,
        payment: s.payment,
        lines: s
            .lines
            .into_iter()
            .map(|l| wit::SaleLine {
                sku: l.sku,
                category: l.category,
                qty: l.qty,
                unit_price_fen: l.unit_price_fen,
            })
            .collect(),
        total_fen: s.total_fen,
        ticket_code: None,
    }
}

pub fn decode_error_from_wit_1_0(e: wit_1_0::DecodeError) -> wit::DecodeError {
    wit::DecodeError {
        code: e.code,
        message: e.message,
        event_id: e.event_id,
    }
}

pub fn ack_to_wit_1_0(a: &venue_model::sale::Ack) -> wit_1_0::Ack {
    wit_1_0::Ack {
        event_id: a.event_id.clone(),
        status: match &a.error {
            None => wit_1_0::AckStatus::Accepted,
            Some(e) => wit_1_0::AckStatus::Rejected(e.clone()),
        },
    }
}

pub fn ack_to_wit(a: &venue_model::sale::Ack) -> wit::Ack {
    wit::Ack {
        event_id: a.event_id.clone(),
        status: match &a.error {
            None => wit::AckStatus::Accepted,
            Some(e) => wit::AckStatus::Rejected(e.clone()),
        },
    }
}

pub fn settlement_input_to_wit(
    input: &venue_model::contract::PluginInput,
) -> (
    wit::Contract,
    super::bindings::settlement::exports::venue::edge::rules::SettlementInput,
) {
    use super::bindings::settlement::exports::venue::edge::rules as r;
    let c = &input.contract;
    let contract = wit::Contract {
        id: c.id.clone(),
        party: c.party.clone(),
        version: c.version,
        effective_from: c.effective_from.to_string(),
        kind: if c.kind == "revenue_share" {
            wit::ContractKind::RevenueShare
        } else {
            wit::ContractKind::Commission
        },
        products: c.products.clone(),
        merchants: c.merchants.clone(),
        cycle: match c.cycle {
            venue_model::contract::Cycle::Daily => wit::Cycle::Daily,
            venue_model::contract::Cycle::Weekly => wit::Cycle::Weekly,
        },
        cost_bp: c.cost_bp,
        cost_fixed_fen: c.cost_fixed_fen.get(),
        share_bp: c.share_bp,
        rates: c
            .rates
            .iter()
            .map(|(category, rate)| wit::CategoryRate {
                category: category.clone(),
                rate_bp: *rate,
            })
            .collect(),
        default_rate_bp: c.default_rate_bp,
        rounding: match c.rounding {
            venue_model::money::Rounding::HalfUp => wit::Rounding::HalfUp,
            venue_model::money::Rounding::HalfEven => wit::Rounding::HalfEven,
        },
    };
    let wit_input = r::SettlementInput {
        period_start: input.period_start.to_string(),
        period_end: input.period_end.to_string(),
        categories: input
            .categories
            .iter()
            .map(|t| r::CategoryTotal {
                category: t.category.clone(),
                sales_fen: t.sales_fen.get(),
                refunds_fen: t.refunds_fen.get(),
                count: 0,
            })
            .collect(),
    };
    (contract, wit_input)
}

pub fn line_from_wit(l: wit::BillLine) -> venue_model::contract::Line {
    venue_model::contract::Line {
        kind: l.kind,
        category: l.category,
        basis_fen: Fen::new(l.basis_fen),
        rate_bp: l.rate_bp,
        amount_fen: Fen::new(l.amount_fen),
        note: l.note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner_order(visit_date: &str) -> wit::Order {
        wit::Order {
            order_ref: "ota-1".into(),
            channel: wit::Channel::Ota,
            visit_date: visit_date.into(),
            slot: None,
            items: Vec::new(),
            payment: wit::Payment {
                method: "alipay".into(),
                reference: "p-1".into(),
            },
        }
    }

    /// The ticketing-adapter path parses a plugin's visit date by the same rule as the
    /// HTTP door: a plugin that writes `2027-1-5` gets its order refused, naming the form.
    #[test]
    fn a_decoded_order_keeps_only_a_date_written_yyyy_mm_dd() {
        for (date, ok) in [
            ("2027-01-05", true),
            ("2027-1-5", false),
            (" 2027-01-05", false),
            ("20270105", false),
        ] {
            let decoded = order_from_wit(partner_order(date));
            match decoded {
                Ok(o) => {
                    assert!(ok, "{date:?} was taken");
                    assert_eq!(o.visit_date.to_string(), date);
                }
                Err(e) => {
                    assert!(!ok, "{date:?} was refused: {e:?}");
                    assert_eq!(e.code, "bad_date");
                    assert!(e.message.contains("YYYY-MM-DD"), "{}", e.message);
                    assert_eq!(e.event_id.as_deref(), Some("ota-1"));
                }
            }
        }
    }
}
