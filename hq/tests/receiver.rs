//! The receiver end to end: the real `venue-hq` binary, on SQLite and on PostgreSQL, each
//! scenario once per database.

mod common;

use common::{Db, Server, count_rows, line, ndjson, record, scan, ticket_sale};
use serde_json::json;

const DAY: &str = "2026-11-24";

/// Runs every listed scenario once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Postgres).await
                }
            )*
        }
    };
}

on_both_databases!(
    a_batch_is_stored_once_however_often_it_or_its_records_come,
    a_bad_line_refuses_the_whole_batch_and_keeps_its_number_free,
    batches_over_the_limit_are_refused_compressed_or_not,
    zstd_bodies_are_decoded_and_broken_ones_refused,
    tokens_and_headers_are_checked,
    reports_group_by_key_and_period,
    two_edges_upload_at_once,
    acknowledged_batches_survive_a_restart,
    health_metrics_and_edges,
);

async fn a_batch_is_stored_once_however_often_it_or_its_records_come(db: Db) {
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

async fn a_bad_line_refuses_the_whole_batch_and_keeps_its_number_free(db: Db) {
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

async fn batches_over_the_limit_are_refused_compressed_or_not(db: Db) {
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

async fn zstd_bodies_are_decoded_and_broken_ones_refused(db: Db) {
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

async fn tokens_and_headers_are_checked(db: Db) {
    let hq = Server::start(db).await;
    let edge_a = hq.edge_token("edge-a");
    let edge_b = hq.edge_token("edge-b");
    let manager = hq.role_token("manager");
    let auditor = hq.role_token("auditor");
    let body = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    let post = |headers: Vec<(&'static str, String)>| {
        let body = body.clone();
        let hq = &hq;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            hq.send("POST", "/api/v1/batches", &h, body).await
        }
    };
    let full = |token: &str| {
        vec![
            ("authorization", format!("Bearer {token}")),
            ("venue-edge-id", "edge-a".to_owned()),
            ("venue-batch-seq", "1".to_owned()),
            ("content-type", "application/x-ndjson".to_owned()),
        ]
    };
    let without = |token: &str, name: &str| {
        full(token)
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect::<Vec<_>>()
    };
    let with = |token: &str, name: &'static str, value: &str| {
        let mut h = without(token, name);
        h.push((name, value.to_owned()));
        h
    };
    let a = post(without(&edge_a, "authorization")).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (401, "unauthorized"),
        "{}",
        a.text()
    );
    let a = post(full("vh_0000")).await;
    assert_eq!(a.status, 401, "{}", a.text());
    let a = post(full(&edge_b)).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (403, "forbidden"),
        "{}",
        a.text()
    );
    let a = post(full(&manager)).await;
    assert_eq!(a.status, 403, "{}", a.text());
    let a = post(without(&edge_a, "venue-edge-id")).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "missing_header"),
        "{}",
        a.text()
    );
    let a = post(without(&edge_a, "venue-batch-seq")).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "missing_header"),
        "{}",
        a.text()
    );
    let a = post(with(&edge_a, "venue-batch-seq", "one")).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "bad_header"),
        "{}",
        a.text()
    );
    let a = post(with(&edge_a, "content-type", "application/json")).await;
    assert_eq!(a.status, 415, "{}", a.text());
    let a = post(with(&edge_a, "content-encoding", "gzip")).await;
    assert_eq!(a.status, 415, "{}", a.text());
    assert_eq!(count_rows(&hq, "records").await, 0);
    let a = post(full(&edge_a)).await;
    assert_eq!(a.status, 200, "{}", a.text());

    let report = format!("/api/v1/reports/revenue?from={DAY}&to={DAY}&by=edge");
    assert_eq!(hq.get(&report, &edge_a).await.status, 403);
    assert_eq!(hq.get(&report, "vh_nope").await.status, 401);
    assert_eq!(hq.send("GET", &report, &[], Vec::new()).await.status, 401);
    assert_eq!(hq.get(&report, &auditor).await.status, 200);
    let a = hq
        .get(
            "/api/v1/reports/revenue?from=2026-11-30&to=2026-11-01&by=edge",
            &auditor,
        )
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "bad_query"),
        "{}",
        a.text()
    );
    assert_eq!(hq.get("/api/v1/batches", &edge_a).await.status, 405);
    assert_eq!(hq.get("/api/v1/nothing", &edge_a).await.status, 404);
    let a = hq.get("/api/v1/edges", &edge_a).await;
    assert_eq!(a.status, 403);
}

