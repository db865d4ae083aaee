//! Closing a business day: at the venue's local midnight the box reads who is still
//! inside each area on the day that ended (who never scanned out) and says so on the
//! alert topic. The next day's counts start at 0 by themselves (presence belongs to its
//! business day, see `admission`); this only makes the close visible, so staff need not
//! wait for a visitor who left by another way. The full list is the presence report
//! (`GET /api/v1/reports/presence?date=`).

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alerts;
use venue_domain::error::DomainError;
use venue_domain::reports::flow::{PresenceReport, presence_report};
use venue_domain::venue::{SharedVenue, Venue};
use venue_model::BusinessDate;
use venue_model::alert::Alert;
use venue_store::Store;

/// How long after midnight the day is closed: scans of the last seconds of the day, still
/// on their way through the store, land first.
pub const CLOSE_DELAY: Duration = Duration::from_secs(5);

/// The alert that closes `report`'s day: per area, how many never scanned out. None when
/// nobody is left inside anywhere.
pub fn close_alert(report: &PresenceReport, at: String) -> Option<Alert> {
    let left: Vec<serde_json::Value> = report
        .areas
        .iter()
        .filter(|a| a.inside > 0)
        .map(|a| serde_json::json!({ "area": a.area, "never_out": a.inside }))
        .collect();
    if left.is_empty() {
        return None;
    }
    Some(Alert::new(
        "day_closed",
        at,
        serde_json::json!({
            "date": report.date,
            "areas": left,
            "message": "visitors counted inside never scanned out; the new day's counts start at 0",
        }),
    ))
}

/// How long from `now` until the next local midnight after it, and the day that ends there.
pub fn until_close(venue: &Venue, now: DateTime<FixedOffset>) -> (Duration, BusinessDate) {
    let today = venue.clock.business_date(&now);
    let midnight = venue.clock.local(today.succ(), NaiveTime::MIN);
    let wait = midnight
        .map(|m| (m - now).to_std().unwrap_or(Duration::ZERO))
        // A zone with no local midnight that day (a time change at 00:00): an hour later.
        .unwrap_or(Duration::from_secs(3600));
    (wait, today)
}

/// Closes each day as it ends, until `shutdown`.
pub async fn run(
    store: Store,
    venue: SharedVenue,
    alerts_tx: mpsc::Sender<Alert>,
    shutdown: CancellationToken,
) {
    loop {
        let (wait, ended) = until_close(&venue, venue.clock.now());
        tokio::select! {
            _ = tokio::time::sleep(wait + CLOSE_DELAY) => {}
            _ = shutdown.cancelled() => return,
        }
        let today = venue.clock.today();
        let reading = venue.clone();
        let report = store
            .read(move |c| -> Result<PresenceReport, DomainError> {
                Ok(presence_report(c, &reading, ended, today)?)
            })
            .await;
        match report {
            Ok(report) => {
                tracing::info!(date = %ended, "business day closed");
                if let Some(alert) = close_alert(&report, venue.clock.now_rfc3339()) {
                    alerts::raise(&alerts_tx, alert);
                }
            }
            Err(e) => tracing::error!(error = %e, date = %ended, "the day could not be closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use venue_domain::reports::flow::AreaPresence;

    fn area(name: &str, inside: i64) -> AreaPresence {
        AreaPresence {
            area: name.into(),
            inside,
            tickets: Vec::new(),
        }
    }

    #[test]
    fn a_day_closes_naming_the_areas_someone_never_left() {
        let report = |areas| PresenceReport {
            date: "2027-01-05".into(),
            closed: true,
            areas,
        };
        let empty = report(vec![area("park", 0), area("shuttle", 0)]);
        assert_eq!(
            close_alert(&empty, "t".into()),
            None,
            "nobody left: no alert"
        );
        let some = report(vec![area("park", 3), area("ride:coaster", 0), area("x", 1)]);
        let alert = close_alert(&some, "t".into()).unwrap();
        assert_eq!(alert.kind, "day_closed");
        assert_eq!(alert.detail["date"], "2027-01-05");
        assert_eq!(
            alert.detail["areas"],
            serde_json::json!([{"area": "park", "never_out": 3}, {"area": "x", "never_out": 1}])
        );
    }

    #[test]
    fn the_close_waits_for_the_venues_next_local_midnight() {
        let venue = venue_domain::venue::demo_venue(); // Asia/Shanghai, +08:00
        let at = |s: &str| venue_model::clock::parse_rfc3339(s).unwrap();
        let cases = [
            ("2027-01-05T23:59:00+08:00", 60, "2027-01-05"),
            ("2027-01-05T00:00:00+08:00", 86_400, "2027-01-05"),
            ("2027-01-05T15:59:30Z", 30, "2027-01-05"), // 23:59:30 in the venue
            ("2027-01-05T16:00:00Z", 86_400, "2027-01-06"),
        ];
        for (now, wait_s, ended) in cases {
            let (wait, day) = until_close(&venue, at(now));
            assert_eq!(
                (wait.as_secs(), day.to_string().as_str()),
                (wait_s, ended),
                "{now}"
            );
        }
    }
}
