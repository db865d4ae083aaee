//! Who may upload, and what HQ says about itself.

use serde_json::json;

use crate::DAY;
use crate::common::{Db, Server, count_rows, ndjson, scan, ticket_sale};

pub(crate) async fn tokens_and_headers_are_checked(db: Db) {
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

pub(crate) async fn health_metrics_and_edges(db: Db) {
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
