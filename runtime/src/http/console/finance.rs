//! The Finance page (finance-reviewer, finance-payer) and the operator's own bills
//! (`operator:{party}`): settle a day or a range, the bills by status and party, a bill's
//! lines and totals, approve or reject with a comment, pay, and the payment's result as
//! the bank connector reported it. The segregation of duties is the domain's, as for the
//! API: whoever approved a bill cannot pay it, whatever roles they hold.

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, check_csrf, html, redirect, yuan};
use crate::auth::{Caller, Role};
use crate::http::router::Call;
use crate::http::{Api, finance as api_finance, status_of};
use venue_domain::error::DomainError;
use venue_domain::settlement::{self, BillView};
use venue_model::BusinessDate;
use venue_model::contract::BillStatus;

/// The payout fields shown, with their labels.
const PAYOUT_FIELDS: [(&str, &str); 7] = [
    ("status", "payout.status"),
    ("amount_fen", "payout.amount"),
    ("account", "payout.account"),
    ("provider_ref", "payout.provider_ref"),
    ("reason", "payout.reason"),
    ("attempt", "payout.attempt"),
    ("updated_at", "payout.updated_at"),
];

/// Days one settlement form settles at most.
const SETTLE_DAYS_MAX: i64 = 31;

#[derive(Template)]
#[template(path = "finance.html")]
struct FinancePage {
    frame: Frame,
    /// `finance` or `bills` (the operator's page).
    base: &'static str,
    reviewer: bool,
    today: String,
    statuses: Vec<(&'static str, bool)>,
    party: String,
    bills: Vec<BillRow>,
    bill: Option<BillDetail>,
    message: Option<String>,
    error: Option<String>,
    settled: Option<Settled>,
}

struct Settled {
    days: i64,
    done: i64,
    bills: usize,
}

struct BillRow {
    bill_id: String,
    party: String,
    period: String,
    status: &'static str,
    payable: String,
    approved_by: String,
    payout: String,
}

struct BillDetail {
    row: BillRow,
    contract: String,
    kind: String,
    totals: Vec<(&'static str, String)>,
    lines: Vec<LineRow>,
    reason: String,
    /// (field, label key, value).
    payout: Vec<(String, &'static str, String)>,
    can_approve: bool,
    can_pay: bool,
}

struct LineRow {
    kind: String,
    category: String,
    basis: String,
    rate: String,
    amount: String,
}

fn row(b: &BillView) -> BillRow {
    BillRow {
        bill_id: b.bill_id.clone(),
        party: b.party.clone(),
        period: if b.period_start == b.period_end {
            b.period_end.to_string()
        } else {
            format!("{} – {}", b.period_start, b.period_end)
        },
        status: b.status.as_str(),
        payable: yuan(b.amounts.payable_fen.get()),
        approved_by: b.approved_by.clone().unwrap_or_default(),
        payout: b
            .payout
            .as_ref()
            .and_then(|p| p["status"].as_str())
            .unwrap_or("")
            .to_owned(),
    }
}

fn detail(b: &BillView, caller: &Caller) -> BillDetail {
    let a = &b.amounts;
    // The connector's answer, field by field in the reader's words.
    let payout = match b.payout.as_ref() {
        Some(p) => PAYOUT_FIELDS
            .iter()
            .map(|(field, label)| {
                let text = match (*field, &p[*field]) {
                    ("amount_fen", v) => v.as_i64().map(yuan).unwrap_or_default(),
                    (_, serde_json::Value::String(s)) => s.clone(),
                    (_, serde_json::Value::Null) => String::new(),
                    (_, other) => other.to_string(),
                };
                (field.to_string(), *label, text)
            })
            .collect(),
        None => Vec::new(),
    };
    BillDetail {
        row: row(b),
        contract: format!("{} v{}", b.contract, b.contract_version),
        kind: b.kind.clone(),
        totals: vec![
            ("bill.gross", yuan(a.gross_fen.get())),
            ("bill.refunds", yuan(a.refunds_fen.get())),
            ("bill.cost", yuan(a.cost_fen.get())),
            ("bill.net", yuan(a.net_fen.get())),
            ("bill.share", yuan(a.share_fen.get())),
            ("bill.commission", yuan(a.commission_fen.get())),
            ("bill.carry_in", yuan(a.carry_in_fen.get())),
            ("bill.carry_out", yuan(a.carry_out_fen.get())),
            ("bill.payable", yuan(a.payable_fen.get())),
        ],
        lines: a
            .lines
            .iter()
            .map(|l| LineRow {
                kind: l.kind.clone(),
                category: l.category.clone().or(l.note.clone()).unwrap_or_default(),
                basis: yuan(l.basis_fen.get()),
                rate: format!("{}.{:02}%", l.rate_bp / 100, l.rate_bp % 100),
                amount: yuan(l.amount_fen.get()),
            })
            .collect(),
        reason: b.reason.clone().unwrap_or_default(),
        payout,
        can_approve: b.status == BillStatus::Draft && caller.has(&Role::FinanceReviewer),
        can_pay: matches!(b.status, BillStatus::Approved | BillStatus::Failed)
            && caller.has(&Role::FinancePayer),
    }
}

/// `GET /finance` or `GET /bills` (`?status=&party=&bill=`).
pub async fn page(
    api: &Api,
    call: &Call,
    caller: &Caller,
    frame: Frame,
    base: &'static str,
) -> Result<Reply, DomainError> {
    let message = call.query("done").map(str::to_owned);
    let settled = match (call.query("settled"), call.query("of"), call.query("bills")) {
        (Some(done), Some(days), Some(bills)) => Some(Settled {
            done: done.parse().unwrap_or(0),
            days: days.parse().unwrap_or(0),
            bills: bills.parse().unwrap_or(0),
        }),
        _ => None,
    };
    let view = View {
        status: call.query("status").map(str::to_owned),
        party: call.query("party").map(str::to_owned),
        bill: call.query("bill").map(str::to_owned),
    };
    draw(
        api,
        view,
        caller,
        frame,
        base,
        message,
        None,
        settled,
        StatusCode::OK,
    )
    .await
}

/// What the page is asked to show.
struct View {
    status: Option<String>,
    party: Option<String>,
    bill: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn draw(
    api: &Api,
    view: View,
    caller: &Caller,
    frame: Frame,
    base: &'static str,
    message: Option<String>,
    error: Option<String>,
    settled: Option<Settled>,
    status: StatusCode,
) -> Result<Reply, DomainError> {
    let own = api_finance::own_parties(caller);
    let wanted_status = view
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(BillStatus::parse);
    let party = match &own {
        // An operator sees its own party (the first, when it has several).
        Some(own) => own.first().cloned(),
        None => view.party.filter(|s| !s.is_empty()),
    };
    let filter = settlement::settle::BillFilter {
        status: wanted_status,
        party: party.clone(),
        period_end: None,
    };
    let wanted_bill = view.bill;
    let (bills, bill) = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            let bills = settlement::settle::list_bills(c, &filter, 200)?;
            let bill = match wanted_bill {
                Some(id) => settlement::settle::load_bill(c, &id)?,
                None => None,
            };
            Ok((bills, bill))
        })
        .await?;
    // An operator learns nothing of another party's bill, not even that it exists.
    let bill = bill.filter(|b| own.as_ref().is_none_or(|own| own.contains(&b.party)));
    let page = FinancePage {
        frame,
        base,
        reviewer: caller.has(&Role::FinanceReviewer),
        today: api.venue.clock.today().to_string(),
        statuses: BillStatus::ALL
            .iter()
            .map(|s| (s.as_str(), Some(*s) == wanted_status))
            .collect(),
        party: party.unwrap_or_default(),
        bills: bills.iter().map(row).collect(),
        bill: bill.as_ref().map(|b| detail(b, caller)),
        message,
        error,
        settled,
    };
    Ok(html(status, page.render()))
}

fn field(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// `POST /finance/{settle|approve|reject|pay}`: the change, then the bill (or the list) again,
/// with the domain's refusal on the page when it refuses.
pub async fn act(
    api: &Api,
    caller: &Caller,
    action: &str,
    form: Vec<(String, String)>,
    frame: Frame,
) -> Result<Reply, DomainError> {
    check_csrf(caller, &form)?;
    let bill_id = field(&form, "bill_id");
    let actor = caller.actor();
    let done: Result<String, DomainError> = match action {
        "settle" => return settle(api, caller, &form).await,
        "approve" => {
            let (venue, id) = (api.venue.clone(), bill_id.clone());
            api.store
                .write(move |c| settlement::review::approve(c, &venue, &id, &actor))
                .await
                .map(|_| "approved".to_owned())
        }
        "reject" => {
            let (venue, id, reason) = (api.venue.clone(), bill_id.clone(), field(&form, "reason"));
            api.store
                .write(move |c| settlement::review::reject(c, &venue, &id, &actor, &reason))
                .await
                .map(|_| "rejected".to_owned())
        }
        "pay" => venue_domain::payouts::pay(&api.venue, &api.store, &api.plugins, &bill_id, &actor)
            .await
            .map(|b| b.status.as_str().to_owned()),
        _ => return Err(DomainError::not_found("no_page", "no such page")),
    };
    match done {
        Ok(state) => Ok(redirect(&format!("/finance?bill={bill_id}&done={state}"))),
        Err(e) => {
            // The bill again, with the refusal in words.
            let view = View {
                status: None,
                party: None,
                bill: Some(bill_id),
            };
            draw(
                api,
                view,
                caller,
                frame,
                "finance",
                None,
                Some(e.message),
                None,
                status_of(e.kind),
            )
            .await
        }
    }
}

/// Settles every day of `from..=to` (at most [`SETTLE_DAYS_MAX`]), one day at a time.
async fn settle(
    api: &Api,
    caller: &Caller,
    form: &[(String, String)],
) -> Result<Reply, DomainError> {
    let parse = |key: &str| {
        BusinessDate::parse(&field(form, key))
            .map_err(|e| DomainError::bad_request("bad_date", format!("{key}: {e}")))
    };
    let from = parse("from")?;
    let to = if field(form, "to").is_empty() {
        from
    } else {
        parse("to")?
    };
    let today = api.venue.clock.today();
    let days = (to.naive() - from.naive()).num_days() + 1;
    if !(1..=SETTLE_DAYS_MAX).contains(&days) || to > today {
        return Err(DomainError::bad_request(
            "bad_range",
            format!(
                "settle from a day to a later one, at most {SETTLE_DAYS_MAX} days, none after today ({today})"
            ),
        ));
    }
    let actor = caller.actor();
    let mut bills = 0;
    for n in 0..days {
        let day = BusinessDate::from_naive(from.naive() + chrono::Duration::days(n));
        bills += api_finance::settle_day(api, day, &actor).await?.len();
    }
    Ok(redirect(&format!(
        "/finance?settled={days}&of={days}&bills={bills}"
    )))
}
