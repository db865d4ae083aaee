//! The flow report (`GET /api/v1/reports/flow?date=&interval=hour`): per area, the people
//! who entered and left in each interval of a business day (the admitted scans' counts,
//! a group scan counting its whole party), how many were inside at each interval's end
//! by that day's flow, and how many are inside now.
//!
//! Intervals are in the venue's time zone, from each scan's own time (`at`, the time the
//! turnstile saw it, so offline scans land when they happened). Only intervals from the
//! day's first admitted scan to its last are listed, each of them, empty ones included.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Timelike};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::ReportError;
use crate::venue::Venue;

/// The intervals a day is cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    HalfHour,
    QuarterHour,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "hour" => Some(Interval::Hour),
            "30m" => Some(Interval::HalfHour),
            "15m" => Some(Interval::QuarterHour),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::HalfHour => "30m",
            Interval::QuarterHour => "15m",
        }
    }

    fn minutes(self) -> u32 {
        match self {
            Interval::Hour => 60,
            Interval::HalfHour => 30,
            Interval::QuarterHour => 15,
        }
    }

    /// The start of the interval `at` falls in.
    fn start(self, at: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let minute = at.minute() - at.minute() % self.minutes();
        at.with_minute(minute)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(at)
    }
}

/// `?date=YYYY-MM-DD&interval=hour|30m|15m`; the date defaults to today, the interval to
/// an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowQuery {
    pub date: NaiveDate,
    pub interval: Interval,
}

