//! The ledger: balanced double-entry transfers (settlement.md, Ledger).
//!
//! A transfer carries the id of the fact that caused it and is unique per fact, so posting
//! the same fact twice is impossible: `(fact_kind, fact_id)` is unique, and for a POS
//! message, whose transfer also names its row in `sales`, `(fact_kind, fact_ref)` is (the
//! row id grows with every sale, so that index is written at its end instead of at one
//! page per terminal, as an index of event ids is). Debits equal credits is asserted before
//! a transfer is written, and checked again on every read of the trial balance.
//!
//! Each account's running totals live in `ledger_accounts`, updated by the same posting as
//! its entries: the trial balance and a party's balance read those instead of summing
//! every entry ever written, and [`audit`] sums the entries to check them.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use venue_model::BusinessDate;
use venue_model::money::Fen;

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
    pub fn debit(account: impl Into<String>, fen: Fen) -> Leg {
        Leg {
            account: account.into(),
            amount_fen: fen.get(),
        }
    }
    /// (The one amount with no negative, `i64::MIN`, saturates: the transfer then does not
    /// balance and is refused, never written.)
    pub fn credit(account: impl Into<String>, fen: Fen) -> Leg {
        Leg {
            account: account.into(),
            amount_fen: fen.get().saturating_neg(),
        }
    }
}

// The lookups each posting or balance makes (their plans are tested: none scans).
const TRANSFER_BY_SALE: &str = "SELECT id FROM ledger_transfers
    WHERE fact_kind = ?1 AND fact_ref = ?2 AND fact_ref IS NOT NULL";
const TRANSFER_BY_FACT: &str = "SELECT id FROM ledger_transfers
    WHERE fact_kind = ?1 AND fact_id = ?2 AND fact_ref IS NULL";
const LEGS_OF_TRANSFER: &str =
    "SELECT account, debit_fen, credit_fen FROM ledger_entries WHERE transfer_id = ?1 ORDER BY leg";
const ACCOUNT_TOTALS: &str = "SELECT debit_fen, credit_fen FROM ledger_accounts WHERE account = ?1";

/// What caused a transfer: its kind and id, and for a POS message the row id of its
/// `sales` row, which then keeps the transfer unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub sale_row: Option<i64>,
}

impl<'a> Fact<'a> {
    pub fn new(kind: &'a str, id: &'a str) -> Fact<'a> {
        Fact {
            kind,
            id,
            sale_row: None,
        }
    }

    /// A POS message's fact: `event_id` is its id, `sale_row` its row in `sales`.
    pub fn of_sale(kind: &'a str, event_id: &'a str, sale_row: i64) -> Fact<'a> {
        Fact {
            kind,
            id: event_id,
            sale_row: Some(sale_row),
        }
    }
}

/// Posts a transfer. Returns false (and writes nothing) when the fact was posted before.
pub fn post(
    conn: &Connection,
    fact: Fact<'_>,
    at: &str,
    business_date: BusinessDate,
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
            fact_kind: fact.kind.to_owned(),
            fact_id: fact.id.to_owned(),
            debits,
            credits,
        });
    }
    // The conflict target names the partial unique index the row falls under.
    let sql = if fact.sale_row.is_some() {
        "INSERT INTO ledger_transfers (fact_kind, fact_id, fact_ref, at, business_date, memo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (fact_kind, fact_ref) WHERE fact_ref IS NOT NULL DO NOTHING RETURNING id"
    } else {
        "INSERT INTO ledger_transfers (fact_kind, fact_id, fact_ref, at, business_date, memo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (fact_kind, fact_id) WHERE fact_ref IS NULL DO NOTHING RETURNING id"
    };
    let inserted = conn
        .prepare_cached(sql)?
        .query_row(
            params![fact.kind, fact.id, fact.sale_row, at, business_date, memo],
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    let Some(transfer_id) = inserted else {
        return Ok(false);
    };
    let mut entry = conn.prepare_cached(
        "INSERT INTO ledger_entries (transfer_id, leg, account, debit_fen, credit_fen) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut totals = conn.prepare_cached(
        "INSERT INTO ledger_accounts (account, debit_fen, credit_fen) VALUES (?1, ?2, ?3)
         ON CONFLICT (account) DO UPDATE SET debit_fen = debit_fen + excluded.debit_fen,
                                             credit_fen = credit_fen + excluded.credit_fen",
    )?;
    for (n, leg) in legs.iter().filter(|l| l.amount_fen != 0).enumerate() {
        let (debit, credit) = if leg.amount_fen > 0 {
            (leg.amount_fen, 0)
        } else {
            (0, -leg.amount_fen)
        };
        entry.execute(params![transfer_id, n as i64, leg.account, debit, credit])?;
        totals.execute(params![leg.account, debit, credit])?;
    }
    Ok(true)
}

/// The transfer that posted `fact`, if any.
fn transfer_of(conn: &Connection, fact: Fact<'_>) -> rusqlite::Result<Option<i64>> {
    match fact.sale_row {
        Some(row) => conn
            .prepare_cached(TRANSFER_BY_SALE)?
            .query_row(params![fact.kind, row], |r| r.get(0))
            .optional(),
        None => conn
            .prepare_cached(TRANSFER_BY_FACT)?
            .query_row(params![fact.kind, fact.id], |r| r.get(0))
            .optional(),
    }
}

