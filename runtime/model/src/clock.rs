//! The venue's clock: wall time in the venue's time zone and its business days.
//!
//! A business day is a local calendar date ([`BusinessDate`]; docs/protocol.md). Scans are judged at their own
//! `at` (the moment the visitor presented the code), orders and refunds at the box's now.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;

use crate::date::BusinessDate;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    tz: Tz,
}

impl Clock {
    pub fn new(tz: Tz) -> Clock {
        Clock { tz }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Now, in the venue's offset.
    pub fn now(&self) -> DateTime<FixedOffset> {
        Utc::now().with_timezone(&self.tz).fixed_offset()
    }

    /// Now as RFC 3339 with the venue's offset, second precision.
    pub fn now_rfc3339(&self) -> String {
        rfc3339(self.now())
    }

    /// Today's business day.
    pub fn today(&self) -> BusinessDate {
        self.business_date(&self.now())
    }

    /// The business day an instant falls on.
    pub fn business_date(&self, at: &DateTime<FixedOffset>) -> BusinessDate {
        BusinessDate::from_naive(at.with_timezone(&self.tz).date_naive())
    }

    /// An instant in the venue's local time, e.g. a slot's start.
    pub fn local(
        &self,
        date: BusinessDate,
        time: chrono::NaiveTime,
    ) -> Option<DateTime<FixedOffset>> {
        use chrono::TimeZone;
        self.tz
            .from_local_datetime(&date.naive().and_time(time))
            .earliest()
            .map(|t| t.fixed_offset())
    }
}

/// How far a device's `at` is from the box's `now`, in whole seconds (positive: the device
/// is behind), when that is more than `max_s`; `None` when within it or when `max_s` is 0
/// (the check is off). A turnstile's scan and a terminal's sale are refused past it, so a
/// device with a wrong clock cannot admit or sell into another day.
pub fn skew_beyond(
    now: DateTime<FixedOffset>,
    at: DateTime<FixedOffset>,
    max_s: u32,
) -> Option<i64> {
    let off = (now - at).num_seconds();
    (max_s > 0 && off.abs() > i64::from(max_s)).then_some(off)
}

/// An instant as the journals write it: RFC 3339 with its offset, second precision.
pub fn rfc3339(at: DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Parses an RFC 3339 timestamp with an offset.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_clock_is_refused_only_beyond_the_allowed_skew() {
        let now = parse_rfc3339("2026-12-04T10:00:00+08:00").unwrap();
        let table: &[(&str, u32, Option<i64>)] = &[
            ("2026-12-04T10:00:00+08:00", 300, None),
            ("2026-12-04T10:05:00+08:00", 300, None),
            ("2026-12-04T09:55:00+08:00", 300, None),
            ("2026-12-04T10:05:01+08:00", 300, Some(-301)),
            ("2026-12-04T09:54:59+08:00", 300, Some(301)),
            ("2026-12-03T10:00:00+08:00", 300, Some(86_400)),
            ("2026-12-04T02:00:00Z", 300, None),
            ("2026-12-03T10:00:00+08:00", 0, None),
        ];
        for (at, max_s, expected) in table {
            let at = parse_rfc3339(at).unwrap();
            assert_eq!(
                skew_beyond(now, at, *max_s),
                *expected,
                "{at} within {max_s}"
            );
        }
    }

    #[test]
    fn a_late_evening_utc_instant_is_the_next_business_day_in_shanghai() {
        let clock = Clock::new(chrono_tz::Asia::Shanghai);
        let at = parse_rfc3339("2026-11-24T17:30:00Z").unwrap();
        assert_eq!(clock.business_date(&at).to_string(), "2026-11-25");
        assert_eq!(clock.today(), clock.business_date(&clock.now()));
    }
}
