//! Every ticketing rule and every refusal, as tables over the demo venue's products.

use super::*;
use crate::venue::demo_venue;

fn d(text: &str) -> BusinessDate {
    BusinessDate::parse(text).unwrap()
}

fn code(r: Result<impl std::fmt::Debug, DomainError>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => e.code,
    }
}

#[test]
fn a_visit_date_may_be_today_or_later() {
    let today = d("2027-01-05");
    // (visit date, code)
    let cases = [
        ("2027-01-04", "visit_date_past"),
        ("2026-12-31", "visit_date_past"),
        ("2027-01-05", "ok ()"),
        ("2027-01-06", "ok ()"),
        ("2028-01-05", "ok ()"),
    ];
    for (visit, want) in cases {
        assert_eq!(code(check_visit_date(d(visit), today)), want, "{visit}");
    }
}

#[test]
fn a_line_names_one_of_its_products_slots_or_none() {
    let venue = demo_venue();
    // (product, slot asked, code)
    let cases = [
        ("park-day", None, "ok None"),
        ("park-day", Some("05:30"), "ok None"),
        ("sunrise", Some("05:30"), "ok Some(\"05:30\")"),
        ("sunrise", Some("06:00"), "ok Some(\"06:00\")"),
        ("sunrise", Some("6:00"), "bad_slot"),
        ("sunrise", Some("07:00"), "bad_slot"),
        ("sunrise", None, "missing_slot"),
    ];
    for (product, asked, want) in cases {
        let p = venue.product(product).unwrap();
        assert_eq!(code(pick_slot(p, asked)), want, "{product} {asked:?}");
    }
}

#[test]
fn a_count_fits_up_to_the_maximum_and_not_past_it() {
    // (sold, count, max, fits)
    let cases = [
        (0, 1, None, true),
        (i64::MAX, 1, None, true),
        (0, 1, Some(0), false),
        (0, 50, Some(50), true),
        (49, 1, Some(50), true),
        (49, 2, Some(50), false),
        (50, 1, Some(50), false),
        (i64::MAX, 1, Some(50), false),
    ];
    for (sold, count, max, want) in cases {
        assert_eq!(fits(sold, count, max), want, "{sold} + {count} of {max:?}");
    }
}

#[test]
fn a_ticket_costs_the_list_price_or_the_group_price_for_a_big_enough_group() {
    let venue = demo_venue();
    // (product, channel, qty, code or price)
    let cases = [
        ("park-day", Channel::Web, 1, "ok 12000"),
        ("park-day", Channel::Window, 30, "ok 12000"),
        ("park-day", Channel::Ota, 2, "ok 12000"),
        ("park-day", Channel::Group, 10, "ok 9000"),
        ("park-day", Channel::Group, 40, "ok 9000"),
        ("park-day", Channel::Group, 9, "group_too_small"),
        ("coaster-ride", Channel::Group, 20, "no_group_sales"),
        ("coaster-ride", Channel::Web, 1, "ok 3000"),
    ];
    for (product, channel, qty, want) in cases {
        let p = venue.product(product).unwrap();
        assert_eq!(
            code(unit_price(p, channel, qty).map(venue_model::money::Fen::get)),
            want,
            "{product} {channel:?} x{qty}"
        );
    }
}

#[test]
fn a_real_name_line_needs_one_visitor_per_ticket_and_others_one_or_none() {
    let venue = demo_venue();
    let visitor = VisitorRequest {
        name: "Li Lei".into(),
        id_type: "id_card".into(),
        id_number: "110101199003070011".into(),
    };
    let two = [visitor.clone(), visitor];
    // (product, qty, visitors given, code)
    let cases = [
        ("park-day", 2, 2, "ok ()"),
        ("park-day", 2, 1, "visitors_required"),
        ("park-day", 2, 0, "visitors_required"),
        ("coaster-ride", 2, 0, "ok ()"),
        ("coaster-ride", 2, 2, "ok ()"),
        ("coaster-ride", 3, 2, "visitors_mismatch"),
        ("coaster-ride", 1, 2, "visitors_mismatch"),
    ];
    for (product, qty, given, want) in cases {
        let p = venue.product(product).unwrap();
        assert_eq!(
            code(check_visitors(p, qty, &two[..given])),
            want,
            "{product} x{qty} with {given} visitors"
        );
    }
}

#[test]
fn a_ticket_moves_only_while_valid_unused_and_not_past() {
    let today = d("2027-01-05");
    let facts = |status, entries_used, from: &str, to: &str| RebookFacts {
        status,
        entries_used,
        from: d(from),
        to: d(to),
    };
    use TicketStatus::{Refunded, Valid};
    // (facts, code)
    let cases = [
        (facts(Valid, 0, "2027-01-05", "2027-01-06"), "ok ()"),
        (facts(Valid, 0, "2027-01-09", "2027-01-05"), "ok ()"),
        (facts(Valid, 0, "2027-01-05", "2027-01-05"), "ok ()"),
        (
            facts(Refunded, 0, "2027-01-06", "2027-01-07"),
            "ticket_refunded",
        ),
        (facts(Valid, 1, "2027-01-05", "2027-01-06"), "ticket_used"),
        (
            facts(Valid, 0, "2027-01-06", "2027-01-04"),
            "visit_date_past",
        ),
        (
            facts(Valid, 0, "2027-01-04", "2027-01-06"),
            "visit_date_past",
        ),
        // A refund is the first thing a clerk needs to know, before use or dates.
        (
            facts(Refunded, 3, "2027-01-01", "2027-01-02"),
            "ticket_refunded",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(code(check_rebook("t-1", f, today)), want, "{f:?}");
    }
}
