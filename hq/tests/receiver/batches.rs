//! Batches: stored once, refused whole, bounded, compressed.

use serde_json::json;

use crate::DAY;
use crate::common::{Db, Server, count_rows, line, ndjson, record, scan, ticket_sale};

pub(crate) async fn a_batch_is_stored_once_however_often_it_or_its_records_come(db: Db) {
    let hq = Server::start(db).await;
    let edge = hq.edge_token("edge-a");
    let finance = hq.role_token("finance");
    let first = ndjson(&[
        ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 12000),
        ticket_sale("edge-a", 2, "o-2", DAY, "park-day", 12000),
        scan("edge-a", 3, "g1:s-1", DAY),
    ]);
    let a = hq.upload(&edge, "edge-a", 1, first.clone(), false).await;
    assert_eq!(
        (a.status, a.json()),
        (200, json!({"accepted": 3, "duplicates": 0})),
        "{}",
        a.text()
    );

    // A retry of the same batch: every record a duplicate, nothing stored again.
    let a = hq.upload(&edge, "edge-a", 1, first, false).await;
    assert_eq!(
        (a.status, a.json()),
        (200, json!({"accepted": 0, "duplicates": 3})),
        "{}",
        a.text()
    );

    // A later batch carrying one record again, one new, and a repeat within itself.
    let second = ndjson(&[
        ticket_sale("edge-a", 2, "o-2", DAY, "park-day", 12000),
        ticket_sale("edge-a", 4, "o-3", DAY, "park-day", 8000),
        ticket_sale("edge-a", 4, "o-3", DAY, "park-day", 8000),
    ]);
    let a = hq.upload(&edge, "edge-a", 2, second, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 1, "duplicates": 2}),
        "{}",
        a.text()
    );

    // An older, unknown batch number is taken; its records are deduplicated by event id.
    let old = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 12000)]);
    let a = hq.upload(&edge, "edge-a", 0, old, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "{}",
        a.text()
    );

    let report = hq
        .revenue(
            &finance,
            &format!("from={DAY}&to={DAY}&period=day&by=product"),
        )
        .await;
    assert_eq!(
        report["rows"],
        json!([{"period": DAY, "key": "park-day", "gross_fen": 32000, "refunds_fen": 0, "net_fen": 32000, "count": 3}])
    );
    assert_eq!(count_rows(&hq, "records").await, 4);
    assert_eq!(count_rows(&hq, "revenue_lines").await, 3);
    assert_eq!(count_rows(&hq, "batches").await, 3);
}

pub(crate) async fn a_bad_line_refuses_the_whole_batch_and_keeps_its_number_free(db: Db) {
    let hq = Server::start(db).await;
    let edge = hq.edge_token("edge-a");
    let manager = hq.role_token("manager");
    let mut body = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    body.extend_from_slice(b"{\"edge_id\":\"edge-a\",\"seq\":2,\"kind\":\"sale\"\n");
    let a = hq.upload(&edge, "edge-a", 1, body, false).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "bad_record"),
        "{}",
        a.text()
    );
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2:"),
        "{}",
        a.text()
    );

    let other_edge = ndjson(&[ticket_sale("edge-b", 1, "o-9", DAY, "park-day", 100)]);
    let a = hq.upload(&edge, "edge-a", 1, other_edge, false).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "bad_record"),
        "{}",
        a.text()
    );

    let float = ndjson(&[record(
        "edge-a",
        1,
        "sale",
        "o-1",
        DAY,
        vec![json!({
            "source": "ticket", "category": "ticket", "kind": "sale", "amount_fen": 100.5, "count": 1
        })],
    )]);
    assert_eq!(
        hq.upload(&edge, "edge-a", 1, float, false).await.status,
        400
    );
    assert_eq!(count_rows(&hq, "records").await, 0);
    assert_eq!(count_rows(&hq, "batches").await, 0);

    // Nothing was kept of the refused batch: the same number with good lines is stored.
    let good = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    let a = hq.upload(&edge, "edge-a", 1, good, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 1, "duplicates": 0}),
        "{}",
        a.text()
    );
    let r = hq
        .revenue(&manager, &format!("from={DAY}&to={DAY}&by=product"))
        .await;
    assert_eq!(r["total"]["gross_fen"], 100);
}

