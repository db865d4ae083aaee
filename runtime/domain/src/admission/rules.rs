//! The admission rules of a product, applied in a fixed order so a scan always gets the
//! most useful reason: what the ticket is (unknown, refunded), where it is valid (area),
//! when (date, slot), who holds it (real name), how often (passback, entries), and
//! finally whether there is room (the area's instantaneous maximum).

use chrono::{DateTime, Duration, FixedOffset, NaiveTime};
use rusqlite::{Connection, params};

use super::presence::{enter, is_inside, leave, move_presence, presence, tracks_presence};
use super::{Alert, Decision, Direction, Lane, Reason, Scan, Verdict};
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
            (Some(number), Some(index)) => venue.vault.matches(number, index),
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

#[cfg(test)]
mod tests;
