//! The sections of selling and settling: merchants, POS terminals, parties, contracts.

use std::collections::BTreeMap;

use serde::Deserialize;
use venue_model::BusinessDate;
use venue_model::contract::{Contract, Cycle};
use venue_model::money::Rounding;

/// A business selling inside the venue through POS terminals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The area its revenue is reported under.
    pub area: Option<String>,
}

/// A POS terminal, PMS or fare box.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosConfig {
    /// The device id in its MQTT topics.
    pub id: String,
    /// The merchant whose sales it records; a sale naming another merchant is rejected.
    pub merchant: String,
    /// The pos-adapter plugin that speaks its vendor's format.
    pub plugin: String,
}

/// A ride operator or merchant the venue settles with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyConfig {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The party's bank account for payouts.
    #[serde(default)]
    pub account: String,
    /// The payment-connector plugin that pays it.
    pub connector: Option<String>,
}

/// A settlement contract's first version (later versions come through the API).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    pub id: String,
    pub party: String,
    #[serde(default = "one_u32")]
    pub version: u32,
    /// `YYYY-MM-DD`: the first business day it applies to.
    #[serde(default = "epoch_date")]
    pub effective_from: BusinessDate,
    /// `revenue_share` or `commission`.
    pub kind: String,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub merchants: Vec<String>,
    #[serde(default = "daily")]
    pub cycle: String,
    #[serde(default)]
    pub cost_bp: u32,
    #[serde(default)]
    pub cost_fixed_fen: venue_model::money::Fen,
    #[serde(default)]
    pub share_bp: u32,
    #[serde(default)]
    pub rates: BTreeMap<String, u32>,
    #[serde(default)]
    pub default_rate_bp: u32,
    #[serde(default = "half_up")]
    pub rounding: String,
    /// A settlement-rule plugin computing the lines instead.
    pub plugin: Option<String>,
}

impl ContractConfig {
    /// Checks a config contract and converts it to the model's contract.
    pub fn to_contract(&self) -> Result<Contract, String> {
        let c = self;
        let cycle = match c.cycle.as_str() {
            "daily" => Cycle::Daily,
            "weekly" => Cycle::Weekly,
            other => return Err(format!("cycle must be daily or weekly, not {other:?}")),
        };
        let rounding = match c.rounding.as_str() {
            "half_up" => Rounding::HalfUp,
            "half_even" => Rounding::HalfEven,
            other => {
                return Err(format!(
                    "rounding must be half_up or half_even, not {other:?}"
                ));
            }
        };
        let contract = Contract {
            id: c.id.clone(),
            party: c.party.clone(),
            version: c.version,
            effective_from: c.effective_from,
            kind: c.kind.clone(),
            products: c.products.clone(),
            merchants: c.merchants.clone(),
            cycle,
            cost_bp: c.cost_bp,
            cost_fixed_fen: c.cost_fixed_fen,
            share_bp: c.share_bp,
            rates: c.rates.clone(),
            default_rate_bp: c.default_rate_bp,
            rounding,
            plugin: c.plugin.clone(),
        };
        contract.validate()?;
        Ok(contract)
    }
}

fn one_u32() -> u32 {
    1
}
fn epoch_date() -> BusinessDate {
    BusinessDate::from_naive(chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"))
}
fn daily() -> String {
    "daily".into()
}
fn half_up() -> String {
    "half_up".into()
}
