//! The revenue report (docs/protocol.md, section 2, Reports): revenue summed per period
//! (day, ISO week from Monday, or month) and per key (product, area, category, party, merchant, or at HQ the edge box), over a range
//! of business days. gross = sales, refunds = refunds, net = gross − refunds, count = the
//! number of sales. Revenue without the key (a ticket has no merchant) is grouped under
//! "-". This module is the report's one definition: the edge box answers it from its own
//! journal (`venue-edge`'s `reports::edge`), HQ (`venue-hq`) from what the boxes uploaded,
//! both with [`RevenueQuery`] and [`build`].

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::date::BusinessDate;

/// What is wrong with a report's query, or its sums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// 400 `bad_query`: says which parameter and what it takes.
    #[error("{0}")]
    BadQuery(String),
    #[error("a report sum does not fit in 64 bits")]
    Overflow,
    /// The journal could not be read.
    #[error("the journal could not be read: {0}")]
    Store(String),
}

/// Revenue of one business day and key, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub day: NaiveDate,
    pub key: String,
    pub gross_fen: i64,
    pub refunds_fen: i64,
    pub count: i64,
}

/// The longest range one report covers, in days (about ten years).
pub const RANGE_DAYS_MAX: i64 = 3_700;

/// What rows are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Product,
    Area,
    Category,
    Party,
    Merchant,
    Edge,
}

impl GroupBy {
    /// The keys the edge box reports by (an edge box knows no other boxes).
    pub const EDGE: [GroupBy; 5] = [
        GroupBy::Product,
        GroupBy::Area,
        GroupBy::Category,
        GroupBy::Party,
        GroupBy::Merchant,
    ];
    /// The keys HQ reports by.
    pub const ALL: [GroupBy; 6] = [
        GroupBy::Product,
        GroupBy::Area,
        GroupBy::Category,
        GroupBy::Party,
        GroupBy::Merchant,
        GroupBy::Edge,
    ];

    /// One of `offered`, by name.
    pub fn parse(s: &str, offered: &[GroupBy]) -> Option<GroupBy> {
        offered.iter().copied().find(|g| g.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Product => "product",
            GroupBy::Area => "area",
            GroupBy::Category => "category",
            GroupBy::Party => "party",
            GroupBy::Merchant => "merchant",
            GroupBy::Edge => "edge",
        }
    }

    /// The column of HQ's `revenue_lines` (a fixed name, safe to put in SQL).
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Edge => "edge_id",
            other => other.as_str(),
        }
    }
}

/// How business days are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The first day of the period `day` falls in (weeks start on Monday, as ISO weeks).
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => {
                day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            Period::Month => day.with_day(1).unwrap_or(day),
        }
    }
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&period=day|week|month&by=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub period: Period,
    pub by: GroupBy,
}

impl RevenueQuery {
    /// Reads the query string's pairs, `by` being one of `offered`; the error names the
    /// first problem. `period` defaults to `day`; `from`, `to` and `by` are required.
    pub fn parse(
        pairs: &[(String, String)],
        offered: &[GroupBy],
    ) -> Result<RevenueQuery, ReportError> {
        let bad = ReportError::BadQuery;
        let names = offered
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut from = None;
        let mut to = None;
        let mut period = Period::Day;
        let mut by = None;
        for (key, value) in pairs {
            match key.as_str() {
                "from" | "to" => {
                    let day = BusinessDate::parse(value)
                        .map_err(|e| bad(format!("{key}: {e}")))?
                        .naive();
                    if key == "from" {
                        from = Some(day);
                    } else {
                        to = Some(day);
                    }
                }
                "period" => {
                    period = Period::parse(value).ok_or_else(|| {
                        bad(format!("period={value:?} is not one of day, week, month"))
                    })?;
                }
                "by" => {
                    by = Some(
                        GroupBy::parse(value, offered)
                            .ok_or_else(|| bad(format!("by={value:?} is not one of {names}")))?,
                    );
                }
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; the report takes from, to, period and by"
                    )));
                }
            }
        }
        let from = from.ok_or_else(|| bad("from=YYYY-MM-DD is required".into()))?;
        let to = to.ok_or_else(|| bad("to=YYYY-MM-DD is required".into()))?;
        let by = by.ok_or_else(|| bad(format!("by= is required: one of {names}")))?;
        if from > to {
            return Err(bad(format!("from {from} is after to {to}")));
        }
        if (to - from).num_days() >= RANGE_DAYS_MAX {
            return Err(bad(format!(
                "the range {from} to {to} is longer than {RANGE_DAYS_MAX} days; ask for a shorter one"
            )));
        }
        Ok(RevenueQuery {
            from,
            to,
            period,
            by,
        })
    }
}

