//! Bad input of every kind: a clear error, nothing lost.

use std::time::Duration;

use venue_devices::formats::{self, Format};
use venue_tests::{Broker, Edge, EdgeOptions, order};

use super::on_both_brokers;

on_both_brokers!(
    malformed_payloads_in_each_vendor_format_are_answered_or_dead_lettered,
    a_replayed_event_id_gets_the_same_verdict_and_is_never_a_second_entry
);

async fn malformed_payloads_in_each_vendor_format_are_answered_or_dead_lettered(broker: Broker) {
    let edge = Edge::start(EdgeOptions {
        broker,
        ..Default::default()
    })
    .await;
    let alerts = edge.alerts().await;
    let json_gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let tp1_gate = edge.turnstile("g-south-1", Format::Tp1).await;

    // std-json: broken JSON that still names its event id gets bad_request.
    let v = json_gate
        .send_raw("bj-1", br#"{"event_id":"bj-1","code":"#.to_vec())
        .await
        .unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "bad_request")
    );
    // std-json: no event id at all: nothing to answer, but kept and announced.
    json_gate
        .publish_scan(b"hello, turnstile".to_vec())
        .await
        .unwrap();
    let dead = alerts
        .wait_for(Duration::from_secs(10), |a| {
            a["kind"] == "dead_letter" && a["device"] == "g-north-2" && a["event_id"].is_null()
        })
        .await;
    assert!(
        dead.is_some(),
        "a payload without event id is dead-lettered and announced: {:?}",
        alerts.all()
    );

    // TP1: a line whose checksum is wrong is answered SHUT/90 with its sequence number.
    let mut bad = formats::seal("TP1;SCAN;000777;TKX;I;1795568400000;1;-;0").into_bytes();
    let n = bad.len();
    bad[n - 1] = if bad[n - 1] == b'0' { b'1' } else { b'0' };
    let v = tp1_gate.send_raw("000777", bad).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "bad_request")
    );
    // TP1: garbage.
    tp1_gate.publish_scan(vec![0xff, 0x00, 0x13]).await.unwrap();
    assert!(
        alerts
            .wait_for(Duration::from_secs(10), |a| a["kind"] == "dead_letter"
                && a["device"] == "g-south-1")
            .await
            .is_some(),
        "TP1 garbage is dead-lettered"
    );

    // A device nobody configured (it has MQTT credentials, so the broker lets it in).
    let out = edge.cli(&["device", "add", "--id", "g-nobody"], None);
    assert!(out.status.success());
    venue_devices::mqtt::remember_logins(&edge.zone, &serde_json::from_slice(&out.stdout).unwrap());
    let stranger = edge.turnstile("g-nobody", Format::StdJson).await;
    stranger
        .publish_scan(
            br#"{"event_id":"s-1","code":"TK","at":"2026-11-25T09:00:00+08:00"}"#.to_vec(),
        )
        .await
        .unwrap();
    let unknown = alerts
        .wait_for(Duration::from_secs(10), |a| a["device"] == "g-nobody")
        .await
        .expect("unknown device announced");
    assert!(
        unknown["reason"]
            .as_str()
            .unwrap()
            .contains("unknown_device")
    );

    // An unknown ticket and a bad count.
    let v = json_gate
        .scan("TKNOSUCHTICKET0000", true, 1, None)
        .await
        .unwrap();
    assert_eq!(v.reason, "unknown_ticket");
    let mut zero = json_gate.scan_input("TKNOSUCHTICKET0000", true, 0, None);
    zero.count = 0;
    assert_eq!(json_gate.send(&zero).await.unwrap().reason, "bad_request");

    // Everything refused is in the store's dead-letter table, payload intact; and the box
    // still admits a good ticket.
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("ok-1", "web", &Edge::today(), "shuttle-day", 1, false),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let shuttle = edge.turnstile("g-shuttle-1", Format::StdJson).await;
    assert_eq!(
        shuttle.scan(&code, true, 1, None).await.unwrap().reason,
        "ok"
    );
    let db = rusqlite::Connection::open(edge.data_dir().join("venue-edge.sqlite3")).unwrap();
    let kept: Vec<Vec<u8>> = db
        .prepare("SELECT payload FROM dead_letters ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        kept.iter().any(|p| p == b"hello, turnstile"),
        "payload kept whole"
    );
    assert!(
        kept.iter().any(|p| p == &[0xff, 0x00, 0x13]),
        "binary payload kept whole"
    );
}

