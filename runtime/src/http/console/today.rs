//! The Today page (manager): per area entries, exits and who is inside against the
//! instantaneous and daily maximum, entries per 15 minutes, revenue so far by area and
//! category, the newest alerts, and which gates and POS terminals are online. The page
//! reloads itself every 5 seconds.

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, html, svg, yuan};
use crate::http::Api;
use venue_domain::error::DomainError;
use venue_domain::reports::flow::{self, FlowQuery, Interval};
use venue_domain::reports::{self, GroupBy, Period, RevenueQuery};

#[derive(Template)]
#[template(path = "today.html")]
struct TodayPage {
    frame: Frame,
    date: String,
    areas: Vec<AreaRow>,
    chart_area: String,
    chart: String,
    by_area: Vec<MoneyRow>,
    by_category: Vec<MoneyRow>,
    alerts: Vec<AlertRow>,
    devices: Vec<DeviceRow>,
}

struct AreaRow {
    area: String,
    entries: i64,
    exits: i64,
    inside: i64,
    instant_max: Option<u32>,
    inside_level: &'static str,
    inside_gauge: String,
    sold: i64,
    daily_max: Option<u32>,
    sold_gauge: String,
}

struct MoneyRow {
    key: String,
    net: String,
    count: i64,
}

struct AlertRow {
    at: String,
    kind: String,
    detail: String,
}

struct DeviceRow {
    id: String,
    kind: &'static str,
    online: bool,
}

pub async fn page(api: &Api, frame: Frame) -> Result<Reply, DomainError> {
    let today = api.venue.clock.today();
    let venue = api.venue.clone();
    let (flow, sold, by_area, by_category) = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            let flow = flow::flow(
                c,
                &venue,
                &FlowQuery {
                    date: today,
                    interval: Interval::QuarterHour,
                },
            )?;
            let mut sold = Vec::new();
            for a in &venue.config.areas {
                sold.push(venue_domain::ticketing::sold_for(c, &a.id, today)?);
            }
            let revenue = |by: GroupBy| -> Result<_, DomainError> {
                let query = RevenueQuery {
                    from: today.naive(),
                    to: today.naive(),
                    period: Period::Day,
                    by,
                };
                let days = reports::edge::revenue_by_day(c, &venue, &query)?;
                Ok(reports::build(&query, &days)?)
            };
            Ok((
                flow,
                sold,
                revenue(GroupBy::Area)?,
                revenue(GroupBy::Category)?,
            ))
        })
        .await?;
    let levels = &api.venue.config.admission.alert_levels_pct;
    let areas = api
        .venue
        .config
        .areas
        .iter()
        .zip(&flow.areas)
        .zip(sold)
        .map(|((config, f), sold)| {
            let inside_level = svg::level(f.inside_now, config.instant_max, levels);
            AreaRow {
                area: f.area.clone(),
                entries: f.entries,
                exits: f.exits,
                inside: f.inside_now,
                instant_max: config.instant_max,
                inside_level: inside_level.css(),
                inside_gauge: svg::gauge(f.inside_now, config.instant_max, inside_level),
                sold,
                daily_max: config.daily_max,
                sold_gauge: svg::gauge(
                    sold,
                    config.daily_max,
                    svg::level(sold, config.daily_max, levels),
                ),
            }
        })
        .collect();
    // Entries per 15 minutes at the first area (the venue's own gate, by convention).
    let (chart_area, chart) = match flow.areas.first() {
        Some(a) => {
            let points: Vec<(String, i64)> = a
                .intervals
                .iter()
                .map(|i| (clock_of(&i.start), i.entries))
                .collect();
            (a.area.clone(), svg::bars(&points, 4))
        }
        None => (String::new(), svg::bars(&[], 1)),
    };
    let money = |report: reports::RevenueReport| -> Vec<MoneyRow> {
        report
            .rows
            .into_iter()
            .map(|r| MoneyRow {
                key: r.key,
                net: yuan(r.net_fen),
                count: r.count,
            })
            .collect()
    };
    let alerts = api
        .alerts
        .list()
        .into_iter()
        .take(10)
        .map(|a| AlertRow {
            at: clock_of(&a.at),
            kind: a.kind,
            detail: serde_json::Value::Object(a.detail).to_string(),
        })
        .collect();
    let config = &api.venue.config;
    let devices = config
        .gates
        .iter()
        .map(|g| (g.id.clone(), "today.gate"))
        .chain(config.pos.iter().map(|p| (p.id.clone(), "today.pos")))
        .map(|(id, kind)| DeviceRow {
            online: api.metrics.device_online(&id),
            id,
            kind,
        })
        .collect();
    let page = TodayPage {
        frame,
        date: today.to_string(),
        areas,
        chart_area,
        chart,
        by_area: money(by_area),
        by_category: money(by_category),
        alerts,
        devices,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `HH:MM` of an RFC 3339 time (as written, in the venue's zone), or the text itself.
fn clock_of(at: &str) -> String {
    at.get(11..16).unwrap_or(at).to_owned()
}
