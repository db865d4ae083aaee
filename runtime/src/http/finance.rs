//! Handlers for sales, contracts, settlements, bills and the ledger.

use hyper::StatusCode;
use serde::Deserialize;
use venue_model::contract::BillStatus;

use super::router::Call;
use super::{Api, BODY_BYTES_MAX, Reply, json_reply, parse_json, read_body};
use crate::auth::{Caller, Role};
use venue_domain::error::DomainError;
use venue_domain::settlement::{self, Contract, contracts};

/// Sales one `GET /api/v1/sales` returns at most.
const SALES_ROWS_MAX: u32 = 10_000;
/// Bills one `GET /api/v1/bills` returns at most.
const BILLS_ROWS_MAX: u32 = 1_000;

fn date_param(api: &Api, call: &Call) -> Result<venue_model::BusinessDate, DomainError> {
    Ok(call
        .date("date")?
        .unwrap_or_else(|| api.venue.clock.today()))
}

pub async fn sales(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let day = date_param(api, call)?;
    let rows = api
        .store
        .write(move |c| -> Result<_, DomainError> {
            Ok(venue_domain::sales::of_day(c, day, SALES_ROWS_MAX)?)
        })
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "date": day, "sales": rows }),
    ))
}

/// `GET /api/v1/reports/revenue?from=&to=&period=&by=`, as JSON or, with
/// `Accept: text/csv`, as CSV.
pub async fn revenue_report(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    use venue_domain::reports::{self, GroupBy, RevenueQuery};
    // `format` is this door's (the download's), not the report's.
    let pairs: Vec<(String, String)> = call
        .query
        .iter()
        .filter(|(k, _)| k != "format")
        .cloned()
        .collect();
    let query = RevenueQuery::parse(&pairs, &GroupBy::EDGE)?;
    let venue = api.venue.clone();
    let q = query.clone();
    let days = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            Ok(reports::edge::revenue_by_day(c, &venue, &q)?)
        })
        .await?;
    let report = reports::build(&query, &days)?;
    let name = format!("revenue-{}-{}-by-{}", report.from, report.to, report.by);
    download(
        call,
        &name,
        &report,
        || report.to_csv(),
        || reports::workbook(&[reports::revenue_table(&report)]),
    )
}

/// A report as JSON, or as a named CSV or XLSX download (`?format=` or `Accept`).
fn download<T: serde::Serialize>(
    call: &Call,
    name: &str,
    report: &T,
    csv: impl FnOnce() -> String,
    xlsx: impl FnOnce() -> Result<Vec<u8>, rust_xlsxwriter::XlsxError>,
) -> Result<Reply, DomainError> {
    match wanted_format(call)? {
        "csv" => Ok(attachment(
            super::bytes_reply(
                StatusCode::OK,
                csv().into_bytes(),
                "text/csv; charset=utf-8",
            ),
            &format!("{name}.csv"),
        )),
        "xlsx" => {
            let bytes = xlsx()
                .map_err(|e| DomainError::internal(format!("cannot write the workbook: {e}")))?;
            Ok(attachment(
                super::bytes_reply(StatusCode::OK, bytes, XLSX),
                &format!("{name}.xlsx"),
            ))
        }
        _ => Ok(json_reply(StatusCode::OK, report)),
    }
}

/// `GET /api/v1/reports/consumption?from=&to=`: JSON, or CSV / XLSX (`?format=` or
/// `Accept`).
pub async fn consumption_report(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    use venue_domain::reports::consumption::{self, ConsumptionQuery};
    let query = ConsumptionQuery::parse(&call.query)?;
    let venue = api.venue.clone();
    let report = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            Ok(consumption::consumption(c, &venue, &query)?)
        })
        .await?;
    let name = format!("consumption-{}-{}", report.from, report.to);
    download(
        call,
        &name,
        &report,
        || report.to_csv(),
        || report.to_xlsx(),
    )
}

