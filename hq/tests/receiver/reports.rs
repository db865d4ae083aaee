//! Reports across edge boxes, and several boxes at once.

use serde_json::json;

use crate::common::{Db, Server, line, ndjson, record, scan, ticket_sale};

pub(crate) async fn reports_group_by_key_and_period(db: Db) {
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
        "period,key,gross_fen,refunds_fen,net_fen,count\r\n2026-11-01,-,23000,0,23000,3\r\n2026-11-01,m-tea-house,3000,0,3000,2\r\n2026-12-01,-,0,10000,-10000,0\r\n"
    );
    let empty = hq
        .revenue(&finance, "from=2020-01-01&to=2020-01-31&by=area")
        .await;
    assert_eq!(
        (empty["rows"].clone(), empty["total"]["count"].clone()),
        (json!([]), json!(0))
    );
}

pub(crate) async fn two_edges_upload_at_once(db: Db) {
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
