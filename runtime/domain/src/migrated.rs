//! The domain's data carried across the store's migrations: each migration that touched
//! sales, the ledger or the outbox leaves data that this crate's own code still reads and
//! writes as before.

use rusqlite::Connection;
use venue_store::{
    all_rows, assert_no_scan, at_version, migrate_for_test as migrate, schema_objects,
};

/// A store at version 3 keeps its sales whole: lines move into the sale's row in their
/// order, refusals keep their reasons, and the tables they came from are gone.
#[test]
fn version_4_moves_lines_into_the_sale_and_keeps_refusals() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 3);
    conn.execute_batch(
        "INSERT INTO sales (event_id, device, merchant, kind, at, business_date, payment, total_fen, received_at)
         VALUES ('e1', 'pos-1', 'm-tea-house', 'sale', 't', '2026-11-24', 'cash', 4500, 't'),
                ('e2', 'pos-1', 'm-tea-house', 'void', 't', '2026-11-24', 'cash', 0, 't');
         INSERT INTO sale_lines VALUES ('e1', 1, 'juice', 'drink', 1, 900, 900),
                                       ('e1', 0, 'tea-01', 'food', 2, 1800, 3600);
         INSERT INTO pos_events VALUES ('pos-1', 'e1', 'accepted', NULL, 't'),
                                       ('pos-1', 'e2', 'accepted', NULL, 't'),
                                       ('pos-1', 'e3', 'rejected', 'total_mismatch: 1 vs 2', 't');",
    )
    .unwrap();
    migrate(&conn);
    let lines: String = conn
        .query_row("SELECT lines FROM sales WHERE event_id = 'e1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let lines: Vec<crate::sales::SaleLine> = serde_json::from_str(&lines).unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.sku.as_str(), l.qty, l.unit_price_fen.get()))
            .collect::<Vec<_>>(),
        [("tea-01", 2, 1800), ("juice", 1, 900)]
    );
    let void_lines: String = conn
        .query_row("SELECT lines FROM sales WHERE event_id = 'e2'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(void_lines, "[]");
    let refusal: (String, String) = conn
        .query_row("SELECT event_id, error FROM pos_refusals", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(refusal, ("e3".into(), "total_mismatch: 1 vs 2".into()));
    assert_eq!(schema_objects(&conn, &["pos_events", "sale_lines"]), 0);
}

/// A store at version 5 keeps its ledger whole: every transfer and entry, in order; POS
/// transfers learn their sale's row; each account's totals are its entries' sums; and
/// the facts posted before are still refused a second posting.
#[test]
fn version_6_keys_pos_transfers_by_sale_row_and_keeps_account_totals() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 5);
    conn.execute_batch(
        "INSERT INTO sales (rowid, event_id, device, merchant, kind, refers_to, at, business_date, payment, total_fen, received_at)
         VALUES (10, 'e1', 'pos-1', 'm-tea-house', 'sale', NULL, 't', '2026-11-24', 'cash', 4500, 't'),
                (11, 'e2', 'pos-1', 'm-tea-house', 'refund', 'e1', 't', '2026-11-24', 'cash', 900, 't');
         INSERT INTO ledger_transfers (id, fact_kind, fact_id, at, business_date, memo)
         VALUES (1, 'order', 'o-1', 't', '2026-11-24', 'ticket sale'),
                (2, 'pos-sale', 'e1', 't', '2026-11-24', 'pos-sale'),
                (3, 'pos-refund', 'e2', 't', '2026-11-24', 'pos-refund'),
                (4, 'bill', 'b-1', 't', '2026-11-24', 'settlement b-1');
         INSERT INTO ledger_entries (transfer_id, account, debit_fen, credit_fen)
         VALUES (1, 'cash:web', 12000, 0), (1, 'revenue:ticket:day-pass', 0, 8000),
                (1, 'revenue:ticket:night', 0, 4000),
                (2, 'cash:cash', 4500, 0), (2, 'revenue:merchant:m-tea-house', 0, 4500),
                (3, 'revenue:merchant:m-tea-house', 900, 0), (3, 'cash:cash', 0, 900),
                (4, 'revenue:merchant:m-tea-house', 3600, 0), (4, 'payable:p-tea-house', 0, 3240),
                (4, 'commission:p-tea-house', 0, 360);",
    )
    .unwrap();
    migrate(&conn);
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let refs: Vec<(i64, String, Option<i64>)> = all_rows(
        &conn,
        "SELECT id, fact_kind, fact_ref FROM ledger_transfers ORDER BY id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        refs,
        [
            (1, "order".into(), None),
            (2, "pos-sale".into(), Some(10)),
            (3, "pos-refund".into(), Some(11)),
            (4, "bill".into(), None)
        ]
    );
    let legs: Vec<(i64, i64, String)> = all_rows(
        &conn,
        "SELECT transfer_id, leg, account FROM ledger_entries WHERE transfer_id IN (1, 4)",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        legs,
        [
            (1, 0, "cash:web".into()),
            (1, 1, "revenue:ticket:day-pass".into()),
            (1, 2, "revenue:ticket:night".into()),
            (4, 0, "revenue:merchant:m-tea-house".into()),
            (4, 1, "payable:p-tea-house".into()),
            (4, 2, "commission:p-tea-house".into())
        ]
    );
    assert!(crate::ledger::audit(&conn).unwrap().is_empty());
    let books = crate::ledger::trial_balance(&conn, None).unwrap();
    assert_eq!((books.debit_fen, books.credit_fen), (21_000, 21_000));
    let tea: i64 = books
        .accounts
        .iter()
        .find(|a| a.account == "revenue:merchant:m-tea-house")
        .unwrap()
        .balance_fen;
    assert_eq!(tea, 900 + 3600 - 4500);
    let legs = [
        crate::ledger::Leg::debit("cash:cash", venue_model::money::Fen::new(1)),
        crate::ledger::Leg::credit("x", venue_model::money::Fen::new(1)),
    ];
    let day = venue_model::BusinessDate::parse("2026-11-24").unwrap();
    for fact in [
        crate::ledger::Fact::new("order", "o-1"),
        crate::ledger::Fact::new("bill", "b-1"),
        crate::ledger::Fact::of_sale("pos-sale", "e1", 10),
        crate::ledger::Fact::of_sale("pos-refund", "e2", 11),
    ] {
        assert!(
            !crate::ledger::post(&conn, fact, "t", day, "m", &legs).unwrap(),
            "{fact:?} was posted before the migration"
        );
    }
    assert_eq!(
        schema_objects(
            &conn,
            &[
                "ledger_by_account",
                "ledger_by_transfer",
                "ledger_transfers_v6",
                "ledger_entries_v6"
            ]
        ),
        0
    );
    assert_eq!(
        schema_objects(
            &conn,
            &["ledger_by_fact", "ledger_by_sale", "ledger_accounts"]
        ),
        3
    );
    let broken: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
}

