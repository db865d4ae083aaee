//! A settlement contract version and what a bill is made of: the terms a party is
//! settled by, a category's totals within a cycle, and a bill's lines. What a
//! settlement-rule plugin is given ([`PluginInput`]) and returns ([`Line`]s) is made of
//! these; the plugin host maps between the WIT shapes and them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::{Fen, Rounding};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Daily,
    /// Monday to Sunday.
    Weekly,
}

/// A contract version as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub id: String,
    pub party: String,
    pub version: u32,
    /// The first business day it applies to (`YYYY-MM-DD` exactly).
    pub effective_from: crate::BusinessDate,
    /// `revenue_share` or `commission`.
    pub kind: String,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub merchants: Vec<String>,
    pub cycle: Cycle,
    #[serde(default)]
    pub cost_bp: u32,
    #[serde(default)]
    pub cost_fixed_fen: Fen,
    #[serde(default)]
    pub share_bp: u32,
    #[serde(default)]
    pub rates: BTreeMap<String, u32>,
    #[serde(default)]
    pub default_rate_bp: u32,
    pub rounding: Rounding,
    #[serde(default)]
    pub plugin: Option<String>,
}

/// What a party sold and gave back in one category within a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTotal {
    pub category: String,
    pub sales_fen: Fen,
    pub refunds_fen: Fen,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `category`, `cost`, `share`, `late`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub basis_fen: Fen,
    pub rate_bp: u32,
    pub amount_fen: Fen,
    /// For `late` lines: the original business day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a bill is in the finance workflow (settlement.md): a draft is approved or
/// rejected (a rejected bill gets a new draft version); an approved bill is paid, which
/// passes through `paying` to `paid` or `failed` (a failed bill may be paid again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    #[default]
    Draft,
    Approved,
    Rejected,
    Paying,
    Paid,
    Failed,
}

text_enum!(BillStatus, "a bill status", {
    Draft => "draft",
    Approved => "approved",
    Rejected => "rejected",
    Paying => "paying",
    Paid => "paid",
    Failed => "failed",
});

/// Where one payment attempt of a bill is: requested from the bank's connector, pending
/// (the bank has not said yet; the bill stays `paying`), succeeded or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    Requested,
    Pending,
    Succeeded,
    Failed,
}

text_enum!(PayoutState, "a payout state", {
    Requested => "requested",
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
});

/// What a settlement-rule plugin is asked to compute lines for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginInput {
    pub contract: Contract,
    pub period_start: crate::BusinessDate,
    pub period_end: crate::BusinessDate,
    pub categories: Vec<CategoryTotal>,
}

impl Contract {
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || self.party.is_empty() {
            return Err("id and party are required".into());
        }
        if self.version == 0 {
            return Err("versions start at 1".into());
        }
        if self.products.is_empty() && self.merchants.is_empty() {
            return Err("the scope is empty: name products and/or merchants".into());
        }
        let bp = |name: &str, v: u32| {
            if v > 10_000 {
                Err(format!("{name} must be at most 10000 bp"))
            } else {
                Ok(())
            }
        };
        match self.kind.as_str() {
            "revenue_share" => {
                bp("cost_bp", self.cost_bp)?;
                bp("share_bp", self.share_bp)?;
                if self.cost_fixed_fen.is_negative() {
                    return Err("cost_fixed_fen must not be negative".into());
                }
            }
            "commission" => {
                bp("default_rate_bp", self.default_rate_bp)?;
                for (category, rate) in &self.rates {
                    bp(&format!("rates.{category}"), *rate)?;
                }
            }
            other => {
                return Err(format!(
                    "kind must be revenue_share or commission, not {other:?}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::TicketStatus;

    #[test]
    fn every_state_reads_back_from_its_own_text_and_no_other() {
        for &status in BillStatus::ALL {
            assert_eq!(BillStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(
                json,
                format!("\"{}\"", status.as_str()),
                "the API shows the stored text"
            );
        }
        for &state in PayoutState::ALL {
            assert_eq!(PayoutState::parse(state.as_str()), Some(state));
        }
        for &status in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(status.as_str()), Some(status));
        }
        for text in ["", "Draft", "paid ", "used", "approve"] {
            assert_eq!(BillStatus::parse(text), None, "{text:?}");
            assert_eq!(TicketStatus::parse(text), None, "{text:?}");
        }
    }
}
