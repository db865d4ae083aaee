//! Versioned contracts. A change is a new version with an `effective_from`; a bill records
//! the version it used. The config's contracts are seeded at start; `POST
//! /api/v1/contracts` adds versions.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::config::ContractConfig;
use venue_model::BusinessDate;
pub use venue_model::contract::{Contract, Cycle};

/// Stores the config's contracts that the store does not have yet, each with an audit row
/// (`contract.seed`, by `config`).
pub fn seed(conn: &Connection, contracts: &[ContractConfig], now: &str) -> rusqlite::Result<usize> {
    let mut added = 0;
    for c in contracts {
        let Ok(contract) = c.to_contract() else {
            continue;
        };
        let stored = insert(conn, &contract, now, true)?;
        if stored > 0 {
            crate::audit::append(
                conn,
                now,
                &crate::actor::Actor::system("config"),
                "contract.seed",
                &contract.id,
                &format!("version {}", contract.version),
            )?;
        }
        added += stored;
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
pub fn in_force(conn: &Connection, day: BusinessDate) -> rusqlite::Result<Vec<Contract>> {
    let mut by_id: BTreeMap<String, Contract> = BTreeMap::new();
    for c in all(conn)? {
        if c.effective_from <= day {
            let newer = by_id.get(&c.id).is_none_or(|have| c.version > have.version);
            if newer {
                by_id.insert(c.id.clone(), c);
            }
        }
    }
    Ok(by_id.into_values().collect())
}
