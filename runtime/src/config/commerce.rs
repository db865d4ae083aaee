//! The sections of selling and settling: merchants, POS terminals, parties, contracts.

use std::collections::BTreeMap;

use serde::Deserialize;

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
    pub effective_from: String,
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
    pub cost_fixed_fen: i64,
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

fn one_u32() -> u32 {
    1
}
fn epoch_date() -> String {
    "2000-01-01".into()
}
fn daily() -> String {
    "daily".into()
}
fn half_up() -> String {
    "half_up".into()
}