impl FlowQuery {
    pub fn parse(pairs: &[(String, String)], today: NaiveDate) -> Result<FlowQuery, ReportError> {
        let bad = ReportError::BadQuery;
        let mut query = FlowQuery {
            date: today,
            interval: Interval::Hour,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "date" => {
                    query.date = venue_model::BusinessDate::parse(value)
                        .map_err(|e| bad(format!("date: {e}")))?
                        .naive();
                }
                "interval" => {
                    query.interval = Interval::parse(value).ok_or_else(|| {
                        bad(format!("interval={value:?} is not one of hour, 30m, 15m"))
                    })?;
                }
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?}; the report takes date and interval"
                    )));
                }
            }
        }
        Ok(query)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowReport {
    pub date: String,
    pub interval: &'static str,
    pub areas: Vec<AreaFlow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaFlow {
    pub area: String,
    pub entries: i64,
    pub exits: i64,
    /// People inside the area now (the admission's own count).
    pub inside_now: i64,
    /// Admitted scans whose time could not be read: in the day's totals, in no interval.
    pub untimed: i64,
    pub intervals: Vec<IntervalFlow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntervalFlow {
    /// The interval's start, in the venue's time zone.
    pub start: String,
    pub entries: i64,
    pub exits: i64,
    /// Entries minus exits of the day up to this interval's end.
    pub inside: i64,
}

const ADMITTED_OF_DAY: &str = "SELECT area, direction, at, count FROM scans
    WHERE business_date = ?1 AND admitted = 1";

/// The report of `query.date` for every area of the venue config, in its order.
pub fn flow(
    conn: &Connection,
    venue: &Venue,
    query: &FlowQuery,
) -> Result<FlowReport, ReportError> {
    let sql = |e: rusqlite::Error| ReportError::Store(e.to_string());
    let tz = venue.clock.tz();
    let mut areas: Vec<AreaFlow> = Vec::new();
    let mut buckets: Vec<BTreeMap<DateTime<FixedOffset>, (i64, i64)>> = Vec::new();
    for a in &venue.config.areas {
        areas.push(AreaFlow {
            area: a.id.clone(),
            entries: 0,
            exits: 0,
            inside_now: crate::admission::presence(conn, &a.id).map_err(sql)?,
            untimed: 0,
            intervals: Vec::new(),
        });
        buckets.push(BTreeMap::new());
    }
    let mut stmt = conn.prepare_cached(ADMITTED_OF_DAY).map_err(sql)?;
    let mut rows = stmt.query(params![query.date.to_string()]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let area: String = r.get(0).map_err(sql)?;
        let Some(i) = areas.iter().position(|a| a.area == area) else {
            // An area no longer configured: its scans stay in the journal.
            continue;
        };
        let entering = r.get::<_, String>(1).map_err(sql)? == "in";
        let count: i64 = r.get(3).map_err(sql)?;
        let (entries, exits) = if entering { (count, 0) } else { (0, count) };
        areas[i].entries += entries;
        areas[i].exits += exits;
        let at: String = r.get(2).map_err(sql)?;
        match venue_model::clock::parse_rfc3339(&at) {
            Some(at) => {
                let local = at.with_timezone(&tz).fixed_offset();
                let b = buckets[i].entry(query.interval.start(local)).or_default();
                b.0 += entries;
                b.1 += exits;
            }
            None => areas[i].untimed += entries + exits,
        }
    }
    let step = Duration::minutes(i64::from(query.interval.minutes()));
    for (area, b) in areas.iter_mut().zip(&buckets) {
        let (Some(first), Some(last)) = (b.keys().next(), b.keys().next_back()) else {
            continue;
        };
        let mut inside = 0;
        let mut start = *first;
        while start <= *last {
            let (entries, exits) = b.get(&start).copied().unwrap_or_default();
            inside += entries - exits;
            area.intervals.push(IntervalFlow {
                start: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                entries,
                exits,
                inside,
            });
            // Local time: the next interval's start in the venue's zone.
            start = (start + step).with_timezone(&tz).fixed_offset();
        }
    }
    Ok(FlowReport {
        date: query.date.to_string(),
        interval: query.interval.as_str(),
        areas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(
        conn: &Connection,
        n: u32,
        area: &str,
        direction: &str,
        at: &str,
        count: i64,
        admitted: bool,
    ) {
        conn.execute(
            "INSERT INTO scans (device, event_id, area, code, direction, at, business_date, count, offline,
                                decision, reason, admitted, entries_left, message, latency_us)
             VALUES ('g', ?1, ?2, 'c', ?3, ?4, '2026-11-25', ?5, 0, ?6, 'ok', ?7, NULL, '', 1)",
            params![format!("e{n}"), area, direction, at, count, if admitted { "admit" } else { "deny" }, admitted as i64],
        )
        .unwrap();
    }

    #[test]
    fn scans_fall_into_the_venues_local_intervals_with_the_days_running_count() {
        let conn = crate::store::migrated_in_memory();
        let venue = crate::demo::demo_venue();
        conn.execute(
            "INSERT INTO presence (area, inside) VALUES ('park', 17)",
            [],
        )
        .unwrap();
        scan(&conn, 1, "park", "in", "2026-11-25T09:05:00+08:00", 1, true);
        // A group of 20 in one scan.
        scan(
            &conn,
            2,
            "park",
            "in",
            "2026-11-25T09:59:59.999+08:00",
            20,
            true,
        );
        // An offline scan stamped in UTC: 10:30 in the venue.
        scan(&conn, 3, "park", "out", "2026-11-25T02:30:00Z", 2, true);
        // Denied: no flow.
        scan(
            &conn,
            4,
            "park",
            "in",
            "2026-11-25T10:40:00+08:00",
            1,
            false,
        );
        // Nothing between 11:00 and 12:00; one more out at 12:10.
        scan(
            &conn,
            5,
            "park",
            "out",
            "2026-11-25T12:10:00+08:00",
            1,
            true,
        );
        scan(&conn, 6, "park", "in", "not a time", 1, true);
        scan(
            &conn,
            7,
            "ride:coaster",
            "in",
            "2026-11-25T10:15:00+08:00",
            1,
            true,
        );
        let day = venue_model::BusinessDate::parse("2026-11-25")
            .unwrap()
            .naive();
        let hourly = flow(
            &conn,
            &venue,
            &FlowQuery {
                date: day,
                interval: Interval::Hour,
            },
        )
        .unwrap();
        let park = &hourly.areas[0];
        assert_eq!(
            (
                park.area.as_str(),
                park.entries,
                park.exits,
                park.inside_now,
                park.untimed
            ),
            ("park", 22, 3, 17, 1)
        );
        let got: Vec<(&str, i64, i64, i64)> = park
            .intervals
            .iter()
            .map(|i| (i.start.as_str(), i.entries, i.exits, i.inside))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-11-25T09:00:00+08:00", 21, 0, 21),
                ("2026-11-25T10:00:00+08:00", 0, 2, 19),
                ("2026-11-25T11:00:00+08:00", 0, 0, 19),
                ("2026-11-25T12:00:00+08:00", 0, 1, 18),
            ]
        );
        let coaster = &hourly.areas[1];
        assert_eq!((coaster.entries, coaster.intervals.len()), (1, 1));
        let quarter = flow(
            &conn,
            &venue,
            &FlowQuery {
                date: day,
                interval: Interval::QuarterHour,
            },
        )
        .unwrap();
        let starts: Vec<&str> = quarter.areas[0]
            .intervals
            .iter()
            .map(|i| &i.start[11..16])
            .collect();
        assert_eq!(starts.first(), Some(&"09:00"));
        assert_eq!(starts.get(1), Some(&"09:15"));
        assert_eq!(starts.last(), Some(&"12:00"));
        assert_eq!(starts.len(), 13);
        assert_eq!(quarter.areas[0].intervals[3].entries, 20, "09:45");
        // Another day: every area listed, nothing in it.
        let next = flow(
            &conn,
            &venue,
            &FlowQuery {
                date: day.succ_opt().unwrap(),
                interval: Interval::Hour,
            },
        )
        .unwrap();
        assert_eq!(next.areas.len(), venue.config.areas.len());
        assert!(
            next.areas
                .iter()
                .all(|a| a.entries == 0 && a.intervals.is_empty())
        );
    }

    #[test]
    fn the_query_defaults_to_today_by_the_hour_and_says_what_is_wrong() {
        let today = venue_model::BusinessDate::parse("2026-11-25")
            .unwrap()
            .naive();
        let pairs = |q: &str| -> Vec<(String, String)> {
            form_urlencoded::parse(q.as_bytes()).into_owned().collect()
        };
        assert_eq!(
            FlowQuery::parse(&pairs(""), today).unwrap(),
            FlowQuery {
                date: today,
                interval: Interval::Hour
            }
        );
        assert_eq!(
            FlowQuery::parse(&pairs("interval=30m&date=2026-11-24"), today)
                .unwrap()
                .interval,
            Interval::HalfHour
        );
        for bad in ["interval=day", "date=25/11/2026", "areas=park"] {
            assert!(
                matches!(
                    FlowQuery::parse(&pairs(bad), today),
                    Err(ReportError::BadQuery(_))
                ),
                "{bad}"
            );
        }
    }
}