/// What a void or refund asks of a sale's facts is answered by rowid ranges and
/// primary keys: no statement scans the facts (which have no index by event id now).
#[test]
fn a_sales_facts_are_found_without_scanning_the_facts() {
    let conn = Connection::open_in_memory().unwrap();
    migrate(&conn);
    for sql in crate::sales::FACT_LOOKUPS {
        assert_no_scan(&conn, sql, ["e1"]);
    }
}

/// Queues a record the way the store's jobs do; returns its sequence number.
fn queue(conn: &Connection, event_id: &str) -> i64 {
    crate::outbox::push(
        conn,
        crate::outbox::Kind::Order,
        event_id,
        venue_model::BusinessDate::parse("2026-11-24").unwrap(),
        "t",
        &serde_json::json!({}),
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// What the uplink leaves once HQ acknowledged batch `batch` of records `first..=last`:
/// the batch kept, its records gone from the outbox.
fn acknowledged(conn: &Connection, batch: i64, first: i64, last: i64) {
    conn.execute(
        "INSERT INTO uplink_batches (batch_seq, first_seq, last_seq, records, created_at, acked_at)
         VALUES (?1, ?2, ?3, ?3 - ?2 + 1, 't', 't')",
        [batch, first, last],
    )
    .unwrap();
    conn.execute("DELETE FROM outbox WHERE seq <= ?1", [last])
        .unwrap();
}

/// A store at version 7 keeps its queued records and their numbers, and the numbers go on
/// from where the old counter stood, also when nothing was waiting at the migration.
#[test]
fn version_8_drops_the_outbox_counter_and_keeps_its_numbers() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 7);
    let insert = |event_id: &str| {
        conn.execute(
            "INSERT INTO outbox (kind, event_id, business_date, at, data, queued_ms)
             VALUES ('order', ?1, '2026-11-24', 't', '{}', 0)",
            [event_id],
        )
        .unwrap();
    };
    for e in ["o1", "o2", "o3", "o4"] {
        insert(e);
    }
    // Records 1-4 sent and gone; 5 is queued and unsent, then sent too. The counter stood
    // at 5 and no batch names more than 4.
    acknowledged(&conn, 1, 1, 4);
    insert("o5");
    conn.execute("DELETE FROM outbox", []).unwrap();
    migrate(&conn);
    assert_eq!(
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'",
            [],
            |r| r.get::<_, i64>(0)
        )
        .unwrap(),
        0
    );
    assert_eq!(queue(&conn, "o6"), 6);
    assert_eq!(queue(&conn, "o7"), 7);
}

/// A store at version 7 with records waiting keeps them, numbers and all.
#[test]
fn version_8_keeps_queued_records_whole() {
    let conn = Connection::open_in_memory().unwrap();
    at_version(&conn, 7);
    conn.execute_batch(
        "INSERT INTO outbox (kind, event_id, business_date, at, data, queued_ms)
             VALUES ('sale', 's1', '2026-11-24', 't1', '{\"a\":1}', 11),
                    ('scan', 'c1', '2026-11-25', 't2', '{\"b\":2}', 22);",
    )
    .unwrap();
    migrate(&conn);
    let rows: Vec<(i64, String, String, String, String, String, i64)> = conn
        .prepare("SELECT seq, kind, event_id, business_date, at, data, queued_ms FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (
                1,
                "sale".into(),
                "s1".into(),
                "2026-11-24".into(),
                "t1".into(),
                "{\"a\":1}".into(),
                11
            ),
            (
                2,
                "scan".into(),
                "c1".into(),
                "2026-11-25".into(),
                "t2".into(),
                "{\"b\":2}".into(),
                22
            ),
        ]
    );
    assert_eq!(queue(&conn, "o3"), 3);
}

/// A sequence number is never handed out twice, also after the uplink emptied the outbox
/// (the next comes after the last batch's).
#[test]
fn outbox_numbers_never_go_back_when_the_outbox_empties() {
    let conn = Connection::open_in_memory().unwrap();
    migrate(&conn);
    assert_eq!(queue(&conn, "a"), 1);
    assert_eq!(queue(&conn, "b"), 2);
    assert_eq!(queue(&conn, "c"), 3);
    // The uplink sent 1-3 as batch 1, HQ acknowledged, the records went.
    acknowledged(&conn, 1, 1, 3);
    assert_eq!(queue(&conn, "d"), 4);
    assert_eq!(queue(&conn, "e"), 5);
    acknowledged(&conn, 2, 4, 5);
    assert_eq!(queue(&conn, "f"), 6);
}