pub(crate) async fn batches_over_the_limit_are_refused_compressed_or_not(db: Db) {
    let hq = Server::start_with(db, &["--max-batch-bytes", "4000"]).await;
    let edge = hq.edge_token("edge-a");
    let many: Vec<_> = (0..40)
        .map(|i| ticket_sale("edge-a", i, &format!("o-{i}"), DAY, "park-day", 100))
        .collect();
    let body = ndjson(&many);
    assert!(body.len() > 4000);
    let a = hq.upload(&edge, "edge-a", 1, body.clone(), false).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (413, "batch_too_large"),
        "{}",
        a.text()
    );
    // Compressed it is small, but decompressed it is over the limit.
    let packed = zstd::bulk::compress(&body, 3).unwrap();
    assert!(packed.len() < 4000);
    let a = hq.upload(&edge, "edge-a", 1, body.clone(), true).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (413, "batch_too_large"),
        "{}",
        a.text()
    );
    // A bomb: a tiny frame of 100 MB of blanks.
    let bomb = zstd::bulk::compress(&vec![b' '; 100 << 20], 19).unwrap();
    let auth = format!("Bearer {edge}");
    let headers = [
        ("authorization", auth.as_str()),
        ("venue-edge-id", "edge-a"),
        ("venue-batch-seq", "1"),
        ("content-type", "application/x-ndjson"),
        ("content-encoding", "zstd"),
    ];
    let a = hq.send("POST", "/api/v1/batches", &headers, bomb).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (413, "batch_too_large"),
        "{}",
        a.text()
    );
    assert_eq!(count_rows(&hq, "batches").await, 0);
    // Half of it fits, under the same number.
    let a = hq
        .upload(&edge, "edge-a", 1, ndjson(&many[..10]), true)
        .await;
    assert_eq!(
        a.json(),
        json!({"accepted": 10, "duplicates": 0}),
        "{}",
        a.text()
    );
}

pub(crate) async fn zstd_bodies_are_decoded_and_broken_ones_refused(db: Db) {
    let hq = Server::start(db).await;
    let edge = hq.edge_token("edge-a");
    let finance = hq.role_token("finance");
    let body = ndjson(&[
        ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 12000),
        record(
            "edge-a",
            2,
            "refund",
            "r-1",
            DAY,
            vec![line(
                "ticket",
                Some("park-day"),
                Some("p-park"),
                "refund",
                12000,
                1,
            )],
        ),
        record(
            "edge-a",
            3,
            "sale",
            "v-1",
            DAY,
            vec![line("pos", None, Some("p-tea-house"), "sale", -500, -1)],
        ),
    ]);
    let a = hq.upload(&edge, "edge-a", 1, body, true).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 3, "duplicates": 0}),
        "{}",
        a.text()
    );
    let r = hq
        .revenue(&finance, &format!("from={DAY}&to={DAY}&by=category"))
        .await;
    assert_eq!(
        r["rows"],
        json!([
            {"period": DAY, "key": "food", "gross_fen": -500, "refunds_fen": 0, "net_fen": -500, "count": -1},
            {"period": DAY, "key": "ticket", "gross_fen": 12000, "refunds_fen": 12000, "net_fen": 0, "count": 1},
        ])
    );
    let auth = format!("Bearer {edge}");
    let headers = [
        ("authorization", auth.as_str()),
        ("venue-edge-id", "edge-a"),
        ("venue-batch-seq", "2"),
        ("content-type", "application/x-ndjson"),
        ("content-encoding", "zstd"),
    ];
    let a = hq
        .send(
            "POST",
            "/api/v1/batches",
            &headers,
            b"\x28\xb5\x2f\xfdgarbage".to_vec(),
        )
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "bad_encoding"),
        "{}",
        a.text()
    );
}
