//! Settling a business day: one bill per party per cycle, from the revenue facts.
//!
//! - A daily contract gets a bill for the day; a weekly one when the day is a Sunday, for
//!   Monday to Sunday.
//! - Facts count on their own business day (cash basis): a refund on the day it happened.
//! - A fact that arrived after its own cycle's bill left `draft` (an offline terminal
//!   catching up) is settled in the party's next bill, as a `late` line naming its day.
//! - Re-running a day gives the same bills: a draft is recomputed in place; an approved,
//!   paying, paid or failed bill is never edited; a rejected bill gets a new draft version.

use std::collections::{BTreeMap, HashMap};
pub use venue_model::contract::{BillStatus, PluginInput};

use chrono::{Datelike, Duration};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::bill::{self, Amounts, CategoryTotal, Line};
use super::contracts::{self, Contract, Cycle};
use crate::error::DomainError;
use crate::venue::Venue;
use venue_model::money::{Fen, MoneyError};
use venue_model::{BusinessDate, ids};

/// Lines a settlement-rule plugin computed, by contract id.
pub type PluginLines = HashMap<String, Vec<Line>>;

/// A bill as the API shows it (protocol.md, Bills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillView {
    pub bill_id: String,
    pub party: String,
    pub contract: String,
    pub contract_version: u32,
    pub kind: String,
    pub period_start: BusinessDate,
    pub period_end: BusinessDate,
    pub version: u32,
    pub status: BillStatus,
    #[serde(flatten)]
    pub amounts: Amounts,
    pub approved_by: Option<String>,
    pub reason: Option<String>,
    pub payout: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// The cycle of a contract that ends on `day`, if one does.
pub fn cycle_ending(cycle: Cycle, day: BusinessDate) -> Option<(BusinessDate, BusinessDate)> {
    match cycle {
        Cycle::Daily => Some((day, day)),
        Cycle::Weekly if day.naive().weekday() == chrono::Weekday::Sun => Some((
            BusinessDate::from_naive(day.naive() - Duration::days(6)),
            day,
        )),
        Cycle::Weekly => None,
    }
}

/// The cycle of a contract that contains `day`.
pub fn cycle_containing(cycle: Cycle, day: BusinessDate) -> (BusinessDate, BusinessDate) {
    match cycle {
        Cycle::Daily => (day, day),
        Cycle::Weekly => {
            let d = day.naive();
            let monday = d - Duration::days(d.weekday().num_days_from_monday() as i64);
            (
                BusinessDate::from_naive(monday),
                BusinessDate::from_naive(monday + Duration::days(6)),
            )
        }
    }
}

/// A revenue fact, summed by what settlement needs to tell apart.
#[derive(Debug, Clone)]
pub struct FactSum {
    pub source: String,
    pub product: Option<String>,
    pub merchant: Option<String>,
    pub category: String,
    pub kind: String,
    pub business_date: BusinessDate,
    pub amount_fen: Fen,
}

impl FactSum {
    /// Whether a contract covers the fact: its product or its merchant is in scope.
    pub(crate) fn in_scope(&self, c: &Contract) -> bool {
        match self.source.as_str() {
            "ticket" => self
                .product
                .as_ref()
                .is_some_and(|p| c.products.contains(p)),
            _ => self
                .merchant
                .as_ref()
                .is_some_and(|m| c.merchants.contains(m)),
        }
    }

    /// The ledger account its money sits in until settled.
    pub fn revenue_account(&self) -> String {
        match self.source.as_str() {
            "ticket" => format!("revenue:ticket:{}", self.product.as_deref().unwrap_or("")),
            _ => format!(
                "revenue:merchant:{}",
                self.merchant.as_deref().unwrap_or("")
            ),
        }
    }
}

