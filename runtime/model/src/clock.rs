//! The venue's clock: wall time in the venue's time zone and its business days.
//!
//! A business day is a local calendar date (protocol.md). Scans are judged at their own
//! `at` (the moment the visitor presented the code), orders and refunds at the box's now.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;

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
        self.now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// Today's business day.
    pub fn today(&self) -> NaiveDate {
        self.business_date(&self.now())
    }

    /// The business day an instant falls on.
    pub fn business_date(&self, at: &DateTime<FixedOffset>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// An instant in the venue's local time, e.g. a slot's start.
    pub fn local(&self, date: NaiveDate, time: chrono::NaiveTime) -> Option<DateTime<FixedOffset>> {
        use chrono::TimeZone;
        self.tz
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.fixed_offset())
    }
}

/// Parses an RFC 3339 timestamp with an offset.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// Parses an ISO date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_evening_utc_instant_is_the_next_business_day_in_shanghai() {
        let clock = Clock::new(chrono_tz::Asia::Shanghai);
        let at = parse_rfc3339("2026-11-24T17:30:00Z").unwrap();
        assert_eq!(clock.business_date(&at).to_string(), "2026-11-25");
    }
}
