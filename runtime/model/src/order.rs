//! The unified order and ticket, as the host works with them: what a caller or a
//! ticketing-adapter plugin asks for ([`OrderRequest`]), what the box answers
//! ([`OrderView`]; ID numbers only masked) and what a gate may admit offline
//! ([`WhitelistEntry`]). The plugin host maps between the WIT shapes and these.

use serde::{Deserialize, Serialize};

use crate::BusinessDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Window,
    Ota,
    Group,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Window => "window",
            Channel::Ota => "ota",
            Channel::Group => "group",
        }
    }
}

/// A ticket's state as stored: it is valid until it is refunded. (Whether its entries are
/// used up is its product's rule, shown as `used` in a view, not a state of its own.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Valid,
    Refunded,
}

text_enum!(TicketStatus, "a ticket status", {
    Valid => "valid",
    Refunded => "refunded",
});

/// An order's state: paid when placed (orders are taken paid), refunded when every ticket
/// of it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Paid,
    Refunded,
}

text_enum!(OrderStatus, "an order status", {
    Paid => "paid",
    Refunded => "refunded",
});

/// A ticket as the API shows it: valid, used (its product's entries are used up) or
/// refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Valid,
    Used,
    Refunded,
}

impl TicketState {
    /// The state shown for a stored ticket that used `entries_used` of `entries` (none:
    /// no limit).
    pub fn of(status: TicketStatus, entries_used: u32, entries: Option<u32>) -> TicketState {
        match status {
            TicketStatus::Refunded => TicketState::Refunded,
            TicketStatus::Valid if entries.is_some_and(|n| entries_used >= n) => TicketState::Used,
            TicketStatus::Valid => TicketState::Valid,
        }
    }
}

/// A ticket a gate may admit offline, for one area's gates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistEntry {
    pub code: String,
    pub ticket_id: String,
    pub visit_date: BusinessDate,
    pub slot: Option<String>,
    pub entries: Option<u32>,
    pub party_size: u32,
}

/// The body of `POST /api/v1/orders`. Unknown fields are allowed (protocol.md) and ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRequest {
    pub order_ref: String,
    pub channel: Channel,
    /// `YYYY-MM-DD` exactly: any other spelling is refused when the body is read.
    pub visit_date: BusinessDate,
    #[serde(default)]
    pub slot: Option<String>,
    pub items: Vec<ItemRequest>,
    pub payment: PaymentRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemRequest {
    pub product: String,
    pub qty: u32,
    #[serde(default)]
    pub visitors: Vec<VisitorRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VisitorRequest {
    pub name: String,
    #[serde(default = "default_id_type")]
    pub id_type: String,
    pub id_number: String,
}

fn default_id_type() -> String {
    "id_card".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub method: String,
    #[serde(rename = "ref")]
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub order_ref: String,
    pub status: OrderStatus,
    pub channel: String,
    pub visit_date: BusinessDate,
    pub slot: Option<String>,
    pub total_fen: crate::money::Fen,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_code: Option<String>,
    pub tickets: Vec<TicketView>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketView {
    pub ticket_id: String,
    pub code: String,
    pub product: String,
    pub visit_date: BusinessDate,
    pub slot: Option<String>,
    pub price_fen: crate::money::Fen,
    pub status: TicketState,
    pub entries_used: u32,
    pub visitor: Option<VisitorView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VisitorView {
    pub name: String,
    pub id_type: String,
    /// Masked: `1101**********1234`.
    pub id_number: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentView {
    pub method: String,
    #[serde(rename = "ref")]
    pub reference: String,
    pub amount_fen: crate::money::Fen,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundView {
    pub refund_id: String,
    pub refund_ref: String,
    pub amount_fen: crate::money::Fen,
    pub reason: String,
    pub tickets: Vec<String>,
    pub created_at: String,
}