/// Sums of one row or of the whole report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub gross_fen: i64,
    pub refunds_fen: i64,
    pub net_fen: i64,
    pub count: i64,
}

/// One row: a period and a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub period: String,
    pub key: String,
    pub gross_fen: i64,
    pub refunds_fen: i64,
    pub net_fen: i64,
    pub count: i64,
}

/// The report as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueReport {
    pub from: String,
    pub to: String,
    pub period: &'static str,
    pub by: &'static str,
    pub rows: Vec<Row>,
    pub total: Totals,
}

#[derive(Default)]
struct Sums {
    gross: i128,
    refunds: i128,
    count: i128,
}

impl Sums {
    fn add(&mut self, r: &DayRow) {
        self.gross += i128::from(r.gross_fen);
        self.refunds += i128::from(r.refunds_fen);
        self.count += i128::from(r.count);
    }

    fn totals(&self) -> Result<Totals, ReportError> {
        let fit = |v: i128| i64::try_from(v).map_err(|_| ReportError::Overflow);
        Ok(Totals {
            gross_fen: fit(self.gross)?,
            refunds_fen: fit(self.refunds)?,
            net_fen: fit(self.gross - self.refunds)?,
            count: fit(self.count)?,
        })
    }
}

/// Folds per-day rows into the query's periods, sorted by period then key.
pub fn build(query: &RevenueQuery, days: &[DayRow]) -> Result<RevenueReport, ReportError> {
    let mut grouped: BTreeMap<(NaiveDate, &str), Sums> = BTreeMap::new();
    let mut all = Sums::default();
    for r in days {
        grouped
            .entry((query.period.start(r.day), r.key.as_str()))
            .or_default()
            .add(r);
        all.add(r);
    }
    let mut rows = Vec::with_capacity(grouped.len());
    for ((period, key), sums) in grouped {
        let t = sums.totals()?;
        rows.push(Row {
            period: period.to_string(),
            key: key.to_owned(),
            gross_fen: t.gross_fen,
            refunds_fen: t.refunds_fen,
            net_fen: t.net_fen,
            count: t.count,
        });
    }
    Ok(RevenueReport {
        from: query.from.to_string(),
        to: query.to.to_string(),
        period: query.period.as_str(),
        by: query.by.as_str(),
        rows,
        total: all.totals()?,
    })
}

impl RevenueReport {
    /// The columns of the report's CSV and workbook.
    pub const COLUMNS: [&'static str; 6] = [
        "period",
        "key",
        "gross_fen",
        "refunds_fen",
        "net_fen",
        "count",
    ];