/// Whether a fact has been posted.
pub fn posted(conn: &Connection, fact: Fact<'_>) -> Result<bool, LedgerError> {
    Ok(transfer_of(conn, fact)?.is_some())
}

/// Reverses a fact's transfer as a new transfer of `reversal_kind` for the same fact (for
/// voids). False when there was nothing to reverse or it was already reversed.
pub fn reverse(
    conn: &Connection,
    fact: Fact<'_>,
    reversal_kind: &str,
    at: &str,
    business_date: BusinessDate,
) -> Result<bool, LedgerError> {
    let Some(transfer_id) = transfer_of(conn, fact)? else {
        return Ok(false);
    };
    let legs: Vec<Leg> = {
        let mut stmt = conn.prepare_cached(LEGS_OF_TRANSFER)?;
        let rows = stmt.query_map(params![transfer_id], |r| {
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
        Fact {
            kind: reversal_kind,
            ..fact
        },
        at,
        business_date,
        &format!("reversal of {} {}", fact.kind, fact.id),
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
        "SELECT account, debit_fen, credit_fen FROM ledger_accounts ORDER BY account",
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
            .prepare_cached(ACCOUNT_TOTALS)?
            .query_row(params![account], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0));
        out.insert(account, d - c);
    }
    Ok(out)
}

/// An account whose running totals differ from the sum of its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub account: String,
    /// (debits, credits) in `ledger_accounts`.
    pub totals: (i64, i64),
    /// (debits, credits) summed over `ledger_entries`.
    pub entries: (i64, i64),
}

