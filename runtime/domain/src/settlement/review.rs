//! Review: a finance reviewer approves or rejects a draft bill. Approval claims the bill's
//! facts (so no later bill counts them again) and posts the settlement to the ledger; a
//! rejected bill is replaced by a new draft version at the next settlement of its day.

use std::collections::BTreeMap;
use venue_model::contract::BillStatus;
use venue_model::money::{Fen, MoneyError};

use rusqlite::{Connection, params};

use super::contracts::{self, Contract};
use super::settle::{self, BillView, FactSum, cycle_containing};
use crate::error::DomainError;
use crate::ledger::{self, Leg};
use crate::venue::Venue;

/// Approves a draft bill. `approver` is recorded: whoever approved cannot pay it.
pub fn approve(
    conn: &Connection,
    venue: &Venue,
    bill_id: &str,
    approver: &crate::actor::Actor,
) -> Result<BillView, DomainError> {
    let bill = load_draft(conn, bill_id, "approved")?;
    let contract = contracts::all(conn)?
        .into_iter()
        .find(|c| c.id == bill.contract && c.version == bill.contract_version)
        .ok_or_else(|| {
            DomainError::internal(format!(
                "contract {} v{} vanished",
                bill.contract, bill.contract_version
            ))
        })?;
    let now = venue.clock.now_rfc3339();
    let claimed = claim_facts(conn, &contract, &bill)?;
    // The claimed facts must be exactly what the draft counted; if a fact arrived since
    // the draft was made, the reviewer must re-run the settlement and look again.
    let overflow = |e: MoneyError| DomainError::internal(format!("bill {bill_id}: {e}"));
    let claimed_net = Fen::sum(claimed.values().copied(), "the claimed facts").map_err(overflow)?;
    let counted = bill
        .amounts
        .gross_fen
        .checked_sub(bill.amounts.refunds_fen, "the counted sales")
        .map_err(overflow)?;
    if claimed_net != counted {
        return Err(DomainError::conflict(
            "bill_outdated",
            format!(
                "sales changed since bill {bill_id} was drafted ({counted} fen counted, {claimed_net} fen now): settle the day again, then review"
            ),
        ));
    }
    post_settlement(conn, &bill, &claimed, &now)?;
    conn.prepare_cached("UPDATE bills SET status = 'approved', approved_by = ?2, updated_at = ?3 WHERE bill_id = ?1")?
        .execute(params![bill_id, approver.user, now])?;
    crate::audit::append(
        conn,
        &now,
        approver,
        "bill.approve",
        bill_id,
        &format!("payable_fen={}", bill.amounts.payable_fen),
    )?;
    settle::queue_bill(conn, bill_id)?.ok_or_else(|| DomainError::internal("a bill vanished"))
}

/// Rejects a draft bill with a reason.
pub fn reject(
    conn: &Connection,
    venue: &Venue,
    bill_id: &str,
    reviewer: &crate::actor::Actor,
    reason: &str,
) -> Result<BillView, DomainError> {
    load_draft(conn, bill_id, "rejected")?;
    if reason.trim().is_empty() {
        return Err(DomainError::bad_request(
            "missing_reason",
            "say why the bill is rejected",
        ));
    }
    let now = venue.clock.now_rfc3339();
    conn.prepare_cached("UPDATE bills SET status = 'rejected', reason = ?2, approved_by = ?3, updated_at = ?4 WHERE bill_id = ?1")?
        .execute(params![bill_id, reason, reviewer.user, now])?;
    crate::audit::append(conn, &now, reviewer, "bill.reject", bill_id, reason)?;
    settle::queue_bill(conn, bill_id)?.ok_or_else(|| DomainError::internal("a bill vanished"))
}