/// One code, one day: a ticket's entries, exits and purchases in order of time.
pub async fn visitor_report(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    use venue_domain::reports::visitor::{VisitorQuery, visitor_day};
    let query = VisitorQuery::parse(&call.query)?;
    let report = api.store.read(move |c| visitor_day(c, &query)).await?;
    Ok(json_reply(StatusCode::OK, &report))
}

/// The format asked for: `?format=json|csv|xlsx`, else by `Accept`, else JSON.
fn wanted_format(call: &Call) -> Result<&'static str, DomainError> {
    match call.query("format") {
        Some("json") => Ok("json"),
        Some("csv") => Ok("csv"),
        Some("xlsx") => Ok("xlsx"),
        Some(other) => Err(DomainError::bad_request(
            "bad_format",
            format!("format {other:?}: use json, csv or xlsx"),
        )),
        None if call.accept.contains("text/csv") => Ok("csv"),
        None if call.accept.contains(XLSX) => Ok("xlsx"),
        None => Ok("json"),
    }
}

/// A download, named.
fn attachment(mut reply: Reply, filename: &str) -> Reply {
    if let Ok(v) =
        hyper::header::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
    {
        reply
            .headers_mut()
            .insert(hyper::header::CONTENT_DISPOSITION, v);
    }
    reply
}

/// `GET /api/v1/reports/flow?date=&interval=`.
pub async fn flow_report(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    use venue_domain::reports::flow::{self, FlowQuery};
    let query = FlowQuery::parse(&call.query, api.venue.clock.today())?;
    let venue = api.venue.clone();
    let report = api
        .store
        .read(move |c| -> Result<_, DomainError> { Ok(flow::flow(c, &venue, &query)?) })
        .await?;
    Ok(json_reply(StatusCode::OK, &report))
}

/// `GET /api/v1/reports/presence?date=`: who is inside each area on a day; for a day
/// that has ended, who never scanned out.
pub async fn presence_report(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let today = api.venue.clock.today();
    let day = call.date("date")?.unwrap_or(today);
    let venue = api.venue.clone();
    let report = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            Ok(venue_domain::reports::flow::presence_report(
                c, &venue, day, today,
            )?)
        })
        .await?;
    Ok(json_reply(StatusCode::OK, &report))
}

pub async fn list_contracts(api: &Api) -> Result<Reply, DomainError> {
    let all = api
        .store
        .write(|c| -> Result<Vec<Contract>, DomainError> { Ok(contracts::all(c)?) })
        .await?;
    Ok(json_reply(StatusCode::OK, &all))
}

/// `POST /api/v1/contracts`: a new contract, or a new version of one (the version number
/// is the next one; `effective_from` says from which business day it applies).
pub async fn create_contract(api: &Api, call: Call) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let mut value: serde_json::Value = parse_json(&body)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("version".into(), serde_json::Value::from(1));
    }
    let mut contract: Contract = serde_json::from_value(value).map_err(|e| {
        DomainError::bad_request("bad_contract", format!("the contract is not valid: {e}"))
    })?;
    if api.venue.config.party(&contract.party).is_none() {
        return Err(DomainError::bad_request(
            "unknown_party",
            format!("no party {:?} in the venue config", contract.party),
        ));
    }
    for p in &contract.products {
        if api.venue.product(p).is_none() {
            return Err(DomainError::bad_request(
                "unknown_product",
                format!("no product {p:?}"),
            ));
        }
    }
    for m in &contract.merchants {
        if api.venue.config.merchant(m).is_none() {
            return Err(DomainError::bad_request(
                "unknown_merchant",
                format!("no merchant {m:?}"),
            ));
        }
    }
    let now = api.venue.clock.now_rfc3339();
    let stored = api
        .store
        .write(move |c| -> Result<Contract, DomainError> {
            contract.version = contracts::latest_version(c, &contract.id)?.unwrap_or(0) + 1;
            contract
                .validate()
                .map_err(|m| DomainError::bad_request("bad_contract", m))?;
            contracts::insert(c, &contract, &now, false)?;
            venue_domain::audit::append(
                c,
                &now,
                &actor,
                "contract.create",
                &contract.id,
                &format!("version {}", contract.version),
            )?;
            Ok(contract)
        })
        .await?;
    Ok(json_reply(StatusCode::CREATED, &stored))
}

