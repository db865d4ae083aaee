//! The admission rules of a product, applied in a fixed order so a scan always gets the
//! most useful reason: what the ticket is (unknown, refunded), where it is valid (area),
//! when (date, slot), who holds it (real name), how often (passback, entries), and
//! finally whether there is room (the area's instantaneous maximum).

use chrono::{DateTime, Duration, FixedOffset, NaiveTime};
use rusqlite::{Connection, params};

use super::{Alert, Decision, Direction, Lane, Reason, Scan, Verdict, presence};
use crate::config::{AreaConfig, ProductConfig};
use crate::ticketing::{
    TicketRow, TicketStatus, WhitelistChange, ticket_by_code, tickets_of_group,
};
use crate::venue::Venue;
use venue_model::BusinessDate;

/// What judging a scan decided and changed.
#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    /// An offline entry the rules would have denied (it happened; it is flagged).
    pub conflict: bool,
    pub alerts: Vec<Alert>,
    pub whitelist: Vec<WhitelistChange>,
}

impl Outcome {
    fn deny(scan: &Scan, reason: Reason, ticket_id: Option<String>) -> Outcome {
        Outcome {
            verdict: Verdict::deny(&scan.event_id, reason, ticket_id),
            conflict: false,
            alerts: Vec::new(),
            whitelist: Vec::new(),
        }
    }
}

/// Judges a scan and applies its effects to the ticket and the area's presence count.
/// `now` is the box's clock, against which an online scan's own time is checked.
pub fn judge(
    conn: &Connection,
    venue: &Venue,
    lane: &Lane,
    scan: &Scan,
    now: DateTime<FixedOffset>,
) -> rusqlite::Result<Outcome> {
    let Some(at) = venue_model::clock::parse_rfc3339(&scan.at) else {
        return Ok(Outcome::deny(scan, Reason::BadRequest, None));
    };
    if scan.count == 0 {
        return Ok(Outcome::deny(scan, Reason::BadRequest, None));
    }
    let skew_max = venue.config.admission.clock_skew_s_max;
    if let Some(off) = venue_model::clock::skew_beyond(now, at, skew_max)
        && !scan.offline
    {
        let mut out = Outcome::deny(scan, Reason::BadRequest, None);
        out.verdict.message = format!("时钟错误 / Turnstile clock is off by {off} s");
        return Ok(out);
    }
    if let Some(ticket) = ticket_by_code(conn, &scan.code)? {
        return judge_ticket(conn, venue, lane, scan, &at, ticket);
    }
    let members = tickets_of_group(conn, &scan.code)?;
    if !members.is_empty() {
        return judge_group(conn, venue, lane, scan, &at, members);
    }
    let mut out = Outcome::deny(scan, Reason::UnknownTicket, None);
    if scan.offline {
        // The visitor went through; the journal keeps that, flagged.
        out.verdict.decision = Decision::Admit;
        out.verdict.admitted = scan.count;
        out.conflict = true;
    }
    Ok(out)
}

/// Where entering with this ticket leaves it, when the rules allow it.
struct Entry {
    /// False for a re-entry after an exit, which uses no entry.
    consumes: bool,
}

