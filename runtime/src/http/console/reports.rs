//! The Reports page (manager, finance, auditor): revenue by day, week or month and by
//! product, area, category, party or merchant over any range, as a table and a chart, with
//! CSV and XLSX downloads of exactly the rows shown (the API's own report, same query);
//! visitor flow by hour (manager, auditor); and the consumption analysis.

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, html, svg, yuan};
use crate::auth::{Caller, Role};
use crate::http::Api;
use crate::http::router::Call;
use venue_domain::error::DomainError;
use venue_domain::reports::consumption::{self, Consumption, ConsumptionQuery};
use venue_domain::reports::flow::{self, FlowQuery, Interval};
use venue_domain::reports::{self, GroupBy, RevenueQuery};

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    frame: Frame,
    from: String,
    to: String,
    periods: Vec<(&'static str, bool)>,
    groups: Vec<(&'static str, bool)>,
    query: String,
    rows: Vec<RevenueRow>,
    total: RevenueRow,
    chart: String,
    flow: Option<FlowView>,
    /// None for a range longer than the analysis covers.
    consumption: Option<ConsumptionView>,
}

struct ConsumptionView {
    c: Consumption,
    spend: String,
    chart: String,
    /// (category, net in yuan, count, share in per cent)
    categories: Vec<(String, String, i64, String)>,
}

impl ReportsPage {
    /// Fen as yuan, for the template.
    fn y(&self, fen: &i64) -> String {
        yuan(*fen)
    }
}

struct RevenueRow {
    period: String,
    key: String,
    gross: String,
    refunds: String,
    net: String,
    count: i64,
}

struct FlowView {
    date: String,
    area: String,
    chart: String,
    hours: Vec<(String, i64, i64, i64)>,
}

/// `GET /reports?from=&to=&period=&by=`: a week to today by area unless asked otherwise.
pub async fn page(
    api: &Api,
    call: &Call,
    caller: &Caller,
    frame: Frame,
) -> Result<Reply, DomainError> {
    let today = api.venue.clock.today();
    let week_ago = venue_model::BusinessDate::from_naive(today.naive() - chrono::Duration::days(6));
    let mut pairs: Vec<(String, String)> = vec![
        ("from".into(), week_ago.to_string()),
        ("to".into(), today.to_string()),
        ("period".into(), "day".into()),
        ("by".into(), "area".into()),
    ];
    for (k, v) in &call.query {
        if let Some(p) = pairs.iter_mut().find(|(key, _)| key == k) {
            p.1 = v.clone();
        }
    }
    let query = RevenueQuery::parse(&pairs, &GroupBy::EDGE)?;
    let consumption_query = ConsumptionQuery::parse(&pairs[..2]).ok();
    let sees_flow = caller.has_any(&[Role::Manager, Role::Auditor]);
    let venue = api.venue.clone();
    let q = query.clone();
    let flow_date = venue_model::BusinessDate::from_naive(query.to);
    let (days, flow, analysis) = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            let days = reports::edge::revenue_by_day(c, &venue, &q)?;
            let flow = if sees_flow {
                Some(flow::flow(
                    c,
                    &venue,
                    &FlowQuery {
                        date: flow_date,
                        interval: Interval::Hour,
                    },
                )?)
            } else {
                None
            };
            let analysis = match consumption_query {
                Some(q) => Some(consumption::consumption(c, &venue, &q)?),
                None => None,
            };
            Ok((days, flow, analysis))
        })
        .await?;
    let report = reports::build(&query, &days)?;
    let money =
        |period: String, key: String, gross: i64, refunds: i64, net: i64, count: i64| RevenueRow {
            period,
            key,
            gross: yuan(gross),
            refunds: yuan(refunds),
            net: yuan(net),
            count,
        };
    // The chart: net per period (all keys together), in yuan on the bars' titles.
    let mut per_period: Vec<(String, i64)> = Vec::new();
    for r in &report.rows {
        match per_period.last_mut() {
            Some((p, v)) if *p == r.period => *v += r.net_fen,
            _ => per_period.push((r.period.clone(), r.net_fen)),
        }
    }
    let every = per_period.len().div_ceil(8).max(1);
    let chart = svg::bars(&per_period, every);
    let flow = flow
        .and_then(|f| f.areas.into_iter().next())
        .map(|a| FlowView {
            date: flow_date.to_string(),
            chart: svg::bars(
                &a.intervals
                    .iter()
                    .map(|i| (i.start.get(11..16).unwrap_or("").to_owned(), i.entries))
                    .collect::<Vec<_>>(),
                2,
            ),
            hours: a
                .intervals
                .iter()
                .map(|i| {
                    (
                        i.start.get(11..16).unwrap_or("").to_owned(),
                        i.entries,
                        i.exits,
                        i.inside,
                    )
                })
                .collect(),
            area: a.area,
        });
    let consumption = analysis.map(|c| ConsumptionView {
        spend: yuan(c.spend_per_visitor_fen),
        chart: svg::bars(
            &c.by_category
                .iter()
                .map(|r| (r.category.clone(), r.net_fen))
                .collect::<Vec<_>>(),
            1,
        ),
        categories: c
            .by_category
            .iter()
            .map(|r| {
                (
                    r.category.clone(),
                    yuan(r.net_fen),
                    r.count,
                    format!("{}.{:02}%", r.share_bp / 100, r.share_bp % 100),
                )
            })
            .collect(),
        c,
    });
    let chosen = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let page = ReportsPage {
        frame,
        from: report.from.clone(),
        to: report.to.clone(),
        periods: ["day", "week", "month"]
            .into_iter()
            .map(|p| (p, Some(p) == chosen("period")))
            .collect(),
        groups: GroupBy::EDGE
            .iter()
            .map(|g| (g.as_str(), Some(g.as_str()) == chosen("by")))
            .collect(),
        query: pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", super::encode(v)))
            .collect::<Vec<_>>()
            .join("&"),
        rows: report
            .rows
            .iter()
            .map(|r| {
                money(
                    r.period.clone(),
                    r.key.clone(),
                    r.gross_fen,
                    r.refunds_fen,
                    r.net_fen,
                    r.count,
                )
            })
            .collect(),
        total: money(
            String::new(),
            String::new(),
            report.total.gross_fen,
            report.total.refunds_fen,
            report.total.net_fen,
            report.total.count,
        ),
        chart,
        flow,
        consumption,
    };
    Ok(html(StatusCode::OK, page.render()))
}
