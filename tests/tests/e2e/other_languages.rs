//! Issue 28, part 5: the reference plugins in JavaScript (a std-json gate adapter built with
//! componentize-js) and Python (a std-json POS adapter built with componentize-py), at a
//! gate and a till of a running box over MQTT, the same scenarios as the Rust adapters:
//! buy and enter, passback, exit, a group, a sale, a refund, a refused total, a one-code
//! wallet sale, and malformed payloads that get a clear refusal and lose nothing.

use venue_devices::formats::Format;
use venue_devices::pos::{PosTerminal, line};
use venue_plugin_host::{Grant, World};
use venue_tests::{Broker, Edge, EdgeOptions, order};

crate::on_both_brokers!(a_javascript_gate_and_a_python_till_serve_like_the_rust_ones);

async fn edge(broker: Broker) -> Edge {
    Edge::start(EdgeOptions {
        broker,
        extra_plugins: vec![
            (
                "plugin_js_gate.wasm",
                "js-gate",
                World::GateAdapter,
                vec![Grant::Log],
            ),
            (
                "plugin_py_pos.wasm",
                "py-pos",
                World::PosAdapter,
                vec![Grant::Log],
            ),
        ],
        extra_toml: r#"
[[gates]]
id = "g-js-1"
area = "park"
plugin = "js-gate"

[[pos]]
id = "pos-py-1"
merchant = "m-tea-house"
plugin = "py-pos"
"#
        .into(),
        ..EdgeOptions::default()
    })
    .await
}

pub async fn a_javascript_gate_and_a_python_till_serve_like_the_rust_ones(broker: Broker) {
    let edge = edge(broker).await;
    let today = Edge::today();
    let (s, plugins) = edge.get_as("/api/v1/plugins", "admin").await;
    assert_eq!(s, 200);
    for id in ["js-gate", "py-pos"] {
        let p = plugins.as_array().unwrap().iter().find(|p| p["id"] == id);
        assert_eq!(
            p.map(|p| p["contract"].clone()),
            Some("1.1.0".into()),
            "{plugins}"
        );
    }

    // Buy and enter, passback, exit, through the JavaScript adapter.
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("js-1", "web", &today, "park-day", 1, true),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let gate = edge.turnstile("g-js-1", Format::StdJson).await;
    let v = gate.scan(&code, true, 1, None).await.unwrap();
    assert_eq!((v.decision.as_str(), v.admitted), ("admit", 1), "{v:?}");
    let v = gate.scan(&code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "passback")
    );
    let v = gate.scan(&code, false, 1, None).await.unwrap();
    assert_eq!(v.decision, "admit");
    // A group of ten on one code.
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("js-g", "group", &today, "park-day", 10, true),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    if let Some(group) = r.json()["group_code"].as_str() {
        let v = gate.scan(group, true, 10, None).await.unwrap();
        assert_eq!((v.decision.as_str(), v.admitted), ("admit", 10), "{v:?}");
    }
    // A malformed scan that names its event id is answered bad_request and kept.
    let v = gate
        .send_raw("js-bad-1", br#"{"event_id":"js-bad-1","code":"X","direction":"sideways","at":"2026-11-25T09:00:00+08:00"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "bad_request"),
        "{v:?}"
    );

    // A sale, a refund and a refused total through the Python adapter.
    let till = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-py-1", "m-tea-house").await;
    let mut sale = till.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 2, 1800)],
    );
    sale["ticket_code"] = serde_json::json!(code);
    assert!(till.send(&sale).await.unwrap().accepted());
    let refund = till.message(
        "refund",
        sale["event_id"].as_str(),
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 1, 1800)],
    );
    assert!(till.send(&refund).await.unwrap().accepted());
    let mut wrong = till.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 1800)],
    );
    wrong["total_fen"] = serde_json::json!(1799);
    let ack = till.send(&wrong).await.unwrap();
    assert!(format!("{ack:?}").contains("total_mismatch"), "{ack:?}");
    let ack = till
        .send_raw(
            "py-bad-1",
            br#"{"event_id":"py-bad-1","kind":"gift"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(!ack.accepted(), "{ack:?}");

    let (s, day) = edge
        .get_as(&format!("/api/v1/reports/visitor?code={code}"), "manager")
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (day["entries"].as_i64(), day["exits"].as_i64()),
        (Some(1), Some(1)),
        "{day}"
    );
    assert_eq!(day["spend_fen"], 1800, "{day}");
    // The wallet sale is journaled with its ticket code.
    let list = edge.sales_of_day(&today).await;
    assert!(
        list.iter()
            .any(|x| x["event_id"] == sale["event_id"] && x["ticket_code"] == code.as_str())
    );
}
