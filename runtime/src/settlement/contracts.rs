//! Versioned contracts. A change is a new version with an `effective_from`; a bill records
//! the version it used. The config's contracts are seeded at start; `POST
//! /api/v1/contracts` adds versions.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::bill::Terms;
use super::money::Rounding;
use crate::config::ContractConfig;

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
    pub effective_from: String,
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
    pub cost_fixed_fen: i64,
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

/// Validation of a contract's terms.
pub struct ContractTerms;

impl ContractTerms {
    /// Checks a config contract and converts it.
    pub fn from_config(c: &ContractConfig) -> Result<Contract, String> {
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
            effective_from: c.effective_from.clone(),
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

impl Contract {
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || self.party.is_empty() {
            return Err("id and party are required".into());
        }
        if self.version == 0 {
            return Err("versions start at 1".into());
        }
        if let Err(e) = venue_model::BusinessDate::parse(&self.effective_from) {
            return Err(format!("effective_from: {e}"));
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
                if self.cost_fixed_fen < 0 {
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

    pub fn terms(&self) -> Terms {
        if self.kind == "revenue_share" {
            Terms::RevenueShare {
                cost_bp: self.cost_bp,
                cost_fixed_fen: self.cost_fixed_fen,
                share_bp: self.share_bp,
                rounding: self.rounding,
            }
        } else {
            Terms::Commission {
                rates: self.rates.clone(),
                default_rate_bp: self.default_rate_bp,
                rounding: self.rounding,
            }
        }
    }
}

/// Stores the config's contracts that the store does not have yet.
pub fn seed(conn: &Connection, contracts: &[ContractConfig], now: &str) -> rusqlite::Result<usize> {
    let mut added = 0;
    for c in contracts {
        let Ok(contract) = ContractTerms::from_config(c) else {
            continue;
        };
        added += insert(conn, &contract, now, true)?;
    }
    Ok(added)
}

/// Inserts a version; with `ignore_existing`, a version already stored is left alone.
pub fn insert(
    conn: &Connection,
    c: &Contract,
    now: &str,
    ignore_existing: bool,
) -> rusqlite::Result<usize> {
    let body = serde_json::to_string(c).unwrap_or_default();
    let sql = if ignore_existing {
        "INSERT OR IGNORE INTO contracts (id, version, party, effective_from, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    } else {
        "INSERT INTO contracts (id, version, party, effective_from, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    };
    conn.prepare_cached(sql)?.execute(params![
        c.id,
        c.version,
        c.party,
        c.effective_from,
        body,
        now
    ])
}

/// Every version of every contract.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<Contract>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM contracts ORDER BY id, version")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for body in rows {
        if let Ok(c) = serde_json::from_str(&body?) {
            out.push(c);
        }
    }
    Ok(out)
}

/// The latest version of a contract id.
pub fn latest_version(conn: &Connection, id: &str) -> rusqlite::Result<Option<u32>> {
    conn.prepare_cached("SELECT MAX(version) FROM contracts WHERE id = ?1")?
        .query_row(params![id], |r| r.get::<_, Option<u32>>(0))
        .optional()
        .map(Option::flatten)
}

/// The version of each contract in force on `day`: the highest version whose
/// `effective_from` is on or before it.
pub fn in_force(conn: &Connection, day: &str) -> rusqlite::Result<Vec<Contract>> {
    let mut by_id: BTreeMap<String, Contract> = BTreeMap::new();
    for c in all(conn)? {
        if c.effective_from.as_str() <= day {
            let newer = by_id.get(&c.id).is_none_or(|have| c.version > have.version);
            if newer {
                by_id.insert(c.id.clone(), c);
            }
        }
    }
    Ok(by_id.into_values().collect())
}
