//! What a record is about, and the revenue lines money records carry: one definition for
//! the edge box that writes them and HQ that reads them (docs/protocol.md, section 3).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Scan,
    Sale,
    Order,
    Refund,
    Rebook,
    Bill,
    Payout,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Scan,
        Kind::Sale,
        Kind::Order,
        Kind::Refund,
        Kind::Rebook,
        Kind::Bill,
        Kind::Payout,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Scan => "scan",
            Kind::Sale => "sale",
            Kind::Order => "order",
            Kind::Refund => "refund",
            Kind::Rebook => "rebook",
            Kind::Bill => "bill",
            Kind::Payout => "payout",
        }
    }

    /// Whether records of this kind carry revenue lines. The others may have a `revenue`
    /// field in their data; it is kept as sent but never counted.
    pub fn carries_revenue(self) -> bool {
        matches!(self, Kind::Sale | Kind::Order | Kind::Refund)
    }
}

/// A revenue line's kind: a sale (a void is a sale with a negative amount and count) or a
/// refund (its amount is what was paid back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Sale,
    Refund,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Sale => "sale",
            LineKind::Refund => "refund",
        }
    }
}

/// Where a line's revenue came from, as the edge box writes it.
pub const SOURCE_TICKET: &str = "ticket";
pub const SOURCE_POS: &str = "pos";

/// One revenue fact of a money record: ticket revenue under its product and area, POS
/// revenue under its merchant, category and area; `party` is the party whose contract
/// covers it. HQ reports across edge boxes from these alone, knowing no venue's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueLine {
    /// [`SOURCE_TICKET`] or [`SOURCE_POS`] from an edge box; HQ keeps any bounded text.
    pub source: Cow<'static, str>,
    pub product: Option<String>,
    pub merchant: Option<String>,
    pub area: Option<String>,
    pub category: Option<String>,
    pub party: Option<String>,
    pub kind: LineKind,
    pub amount_fen: i64,
    pub count: i64,
}