/// A bill that must be a draft to be `done` (approved or rejected).
fn load_draft(conn: &Connection, bill_id: &str, done: &str) -> Result<BillView, DomainError> {
    let bill = settle::load_bill(conn, bill_id)?
        .ok_or_else(|| DomainError::not_found("bill_not_found", format!("no bill {bill_id}")))?;
    if bill.status != BillStatus::Draft {
        return Err(DomainError::conflict(
            "bill_not_draft",
            format!(
                "bill {bill_id} is {}, only a draft can be {done}",
                bill.status
            ),
        ));
    }
    Ok(bill)
}

/// Stamps the bill's facts with its id; returns the net per revenue account.
fn claim_facts(
    conn: &Connection,
    contract: &Contract,
    bill: &BillView,
) -> Result<BTreeMap<String, Fen>, DomainError> {
    let mut net: BTreeMap<String, Fen> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, product, merchant, category, kind, business_date, amount_fen FROM revenue_facts
         WHERE voided = 0 AND bill_id IS NULL AND business_date <= ?1",
    )?;
    let rows: Vec<(i64, FactSum)> = stmt
        .query_map(params![bill.period_end], |r| {
            Ok((
                r.get(0)?,
                FactSum {
                    source: r.get(1)?,
                    product: r.get(2)?,
                    merchant: r.get(3)?,
                    category: r.get(4)?,
                    kind: r.get(5)?,
                    business_date: r.get(6)?,
                    amount_fen: r.get(7)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut stamp = conn.prepare_cached("UPDATE revenue_facts SET bill_id = ?2 WHERE id = ?1")?;
    for (id, f) in rows.iter().filter(|(_, f)| f.in_scope(contract)) {
        let in_period = f.business_date >= bill.period_start;
        let late = !in_period && {
            let (s, e) = cycle_containing(contract.cycle, f.business_date);
            settle::closed_bill_exists(conn, &bill.party, s, e)?
        };
        if !(in_period || late) {
            continue;
        }
        stamp.execute(params![id, bill.bill_id])?;
        let signed = if f.kind == "refund" {
            Fen::new(-f.amount_fen.get())
        } else {
            f.amount_fen
        };
        let account = net.entry(f.revenue_account()).or_default();
        *account = account
            .checked_add(signed, "an account's net")
            .map_err(|e| DomainError::internal(e.to_string()))?;
    }
    Ok(net)
}

/// The settlement's transfer: the revenue accounts give up the bill's net sales; the party
/// is owed its payable; the venue keeps the rest (commission, or cost plus its part); a
/// negative carry moves between bills.
fn post_settlement(
    conn: &Connection,
    bill: &BillView,
    revenue: &BTreeMap<String, Fen>,
    now: &str,
) -> Result<(), DomainError> {
    let a = &bill.amounts;
    let overflow = |e: MoneyError| DomainError::internal(format!("bill {}: {e}", bill.bill_id));
    let venue_keeps = if bill.kind == "revenue_share" {
        let kept_of_net = if a.net_fen > Fen::ZERO {
            a.net_fen.checked_sub(a.share_fen, "the venue's part")
        } else {
            Ok(Fen::ZERO)
        };
        a.cost_fen
            .checked_add(kept_of_net.map_err(overflow)?, "what the venue keeps")
            .map_err(overflow)?
    } else {
        a.commission_fen
    };
    let carry = a
        .carry_in_fen
        .checked_sub(a.carry_out_fen, "the carry")
        .map_err(overflow)?;
    let mut legs: Vec<Leg> = revenue
        .iter()
        .map(|(account, fen)| Leg::debit(account.clone(), *fen))
        .collect();
    legs.push(Leg::credit(
        format!("payable:{}", bill.party),
        a.payable_fen,
    ));
    legs.push(Leg::credit(
        format!("commission:{}", bill.party),
        venue_keeps,
    ));
    legs.push(Leg::debit(format!("carry:{}", bill.party), carry));
    ledger::post(
        conn,
        ledger::Fact::new("bill", &bill.bill_id),
        now,
        bill.period_end,
        &format!("settlement {}", bill.bill_id),
        &legs,
    )
    .map_err(|e| DomainError::internal(format!("bill {} does not balance: {e}", bill.bill_id)))?;
    Ok(())
}
