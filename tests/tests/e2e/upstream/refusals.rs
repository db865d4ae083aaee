//! Issue 4: what HQ or the link refuses: wrong and foreign tokens, replayed, malformed and
//! oversized batches, a certificate from a CA the box does not pin, and a backlog past its
//! limit. Nothing is lost in any of them.

use std::time::{Duration, Instant};

use venue_tests::hq::{Hq, HqDatabase};
use venue_tests::{Edge, EdgeOptions};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_the_box_keeps_working_and_keeping_records() {
    let hq = Hq::start(HqDatabase::Sqlite).await;
    let mut edge = Edge::start(EdgeOptions {
        extra_toml: uplink_toml(&format!("http://{}", hq.http_addr), "wrong-token", 20),
        ..EdgeOptions::default()
    })
    .await;
    let alerts = edge.alerts().await;
    let money = a_day(&edge, "wrong").await;
    let alert = alerts
        .wait_for(Duration::from_secs(20), |a| a["kind"] == "uplink_refused")
        .await
        .expect("an uplink_refused alert");
    assert_eq!(alert["status"], 401, "{alert}");
    let h = health(&edge).await;
    assert_eq!(h["uplink"]["state"], "retrying", "{h}");
    assert!(
        h["uplink"]["last_error"].as_str().unwrap().contains("401"),
        "{h}"
    );
    assert_eq!(records_of(&hq, &edge_id(&edge)).await, 0);
    // Another box's token is refused too (403): a token uploads only for its own box.
    let other = hq.edge_token("edge-elsewhere");
    retoken(&mut edge, &other).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        health(&edge).await["uplink"]["last_error"]
            .as_str()
            .unwrap()
            .contains("403")
    );
    // With its own token everything queued meanwhile arrives.
    let own = hq.edge_token(&edge_id(&edge));
    retoken(&mut edge, &own).await;
    drained(&edge, Duration::from_secs(60)).await;
    arrived_once(&hq, &edge, money).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_malformed_and_oversized_batches_change_nothing() {
    let hq = Hq::start(HqDatabase::Sqlite).await;
    let edge = "edge-by-hand";
    let token = hq.edge_token(edge);
    let today = Edge::today();
    let record = |seq: u64, id: &str, fen: i64| {
        serde_json::json!({
            "edge_id": edge, "seq": seq, "kind": "sale", "event_id": id, "business_date": today,
            "at": Edge::now_at(),
            "data": {"revenue": [{"source": "pos", "product": null, "merchant": "m-tea-house", "area": "park",
                                  "category": "food", "party": "p-tea-house", "kind": "sale", "amount_fen": fen, "count": 1}]},
        })
        .to_string()
    };
    let post = |seq: u64, body: String| hq.post_batch(&token, edge, seq, body.into_bytes());
    let batch = format!("{}\n{}\n", record(1, "s-1", 1000), record(2, "s-2", 500));
    let answer = post(1, batch.clone()).await;
    assert_eq!(
        answer,
        (200, serde_json::json!({"accepted": 2, "duplicates": 0}))
    );
    let answer = post(1, batch).await;
    assert_eq!(
        answer,
        (200, serde_json::json!({"accepted": 0, "duplicates": 2})),
        "a replay"
    );
    // A later batch repeating a record: that record is a duplicate.
    let answer = post(
        2,
        format!("{}\n{}\n", record(2, "s-2", 500), record(3, "s-3", 1)),
    )
    .await;
    assert_eq!(
        answer.1,
        serde_json::json!({"accepted": 1, "duplicates": 1})
    );
    // Malformed: nothing of the batch is kept, the error names the line.
    let (status, body) = post(3, format!("{}\nnot json\n", record(4, "s-4", 7))).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{body}"
    );
    // Oversized once decompressed: 80 MiB of records in a few kilobytes of zstd.
    let huge = format!("{}\n", record(5, &"x".repeat(80 * 1024 * 1024), 1));
    let squeezed = zstd::bulk::compress(huge.as_bytes(), 3).unwrap();
    assert!(squeezed.len() < 1024 * 1024);
    let request = hyper::Request::post(format!("{}/api/v1/batches", hq.url()))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "zstd")
        .header("venue-edge-id", edge)
        .header("venue-batch-seq", "4")
        .body(http_body_util::Full::new(bytes::Bytes::from(squeezed)))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    // A malformed audit chain head: refused whole, the error says the form.
    let request = hyper::Request::post(format!("{}/api/v1/batches", hq.url()))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-ndjson")
        .header("venue-edge-id", edge)
        .header("venue-batch-seq", "5")
        .header("venue-audit-head", "12 not-a-hash")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            "{}\n",
            record(6, "s-6", 99)
        ))))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "bad_header", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Venue-Audit-Head"),
        "{body}"
    );
    assert_eq!(
        hq_money(&hq, edge).await,
        Money {
            gross_fen: 1501,
            refunds_fen: 0,
            count: 3
        }
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it, as PEM files in `dir`: (ca, cert, key).
fn certificates(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let c = crate::certs::certificates(dir, name);
    (c.ca, c.cert, c.key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_box_trusts_only_its_pinned_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "hq");
    let (other_ca, _, _) = certificates(dir.path(), "stranger");
    let hq = Hq::start_tls(HqDatabase::Sqlite, &cert, &key).await;
    let url = format!("https://{}", hq.http_addr);
    // Pinned to another CA: the handshake fails, the records wait.
    let mut edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            "{}ca_file = \"{}\"\n",
            uplink_toml(&url, "pending", 20),
            other_ca.display()
        ),
        ..EdgeOptions::default()
    })
    .await;
    let token = hq.edge_token(&edge_id(&edge));
    retoken(&mut edge, &token).await;
    let money = a_day(&edge, "tls").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = health(&edge).await;
        let error = h["uplink"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if error.contains("certificate") || error.contains("Certificate") {
            break;
        }
        assert!(Instant::now() < deadline, "no certificate error: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (This HQ speaks only HTTPS: it is read through its SQLite file.)
    let (hq_db, id) = (
        hq.data.path().join(venue_hq::store::SQLITE_FILE),
        edge_id(&edge),
    );
    let held = || {
        let db = rusqlite::Connection::open(&hq_db).unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM records WHERE edge_id = ?1",
            [&id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    assert_eq!(held(), 0);
    // Pinned to HQ's CA: everything arrives, once.
    edge.stop();
    let text = std::fs::read_to_string(&edge.config_path)
        .unwrap()
        .replace(&other_ca.display().to_string(), &ca.display().to_string());
    std::fs::write(&edge.config_path, text).unwrap();
    edge.spawn().await;
    drained(&edge, Duration::from_secs(60)).await;
    let (queued, acknowledged, _) = uploads(&edge);
    assert_eq!((acknowledged, held()), (queued, queued));
    assert!(money.count > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_past_its_limit_raises_an_alert_and_drops_nothing() {
    // An HQ address where nothing listens: every upload fails.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            "{}backlog_alert_records = 5\n",
            uplink_toml(&format!("http://{nobody}"), "any", 20)
        ),
        ..EdgeOptions::default()
    })
    .await;
    let alerts = edge.alerts().await;
    let money = many_sales(&edge, 12).await;
    let alert = alerts
        .wait_for(Duration::from_secs(20), |a| a["kind"] == "uplink_backlog")
        .await
        .expect("an uplink_backlog alert");
    assert!(alert["pending_records"].as_i64().unwrap() > 5, "{alert}");
    // Sales go on being journaled and queued; nothing is dropped.
    let more = many_sales(&edge, 3).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while health(&edge).await["uplink"]["state"] != "retrying" {
        assert!(Instant::now() < deadline, "{}", health(&edge).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (queued, acknowledged, _) = uploads(&edge);
    assert_eq!((queued, acknowledged), (money.count + more.count, 0));
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, queued);
}