/// The rules for one ticket entering one area, in their fixed order; `Err` is the reason
/// to deny. Pure: the ticket's state, whether it is inside this area on the scan's day
/// (`inside_here`) and the scan's time are its arguments; it reads and writes nothing.
#[allow(clippy::too_many_arguments)]
fn check_entry(
    venue: &Venue,
    lane: &Lane,
    product: &ProductConfig,
    t: &TicketRow,
    inside_here: bool,
    scan: &Scan,
    at: &DateTime<FixedOffset>,
    check_realname: bool,
) -> Result<Entry, Reason> {
    if t.status == TicketStatus::Refunded {
        return Err(Reason::Refunded);
    }
    if !product.grants.iter().any(|g| g == &lane.area) {
        return Err(Reason::WrongArea);
    }
    let today = venue.clock.business_date(at);
    if today != t.visit_date {
        return Err(Reason::NotValidToday);
    }
    if let Some(slot) = &t.slot
        && !in_slot_window(venue, product, t.visit_date, slot, at)
    {
        return Err(Reason::OutsideTimeSlot);
    }
    if check_realname && product.real_name && (lane.realname || scan.id_number.is_some()) {
        let matches = match (&scan.id_number, &t.id_index) {
            (Some(number), Some(index)) => &venue.vault.index(number) == index,
            _ => false,
        };
        if !matches {
            return Err(Reason::RealnameMismatch);
        }
    }
    let anti_passback = venue.area(&lane.area).is_none_or(|a| a.anti_passback);
    if anti_passback && inside_here {
        return Err(Reason::Passback);
    }
    match product.entries {
        Some(n) if t.entries_used >= n => {
            let reentry = product.reentry && t.last_entry_date == Some(today) && !inside_here;
            if reentry {
                Ok(Entry { consumes: false })
            } else {
                Err(Reason::AlreadyUsed)
            }
        }
        _ => Ok(Entry { consumes: true }),
    }
}

fn in_slot_window(
    venue: &Venue,
    product: &ProductConfig,
    date: venue_model::BusinessDate,
    slot: &str,
    at: &DateTime<FixedOffset>,
) -> bool {
    let Ok(time) = NaiveTime::parse_from_str(slot, "%H:%M") else {
        return false;
    };
    let Some(start) = venue.clock.local(date, time) else {
        return false;
    };
    let opens = start - Duration::minutes(product.slot_entry_before_min as i64);
    let closes = start + Duration::minutes(product.slot_entry_after_min as i64);
    *at >= opens && *at <= closes
}

/// Whether an area keeps a count of who is inside: it denies passback or has a maximum.
/// (A shuttle that visitors leave without an exit scan keeps none.)
fn tracks_presence(area: Option<&AreaConfig>) -> bool {
    area.is_some_and(|a| a.anti_passback || a.instant_max.is_some())
}

fn room_for(
    conn: &Connection,
    area: Option<&AreaConfig>,
    day: BusinessDate,
    count: u32,
) -> rusqlite::Result<bool> {
    let Some(area) = area else {
        return Ok(true);
    };
    Ok(has_room(area, presence(conn, &area.id, day)?, count))
}

/// Whether `count` more people fit in an area that has `inside` people now (pure).
fn has_room(area: &AreaConfig, inside: i64, count: u32) -> bool {
    area.instant_max
        .is_none_or(|max| inside + i64::from(count) <= i64::from(max))
}

/// The verdict for an exit scan of a ticket that is not inside the area on that day (it
/// entered another area, or its entry was on an earlier day, or nobody is counted here):
/// the gate opens, since people may always leave, but nothing moves and the journal says
/// so (`admitted` 0).
fn exit_not_inside(verdict: &mut Verdict) {
    verdict.admitted = 0;
    verdict.message = "可以离开(未在区内) / Exit allowed; not inside this area".into();
}

