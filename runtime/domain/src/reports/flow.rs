//! The flow report (`GET /api/v1/reports/flow?date=&interval=hour`): per area, the people
//! who entered and left in each interval of a business day (the admitted scans' counts,
//! a group scan counting its whole party), how many were inside at each interval's end
//! by that day's flow, and how many are inside now.
//!
//! Intervals are in the venue's time zone, from each scan's own time (`at`, the time the
//! turnstile saw it, so offline scans land when they happened). Only intervals from the
//! day's first admitted scan to its last are listed, each of them, empty ones included.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Timelike};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::ReportError;
use crate::venue::Venue;
use venue_model::BusinessDate;

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
    pub date: BusinessDate,
    pub interval: Interval,
}

impl FlowQuery {
    pub fn parse(
        pairs: &[(String, String)],
        today: BusinessDate,
    ) -> Result<FlowQuery, ReportError> {
        let bad = ReportError::BadQuery;
        let mut query = FlowQuery {
            date: today,
            interval: Interval::Hour,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "date" => {
                    query.date =
                        BusinessDate::parse(value).map_err(|e| bad(format!("date: {e}")))?;
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
    /// People inside the area on the report's day by the admission's own count: now, for
    /// today; for an earlier day, those who never scanned out (each day starts at 0).
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

/// Every scan of the day that let someone through and moved a count: `admitted` is how
/// many passed (a group's party), and an exit of a ticket that was not inside is
/// journaled with 0, so it counts nowhere.
const ADMITTED_OF_DAY: &str = "SELECT area, direction, at, admitted FROM scans
    WHERE business_date = ?1 AND admitted > 0";

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
            inside_now: crate::admission::presence(conn, &a.id, query.date).map_err(sql)?,
            untimed: 0,
            intervals: Vec::new(),
        });
        buckets.push(BTreeMap::new());
    }
    let mut stmt = conn.prepare_cached(ADMITTED_OF_DAY).map_err(sql)?;
    let mut rows = stmt.query(params![query.date]).map_err(sql)?;
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

/// `GET /api/v1/reports/presence?date=`: who is inside each area on a business day by
/// the admission's count. For today, who is inside now; for a day that has ended, who
/// never scanned out (the day is closed: the next day's count started at 0 without them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresenceReport {
    pub date: String,
    /// False for today and later days: the list may still change.
    pub closed: bool,
    pub areas: Vec<AreaPresence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaPresence {
    pub area: String,
    pub inside: i64,
    /// The tickets inside, in order of entry (ticket ids and products; no codes, which
    /// would let anyone holding the report through a gate).
    pub tickets: Vec<InsideTicket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsideTicket {
    pub ticket_id: String,
    pub product: String,
    pub entered_at: String,
}

/// Tickets listed per area at most; `inside` still counts them all.
pub const PRESENCE_TICKETS_MAX: usize = 10_000;

pub fn presence_report(
    conn: &Connection,
    venue: &Venue,
    day: venue_model::BusinessDate,
    today: venue_model::BusinessDate,
) -> Result<PresenceReport, ReportError> {
    let sql = |e: rusqlite::Error| ReportError::Store(e.to_string());
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.ticket_id, t.product, p.entered_at FROM ticket_presence p
             JOIN tickets t ON t.ticket_id = p.ticket_id
             WHERE p.business_date = ?1 AND p.area = ?2 ORDER BY p.entered_at, p.ticket_id LIMIT ?3",
        )
        .map_err(sql)?;
    let mut areas = Vec::new();
    for a in &venue.config.areas {
        let tickets = stmt
            .query_map(params![day, a.id, PRESENCE_TICKETS_MAX as i64], |r| {
                Ok(InsideTicket {
                    ticket_id: r.get(0)?,
                    product: r.get(1)?,
                    entered_at: r.get(2)?,
                })
            })
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        areas.push(AreaPresence {
            area: a.id.clone(),
            inside: crate::admission::presence(conn, &a.id, day).map_err(sql)?,
            tickets,
        });
    }
    Ok(PresenceReport {
        date: day.to_string(),
        closed: day < today,
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
            params![format!("e{n}"), area, direction, at, count, if admitted { "admit" } else { "deny" }, if admitted { count } else { 0 }],
        )
        .unwrap();
    }

    #[test]
    fn scans_fall_into_the_venues_local_intervals_with_the_days_running_count() {
        let conn = venue_store::migrated_in_memory();
        let venue = crate::venue::demo_venue();
        conn.execute(
            "INSERT INTO area_presence (area, business_date, inside) VALUES ('park', '2026-11-25', 17), ('park', '2026-11-24', 3)",
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
        let day = venue_model::BusinessDate::parse("2026-11-25").unwrap();
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
                date: day.succ(),
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
        let today = venue_model::BusinessDate::parse("2026-11-25").unwrap();
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
