//! The ledger: balanced double-entry transfers (settlement.md, Ledger).
//!
//! A transfer carries the id of the fact that caused it; `(fact_kind, fact_id)` is unique,
//! so posting the same fact twice is impossible. Debits equal credits is asserted before a
//! transfer is written, and checked again on every read of the trial balance.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "ledger: transfer {fact_kind}/{fact_id} does not balance: debits {debits} fen, credits {credits} fen"
    )]
    Unbalanced {
        fact_kind: String,
        fact_id: String,
        debits: i64,
        credits: i64,
    },
    #[error("ledger: the books do not balance: debits {debits} fen, credits {credits} fen")]
    BooksUnbalanced { debits: i64, credits: i64 },
    #[error("ledger: amount overflow")]
    Overflow,
    #[error("ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// One side of a transfer: positive is a debit, negative a credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub account: String,
    pub amount_fen: i64,
}

impl Leg {
    pub fn debit(account: impl Into<String>, fen: i64) -> Leg {
        Leg {
            account: account.into(),
            amount_fen: fen,
        }
    }
    pub fn credit(account: impl Into<String>, fen: i64) -> Leg {
        Leg {
            account: account.into(),
            amount_fen: -fen,
        }
    }
}

/// Posts a transfer. Returns false (and writes nothing) when the fact was posted before.
pub fn post(
    conn: &Connection,
    fact_kind: &str,
    fact_id: &str,
    at: &str,
    business_date: &str,
    memo: &str,
    legs: &[Leg],
) -> Result<bool, LedgerError> {
    let mut debits: i64 = 0;
    let mut credits: i64 = 0;
    for leg in legs {
        if leg.amount_fen >= 0 {
            debits = debits
                .checked_add(leg.amount_fen)
                .ok_or(LedgerError::Overflow)?;
        } else {
            credits = credits
                .checked_add(leg.amount_fen.checked_neg().ok_or(LedgerError::Overflow)?)
                .ok_or(LedgerError::Overflow)?;
        }
    }
    if debits != credits {
        return Err(LedgerError::Unbalanced {
            fact_kind: fact_kind.to_owned(),
            fact_id: fact_id.to_owned(),
            debits,
            credits,
        });
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO ledger_transfers (fact_kind, fact_id, at, business_date, memo) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (fact_kind, fact_id) DO NOTHING RETURNING id",
        )?
        .query_row(params![fact_kind, fact_id, at, business_date, memo], |r| r.get::<_, i64>(0))
        .optional()?;
    let Some(transfer_id) = inserted else {
        return Ok(false);
    };
    let mut stmt =
        conn.prepare_cached("INSERT INTO ledger_entries (transfer_id, account, debit_fen, credit_fen) VALUES (?1, ?2, ?3, ?4)")?;
    for leg in legs.iter().filter(|l| l.amount_fen != 0) {
        let (debit, credit) = if leg.amount_fen > 0 {
            (leg.amount_fen, 0)
        } else {
            (0, -leg.amount_fen)
        };
        stmt.execute(params![transfer_id, leg.account, debit, credit])?;
    }
    Ok(true)
}

/// Whether a fact has been posted.
pub fn posted(conn: &Connection, fact_kind: &str, fact_id: &str) -> Result<bool, LedgerError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM ledger_transfers WHERE fact_kind = ?1 AND fact_id = ?2")?
        .query_row(params![fact_kind, fact_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Reverses a fact's transfer as a new transfer (for voids). False when there was
/// nothing to reverse or it was already reversed.
pub fn reverse(
    conn: &Connection,
    fact_kind: &str,
    fact_id: &str,
    reversal_kind: &str,
    at: &str,
    business_date: &str,
) -> Result<bool, LedgerError> {
    let legs: Vec<Leg> = {
        let mut stmt = conn.prepare_cached(
            "SELECT e.account, e.debit_fen, e.credit_fen FROM ledger_entries e
             JOIN ledger_transfers t ON t.id = e.transfer_id WHERE t.fact_kind = ?1 AND t.fact_id = ?2",
        )?;
        let rows = stmt.query_map(params![fact_kind, fact_id], |r| {
            Ok(Leg {
                account: r.get(0)?,
                amount_fen: r.get::<_, i64>(2)? - r.get::<_, i64>(1)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    if legs.is_empty() {
        return Ok(false);
    }
    post(
        conn,
        reversal_kind,
        fact_id,
        at,
        business_date,
        &format!("reversal of {fact_kind} {fact_id}"),
        &legs,
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountBalance {
    pub account: String,
    pub debit_fen: i64,
    pub credit_fen: i64,
    /// Debits minus credits.
    pub balance_fen: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrialBalance {
    pub accounts: Vec<AccountBalance>,
    pub debit_fen: i64,
    pub credit_fen: i64,
}

/// Every account's totals; fails if the books do not balance.
pub fn trial_balance(conn: &Connection, prefix: Option<&str>) -> Result<TrialBalance, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT account, SUM(debit_fen), SUM(credit_fen) FROM ledger_entries GROUP BY account ORDER BY account",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut accounts = Vec::new();
    let (mut debits, mut credits) = (0i64, 0i64);
    for row in rows {
        let (account, d, c) = row?;
        debits = debits.checked_add(d).ok_or(LedgerError::Overflow)?;
        credits = credits.checked_add(c).ok_or(LedgerError::Overflow)?;
        if prefix.is_none_or(|p| account.starts_with(p)) {
            accounts.push(AccountBalance {
                account,
                debit_fen: d,
                credit_fen: c,
                balance_fen: d - c,
            });
        }
    }
    if debits != credits {
        return Err(LedgerError::BooksUnbalanced { debits, credits });
    }
    Ok(TrialBalance {
        accounts,
        debit_fen: debits,
        credit_fen: credits,
    })
}

/// A party's running balances: what the venue owes it (`payable`), what it owes the venue
/// (`carry`), and the venue's commission from it.
pub fn party_balance(conn: &Connection, party: &str) -> Result<BTreeMap<String, i64>, LedgerError> {
    let mut out = BTreeMap::new();
    for account in [
        format!("payable:{party}"),
        format!("carry:{party}"),
        format!("commission:{party}"),
    ] {
        let (d, c): (i64, i64) = conn
            .prepare_cached("SELECT COALESCE(SUM(debit_fen), 0), COALESCE(SUM(credit_fen), 0) FROM ledger_entries WHERE account = ?1")?
            .query_row(params![account], |r| Ok((r.get(0)?, r.get(1)?)))?;
        out.insert(account, d - c);
    }
    Ok(out)
}