/// `POST /api/v1/settlements?date=`: draft bills for every cycle ending that day
/// (idempotent per date).
pub async fn settle(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let day = date_param(api, call)?;
    if day > api.venue.clock.today() {
        return Err(DomainError::rule(
            "day_not_over",
            format!("{day} has not begun; settle a day that has"),
        ));
    }
    let bills = settle_day(api, day, &actor).await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "date": day.to_string(), "bills": bills }),
    ))
}

/// Settles a day (see [`settlement::settle_with_plugins`]).
pub async fn settle_day(
    api: &Api,
    day: venue_model::BusinessDate,
    actor: &venue_domain::actor::Actor,
) -> Result<Vec<settlement::BillView>, DomainError> {
    settlement::settle_with_plugins(&api.venue, &api.store, &api.plugins, day, actor).await
}

/// The parties a caller may see bills and balances of: `None` for finance and auditors
/// (all), else those of its `operator:{party}` roles. The role table lets no one else in.
pub(super) fn own_parties(caller: &Caller) -> Option<Vec<String>> {
    if caller.has_any(&[Role::FinanceReviewer, Role::FinancePayer, Role::Auditor]) {
        return None;
    }
    Some(
        caller
            .operator_parties()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    )
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Bills as JSON, or as CSV / XLSX when asked (`?format=csv|xlsx` or `Accept`).
fn bills_reply(
    call: &Call,
    bills: &[settlement::BillView],
    name: &str,
) -> Result<Reply, DomainError> {
    let format = call
        .query("format")
        .unwrap_or(if call.accept.contains("text/csv") {
            "csv"
        } else if call.accept.contains(XLSX) {
            "xlsx"
        } else {
            "json"
        });
    let mut reply = match format {
        "json" => return Ok(json_reply(StatusCode::OK, &bills)),
        "csv" => super::bytes_reply(
            StatusCode::OK,
            settlement::export::csv(bills).into_bytes(),
            "text/csv; charset=utf-8",
        ),
        "xlsx" => {
            let bytes = settlement::export::xlsx(bills)
                .map_err(|e| DomainError::internal(format!("cannot write the workbook: {e}")))?;
            super::bytes_reply(StatusCode::OK, bytes, XLSX)
        }
        other => {
            return Err(DomainError::bad_request(
                "bad_format",
                format!("format {other:?}: use json, csv or xlsx"),
            ));
        }
    };
    if let Ok(v) =
        hyper::header::HeaderValue::from_str(&format!("attachment; filename=\"{name}.{format}\""))
    {
        reply
            .headers_mut()
            .insert(hyper::header::CONTENT_DISPOSITION, v);
    }
    Ok(reply)
}

pub async fn list_bills(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let own = own_parties(call.caller()?);
    let status = match call.query("status") {
        None => None,
        Some(text) => Some(BillStatus::parse(text).ok_or_else(|| {
            DomainError::bad_request(
                "bad_query",
                format!(
                    "status {text:?}: use one of {}",
                    BillStatus::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?),
    };
    let day = call.date("date")?;
    let party = match (&own, call.query("party")) {
        (Some(own), Some(asked)) if !own.iter().any(|p| p == asked) => {
            return Err(DomainError::forbidden(
                "an operator reads its own bills only",
            ));
        }
        (Some(own), None) if own.len() > 1 => {
            return Err(DomainError::bad_request(
                "party_required",
                format!(
                    "name one of your parties: ?party={}",
                    own.join(" or ?party=")
                ),
            ));
        }
        (Some(own), asked) => asked.map(str::to_owned).or_else(|| own.first().cloned()),
        (None, asked) => asked.map(str::to_owned),
    };
    let filter = settlement::settle::BillFilter {
        status,
        party,
        period_end: day,
    };
    let bills = api
        .store
        .write(move |c| -> Result<_, DomainError> {
            Ok(settlement::settle::list_bills(c, &filter, BILLS_ROWS_MAX)?)
        })
        .await?;
    let name = format!("bills-{}", day.map_or("all".to_owned(), |d| d.to_string()));
    bills_reply(call, &bills, &name)
}

pub async fn get_bill(api: &Api, call: &Call, bill_id: &str) -> Result<Reply, DomainError> {
    let own = own_parties(call.caller()?);
    let id = bill_id.to_owned();
    let bill = api
        .store
        .write(move |c| -> Result<_, DomainError> { Ok(settlement::settle::load_bill(c, &id)?) })
        .await?;
    match bill {
        Some(b) if own.as_ref().is_none_or(|own| own.contains(&b.party)) => {
            if call.query("format").is_some()
                || call.accept.contains("text/csv")
                || call.accept.contains(XLSX)
            {
                let name = b.bill_id.clone();
                bills_reply(call, std::slice::from_ref(&b), &name)
            } else {
                Ok(json_reply(StatusCode::OK, &b))
            }
        }
        // An operator learns nothing of other parties' bills, not even that they exist.
        _ => Err(DomainError::not_found(
            "bill_not_found",
            format!("no bill {bill_id}"),
        )),
    }
}

pub async fn approve(api: &Api, call: &Call, bill_id: &str) -> Result<Reply, DomainError> {
    let (venue, id, actor) = (api.venue.clone(), bill_id.to_owned(), call.actor()?);
    let bill = api
        .store
        .write(move |c| settlement::review::approve(c, &venue, &id, &actor))
        .await?;
    Ok(json_reply(StatusCode::OK, &bill))
}

#[derive(Deserialize)]
struct RejectRequest {
    reason: String,
}

pub async fn reject(api: &Api, call: Call, bill_id: &str) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let body = read_body(call.body, BODY_BYTES_MAX).await?;
    let req: RejectRequest = parse_json(&body)?;
    let (venue, id) = (api.venue.clone(), bill_id.to_owned());
    let bill = api
        .store
        .write(move |c| settlement::review::reject(c, &venue, &id, &actor, &req.reason))
        .await?;
    Ok(json_reply(StatusCode::OK, &bill))
}

pub async fn trial_balance(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let prefix = call.query("prefix").map(str::to_owned);
    let tb = api
        .store
        .write(move |c| {
            venue_domain::ledger::trial_balance(c, prefix.as_deref())
                .map_err(|e| DomainError::internal(e.to_string()))
        })
        .await?;
    Ok(json_reply(StatusCode::OK, &tb))
}

pub async fn party_balance(api: &Api, call: &Call, party: &str) -> Result<Reply, DomainError> {
    if let Some(own) = own_parties(call.caller()?)
        && !own.iter().any(|p| p == party)
    {
        return Err(DomainError::forbidden(
            "an operator reads its own balance only",
        ));
    }
    let p = party.to_owned();
    let balances = api
        .store
        .write(move |c| {
            venue_domain::ledger::party_balance(c, &p)
                .map_err(|e| DomainError::internal(e.to_string()))
        })
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "party": party, "balances": balances }),
    ))
}

pub async fn pay(api: &Api, call: &Call, bill_id: &str) -> Result<Reply, DomainError> {
    let bill = venue_domain::payouts::pay(
        &api.venue,
        &api.store,
        &api.plugins,
        bill_id,
        &call.actor()?,
    )
    .await?;
    Ok(json_reply(StatusCode::OK, &bill))
}
