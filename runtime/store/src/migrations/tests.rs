//! Each migration brings an older store's data across whole.

use super::*;
use crate::schema_objects;

/// A store at version 4 keeps each POS sale's revenue facts reachable: the sale's row
/// learns their ids, and the index by event id is gone.
#[test]
fn version_5_gives_each_sale_the_ids_of_its_facts() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 4);
    conn.execute_batch(
        "INSERT INTO sales (event_id, device, merchant, kind, at, business_date, payment, total_fen, received_at)
         VALUES ('e1', 'pos-1', 'm-tea-house', 'sale', 't', '2026-11-24', 'cash', 4500, 't'),
                ('e2', 'pos-1', 'm-tea-house', 'void', 't', '2026-11-24', 'cash', 0, 't');
         INSERT INTO revenue_facts (id, source, fact_id, kind, merchant, category, business_date, amount_fen, count)
         VALUES (7, 'ticket', 'e1', 'sale', NULL, 'ticket', '2026-11-24', 100, 1),
                (8, 'pos', 'e1', 'sale', 'm-tea-house', 'drink', '2026-11-24', 900, 1),
                (9, 'pos', 'e1', 'sale', 'm-tea-house', 'food', '2026-11-24', 3600, 0);",
    )
    .unwrap();
    migrate(&conn).unwrap();
    let ids = |e: &str| -> (Option<i64>, Option<i64>) {
        conn.query_row(
            "SELECT facts_first, facts_last FROM sales WHERE event_id = ?1",
            [e],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(ids("e1"), (Some(8), Some(9)));
    assert_eq!(ids("e2"), (None, None));
    assert_eq!(schema_objects(&conn, &["facts_by_fact"]), 0);
}

/// A migration that would leave a row pointing at nothing fails whole: the store stays
/// at its version, with its tables as they were.
#[test]
fn a_migration_that_breaks_a_foreign_key_changes_nothing() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 5);
    // (An older binary never wrote such a row; foreign keys are on by default here.)
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO ledger_entries (transfer_id, account, debit_fen, credit_fen)
         VALUES (99, 'cash:cash', 100, 0);",
    )
    .unwrap();
    let err = migrate(&conn).unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { version: 6, .. }),
        "{err}"
    );
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    assert_eq!(
        schema_objects(&conn, &["ledger_by_account", "ledger_by_transfer"]),
        2
    );
    assert_eq!(
        schema_objects(&conn, &["ledger_accounts", "ledger_by_sale"]),
        0
    );
}

/// A store at version 6 keeps its scans; only their index by ticket goes.
#[test]
fn version_7_drops_the_index_of_scans_by_ticket() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 6);
    conn.execute_batch(
        "INSERT INTO scans (device, event_id, area, code, ticket_id, direction, at, business_date,
                            count, offline, decision, reason, admitted, message, latency_us)
         VALUES ('g1', 'e1', 'park', 'TK1', 't1', 'in', 't', '2026-11-24', 1, 0, 'admit', 'ok', 1, '', 10);",
    )
    .unwrap();
    migrate(&conn).unwrap();
    assert_eq!(schema_objects(&conn, &["scans_by_ticket"]), 0);
    assert_eq!(schema_objects(&conn, &["scans_by_day"]), 1);
    let kept: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM scans WHERE ticket_id = 't1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1);
}

/// A store at version 8 that took visit dates as callers spelled them keeps each ticket
/// on its day: every spelling becomes `YYYY-MM-DD`, and the capacity sold under the
/// spellings of one day is that day's bucket alone.
#[test]
fn version_9_writes_every_visit_date_one_way_and_merges_its_capacity() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 8);
    conn.execute_batch(
        "INSERT INTO orders (order_id, order_ref, body_sha256, channel, visit_date, total_fen, status,
                             payment_method, payment_ref, created_at, business_date)
         VALUES ('o1', 'r1', 'h', 'web', '2027-1-5', 100, 'paid', 'cash', 'p', 't', '2026-12-04'),
                ('o2', 'r2', 'h', 'web', ' 2027-01-05', 100, 'paid', 'cash', 'p', 't', '2026-12-04'),
                ('o3', 'r3', 'h', 'web', '2027-01-05', 100, 'paid', 'cash', 'p', 't', '2026-12-04'),
                ('o4', 'r4', 'h', 'web', 'someday', 100, 'paid', 'cash', 'p', 't', '2026-12-04');
         INSERT INTO tickets (ticket_id, order_id, code, product, visit_date, price_fen, status)
         VALUES ('t1', 'o1', 'C1', 'sunrise', '2027-1-5', 100, 'valid'),
                ('t2', 'o2', 'C2', 'sunrise', ' 2027-01-05', 100, 'valid'),
                ('t3', 'o3', 'C3', 'sunrise', '2027-01-05', 100, 'valid'),
                ('t4', 'o4', 'C4', 'sunrise', 'someday', 100, 'valid');
         INSERT INTO sold (area, visit_date, sold)
         VALUES ('park', '2027-1-5', 1), ('park', ' 2027-01-05', 1), ('park', '2027-01-05', 1),
                ('park', '2026-12-5', 4);
         INSERT INTO slot_sold (product, visit_date, slot, sold)
         VALUES ('sunrise', '2027-1-5', '05:30', 1), ('sunrise', '2027-01-05', '05:30', 2);
         INSERT INTO rebooks (rebook_id, ticket_id, from_date, to_date, created_at)
         VALUES ('rb1', 't1', '2026-12-5', '2027-1-5', 't');",
    )
    .unwrap();
    migrate(&conn).unwrap();
    let dates = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        dates("SELECT visit_date FROM tickets ORDER BY ticket_id"),
        ["2027-01-05", "2027-01-05", "2027-01-05", "someday"]
    );
    assert_eq!(
        dates("SELECT visit_date FROM orders ORDER BY order_id"),
        ["2027-01-05", "2027-01-05", "2027-01-05", "someday"]
    );
    assert_eq!(
        dates("SELECT visit_date || '=' || sold FROM sold ORDER BY visit_date"),
        ["2026-12-05=4", "2027-01-05=3"]
    );
    assert_eq!(
        dates("SELECT visit_date || '=' || sold FROM slot_sold"),
        ["2027-01-05=3"]
    );
    assert_eq!(
        dates("SELECT from_date || '>' || to_date FROM rebooks"),
        ["2026-12-05>2027-01-05"]
    );
}

