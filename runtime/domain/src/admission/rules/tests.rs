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
        price_fen: venue_model::money::Fen::new(100),
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
