//! Presence per (ticket, area, business day): who is inside, and each area's count of a
//! day. A ticket is inside an area on a day while its `ticket_presence` row exists; an
//! area's count of a day is its `area_presence` row, so each day starts at 0 and the rows a
//! day leaves behind are who never scanned out.

use rusqlite::{Connection, OptionalExtension, params};

use crate::config::AreaConfig;
use crate::venue::Venue;
use venue_model::BusinessDate;
use venue_model::alert::Alert;

/// People inside an area on a business day (the count of that day alone: each day starts
/// at 0, and who never scanned out stays in the day they entered).
pub fn presence(conn: &Connection, area: &str, day: BusinessDate) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT inside FROM area_presence WHERE area = ?1 AND business_date = ?2")?
        .query_row(params![area, day], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Whether an area keeps a count of who is inside: it denies passback or has a maximum.
/// (A shuttle that visitors leave without an exit scan keeps none.)
pub(super) fn tracks_presence(area: Option<&AreaConfig>) -> bool {
    area.is_some_and(|a| a.anti_passback || a.instant_max.is_some())
}

/// Whether a ticket is inside an area on a business day.
pub(super) fn is_inside(
    conn: &Connection,
    ticket_id: &str,
    area: &str,
    day: BusinessDate,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM ticket_presence WHERE ticket_id = ?1 AND area = ?2 AND business_date = ?3",
    )?
    .exists(params![ticket_id, area, day])
}

/// Marks a ticket inside an area on a business day.
pub(super) fn enter(
    conn: &Connection,
    ticket_id: &str,
    area: &str,
    day: BusinessDate,
    at: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO ticket_presence (ticket_id, area, business_date, entered_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket_id, area, day, at])?;
    Ok(())
}

/// Marks a ticket outside an area on a business day.
pub(super) fn leave(
    conn: &Connection,
    ticket_id: &str,
    area: &str,
    day: BusinessDate,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM ticket_presence WHERE ticket_id = ?1 AND area = ?2 AND business_date = ?3",
    )?
    .execute(params![ticket_id, area, day])?;
    Ok(())
}

/// Moves an area's presence count and returns the alerts for thresholds crossed upwards.
pub(super) fn move_presence(
    conn: &Connection,
    venue: &Venue,
    area: &str,
    day: BusinessDate,
    delta: i64,
) -> rusqlite::Result<Vec<Alert>> {
    let before = presence(conn, area, day)?;
    let after = (before + delta).max(0);
    conn.prepare_cached(
        "INSERT INTO area_presence (area, business_date, inside) VALUES (?1, ?2, ?3)
         ON CONFLICT (area, business_date) DO UPDATE SET inside = excluded.inside",
    )?
    .execute(params![area, day, after])?;
    let Some(max) = venue.area(area).and_then(|a| a.instant_max) else {
        return Ok(Vec::new());
    };
    let mut alerts = Vec::new();
    for level in &venue.config.admission.alert_levels_pct {
        let threshold = (max as i64 * *level as i64 + 99) / 100;
        if before < threshold && after >= threshold {
            alerts.push(Alert::new(
                "capacity",
                venue.clock.now_rfc3339(),
                serde_json::json!({ "area": area, "level_pct": level, "inside": after, "max": max }),
            ));
        }
    }
    Ok(alerts)
}