fn judge_ticket(
    conn: &Connection,
    venue: &Venue,
    lane: &Lane,
    scan: &Scan,
    at: &DateTime<FixedOffset>,
    t: TicketRow,
) -> rusqlite::Result<Outcome> {
    let area = venue.area(&lane.area);
    let Some(product) = venue.product(&t.product) else {
        return Ok(Outcome::deny(scan, Reason::WrongArea, Some(t.ticket_id)));
    };
    let today = venue.clock.business_date(at);
    let track = tracks_presence(area);
    let inside_here = track && is_inside(conn, &t.ticket_id, &lane.area, today)?;
    if scan.direction == Direction::Out {
        let mut verdict =
            admit_verdict(scan, &t.ticket_id, 1, entries_left(product, t.entries_used));
        let mut alerts = Vec::new();
        if inside_here {
            leave(conn, &t.ticket_id, &lane.area, today)?;
            alerts = move_presence(conn, venue, &lane.area, today, -1)?;
        } else {
            exit_not_inside(&mut verdict);
        }
        return Ok(Outcome {
            verdict,
            conflict: false,
            alerts,
            whitelist: Vec::new(),
        });
    }
    if scan.count != 1 {
        return Ok(Outcome::deny(scan, Reason::BadRequest, Some(t.ticket_id)));
    }
    let rule = check_entry(venue, lane, product, &t, inside_here, scan, at, true);
    let (consumes, conflict_reason) = match rule {
        Ok(entry) => {
            if !scan.offline && !room_for(conn, area, today, 1)? {
                return Ok(Outcome::deny(scan, Reason::CapacityFull, Some(t.ticket_id)));
            }
            (entry.consumes, None)
        }
        Err(reason) if scan.offline => (true, Some(reason)),
        Err(reason) => return Ok(Outcome::deny(scan, reason, Some(t.ticket_id))),
    };
    let used = t.entries_used + consumes as u32;
    record_entry(conn, &t.ticket_id, today, consumes as u32)?;
    // An offline entry of a ticket the box already counts inside moves nothing twice.
    let alerts = if track && !inside_here {
        enter(conn, &t.ticket_id, &lane.area, today, &scan.at)?;
        move_presence(conn, venue, &lane.area, today, 1)?
    } else {
        Vec::new()
    };
    let left = entries_left(product, used);
    let mut whitelist = Vec::new();
    if left == Some(0) && !product.reentry {
        whitelist = removal(product, &t.code);
    }
    let mut verdict = admit_verdict(scan, &t.ticket_id, 1, left);
    if let Some(reason) = conflict_reason {
        verdict.reason = reason;
    }
    Ok(Outcome {
        verdict,
        conflict: conflict_reason.is_some(),
        alerts,
        whitelist,
    })
}

fn judge_group(
    conn: &Connection,
    venue: &Venue,
    lane: &Lane,
    scan: &Scan,
    at: &DateTime<FixedOffset>,
    members: Vec<TicketRow>,
) -> rusqlite::Result<Outcome> {
    let area = venue.area(&lane.area);
    let track = tracks_presence(area);
    let today = venue.clock.business_date(at);
    let mut inside = Vec::with_capacity(members.len());
    for t in &members {
        inside.push(track && is_inside(conn, &t.ticket_id, &lane.area, today)?);
    }
    if scan.direction == Direction::Out {
        let leaving: Vec<&TicketRow> = members
            .iter()
            .zip(&inside)
            .filter(|(_, inside)| **inside)
            .map(|(t, _)| t)
            .take(scan.count as usize)
            .collect();
        for t in &leaving {
            leave(conn, &t.ticket_id, &lane.area, today)?;
        }
        let alerts = if leaving.is_empty() {
            Vec::new()
        } else {
            move_presence(conn, venue, &lane.area, today, -(leaving.len() as i64))?
        };
        let mut verdict = admit_verdict(scan, &scan.code, leaving.len() as u32, None);
        verdict.ticket_id = None;
        if leaving.is_empty() {
            exit_not_inside(&mut verdict);
        }
        return Ok(Outcome {
            verdict,
            conflict: false,
            alerts,
            whitelist: Vec::new(),
        });
    }
    // Members that may enter now, each with whether entering uses an entry. The group
    // code stands in for every member's code, so no real-name check applies to it: a
    // tour party enters together with its guide.
    let mut first_refusal = None;
    let mut able: Vec<(&TicketRow, bool)> = Vec::new();
    for (t, inside_here) in members.iter().zip(&inside) {
        let Some(product) = venue.product(&t.product) else {
            continue;
        };
        match check_entry(venue, lane, product, t, *inside_here, scan, at, false) {
            Ok(entry) => able.push((t, entry.consumes)),
            Err(reason) => {
                first_refusal.get_or_insert(reason);
            }
        }
    }
    let wanted = scan.count as usize;
    if able.len() < wanted && !scan.offline {
        let reason = if able.is_empty() {
            first_refusal.unwrap_or(Reason::AlreadyUsed)
        } else {
            Reason::AlreadyUsed
        };
        let mut out = Outcome::deny(scan, reason, None);
        if !able.is_empty() {
            out.verdict.message = format!(
                "{} / Only {} of the party can still enter",
                reason.message(),
                able.len()
            );
            out.verdict.entries_left = Some(able.len() as u32);
        }
        return Ok(out);
    }
    if !scan.offline && !room_for(conn, area, today, scan.count)? {
        return Ok(Outcome::deny(scan, Reason::CapacityFull, None));
    }
    let entering: Vec<(&TicketRow, bool)> = able.into_iter().take(wanted).collect();
    let mut whitelist = Vec::new();
    for (t, consumes) in &entering {
        record_entry(conn, &t.ticket_id, today, *consumes as u32)?;
        if track {
            enter(conn, &t.ticket_id, &lane.area, today, &scan.at)?;
        }
        if let Some(product) = venue.product(&t.product)
            && entries_left(product, t.entries_used + *consumes as u32) == Some(0)
            && !product.reentry
        {
            whitelist.extend(removal(product, &t.code));
        }
    }
    let conflict = entering.len() < wanted;
    // Offline, the party went through whole: the count moves by the people who passed.
    let alerts = if track {
        move_presence(conn, venue, &lane.area, today, scan.count as i64)?
    } else {
        Vec::new()
    };
    let remaining = members.len().saturating_sub(entering.len()) as u32;
    let mut verdict = admit_verdict(scan, "", scan.count, Some(remaining));
    verdict.ticket_id = None;
    if conflict {
        verdict.reason = first_refusal.unwrap_or(Reason::AlreadyUsed);
    }
    Ok(Outcome {
        verdict,
        conflict,
        alerts,
        whitelist,
    })
}