/// Sums every entry and compares each account with its running totals: an empty list when
/// they agree. Reads the whole ledger, so it is for checks, not for every request.
pub fn audit(conn: &Connection) -> Result<Vec<Mismatch>, LedgerError> {
    let mut stmt = conn.prepare(
        "SELECT account, SUM(td), SUM(tc), SUM(ed), SUM(ec) FROM (
             SELECT account, debit_fen AS td, credit_fen AS tc, 0 AS ed, 0 AS ec FROM ledger_accounts
             UNION ALL
             SELECT account, 0, 0, debit_fen, credit_fen FROM ledger_entries)
         GROUP BY account ORDER BY account",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Mismatch {
            account: r.get(0)?,
            totals: (r.get(1)?, r.get(2)?),
            entries: (r.get(3)?, r.get(4)?),
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        if row.totals != row.entries {
            out.push(row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> BusinessDate {
        BusinessDate::parse("2026-12-01").unwrap()
    }

    fn sale_legs(fen: i64) -> [Leg; 2] {
        [
            Leg::debit("cash:wechat", Fen::new(fen)),
            Leg::credit("revenue:merchant:m-tea-house", Fen::new(fen)),
        ]
    }

    fn balance(conn: &Connection, account: &str) -> i64 {
        trial_balance(conn, Some(account))
            .unwrap()
            .accounts
            .iter()
            .find(|a| a.account == account)
            .map_or(0, |a| a.balance_fen)
    }

    #[test]
    fn a_fact_is_posted_once_whether_keyed_by_its_id_or_by_its_sale_row() {
        let conn = venue_store::migrated_in_memory();
        let post_ = |fact| post(&conn, fact, "t", day(), "memo", &sale_legs(100)).unwrap();
        assert!(post_(Fact::new("bill", "b-1")));
        assert!(!post_(Fact::new("bill", "b-1")));
        assert!(
            post_(Fact::new("payout", "b-1")),
            "another kind is another fact"
        );
        assert!(post_(Fact::of_sale("pos-sale", "e-1", 7)));
        assert!(!post_(Fact::of_sale("pos-sale", "e-1", 7)));
        // A POS fact is one sale row: the same row under any event id is the same fact.
        assert!(!post_(Fact::of_sale("pos-sale", "e-1-again", 7)));
        assert!(post_(Fact::of_sale("pos-refund", "e-1", 7)));
        assert!(posted(&conn, Fact::of_sale("pos-sale", "e-1", 7)).unwrap());
        assert!(!posted(&conn, Fact::of_sale("pos-sale", "e-1", 8)).unwrap());
        assert!(posted(&conn, Fact::new("bill", "b-1")).unwrap());
        assert!(!posted(&conn, Fact::new("bill", "e-1")).unwrap());
        let transfers: i64 = conn
            .query_row("SELECT COUNT(*) FROM ledger_transfers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(transfers, 4);
        assert_eq!(balance(&conn, "cash:wechat"), 400);
        assert!(audit(&conn).unwrap().is_empty());
    }

    #[test]
    fn an_unbalanced_transfer_writes_nothing() {
        let conn = venue_store::migrated_in_memory();
        let legs = [
            Leg::debit("cash:cash", Fen::new(100)),
            Leg::credit("revenue:x", Fen::new(99)),
        ];
        let err = post(&conn, Fact::new("bill", "b-1"), "t", day(), "m", &legs).unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::Unbalanced {
                    debits: 100,
                    credits: 99,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!posted(&conn, Fact::new("bill", "b-1")).unwrap());
        assert!(trial_balance(&conn, None).unwrap().accounts.is_empty());
    }

    #[test]
    fn a_reversal_posts_the_opposite_legs_once() {
        let conn = venue_store::migrated_in_memory();
        let sale = Fact::of_sale("pos-sale", "e-1", 3);
        assert!(post(&conn, sale, "t", day(), "pos-sale", &sale_legs(3600)).unwrap());
        assert!(reverse(&conn, sale, "pos-void", "t", day()).unwrap());
        assert!(!reverse(&conn, sale, "pos-void", "t", day()).unwrap());
        assert!(
            !reverse(
                &conn,
                Fact::of_sale("pos-sale", "e-2", 4),
                "pos-void",
                "t",
                day()
            )
            .unwrap(),
            "nothing was posted for that sale"
        );
        let legs: Vec<(String, i64, i64)> = venue_store::all_rows(
            &conn,
            "SELECT e.account, e.debit_fen, e.credit_fen FROM ledger_entries e
                 JOIN ledger_transfers t ON t.id = e.transfer_id
                 WHERE t.fact_kind = 'pos-void' ORDER BY e.leg",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        );
        assert_eq!(
            legs,
            [
                ("cash:wechat".to_owned(), 0, 3600),
                ("revenue:merchant:m-tea-house".to_owned(), 3600, 0)
            ]
        );
        assert_eq!(balance(&conn, "cash:wechat"), 0);
        assert_eq!(balance(&conn, "revenue:merchant:m-tea-house"), 0);
        let books = trial_balance(&conn, None).unwrap();
        assert_eq!((books.debit_fen, books.credit_fen), (7200, 7200));
    }

    #[test]
    fn the_running_totals_match_the_entries_and_a_tampered_total_is_caught() {
        let conn = venue_store::migrated_in_memory();
        for (n, fen) in [120, 3600, 45, 0, 99_999].into_iter().enumerate() {
            let id = format!("e-{n}");
            post(
                &conn,
                Fact::of_sale("pos-sale", &id, n as i64),
                "t",
                day(),
                "m",
                &sale_legs(fen),
            )
            .unwrap();
        }
        let party = [
            Leg::debit("revenue:merchant:m-tea-house", Fen::new(1000)),
            Leg::credit("payable:p-tea-house", Fen::new(900)),
            Leg::credit("commission:p-tea-house", Fen::new(100)),
        ];
        post(&conn, Fact::new("bill", "b-1"), "t", day(), "m", &party).unwrap();
        assert!(audit(&conn).unwrap().is_empty());
        let balances = party_balance(&conn, "p-tea-house").unwrap();
        assert_eq!(balances["payable:p-tea-house"], -900);
        assert_eq!(balances["commission:p-tea-house"], -100);
        assert_eq!(
            balances["carry:p-tea-house"], 0,
            "an account never posted is 0"
        );
        assert_eq!(balance(&conn, "cash:wechat"), 103_764);

        conn.execute(
            "UPDATE ledger_accounts SET debit_fen = debit_fen + 1 WHERE account = 'cash:wechat'",
            [],
        )
        .unwrap();
        assert_eq!(
            audit(&conn).unwrap(),
            [Mismatch {
                account: "cash:wechat".into(),
                totals: (103_765, 0),
                entries: (103_764, 0),
            }]
        );
        let err = trial_balance(&conn, None).unwrap_err();
        assert!(matches!(err, LedgerError::BooksUnbalanced { .. }), "{err}");
    }

    /// SQLite turns an integer sum that overflows into floating point; an account's totals
    /// refuse that (the posting fails and rolls back) instead of holding a float.
    #[test]
    fn an_account_total_never_turns_into_floating_point() {
        let conn = venue_store::migrated_in_memory();
        let legs = sale_legs(i64::MAX);
        post(&conn, Fact::new("bill", "b-1"), "t", day(), "m", &legs).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        let err = post(&tx, Fact::new("bill", "b-2"), "t", day(), "m", &legs).unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{err}");
        drop(tx);
        let kind: String = conn
            .query_row(
                "SELECT typeof(debit_fen) FROM ledger_accounts WHERE account = 'cash:wechat'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kind, "integer");
        assert_eq!(balance(&conn, "cash:wechat"), i64::MAX);
    }

    #[test]
    fn the_ledgers_lookups_use_indexes() {
        let conn = venue_store::migrated_in_memory();
        for (sql, args) in [
            (TRANSFER_BY_SALE, 2),
            (TRANSFER_BY_FACT, 2),
            (LEGS_OF_TRANSFER, 1),
            (ACCOUNT_TOTALS, 1),
        ] {
            if args == 2 {
                venue_store::assert_no_scan(&conn, sql, params!["pos-sale", 1]);
            } else {
                venue_store::assert_no_scan(&conn, sql, params![1]);
            }
        }
    }
}
