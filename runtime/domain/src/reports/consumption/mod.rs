//! The visitor consumption analysis (protocol.md, Reports): how many visitors came, what
//! they spent at the tills, on what, at which hour, how long they stayed, through which
//! channel they bought and where they come from.
//!
//! The arithmetic (rounding half up, shares in basis points, percentiles, folding small
//! origin groups, a group code's visitors) is pure functions with their tables of cases
//! below; [`consumption`] reads the journal and hands them the rows.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params};
use serde::Serialize;

use super::ReportError;

mod arithmetic;
mod export;
use crate::venue::Venue;
pub use arithmetic::{div_half_up, fold_origin, group_visitors, percentile, share_bp};
pub use export::Table;
use venue_model::BusinessDate;

/// A range this report answers at most (days).
pub const CONSUMPTION_DAYS_MAX: i64 = 366;
/// SKUs in `top_skus`.
pub const TOP_SKUS: usize = 10;
/// An origin group smaller than this is folded into `other`, so no row singles anyone out.
pub const ORIGIN_GROUP_MIN: i64 = 5;

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD`, both required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumptionQuery {
    pub from: BusinessDate,
    pub to: BusinessDate,
}

impl ConsumptionQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<ConsumptionQuery, ReportError> {
        let bad = ReportError::BadQuery;
        let (mut from, mut to) = (None, None);
        for (key, value) in pairs {
            let date = || BusinessDate::parse(value).map_err(|e| bad(format!("{key}: {e}")));
            match key.as_str() {
                "from" => from = Some(date()?),
                "to" => to = Some(date()?),
                // The console and the API's downloads name the format too.
                "format" | "lang" => {}
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; the report takes from and to"
                    )));
                }
            }
        }
        let from = from.ok_or_else(|| bad("from is required (YYYY-MM-DD)".into()))?;
        let to = to.ok_or_else(|| bad("to is required (YYYY-MM-DD)".into()))?;
        let days = (to.naive() - from.naive()).num_days() + 1;
        if days < 1 {
            return Err(bad(format!("to ({to}) is before from ({from})")));
        }
        if days > CONSUMPTION_DAYS_MAX {
            return Err(bad(format!(
                "{days} days; the analysis covers at most {CONSUMPTION_DAYS_MAX}"
            )));
        }
        Ok(ConsumptionQuery { from, to })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consumption {
    pub from: String,
    pub to: String,
    pub visitors: i64,
    pub ticket_net_fen: i64,
    pub pos_net_fen: i64,
    pub spend_per_visitor_fen: i64,
    pub by_category: Vec<CategoryRow>,
    pub by_hour: Vec<HourRow>,
    pub top_skus: Vec<SkuRow>,
    pub dwell_min: Dwell,
    pub by_channel: Vec<ChannelRow>,
    pub origin: Vec<OriginRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRow {
    pub category: String,
    pub net_fen: i64,
    pub count: i64,
    pub share_bp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourRow {
    pub hour: String,
    pub pos_net_fen: i64,
    pub sales: i64,
    pub entries: i64,
    /// Inside the venue's first area (the park) at the hour's end, summed over the range's days.
    pub in_park: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuRow {
    pub sku: String,
    pub merchant: String,
    pub net_fen: i64,
    pub qty: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dwell {
    pub visits: i64,
    pub p50: i64,
    pub p90: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    pub channel: String,
    pub visitors: i64,
    pub ticket_net_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginRow {
    pub province: String,
    pub visitors: i64,
}

/// The analysis of `query`'s days.
pub fn consumption(
    conn: &Connection,
    venue: &Venue,
    query: &ConsumptionQuery,
) -> Result<Consumption, ReportError> {
    let sql = |e: rusqlite::Error| ReportError::Store(e.to_string());
    let (from, to) = (query.from, query.to);
    let tz = venue.clock.tz();
    let local_hour = |at: &str| {
        venue_model::clock::parse_rfc3339(at).map(|t| {
            use chrono::Timelike;
            t.with_timezone(&tz).hour() as usize
        })
    };

    // Visitors: tickets admitted in at least once; a group code, its admitted members.
    let mut ticket_channel: HashMap<String, String> = HashMap::new();
    let mut ticket_province: HashMap<String, Option<String>> = HashMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT s.ticket_id, o.channel, t.id_province
             FROM scans s JOIN tickets t ON t.ticket_id = s.ticket_id
                          JOIN orders o ON o.order_id = t.order_id
             WHERE s.business_date BETWEEN ?1 AND ?2 AND s.direction = 'in' AND s.admitted > 0
               AND (t.group_code IS NULL OR s.code <> t.group_code)",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let ticket: String = r.get(0).map_err(sql)?;
        ticket_channel.insert(ticket.clone(), r.get(1).map_err(sql)?);
        ticket_province.insert(ticket, r.get(2).map_err(sql)?);
    }
    let mut groups: BTreeMap<String, (String, i64, Vec<i64>)> = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.code, o.channel,
                    (SELECT COUNT(*) FROM tickets m WHERE m.group_code = s.code),
                    SUM(s.admitted)
             FROM scans s JOIN orders o ON o.group_code = s.code
             WHERE s.business_date BETWEEN ?1 AND ?2 AND s.direction = 'in' AND s.admitted > 0
             GROUP BY s.code, s.business_date, s.area",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let code: String = r.get(0).map_err(sql)?;
        let g = groups
            .entry(code)
            .or_insert_with(|| (String::new(), 0, Vec::new()));
        g.0 = r.get(1).map_err(sql)?;
        g.1 = r.get(2).map_err(sql)?;
        g.2.push(r.get(3).map_err(sql)?);
    }
    let mut channel_visitors: BTreeMap<String, i64> = BTreeMap::new();
    for channel in ticket_channel.values() {
        *channel_visitors.entry(channel.clone()).or_default() += 1;
    }
    let mut visitors = ticket_channel.len() as i64;
    for (channel, members, admitted) in groups.values() {
        let n = group_visitors(admitted, *members);
        visitors += n;
        *channel_visitors.entry(channel.clone()).or_default() += n;
    }

    // Money: the journal's revenue facts, as settlement and the revenue report count them.
    let mut ticket_net = 0i64;
    let mut channel_net: BTreeMap<String, i64> = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT o.channel, SUM(CASE WHEN f.kind = 'sale' THEN f.amount_fen ELSE -f.amount_fen END)
             FROM revenue_facts f JOIN tickets t ON t.ticket_id = f.fact_id
                                  JOIN orders o ON o.order_id = t.order_id
             WHERE f.business_date BETWEEN ?1 AND ?2 AND f.source = 'ticket' AND f.voided = 0
             GROUP BY o.channel",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let net: i64 = r.get(1).map_err(sql)?;
        ticket_net = ticket_net.checked_add(net).ok_or(ReportError::Overflow)?;
        channel_net.insert(r.get(0).map_err(sql)?, net);
    }
    let mut by_category: Vec<CategoryRow> = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT category,
                    SUM(CASE WHEN kind = 'sale' THEN amount_fen ELSE -amount_fen END),
                    COUNT(DISTINCT CASE WHEN kind = 'sale' THEN fact_id END)
             FROM revenue_facts
             WHERE business_date BETWEEN ?1 AND ?2 AND source = 'pos' AND voided = 0
             GROUP BY category",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        by_category.push(CategoryRow {
            category: r.get(0).map_err(sql)?,
            net_fen: r.get(1).map_err(sql)?,
            count: r.get(2).map_err(sql)?,
            share_bp: 0,
        });
    }
    let pos_net = by_category
        .iter()
        .try_fold(0i64, |s, c| s.checked_add(c.net_fen))
        .ok_or(ReportError::Overflow)?;
    for c in &mut by_category {
        c.share_bp = share_bp(c.net_fen, pos_net);
    }
    by_category.sort_by(|a, b| b.net_fen.cmp(&a.net_fen).then(a.category.cmp(&b.category)));

    // By hour of the venue's clock: POS money and sales, entries, who is inside the park.
    let mut hours = [(0i64, 0i64, 0i64, 0i64); 24];
    let mut stmt = conn
        .prepare_cached(
            "SELECT at, kind, total_fen FROM sales
             WHERE business_date BETWEEN ?1 AND ?2 AND voided = 0 AND kind IN ('sale', 'refund')",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let at: String = r.get(0).map_err(sql)?;
        let Some(h) = local_hour(&at) else { continue };
        let kind: String = r.get(1).map_err(sql)?;
        let total: i64 = r.get(2).map_err(sql)?;
        if kind == "sale" {
            hours[h].0 += total;
            hours[h].1 += 1;
        } else {
            hours[h].0 -= total;
        }
    }
    let park = venue.config.areas.first().map(|a| a.id.clone());
    let mut park_delta = [0i64; 24];
    let mut firsts: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT at, direction, admitted, area, ticket_id, business_date FROM scans
             WHERE business_date BETWEEN ?1 AND ?2 AND admitted > 0",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![from, to]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let at: String = r.get(0).map_err(sql)?;
        let Some(t) = venue_model::clock::parse_rfc3339(&at) else {
            continue;
        };
        let h = {
            use chrono::Timelike;
            t.with_timezone(&tz).hour() as usize
        };
        let entering = r.get::<_, String>(1).map_err(sql)? == "in";
        let admitted: i64 = r.get(2).map_err(sql)?;
        let area: String = r.get(3).map_err(sql)?;
        if entering {
            hours[h].2 += admitted;
        }
        if Some(&area) == park.as_ref() {
            park_delta[h] += if entering { admitted } else { -admitted };
            // Dwell: a ticket's first entry and last exit of the day.
            if let Some(ticket) = r.get::<_, Option<String>>(4).map_err(sql)? {
                let day: String = r.get(5).map_err(sql)?;
                let e = firsts.entry((ticket, day)).or_insert((i64::MAX, i64::MIN));
                let secs = t.timestamp();
                if entering {
                    e.0 = e.0.min(secs);
                } else {
                    e.1 = e.1.max(secs);
                }
            }
        }
    }
    let mut inside = 0;
    for h in 0..24 {
        inside += park_delta[h];
        hours[h].3 = inside;
    }
    let by_hour = hours
        .iter()
        .enumerate()
        .filter(|(h, (net, sales, entries, _))| {
            *net != 0 || *sales != 0 || *entries != 0 || park_delta[*h] != 0
        })
        .map(|(h, (net, sales, entries, in_park))| HourRow {
            hour: format!("{h:02}:00"),
            pos_net_fen: *net,
            sales: *sales,
            entries: *entries,
            in_park: *in_park,
        })
        .collect();
    let mut stays: Vec<i64> = firsts
        .values()
        .filter(|(first_in, last_out)| *first_in != i64::MAX && *last_out > *first_in)
        .map(|(first_in, last_out)| (last_out - first_in) / 60)
        .collect();
    stays.sort_unstable();
    let dwell = Dwell {
        visits: stays.len() as i64,
        p50: percentile(&stays, 50),
        p90: percentile(&stays, 90),
    };

    // What sold best, net of refunds; voided sales left out.
    let mut stmt = conn
        .prepare_cached(
            "SELECT json_extract(l.value, '$.sku') AS sku, s.merchant,
                    SUM((CASE WHEN s.kind = 'sale' THEN 1 ELSE -1 END)
                        * json_extract(l.value, '$.qty') * json_extract(l.value, '$.unit_price_fen')) AS net,
                    SUM((CASE WHEN s.kind = 'sale' THEN 1 ELSE -1 END) * json_extract(l.value, '$.qty'))
             FROM sales s, json_each(s.lines) l
             WHERE s.business_date BETWEEN ?1 AND ?2 AND s.voided = 0 AND s.kind IN ('sale', 'refund')
             GROUP BY sku, s.merchant ORDER BY net DESC, sku LIMIT ?3",
        )
        .map_err(sql)?;
    let top_skus = stmt
        .query_map(params![from, to, TOP_SKUS as i64], |r| {
            Ok(SkuRow {
                sku: r.get(0)?,
                merchant: r.get(1)?,
                net_fen: r.get(2)?,
                qty: r.get(3)?,
            })
        })
        .map_err(sql)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql)?;

    let mut channels: Vec<ChannelRow> = channel_visitors
        .keys()
        .chain(channel_net.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|c| ChannelRow {
            channel: c.clone(),
            visitors: channel_visitors.get(c).copied().unwrap_or(0),
            ticket_net_fen: channel_net.get(c).copied().unwrap_or(0),
        })
        .collect();
    channels.sort_by(|a, b| b.visitors.cmp(&a.visitors).then(a.channel.cmp(&b.channel)));

    let mut provinces: BTreeMap<String, i64> = BTreeMap::new();
    for province in ticket_province.values().flatten() {
        *provinces.entry(province.clone()).or_default() += 1;
    }

    Ok(Consumption {
        from: from.to_string(),
        to: to.to_string(),
        visitors,
        ticket_net_fen: ticket_net,
        pos_net_fen: pos_net,
        spend_per_visitor_fen: div_half_up(pos_net, visitors),
        by_category,
        by_hour,
        top_skus,
        dwell_min: dwell,
        by_channel: channels,
        origin: fold_origin(&provinces),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_province_is_the_resident_numbers_first_two_digits() {
        let cases = [
            ("id_card", "110101199001011234", Some("北京")),
            ("id_card", "330106199202022345", Some("浙江")),
            ("id_card", "990101199001011234", None),
            ("id_card", "1101011990", None),
            ("passport", "110101199001011234", None),
        ];
        for (kind, number, want) in cases {
            assert_eq!(
                crate::realname::province_of(kind, number),
                want,
                "{kind} {number}"
            );
        }
    }

    #[test]
    fn the_query_needs_both_days_in_order_within_a_year() {
        let q = |pairs: &[(&str, &str)]| {
            ConsumptionQuery::parse(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(q(&[("from", "2026-12-01"), ("to", "2026-12-07")]).is_ok());
        for bad in [
            vec![("from", "2026-12-01")],
            vec![("from", "2026-12-7"), ("to", "2026-12-07")],
            vec![("from", "2026-12-08"), ("to", "2026-12-07")],
            vec![("from", "2025-01-01"), ("to", "2026-12-07")],
            vec![("from", "2026-12-01"), ("to", "2026-12-07"), ("by", "x")],
        ] {
            assert!(q(&bad).is_err(), "{bad:?}");
        }
    }
}