async fn a_replayed_event_id_gets_the_same_verdict_and_is_never_a_second_entry(broker: Broker) {
    let mut edge = Edge::start(EdgeOptions {
        broker,
        ..Default::default()
    })
    .await;
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("rp-1", "web", &Edge::today(), "coaster-ride", 1, false),
        )
        .await
        .unwrap();
    let bought = r.json();
    let code = bought["tickets"][0]["code"].as_str().unwrap().to_owned();
    let gate = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let scan = gate.scan_input(&code, true, 1, None);
    let first = gate.send(&scan).await.unwrap();
    assert_eq!(first.reason, "ok");
    let again = gate.send(&scan).await.unwrap();
    assert_eq!(again, first, "the same event_id gets the same verdict");

    // After a crash and a restart, too; the restart loads the compiled plugins from the cache.
    edge.kill();
    let cached = std::fs::read_dir(edge.data_dir().join("cache"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "cwasm")
        })
        .count();
    assert_eq!(cached, 7, "one compiled artifact per installed plugin");
    edge.spawn().await;
    let gate = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let after = gate.send(&scan).await.unwrap();
    assert_eq!(after, first, "the journal answers a replay after a restart");

    let order_id = bought["order_id"].as_str().unwrap();
    let r = edge
        .api
        .get(
            &format!("/api/v1/orders/{order_id}"),
            Some(edge.token("ticketing")),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json()["tickets"][0]["entries_used"],
        1,
        "three deliveries, one entry"
    );
    let r = edge
        .api
        .get(
            &format!("/api/v1/capacity?date={}", Edge::today()),
            Some(edge.token("manager")),
        )
        .await
        .unwrap();
    let coaster = r.json()["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "ride:coaster")
        .cloned()
        .unwrap();
    assert_eq!(coaster["in_park"], 1, "one person on the ride, not three");

    // A new scan of the same code is a new event: the single entry is used up.
    let v = gate.scan(&code, false, 1, None).await.unwrap();
    assert_eq!(v.decision, "admit");
    let v = gate.scan(&code, true, 1, None).await.unwrap();
    assert_eq!(v.reason, "already_used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_without_a_valid_token_or_role_are_refused() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let body = order("auth-1", "web", &Edge::today(), "coaster-ride", 1, false);
    let r = edge
        .api
        .post_json("/api/v1/orders", None, &body)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = edge
        .api
        .post_json("/api/v1/orders", Some("ve_not_a_token"), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(edge.token("auditor")), &body)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = edge
        .api
        .get("/api/v1/plugins", Some(edge.token("ticketing")))
        .await
        .unwrap();
    assert_eq!(r.status, 403, "plugins are for admins");
    let r = edge.api.get("/healthz", None).await.unwrap();
    assert_eq!(r.status, 200, "health needs no token: {}", r.text());
    let r = edge.api.get("/metrics", None).await.unwrap();
    assert!(r.text().contains("venue_edge_orders_total"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_impossible_orders_get_a_clear_error() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let t = edge.token("ticketing");
    let post_raw = |body: &'static [u8]| {
        let edge = &edge;
        async move {
            edge.api
                .send(
                    hyper::Method::POST,
                    "/api/v1/orders",
                    Some(t),
                    Some("application/json"),
                    body.to_vec(),
                )
                .await
                .unwrap()
        }
    };
    let r = post_raw(b"{not json").await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("bad_json"))
    );
    let r = post_raw(br#"{"order_ref":"x"}"#).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{}",
        r.text()
    );

    let today = Edge::today();
    let post = |body: serde_json::Value| {
        let edge = &edge;
        async move {
            let r = edge
                .api
                .post_json("/api/v1/orders", Some(t), &body)
                .await
                .unwrap();
            (
                r.status,
                r.json()["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    assert_eq!(
        post(order("o-1", "web", &today, "moon-walk", 1, false)).await,
        (400, "unknown_product".into())
    );
    assert_eq!(
        post(order("o-2", "web", "2020-01-01", "coaster-ride", 1, false)).await,
        (422, "visit_date_past".into())
    );
    assert_eq!(
        post(order("o-3", "web", &today, "park-day", 2, false)).await,
        (400, "visitors_required".into())
    );
    assert_eq!(
        post(order("o-4", "web", &today, "sunrise", 1, false)).await,
        (400, "missing_slot".into())
    );
    assert_eq!(
        post(order("o-5", "web", &today, "coaster-ride", 0, false)).await,
        (400, "bad_qty".into())
    );

    // A slot quota of 50: 50 sell, the 51st does not, and nothing is half-sold.
    let mut sunrise = order("o-6", "web", &today, "sunrise", 51, false);
    sunrise["slot"] = "06:00".into();
    assert_eq!(post(sunrise.clone()).await, (422, "capacity_full".into()));
    sunrise["order_ref"] = "o-7".into();
    sunrise["items"][0]["qty"] = 50.into();
    assert_eq!(post(sunrise.clone()).await.0, 201);
    sunrise["order_ref"] = "o-8".into();
    sunrise["items"][0]["qty"] = 1.into();
    assert_eq!(post(sunrise.clone()).await, (422, "capacity_full".into()));

    // The same order_ref with another body is a conflict; with the same body, the same order.
    let first = order("o-9", "web", &today, "coaster-ride", 1, false);
    let a = edge
        .api
        .post_json("/api/v1/orders", Some(t), &first)
        .await
        .unwrap();
    let b = edge
        .api
        .post_json("/api/v1/orders", Some(t), &first)
        .await
        .unwrap();
    assert_eq!((a.status, b.status), (201, 200));
    assert_eq!(a.json()["order_id"], b.json()["order_id"]);
    assert_eq!(
        post(order("o-9", "web", &today, "coaster-ride", 2, false)).await,
        (409, "order_ref_conflict".into())
    );

    let r = edge
        .api
        .get("/api/v1/orders/ord-nope", Some(t))
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let r = edge.api.get("/api/v1/nowhere", Some(t)).await.unwrap();
    assert_eq!(r.status, 404);
}