async fn reports_group_by_key_and_period(db: Db) {
    let hq = Server::start(db).await;
    let a_token = hq.edge_token("edge-a");
    let b_token = hq.edge_token("edge-b");
    let finance = hq.role_token("finance");
    // Monday 2026-11-23 .. Tuesday 2026-12-01.
    let a = ndjson(&[
        ticket_sale("edge-a", 1, "o-1", "2026-11-23", "park-day", 10000),
        ticket_sale("edge-a", 2, "o-2", "2026-11-29", "park-day", 10000),
        ticket_sale("edge-a", 3, "o-3", "2026-11-30", "coaster-ride", 3000),
        record(
            "edge-a",
            4,
            "refund",
            "r-1",
            "2026-12-01",
            vec![line(
                "ticket",
                Some("park-day"),
                Some("p-park"),
                "refund",
                10000,
                1,
            )],
        ),
    ]);
    let b = ndjson(&[
        record(
            "edge-b",
            1,
            "sale",
            "pos-1",
            "2026-11-29",
            vec![
                line("pos", None, Some("p-tea-house"), "sale", 2500, 1),
                line("pos", None, None, "sale", 500, 1),
            ],
        ),
        scan("edge-b", 2, "g:1", "2026-11-29"),
    ]);
    assert_eq!(hq.upload(&a_token, "edge-a", 1, a, true).await.status, 200);
    assert_eq!(hq.upload(&b_token, "edge-b", 1, b, true).await.status, 200);
    let range = "from=2026-11-23&to=2026-12-01";

    let r = hq
        .revenue(&finance, &format!("{range}&period=day&by=product"))
        .await;
    let rows: Vec<(String, String, i64)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["period"].as_str().unwrap().into(),
                r["key"].as_str().unwrap().into(),
                r["net_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    let expect = |v: &[(&str, &str, i64)]| -> Vec<(String, String, i64)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
            .collect()
    };
    assert_eq!(
        rows,
        expect(&[
            ("2026-11-23", "park-day", 10000),
            ("2026-11-29", "-", 3000),
            ("2026-11-29", "park-day", 10000),
            ("2026-11-30", "coaster-ride", 3000),
            ("2026-12-01", "park-day", -10000),
        ])
    );
    assert_eq!(
        r["total"],
        json!({"gross_fen": 26000, "refunds_fen": 10000, "net_fen": 16000, "count": 5})
    );
    assert_eq!(
        (r["from"].as_str(), r["period"].as_str(), r["by"].as_str()),
        (Some("2026-11-23"), Some("day"), Some("product"))
    );

    let r = hq
        .revenue(&finance, &format!("{range}&period=week&by=edge"))
        .await;
    assert_eq!(
        r["rows"],
        json!([
            {"period": "2026-11-23", "key": "edge-a", "gross_fen": 20000, "refunds_fen": 0, "net_fen": 20000, "count": 2},
            {"period": "2026-11-23", "key": "edge-b", "gross_fen": 3000, "refunds_fen": 0, "net_fen": 3000, "count": 2},
            {"period": "2026-11-30", "key": "edge-a", "gross_fen": 3000, "refunds_fen": 10000, "net_fen": -7000, "count": 1},
        ])
    );

    let r = hq
        .revenue(&finance, &format!("{range}&period=month&by=party"))
        .await;
    assert_eq!(
        r["rows"],
        json!([
            {"period": "2026-11-01", "key": "-", "gross_fen": 500, "refunds_fen": 0, "net_fen": 500, "count": 1},
            {"period": "2026-11-01", "key": "p-park", "gross_fen": 23000, "refunds_fen": 0, "net_fen": 23000, "count": 3},
            {"period": "2026-11-01", "key": "p-tea-house", "gross_fen": 2500, "refunds_fen": 0, "net_fen": 2500, "count": 1},
            {"period": "2026-12-01", "key": "p-park", "gross_fen": 0, "refunds_fen": 10000, "net_fen": -10000, "count": 0},
        ])
    );

    let auth = format!("Bearer {finance}");
    let csv = hq
        .send(
            "GET",
            &format!("/api/v1/reports/revenue?{range}&period=month&by=merchant"),
            &[("authorization", &auth), ("accept", "text/csv")],
            Vec::new(),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert_eq!(
        csv.text(),
        "period,key,gross_fen,refunds_fen,net_fen,count\n2026-11-01,-,23000,0,23000,3\n2026-11-01,m-tea-house,3000,0,3000,2\n2026-12-01,-,0,10000,-10000,0\n"
    );
    let empty = hq
        .revenue(&finance, "from=2020-01-01&to=2020-01-31&by=area")
        .await;
    assert_eq!(
        (empty["rows"].clone(), empty["total"]["count"].clone()),
        (json!([]), json!(0))
    );
}

async fn two_edges_upload_at_once(db: Db) {
    let hq = std::sync::Arc::new(Server::start(db).await);
    let auditor = hq.role_token("auditor");
    let mut tasks = Vec::new();
    for edge in ["edge-a", "edge-b"] {
        let token = hq.edge_token(edge);
        let hq = hq.clone();
        tasks.push(tokio::spawn(async move {
            for batch in 0..15u64 {
                let records: Vec<_> = (0..40u64)
                    .map(|i| {
                        let seq = batch * 40 + i;
                        let day = format!("2026-11-{:02}", 20 + seq % 7);
                        ticket_sale(edge, seq, &format!("o-{seq}"), &day, "park-day", 100)
                    })
                    .collect();
                let a = hq
                    .upload(&token, edge, batch + 1, ndjson(&records), true)
                    .await;
                assert_eq!(
                    a.json(),
                    json!({"accepted": 40, "duplicates": 0}),
                    "{}",
                    a.text()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = hq
        .revenue(
            &auditor,
            "from=2026-11-01&to=2026-11-30&period=month&by=edge",
        )
        .await;
    assert_eq!(
        r["rows"],
        json!([
            {"period": "2026-11-01", "key": "edge-a", "gross_fen": 60000, "refunds_fen": 0, "net_fen": 60000, "count": 600},
            {"period": "2026-11-01", "key": "edge-b", "gross_fen": 60000, "refunds_fen": 0, "net_fen": 60000, "count": 600},
        ])
    );
    let edges = hq.get("/api/v1/edges", &auditor).await.json();
    let summary: Vec<(String, i64, i64)> = edges["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["edge_id"].as_str().unwrap().into(),
                e["last_batch_seq"].as_i64().unwrap(),
                e["records"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("edge-a".to_owned(), 15, 600),
            ("edge-b".to_owned(), 15, 600)
        ]
    );
}

async fn acknowledged_batches_survive_a_restart(db: Db) {
    let mut hq = Server::start(db).await;
    let edge = hq.edge_token("edge-a");
    let body = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    assert_eq!(
        hq.upload(&edge, "edge-a", 1, body.clone(), false)
            .await
            .status,
        200
    );
    hq.kill();
    hq.spawn();
    let a = hq.upload(&edge, "edge-a", 1, body.clone(), false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "{}",
        a.text()
    );
    assert!(hq.stop(), "SIGTERM stops cleanly");
    hq.spawn();
    let a = hq.upload(&edge, "edge-a", 1, body, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "{}",
        a.text()
    );
    // A token made while the server runs works at once.
    let late = hq.role_token("manager");
    assert_eq!(
        hq.revenue(&late, &format!("from={DAY}&to={DAY}&by=area"))
            .await["total"]["gross_fen"],
        100
    );
}

async fn health_metrics_and_edges(db: Db) {
    let hq = Server::start(db).await;
    let health = hq.send("GET", "/healthz", &[], Vec::new()).await;
    let name = if db == Db::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok", "database": name}))
    );
    let edge = hq.edge_token("edge-a");
    let manager = hq.role_token("manager");
    let edges = hq.get("/api/v1/edges", &manager).await.json();
    assert_eq!(edges["edges"][0]["edge_id"], "edge-a");
    assert_eq!(edges["edges"][0]["last_batch_seq"], serde_json::Value::Null);
    let body = ndjson(&[scan("edge-a", 1, "g:1", DAY), scan("edge-a", 2, "g:2", DAY)]);
    hq.upload(&edge, "edge-a", 7, body.clone(), false).await;
    hq.upload(&edge, "edge-a", 7, body, false).await;
    let metrics = hq.send("GET", "/metrics", &[], Vec::new()).await.text();
    for expected in [
        "venue_hq_batches_accepted_total 1\n",
        "venue_hq_batches_replayed_total 1\n",
        "venue_hq_records_accepted_total 2\n",
        "venue_hq_records_duplicate_total 2\n",
        "venue_hq_edge_last_batch_seq{edge=\"edge-a\"} 7\n",
    ] {
        assert!(metrics.contains(expected), "{expected:?} in\n{metrics}");
    }
    let edges = hq.get("/api/v1/edges", &manager).await.json();
    assert_eq!(edges["edges"][0]["last_batch_seq"], 7);
    assert_eq!(edges["edges"][0]["records"], 2);
    assert!(edges["edges"][0]["last_seen"].as_str().is_some());
    assert_eq!(
        hq.send("POST", "/healthz", &[], Vec::new()).await.status,
        405
    );
}

/// PostgreSQL only: a day partition dropped by hand is made again on the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_day_partition_is_made_again_on_retry() {
    let hq = Server::start(Db::Postgres).await;
    let edge = hq.edge_token("edge-a");
    let first = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    assert_eq!(
        hq.upload(&edge, "edge-a", 1, first, false).await.status,
        200
    );
    let (client, conn) = tokio_postgres::connect(&common::pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "DROP TABLE \"{s}\".records_p20261124; DROP TABLE \"{s}\".revenue_lines_p20261124",
            s = hq.schema
        ))
        .await
        .unwrap();
    let second = ndjson(&[ticket_sale("edge-a", 2, "o-2", DAY, "park-day", 100)]);
    let a = hq.upload(&edge, "edge-a", 2, second.clone(), false).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (503, "database_unavailable"),
        "{}",
        a.text()
    );
    let a = hq.upload(&edge, "edge-a", 2, second, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 1, "duplicates": 0}),
        "{}",
        a.text()
    );
}