/// A store at version 9 keeps who is inside: each ticket inside moves into the area of its
/// last admitted entry on its last entry day, the areas' counts follow from them, and the
/// one flag per ticket and the count without a day are gone.
#[test]
fn version_10_keeps_presence_per_ticket_area_and_day() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 9);
    conn.execute_batch(
        "INSERT INTO orders (order_id, order_ref, body_sha256, channel, visit_date, total_fen, status,
                             payment_method, payment_ref, created_at, business_date)
         VALUES ('o-1', 'r-1', 'x', 'web', '2026-11-24', 0, 'paid', 'cash', 'p', 't', '2026-11-24');
         INSERT INTO tickets (ticket_id, order_id, code, product, visit_date, price_fen, status, entries_used, inside, last_entry_date)
         VALUES ('t-1', 'o-1', 'c1', 'park-day', '2026-11-24', 1, 'valid', 1, 1, '2026-11-24'),
                ('t-2', 'o-1', 'c2', 'park-day', '2026-11-24', 1, 'valid', 1, 0, '2026-11-24'),
                ('t-3', 'o-1', 'c3', 'coaster', '2026-11-24', 1, 'valid', 1, 1, '2026-11-24');
         INSERT INTO scans (device, event_id, area, code, ticket_id, direction, at, business_date, count, offline,
                            decision, reason, admitted, message, latency_us)
         VALUES ('g1', 'e1', 'park', 'c1', 't-1', 'in', '2026-11-24T09:00:00+08:00', '2026-11-24', 1, 0, 'admit', 'ok', 1, '', 1),
                ('g1', 'e2', 'park', 'c2', 't-2', 'in', '2026-11-24T09:01:00+08:00', '2026-11-24', 1, 0, 'admit', 'ok', 1, '', 1),
                ('g1', 'e3', 'park', 'c2', 't-2', 'out', '2026-11-24T10:00:00+08:00', '2026-11-24', 1, 0, 'admit', 'ok', 1, '', 1),
                ('g2', 'e4', 'ride:coaster', 'c3', 't-3', 'in', '2026-11-24T11:00:00+08:00', '2026-11-24', 1, 0, 'admit', 'ok', 1, '', 1);
         INSERT INTO presence (area, inside) VALUES ('park', 7), ('ride:coaster', 1);",
    )
    .unwrap();
    migrate(&conn).unwrap();
    let inside: Vec<(String, String, String, String)> = crate::all_rows(
        &conn,
        "SELECT ticket_id, area, business_date, entered_at FROM ticket_presence ORDER BY ticket_id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    assert_eq!(
        inside,
        [
            (
                "t-1".into(),
                "park".into(),
                "2026-11-24".into(),
                "2026-11-24T09:00:00+08:00".into()
            ),
            (
                "t-3".into(),
                "ride:coaster".into(),
                "2026-11-24".into(),
                "2026-11-24T11:00:00+08:00".into()
            ),
        ]
    );
    let counts: Vec<(String, String, i64)> = crate::all_rows(
        &conn,
        "SELECT area, business_date, inside FROM area_presence ORDER BY area",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        counts,
        [
            ("park".into(), "2026-11-24".into(), 1),
            ("ride:coaster".into(), "2026-11-24".into(), 1),
        ],
        "the counts follow the tickets inside, not the old drifting count"
    );
    assert_eq!(schema_objects(&conn, &["presence"]), 0);
    assert!(
        conn.prepare("SELECT inside FROM tickets").is_err(),
        "the flag per ticket is gone"
    );
}
