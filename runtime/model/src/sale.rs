//! The unified POS message and its answer, as the host works with them. A terminal's
//! pos-adapter plugin decodes its vendor's payload into a [`Sale`] and encodes the
//! [`Ack`] back; the plugin host maps between the WIT shapes and these.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleKind {
    Sale,
    Refund,
    Void,
}

impl SaleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SaleKind::Sale => "sale",
            SaleKind::Refund => "refund",
            SaleKind::Void => "void",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    pub sku: String,
    pub category: String,
    pub qty: u32,
    pub unit_price_fen: Fen,
}

/// A decoded POS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub event_id: String,
    pub merchant: String,
    pub kind: SaleKind,
    pub refers_to: Option<String>,
    pub at: String,
    pub payment: String,
    pub lines: Vec<SaleLine>,
    pub total_fen: Fen,
    /// The ticket the visitor paid with, where the park runs a one-code wallet (contract
    /// 1.1.0; a plugin built against 1.0.0 never sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<String>,
}

/// The answer for the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub event_id: String,
    /// None: accepted. Some: the reason it was rejected (`code: message`).
    pub error: Option<String>,
}