fn fact_sums(
    conn: &Connection,
    sql_filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<FactSum>> {
    let sql = format!(
        "SELECT source, product, merchant, category, kind, business_date, SUM(amount_fen)
         FROM revenue_facts WHERE voided = 0 AND {sql_filter}
         GROUP BY source, product, merchant, category, kind, business_date"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, |r| {
        Ok(FactSum {
            source: r.get(0)?,
            product: r.get(1)?,
            merchant: r.get(2)?,
            category: r.get(3)?,
            kind: r.get(4)?,
            business_date: r.get(5)?,
            amount_fen: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// The totals a contract's bill for `[start, end]` needs: in-period facts not on another
/// bill, and late facts.
pub struct CycleFacts {
    pub categories: Vec<CategoryTotal>,
    pub gross_fen: Fen,
    pub refunds_fen: Fen,
    /// Late facts by original day: (day, category, net amount).
    pub late: Vec<(BusinessDate, String, Fen)>,
}

/// Gathers the facts of one party's cycle starting on `start`, from `period_facts` (the
/// cycle's facts on no bill; a draft does not claim facts, approval does).
pub fn cycle_facts(
    conn: &Connection,
    contract: &Contract,
    start: BusinessDate,
    period_facts: &[FactSum],
) -> rusqlite::Result<CycleFacts> {
    let mut categories: BTreeMap<String, (Fen, Fen)> = BTreeMap::new();
    let (mut gross, mut refunds) = (Fen::ZERO, Fen::ZERO);
    let mut add = |f: &FactSum| -> rusqlite::Result<()> {
        let entry = categories.entry(f.category.clone()).or_default();
        let overflow = |e: MoneyError| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
        let (category, total) = if f.kind == "refund" {
            (&mut entry.1, &mut refunds)
        } else {
            (&mut entry.0, &mut gross)
        };
        *category = category
            .checked_add(f.amount_fen, "a category's total")
            .map_err(overflow)?;
        *total = total
            .checked_add(f.amount_fen, "a cycle's total")
            .map_err(overflow)?;
        Ok(())
    };
    for f in period_facts.iter().filter(|f| f.in_scope(contract)) {
        add(f)?;
    }
    // Late: facts before the cycle, not on any bill, whose own cycle's bill has left draft.
    let mut late = Vec::new();
    let older = fact_sums(conn, "bill_id IS NULL AND business_date < ?1", &[&start])?;
    for f in older.iter().filter(|f| f.in_scope(contract)) {
        let (s, e) = cycle_containing(contract.cycle, f.business_date);
        if !closed_bill_exists(conn, &contract.party, s, e)? {
            continue;
        }
        add(f)?;
        let signed = if f.kind == "refund" {
            Fen::new(-f.amount_fen.get())
        } else {
            f.amount_fen
        };
        late.push((f.business_date, f.category.clone(), signed));
    }
    Ok(CycleFacts {
        categories: categories
            .into_iter()
            .map(|(category, (sales, refunds))| CategoryTotal {
                category,
                sales_fen: sales,
                refunds_fen: refunds,
            })
            .collect(),
        gross_fen: gross,
        refunds_fen: refunds,
        late,
    })
}

/// Whether the party's bill for `[start, end]` has left draft (approved or later).
pub(crate) fn closed_bill_exists(
    conn: &Connection,
    party: &str,
    start: BusinessDate,
    end: BusinessDate,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM bills WHERE party = ?1 AND period_start = ?2 AND period_end = ?3
             AND status IN ('approved', 'paying', 'paid', 'failed')",
        )?
        .query_row(params![party, start, end], |_| Ok(()))
        .optional()?
        .is_some())
}

struct Existing {
    bill_id: String,
    version: u32,
    status: BillStatus,
}

fn latest_bill(
    conn: &Connection,
    party: &str,
    start: BusinessDate,
    end: BusinessDate,
) -> rusqlite::Result<Option<Existing>> {
    conn.prepare_cached(
        "SELECT bill_id, version, status FROM bills WHERE party = ?1 AND period_start = ?2 AND period_end = ?3
         ORDER BY version DESC LIMIT 1",
    )?
    .query_row(params![party, start, end], |r| Ok(Existing { bill_id: r.get(0)?, version: r.get(1)?, status: r.get(2)? }))
    .optional()
}

/// The carry into a cycle: the carry out of the party's latest earlier bill that stands.
fn carry_in(conn: &Connection, party: &str, start: BusinessDate) -> rusqlite::Result<Fen> {
    let amounts: Option<String> = conn
        .prepare_cached(
            "SELECT amounts FROM bills WHERE party = ?1 AND period_end < ?2 AND status != 'rejected'
             ORDER BY period_end DESC, version DESC LIMIT 1",
        )?
        .query_row(params![party, start], |r| r.get(0))
        .optional()?;
    // A stored bill that does not read back is an error, never a carry of 0.
    amounts.map_or(Ok(Fen::ZERO), |a| {
        serde_json::from_str::<Amounts>(&a)
            .map(|a| a.carry_out_fen)
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    })
}

/// Computes a contract's bill amounts for a cycle.
pub fn compute(
    contract: &Contract,
    facts: &CycleFacts,
    carry: Fen,
    plugin_lines: Option<&Vec<Line>>,
) -> Result<Amounts, DomainError> {
    let money_err = |e: super::money::MoneyError| {
        DomainError::internal(format!("contract {}: {e}", contract.id))
    };
    let mut amounts = match (contract.kind.as_str(), plugin_lines) {
        ("revenue_share", _) => bill::revenue_share(
            contract.cost_bp,
            contract.cost_fixed_fen,
            contract.share_bp,
            contract.rounding,
            facts.gross_fen,
            facts.refunds_fen,
            carry,
        )
        .map_err(money_err)?,
        (_, Some(lines)) => checked_plugin_bill(contract, facts, lines, carry)?,
        _ => bill::commission(
            &contract.rates,
            contract.default_rate_bp,
            contract.rounding,
            &facts.categories,
            carry,
        )
        .map_err(money_err)?,
    };
    for (day, category, amount) in &facts.late {
        amounts.lines.push(Line {
            kind: "late".into(),
            category: Some(category.clone()),
            basis_fen: *amount,
            rate_bp: 0,
            amount_fen: *amount,
            note: Some(format!(
                "sold on {day}, arrived after that day's bill was approved"
            )),
        });
    }
    Ok(amounts)
}

/// A settlement-rule plugin's lines, checked by the host: one `category` line per category
/// with the host's own basis, whole-fen amounts, and commission never above its basis.
fn checked_plugin_bill(
    contract: &Contract,
    facts: &CycleFacts,
    lines: &[Line],
    carry: Fen,
) -> Result<Amounts, DomainError> {
    let refuse = |m: String| {
        DomainError::plugin(
            "plugin_lines_invalid",
            format!("settlement rule of {}: {m}", contract.id),
        )
    };
    let overflow = |e: MoneyError| refuse(e.to_string());
    let mut expected: BTreeMap<&str, Fen> = BTreeMap::new();
    for c in &facts.categories {
        let basis = c.sales_fen.checked_sub(c.refunds_fen, "a category's basis");
        expected.insert(c.category.as_str(), basis.map_err(overflow)?);
    }
    let basis = Fen::sum(expected.values().copied(), "the basis").map_err(overflow)?;
    let mut commission = Fen::ZERO;
    for line in lines {
        if line.kind != "category" {
            return Err(refuse(format!(
                "line kind {:?}; only \"category\" lines are accepted",
                line.kind
            )));
        }
        let category = line.category.as_deref().unwrap_or("");
        let Some(basis) = expected.remove(category) else {
            return Err(refuse(format!(
                "category {category:?} is not one of the cycle's or appears twice"
            )));
        };
        if line.basis_fen != basis {
            return Err(refuse(format!(
                "category {category}: basis {} but the host counts {basis}",
                line.basis_fen
            )));
        }
        if basis >= Fen::ZERO && (line.amount_fen < Fen::ZERO || line.amount_fen > basis) {
            return Err(refuse(format!(
                "category {category}: commission {} outside 0..={basis}",
                line.amount_fen
            )));
        }
        commission = commission
            .checked_add(line.amount_fen, "the commission")
            .map_err(overflow)?;
    }
    if let Some(missing) = expected.keys().next() {
        return Err(refuse(format!("no line for category {missing}")));
    }
    bill::commission_from_lines(
        facts.gross_fen,
        facts.refunds_fen,
        basis,
        commission,
        lines.to_vec(),
        carry,
    )
    .map_err(|e| DomainError::internal(e.to_string()))
}

/// Settles `day`: creates or refreshes the draft bills of every cycle ending on it, and
/// returns every bill of those cycles. Runs inside a store job.
pub fn settle_day(
    conn: &Connection,
    venue: &Venue,
    day: BusinessDate,
    plugin_lines: &PluginLines,
    actor: &crate::actor::Actor,
) -> Result<Vec<BillView>, DomainError> {
    let now = venue.clock.now_rfc3339();
    let mut bills = Vec::new();
    let mut facts_cache: HashMap<(BusinessDate, BusinessDate), Vec<FactSum>> = HashMap::new();
    for contract in contracts::in_force(conn, day)? {
        let Some((start, end)) = cycle_ending(contract.cycle, day) else {
            continue;
        };
        let existing = latest_bill(conn, &contract.party, start, end)?;
        if let Some(e) = &existing
            && e.status != BillStatus::Draft
            && e.status != BillStatus::Rejected
        {
            bills.extend(load_bill(conn, &e.bill_id)?);
            continue;
        }
        let draft = existing
            .as_ref()
            .filter(|e| e.status == BillStatus::Draft)
            .map(|e| e.bill_id.clone());
        // A failed read of the period's facts fails the day, never settles it on nothing.
        let period = match facts_cache.entry((start, end)) {
            std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::hash_map::Entry::Vacant(e) => e
                .insert(fact_sums(
                    conn,
                    "bill_id IS NULL AND business_date BETWEEN ?1 AND ?2",
                    &[&start, &end],
                )?)
                .clone(),
        };
        let facts = cycle_facts(conn, &contract, start, &period)?;
        let carry = carry_in(conn, &contract.party, start)?;
        let lines = contract
            .plugin
            .as_ref()
            .and_then(|_| plugin_lines.get(&contract.id));
        if contract.plugin.is_some() && lines.is_none() {
            return Err(DomainError::internal(format!(
                "contract {} needs its settlement-rule plugin's lines",
                contract.id
            )));
        }
        let amounts = compute(&contract, &facts, carry, lines)?;
        amounts
            .check(&contract.kind)
            .map_err(|m| DomainError::internal(format!("contract {}: {m}", contract.id)))?;
        let body = serde_json::to_string(&amounts)
            .map_err(|e| DomainError::internal(format!("a bill's amounts: {e}")))?;
        let bill_id = match (&existing, draft) {
            (_, Some(id)) => {
                conn.prepare_cached(
                    "UPDATE bills SET amounts = ?2, contract = ?3, contract_version = ?4, kind = ?5, updated_at = ?6 WHERE bill_id = ?1",
                )?
                .execute(params![id, body, contract.id, contract.version, contract.kind, now])?;
                id
            }
            (previous, None) => {
                let id = ids::new_id("bill");
                let version = previous.as_ref().map(|p| p.version + 1).unwrap_or(1);
                conn.prepare_cached(
                    "INSERT INTO bills (bill_id, party, contract, contract_version, kind, period_start, period_end, version,
                                        status, amounts, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', ?9, ?10, ?10)",
                )?
                .execute(params![id, contract.party, contract.id, contract.version, contract.kind, start, end, version, body, now])?;
                crate::audit::append(
                    conn,
                    &now,
                    actor,
                    "bill.draft",
                    &id,
                    &format!("{} {start}..{end} v{version}", contract.party),
                )?;
                id
            }
        };
        bills.extend(queue_bill(conn, &bill_id)?);
    }
    Ok(bills)
}

/// Queues a bill's current state for HQ and returns it. Call after every change of a
/// bill (drafted, refreshed, approved, rejected, paying, paid, failed). The record's id
/// names the state's content, so an unchanged re-run is a duplicate at HQ.
pub fn queue_bill(conn: &Connection, bill_id: &str) -> Result<Option<BillView>, DomainError> {
    use sha2::Digest;
    let Some(bill) = load_bill(conn, bill_id)? else {
        return Ok(None);
    };
    let data = serde_json::to_string(&bill).map_err(|e| DomainError::internal(e.to_string()))?;
    let digest = hex::encode(&sha2::Sha256::digest(data.as_bytes())[..8]);
    crate::outbox::push(
        conn,
        crate::outbox::Kind::Bill,
        &format!("{}:{}:{digest}", bill.bill_id, bill.status),
        bill.period_end,
        &bill.updated_at,
        &bill,
    )?;
    Ok(Some(bill))
}

/// Totals per category for contracts with a settlement-rule plugin, gathered before the
/// plugin is called (outside the store job).
pub fn plugin_inputs(
    conn: &Connection,
    day: BusinessDate,
) -> Result<Vec<PluginInput>, DomainError> {
    let mut out = Vec::new();
    for contract in contracts::in_force(conn, day)? {
        if contract.plugin.is_none() {
            continue;
        }
        let Some((start, end)) = cycle_ending(contract.cycle, day) else {
            continue;
        };
        let period = fact_sums(
            conn,
            "bill_id IS NULL AND business_date BETWEEN ?1 AND ?2",
            &[&start, &end],
        )?;
        let facts = cycle_facts(conn, &contract, start, &period)?;
        out.push(PluginInput {
            contract,
            period_start: start,
            period_end: end,
            categories: facts.categories,
        });
    }
    Ok(out)
}

pub fn load_bill(conn: &Connection, bill_id: &str) -> rusqlite::Result<Option<BillView>> {
    let bill = conn
        .prepare_cached(
            "SELECT bill_id, party, contract, contract_version, kind, period_start, period_end, version, status, amounts,
                    approved_by, reason, created_at, updated_at FROM bills WHERE bill_id = ?1",
        )?
        .query_row(params![bill_id], bill_from_row)
        .optional()?;
    let Some(mut bill) = bill else {
        return Ok(None);
    };
    bill.payout = latest_payout(conn, bill_id)?;
    Ok(Some(bill))
}

fn bill_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BillView> {
    let amounts: String = r.get(9)?;
    let kind: String = r.get(4)?;
    let broken = |e: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    };
    let amounts: Amounts = serde_json::from_str(&amounts).map_err(|e| broken(e.to_string()))?;
    amounts.check(&kind).map_err(broken)?;
    Ok(BillView {
        bill_id: r.get(0)?,
        party: r.get(1)?,
        contract: r.get(2)?,
        contract_version: r.get(3)?,
        kind: r.get(4)?,
        period_start: r.get(5)?,
        period_end: r.get(6)?,
        version: r.get(7)?,
        status: r.get(8)?,
        amounts,
        approved_by: r.get(10)?,
        reason: r.get(11)?,
        payout: None,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

fn latest_payout(conn: &Connection, bill_id: &str) -> rusqlite::Result<Option<serde_json::Value>> {
    conn.prepare_cached(
        "SELECT payout_id, attempt, amount_fen, account, status, provider_ref, reason, updated_at
         FROM payouts WHERE bill_id = ?1 ORDER BY attempt DESC LIMIT 1",
    )?
    .query_row(params![bill_id], |r| {
        Ok(serde_json::json!({
            "payout_id": r.get::<_, String>(0)?, "attempt": r.get::<_, i64>(1)?, "amount_fen": r.get::<_, i64>(2)?,
            "account": r.get::<_, String>(3)?, "status": r.get::<_, venue_model::contract::PayoutState>(4)?,
            "provider_ref": r.get::<_, Option<String>>(5)?, "reason": r.get::<_, Option<String>>(6)?,
            "updated_at": r.get::<_, String>(7)?,
        }))
    })
    .optional()
}

/// Which bills a listing asks for; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct BillFilter {
    pub status: Option<BillStatus>,
    pub party: Option<String>,
    /// Bills whose cycle ends on this day.
    pub period_end: Option<venue_model::BusinessDate>,
}

/// Bills that pass `filter`, newest first, at most `limit`: the filter is applied before
/// the limit, so an older day's bills are found however many newer ones exist.
pub fn list_bills(
    conn: &Connection,
    filter: &BillFilter,
    limit: u32,
) -> rusqlite::Result<Vec<BillView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT bill_id, party, contract, contract_version, kind, period_start, period_end, version, status, amounts,
                approved_by, reason, created_at, updated_at FROM bills
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR party = ?2) AND (?3 IS NULL OR period_end = ?3)
         ORDER BY period_end DESC, party, version DESC LIMIT ?4",
    )?;
    let day = filter.period_end.map(|d| d.to_string());
    let mut bills: Vec<BillView> = stmt
        .query_map(
            params![filter.status, filter.party, day, limit],
            bill_from_row,
        )?
        .collect::<Result<_, _>>()?;
    for b in &mut bills {
        b.payout = latest_payout(conn, &b.bill_id)?;
    }
    Ok(bills)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_cycles_end_on_sunday() {
        let sun = BusinessDate::parse("2026-11-29").unwrap();
        let wed = BusinessDate::parse("2026-11-25").unwrap();
        assert_eq!(
            cycle_ending(Cycle::Weekly, sun).unwrap().0.to_string(),
            "2026-11-23"
        );
        assert_eq!(cycle_ending(Cycle::Weekly, wed), None);
        assert_eq!(cycle_containing(Cycle::Weekly, wed).1, sun);
        assert_eq!(cycle_ending(Cycle::Daily, wed), Some((wed, wed)));
    }
}
