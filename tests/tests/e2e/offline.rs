//! Whitelist deltas, the offline fallback, and capacity alerts.

use std::time::Duration;

use venue_devices::formats::Format;
use venue_tests::{Broker, Edge, EdgeOptions, order};

use super::on_both_brokers;

on_both_brokers!(turnstiles_learn_valid_codes_and_two_offline_uses_are_both_kept_and_flagged);

const CAVE: &str = r#"
[[areas]]
id = "cave"
instant_max = 5

[[gates]]
id = "g-cave-1"
area = "cave"
plugin = "line-gate"

[[gates]]
id = "g-coaster-2"
area = "ride:coaster"
plugin = "std-json-gate"

[[products]]
id = "cave-tour"
price_fen = 1500
grants = ["cave"]
entries = 1
"#;

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn turnstiles_learn_valid_codes_and_two_offline_uses_are_both_kept_and_flagged(
    broker: Broker,
) {
    let edge = Edge::start(EdgeOptions {
        broker,
        extra_toml: CAVE.into(),
        ..Default::default()
    })
    .await;
    let alerts = edge.alerts().await;
    let a = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let b = edge.turnstile("g-coaster-2", Format::StdJson).await;
    let tp1 = edge.turnstile("g-cave-1", Format::Tp1).await;
    let t = edge.token("ticketing");
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(t),
            &order("off-1", "web", &Edge::today(), "coaster-ride", 2, false),
        )
        .await
        .unwrap();
    let bought = r.json();
    let code = bought["tickets"][0]["code"].as_str().unwrap().to_owned();
    let other = bought["tickets"][1]["code"].as_str().unwrap().to_owned();

    // Both coaster gates learn both codes; a refund takes one away again.
    for g in [&a, &b] {
        wait_until("the coaster gates hold both codes", || {
            g.whitelist().contains_key(&code) && g.whitelist().contains_key(&other)
        })
        .await;
    }
    let entry = a.whitelist()[&code].clone();
    assert_eq!(
        (entry.visit_date.as_str(), entry.entries, entry.party_size),
        (Edge::today().as_str(), Some(1), 1)
    );
    let refund =
        serde_json::json!({"refund_ref": "off-rf", "tickets": [bought["tickets"][1]["ticket_id"]]});
    let r = edge
        .api
        .post_json(
            &format!(
                "/api/v1/orders/{}/refunds",
                bought["order_id"].as_str().unwrap()
            ),
            Some(t),
            &refund,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    wait_until("the refunded code leaves the whitelist", || {
        !a.whitelist().contains_key(&other)
    })
    .await;
    assert!(a.whitelist_seq() >= 2, "deltas are numbered");

    // Both gates lose the box; each admits the single-entry code from its own list.
    a.go_offline();
    b.go_offline();
    let va = a.scan(&code, true, 1, None).await.unwrap();
    let vb = b.scan(&code, true, 1, None).await.unwrap();
    assert!(
        va.admitted() && vb.admitted(),
        "offline, each gate admits from its whitelist"
    );
    let back_a = a.go_online().await;
    let back_b = b.go_online().await;
    let (ra, rb) = (back_a[0].as_ref().unwrap(), back_b[0].as_ref().unwrap());
    assert_eq!(
        (ra.decision.as_str(), ra.reason.as_str()),
        ("admit", "ok"),
        "the first use was fine"
    );
    assert_eq!(
        rb.decision, "admit",
        "the second happened too and is journaled as such"
    );
    assert_ne!(rb.reason, "ok", "but it is flagged");
    let conflict = alerts
        .wait_for(Duration::from_secs(10), |x| x["kind"] == "offline_conflict")
        .await
        .expect("conflict alert");
    assert_eq!(conflict["device"], "g-coaster-2");

    let db = rusqlite::Connection::open(edge.data_dir().join("venue-edge.sqlite3")).unwrap();
    let rows: Vec<(String, i64, i64, String)> = db
        .prepare("SELECT device, offline, conflict, at FROM scans WHERE code = ?1 ORDER BY rowid")
        .unwrap()
        .query_map([&code], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "both offline uses kept: {rows:?}");
    assert_eq!((rows[0].1, rows[0].2), (1, 0));
    assert_eq!((rows[1].1, rows[1].2), (1, 1));

    // Capacity alerts at 80% and 100% of the cave's 5, then capacity_full.
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(t),
            &order("cave-1", "web", &Edge::today(), "cave-tour", 6, false),
        )
        .await
        .unwrap();
    let cave: Vec<String> = r.json()["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_owned())
        .collect();
    for c in &cave[..4] {
        assert_eq!(tp1.scan(c, true, 1, None).await.unwrap().reason, "ok");
    }
    let at80 = alerts
        .wait_for(Duration::from_secs(10), |x| {
            x["kind"] == "capacity" && x["level_pct"] == 80
        })
        .await
        .expect("80% alert");
    assert_eq!(
        (at80["area"].as_str(), at80["inside"].as_i64()),
        (Some("cave"), Some(4))
    );
    assert_eq!(
        tp1.scan(&cave[4], true, 1, None).await.unwrap().reason,
        "ok"
    );
    assert!(
        alerts
            .wait_for(Duration::from_secs(10), |x| x["kind"] == "capacity"
                && x["level_pct"] == 100)
            .await
            .is_some()
    );
    assert_eq!(
        tp1.scan(&cave[5], true, 1, None).await.unwrap().reason,
        "capacity_full",
        "TP1 code 20"
    );
    assert_eq!(
        tp1.scan(&cave[0], false, 1, None).await.unwrap().decision,
        "admit"
    );
    assert_eq!(
        tp1.scan(&cave[5], true, 1, None).await.unwrap().reason,
        "ok",
        "room again after an exit"
    );
}