fn admit_verdict(
    scan: &Scan,
    ticket_id: &str,
    admitted: u32,
    entries_left: Option<u32>,
) -> Verdict {
    Verdict {
        event_id: scan.event_id.clone(),
        decision: Decision::Admit,
        reason: Reason::Ok,
        ticket_id: Some(ticket_id.to_owned()),
        admitted,
        entries_left,
        message: Reason::Ok.message().to_owned(),
    }
}

fn entries_left(product: &ProductConfig, used: u32) -> Option<u32> {
    product.entries.map(|n| n.saturating_sub(used))
}

fn removal(product: &ProductConfig, code: &str) -> Vec<WhitelistChange> {
    product
        .grants
        .iter()
        .map(|area| WhitelistChange {
            area: area.clone(),
            add: Vec::new(),
            remove: vec![code.to_owned()],
        })
        .collect()
}

/// Records an entry on the ticket: its day, and the entries it used.
fn record_entry(
    conn: &Connection,
    ticket_id: &str,
    day: BusinessDate,
    consumed: u32,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET last_entry_date = ?2, entries_used = entries_used + ?3 WHERE ticket_id = ?1",
    )?
    .execute(params![ticket_id, day, consumed])?;
    Ok(())
}

/// Whether a ticket is inside an area on a business day.
fn is_inside(
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
fn enter(
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
fn leave(
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
fn move_presence(
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

#[cfg(test)]
mod tests {
    //! The rules as tables: every deny reason of an entry, then presence per ticket and
    //! area and per business day through `judge` on an in-memory store.

    use super::*;
    use crate::config::{Config, DEMO_VENUE};
    use crate::realname::IdVault;
    use crate::venue::SharedVenue;

    /// The demo venue plus a product granting two areas (the park and the coaster).
    fn venue() -> SharedVenue {
        let text = format!(
            "{DEMO_VENUE}\n[[products]]\nid = \"park-coaster\"\nname = \"Park and coaster\"\nprice_fen = 15000\ngrants = [\"park\", \"ride:coaster\"]\n"
        );
        let config = Config::parse(&text, std::path::Path::new("venue.toml")).unwrap();
        Venue::new(config, IdVault::ephemeral())
    }

    const DAY: &str = "2027-01-05";

    fn at(time: &str) -> DateTime<FixedOffset> {
        venue_model::clock::parse_rfc3339(&format!("{DAY}T{time}+08:00")).unwrap()
    }

    fn ticket(product: &str) -> TicketRow {
        TicketRow {
            ticket_id: format!("t-{product}"),
            order_id: "o-1".into(),
            code: format!("c-{product}"),
            product: product.into(),
            visit_date: BusinessDate::parse(DAY).unwrap(),
            slot: None,
            price_fen: 100,
            status: TicketStatus::Valid,
            entries_used: 0,
            last_entry_date: None,
            id_index: None,
            group_code: None,
        }
    }

    fn lane(area: &str, realname: bool) -> Lane {
        Lane {
            device: format!("g-{area}"),
            area: area.into(),
            realname,
        }
    }

    fn scan(event_id: &str, code: &str, direction: Direction, time: &str) -> Scan {
        Scan {
            event_id: event_id.into(),
            code: code.into(),
            direction,
            at: format!("{DAY}T{time}+08:00"),
            count: 1,
            id_number: None,
            offline: false,
        }
    }

    /// (case, ticket, inside this area, lane, time, whether entering uses an entry or why not)
    type Case = (
        &'static str,
        TicketRow,
        bool,
        Lane,
        &'static str,
        Result<bool, Reason>,
    );

    #[test]
    fn each_entry_rule_denies_with_its_own_reason() {
        let venue = venue();
        let used = |mut t: TicketRow, last: Option<&str>| {
            t.entries_used = 1;
            t.last_entry_date = last.map(|d| BusinessDate::parse(d).unwrap());
            t
        };
        let refunded = TicketRow {
            status: TicketStatus::Refunded,
            ..ticket("park-day")
        };
        let tomorrow = TicketRow {
            visit_date: BusinessDate::parse("2027-01-06").unwrap(),
            ..ticket("park-day")
        };
        let sunrise = TicketRow {
            slot: Some("05:30".into()),
            ..ticket("sunrise")
        };
        let cases: Vec<Case> = vec![
            (
                "a valid ticket enters, using an entry",
                ticket("coaster-ride"),
                false,
                lane("ride:coaster", false),
                "10:00:00",
                Ok(true),
            ),
            (
                "refunded",
                refunded,
                false,
                lane("park", false),
                "10:00:00",
                Err(Reason::Refunded),
            ),
            (
                "an area the product does not grant",
                ticket("coaster-ride"),
                false,
                lane("park", false),
                "10:00:00",
                Err(Reason::WrongArea),
            ),
            (
                "another day's ticket",
                tomorrow,
                false,
                lane("park", false),
                "10:00:00",
                Err(Reason::NotValidToday),
            ),
            (
                "inside the slot's window",
                sunrise.clone(),
                false,
                lane("park", false),
                "05:20:00",
                Ok(true),
            ),
            (
                "before the slot's window",
                sunrise.clone(),
                false,
                lane("park", false),
                "05:14:00",
                Err(Reason::OutsideTimeSlot),
            ),
            (
                "after the slot's window",
                sunrise,
                false,
                lane("park", false),
                "06:31:00",
                Err(Reason::OutsideTimeSlot),
            ),
            (
                "a real-name lane without an ID number",
                ticket("park-day"),
                false,
                lane("park", true),
                "10:00:00",
                Err(Reason::RealnameMismatch),
            ),
            (
                "already inside this area",
                ticket("park-coaster"),
                true,
                lane("park", false),
                "10:00:00",
                Err(Reason::Passback),
            ),
            (
                "entries used up",
                used(ticket("coaster-ride"), Some(DAY)),
                false,
                lane("ride:coaster", false),
                "10:00:00",
                Err(Reason::AlreadyUsed),
            ),
            (
                "re-entry on the day of entry uses no entry",
                used(ticket("park-day"), Some(DAY)),
                false,
                lane("park", false),
                "10:00:00",
                Ok(false),
            ),
            (
                "no re-entry on another day's entry",
                used(ticket("park-day"), Some("2027-01-04")),
                false,
                lane("park", false),
                "10:00:00",
                Err(Reason::AlreadyUsed),
            ),
            (
                "a shuttle lets anyone on again",
                ticket("shuttle-day"),
                true,
                lane("shuttle", false),
                "10:00:00",
                Ok(true),
            ),
        ];
        for (case, t, inside_here, lane, time, expected) in cases {
            let product = venue.product(&t.product).unwrap();
            let s = scan("e", &t.code, Direction::In, time);
            let got = check_entry(&venue, &lane, product, &t, inside_here, &s, &at(time), true)
                .map(|e| e.consumes);
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn room_is_the_instantaneous_maximum_or_no_limit() {
        let venue = venue();
        let coaster = venue.area("ride:coaster").unwrap(); // 40
        let shuttle = venue.area("shuttle").unwrap(); // no maximum
        let cases = [
            (coaster, 0, 1, true),
            (coaster, 39, 1, true),
            (coaster, 40, 1, false),
            (coaster, 35, 6, false),
            (shuttle, 1_000_000, 1, true),
        ];
        for (area, inside, count, expected) in cases {
            assert_eq!(
                has_room(area, inside, count),
                expected,
                "{} {inside}+{count}",
                area.id
            );
        }
    }

    /// An in-memory store with one order holding `tickets` (ids `t-{product}`).
    fn store_with(tickets: &[&str]) -> Connection {
        let conn = venue_store::migrated_in_memory();
        conn.execute(
            "INSERT INTO orders (order_id, order_ref, body_sha256, channel, visit_date, total_fen, status,
                                 payment_method, payment_ref, created_at, business_date)
             VALUES ('o-1', 'r-1', 'x', 'web', ?1, 0, 'paid', 'cash', 'p', 't', ?1)",
            [DAY],
        )
        .unwrap();
        for product in tickets {
            conn.execute(
                "INSERT INTO tickets (ticket_id, order_id, code, product, visit_date, price_fen, status)
                 VALUES (?1, 'o-1', ?2, ?3, ?4, 100, 'valid')",
                params![format!("t-{product}"), format!("c-{product}"), product, DAY],
            )
            .unwrap();
        }
        conn
    }

    fn day() -> BusinessDate {
        BusinessDate::parse(DAY).unwrap()
    }

    fn judged(conn: &Connection, venue: &Venue, area: &str, s: &Scan) -> Verdict {
        let now = venue_model::clock::parse_rfc3339(&s.at).unwrap();
        judge(conn, venue, &lane(area, false), s, now)
            .unwrap()
            .verdict
    }

    #[test]
    fn a_ticket_granting_two_areas_is_inside_each_on_its_own() {
        let venue = venue();
        let conn = store_with(&["park-coaster"]);
        let code = "c-park-coaster";
        let v = judged(
            &conn,
            &venue,
            "park",
            &scan("e1", code, Direction::In, "09:00:00"),
        );
        assert_eq!((v.decision, v.admitted), (Decision::Admit, 1));
        // Inside the park, it still enters the coaster, which is another area.
        let v = judged(
            &conn,
            &venue,
            "ride:coaster",
            &scan("e2", code, Direction::In, "09:30:00"),
        );
        assert_eq!(
            (v.decision, v.reason),
            (Decision::Admit, Reason::Ok),
            "{v:?}"
        );
        // And is refused at the coaster again while inside it.
        let v = judged(
            &conn,
            &venue,
            "ride:coaster",
            &scan("e3", code, Direction::In, "09:31:00"),
        );
        assert_eq!(v.reason, Reason::Passback);
        assert_eq!(presence(&conn, "park", day()).unwrap(), 1);
        assert_eq!(presence(&conn, "ride:coaster", day()).unwrap(), 1);
        // Leaving the coaster leaves the park's count alone.
        let v = judged(
            &conn,
            &venue,
            "ride:coaster",
            &scan("e4", code, Direction::Out, "09:40:00"),
        );
        assert_eq!((v.decision, v.admitted), (Decision::Admit, 1));
        assert_eq!(presence(&conn, "ride:coaster", day()).unwrap(), 0);
        assert_eq!(presence(&conn, "park", day()).unwrap(), 1);
    }

    #[test]
    fn an_exit_where_the_ticket_is_not_inside_opens_the_gate_and_moves_no_count() {
        let venue = venue();
        let conn = store_with(&["shuttle-day", "park-day"]);
        let v = judged(
            &conn,
            &venue,
            "park",
            &scan("e1", "c-park-day", Direction::In, "09:00:00"),
        );
        assert_eq!(v.admitted, 1);
        // A shuttle ticket scanned out twice at a park gate: the gate opens, nothing moves.
        for event in ["e2", "e3"] {
            let v = judged(
                &conn,
                &venue,
                "park",
                &scan(event, "c-shuttle-day", Direction::Out, "09:10:00"),
            );
            assert_eq!((v.decision, v.admitted), (Decision::Admit, 0), "{v:?}");
            assert!(v.message.contains("not inside"), "{}", v.message);
        }
        assert_eq!(presence(&conn, "park", day()).unwrap(), 1);
        // The park ticket leaves twice: the second exit moves nothing either.
        let out = |e| {
            judged(
                &conn,
                &venue,
                "park",
                &scan(e, "c-park-day", Direction::Out, "10:00:00"),
            )
        };
        assert_eq!(out("e4").admitted, 1);
        assert_eq!(out("e5").admitted, 0);
        assert_eq!(presence(&conn, "park", day()).unwrap(), 0);
    }

    #[test]
    fn the_count_belongs_to_its_business_day_and_the_day_closes_with_who_never_left() {
        let venue = venue();
        let conn = store_with(&["park-day", "park-coaster"]);
        for (e, code) in [("e1", "c-park-day"), ("e2", "c-park-coaster")] {
            let v = judged(
                &conn,
                &venue,
                "park",
                &scan(e, code, Direction::In, "09:00:00"),
            );
            assert_eq!(v.admitted, 1);
        }
        let v = judged(
            &conn,
            &venue,
            "park",
            &scan("e3", "c-park-day", Direction::Out, "17:00:00"),
        );
        assert_eq!(v.admitted, 1);
        let next = BusinessDate::parse("2027-01-06").unwrap();
        assert_eq!(presence(&conn, "park", day()).unwrap(), 1);
        assert_eq!(
            presence(&conn, "park", next).unwrap(),
            0,
            "the next day starts at 0"
        );
        let report = crate::reports::flow::presence_report(&conn, &venue, day(), next).unwrap();
        assert!(report.closed);
        let park = report.areas.iter().find(|a| a.area == "park").unwrap();
        assert_eq!(park.inside, 1);
        assert_eq!(
            park.tickets
                .iter()
                .map(|t| t.ticket_id.as_str())
                .collect::<Vec<_>>(),
            ["t-park-coaster"],
            "who never scanned out"
        );
        let open = crate::reports::flow::presence_report(&conn, &venue, day(), day()).unwrap();
        assert!(!open.closed, "today is not closed");
    }

    #[test]
    fn an_online_scan_off_the_box_clock_is_refused_and_an_offline_one_is_judged() {
        let venue = venue();
        let conn = store_with(&["coaster-ride"]);
        let now = at("10:00:00");
        let late = scan("e1", "c-coaster-ride", Direction::In, "10:05:01");
        let v = judge(&conn, &venue, &lane("ride:coaster", false), &late, now)
            .unwrap()
            .verdict;
        assert_eq!((v.decision, v.reason), (Decision::Deny, Reason::BadRequest));
        assert!(
            v.message.contains("301 s") || v.message.contains("-301 s"),
            "{}",
            v.message
        );
        let offline = Scan {
            offline: true,
            ..late
        };
        let v = judge(&conn, &venue, &lane("ride:coaster", false), &offline, now)
            .unwrap()
            .verdict;
        assert_eq!(v.decision, Decision::Admit);
    }
}