    /// The rows as cells under [`RevenueReport::COLUMNS`], amounts in whole fen.
    pub fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                vec![
                    r.period.to_string(),
                    r.key.clone(),
                    r.gross_fen.to_string(),
                    r.refunds_fen.to_string(),
                    r.net_fen.to_string(),
                    r.count.to_string(),
                ]
            })
            .collect()
    }

    /// The rows as CSV: `period,key,gross_fen,refunds_fen,net_fen,count` (see [`csv`]).
    pub fn to_csv(&self) -> String {
        crate::csv::table(&Self::COLUMNS, self.cells())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn periods_start_on_the_first_day_monday_or_the_first_of_the_month() {
        // 2026-11-25 is a Wednesday.
        assert_eq!(Period::Day.start(d("2026-11-25")), d("2026-11-25"));
        assert_eq!(Period::Week.start(d("2026-11-25")), d("2026-11-23"));
        assert_eq!(Period::Week.start(d("2026-11-23")), d("2026-11-23"));
        assert_eq!(Period::Week.start(d("2026-11-29")), d("2026-11-23"));
        assert_eq!(Period::Week.start(d("2027-01-01")), d("2026-12-28"));
        assert_eq!(Period::Month.start(d("2026-11-25")), d("2026-11-01"));
    }

    #[test]
    fn queries_parse_or_say_what_is_wrong() {
        let q = RevenueQuery::parse(
            &pairs("from=2026-11-01&to=2026-11-30&period=week&by=party"),
            &GroupBy::EDGE,
        )
        .unwrap();
        assert_eq!((q.period, q.by), (Period::Week, GroupBy::Party));
        let q = RevenueQuery::parse(
            &pairs("from=2026-11-01&to=2026-11-01&by=edge"),
            &GroupBy::ALL,
        )
        .unwrap();
        assert_eq!((q.period, q.by.column()), (Period::Day, "edge_id"));
        // An edge box knows no other boxes.
        let e = RevenueQuery::parse(
            &pairs("from=2026-11-01&to=2026-11-01&by=edge"),
            &GroupBy::EDGE,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "by=\"edge\" is not one of product, area, category, party, merchant"
        );
        for bad in [
            "from=2026-11-01&by=product",
            "from=2026-11-02&to=2026-11-01&by=product",
            "from=2026-11-01&to=2026-11-31&by=product",
            "from=2026-11-01&to=2026-11-03&by=color",
            "from=2026-11-01&to=2026-11-03&by=product&period=year",
            "from=2026-11-01&to=2026-11-03&by=product&limit=3",
            "from=2000-01-01&to=2026-11-03&by=product",
        ] {
            let e = RevenueQuery::parse(&pairs(bad), &GroupBy::ALL).unwrap_err();
            assert!(matches!(e, ReportError::BadQuery(_)), "{bad}");
        }
    }

    #[test]
    fn days_fold_into_periods_sorted_with_totals_and_csv() {
        let row = |day: &str, key: &str, gross, refunds, count| DayRow {
            day: d(day),
            key: key.into(),
            gross_fen: gross,
            refunds_fen: refunds,
            count,
        };
        let days = vec![
            row("2026-11-24", "park-day", 1000, 100, 2),
            row("2026-11-25", "park-day", 500, 0, 1),
            row("2026-11-25", "-", 300, 0, 1),
            row("2026-12-01", "park-day", 700, 0, 1),
        ];
        let q = RevenueQuery::parse(
            &pairs("from=2026-11-01&to=2026-12-31&period=month&by=product"),
            &GroupBy::EDGE,
        )
        .unwrap();
        let r = build(&q, &days).unwrap();
        let keys: Vec<(&str, &str, i64)> = r
            .rows
            .iter()
            .map(|r| (r.period.as_str(), r.key.as_str(), r.net_fen))
            .collect();
        assert_eq!(
            keys,
            [
                ("2026-11-01", "-", 300),
                ("2026-11-01", "park-day", 1400),
                ("2026-12-01", "park-day", 700)
            ]
        );
        assert_eq!(
            r.total,
            Totals {
                gross_fen: 2500,
                refunds_fen: 100,
                net_fen: 2400,
                count: 5
            }
        );
        assert_eq!(
            r.to_csv(),
            "period,key,gross_fen,refunds_fen,net_fen,count\r\n2026-11-01,-,300,0,300,1\r\n2026-11-01,park-day,1500,100,1400,3\r\n2026-12-01,park-day,700,0,700,1\r\n"
        );
    }
}
