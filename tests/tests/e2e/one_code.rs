//! Issue 27, part 2 (one code, one day) and the contract's first minor version: a POS sale
//! names the ticket the visitor paid with (`ticket_code`, `venue:edge@1.1.0`), the visitor
//! report lays out that ticket's day, and plugins built against 1.0.0 (committed builds in
//! `tests/fixtures/plugins/`) keep working on the 1.1.0 host. A component of a major
//! version the host lacks is refused, naming the versions it accepts.

use std::path::PathBuf;

use sha2::Digest;
use venue_devices::formats::Format;
use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Edge, EdgeOptions, order};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plugins")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces plugin `id` with `wasm` as the admin; the status and the body.
async fn replace(edge: &Edge, id: &str, wasm: Vec<u8>) -> (u16, serde_json::Value) {
    let sha = hex::encode(sha2::Sha256::digest(&wasm));
    let r = edge
        .api
        .send(
            hyper::Method::PUT,
            &format!("/api/v1/plugins/{id}?sha256={sha}"),
            Some(edge.token("admin")),
            Some("application/wasm"),
            wasm,
        )
        .await
        .unwrap();
    (r.status, r.json())
}

async fn contract_of(edge: &Edge, id: &str) -> String {
    let (s, plugins) = edge.get_as("/api/v1/plugins", "admin").await;
    assert_eq!(s, 200);
    let p = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no plugin {id}: {plugins}"));
    p["contract"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_day_lists_its_entries_exits_and_wallet_purchases() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let today = Edge::today();
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("wallet-1", "window", &today, "park-day", 1, true),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    assert_eq!(contract_of(&edge, "std-json-pos").await, "1.1.0");

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate.scan(&code, true, 1, None).await.unwrap();
    assert_eq!(v.decision, "admit", "{v:?}");
    // The tills stamp whole seconds, the gates milliseconds: a second apart keeps the order.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let wallet = |mut m: serde_json::Value| {
        m["ticket_code"] = serde_json::json!(code);
        m
    };
    let tea_sale = wallet(tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 2, 1800)],
    ));
    assert!(tea.send(&tea_sale).await.unwrap().accepted());
    let gift_sale = wallet(gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[line("fan", "retail", 1, 5000)],
    ));
    assert!(gift.send(&gift_sale).await.unwrap().accepted());
    // Half the tea comes back; a sale paid otherwise is not the ticket's.
    let refund = tea.message(
        "refund",
        tea_sale["event_id"].as_str(),
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 1, 1800)],
    );
    assert!(tea.send(&refund).await.unwrap().accepted());
    let other = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 1800)],
    );
    assert!(tea.send(&other).await.unwrap().accepted());
    // A code no terminal should send: refused at the door, journaled nowhere.
    let mut bad = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 1, 1800)],
    );
    bad["ticket_code"] = serde_json::json!("x".repeat(200));
    let ack = tea.send(&bad).await.unwrap();
    assert!(!ack.accepted(), "{ack:?}");
    assert!(format!("{ack:?}").contains("bad_ticket_code"), "{ack:?}");

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let v = gate.scan(&code, false, 1, None).await.unwrap();
    assert_eq!(v.decision, "admit", "{v:?}");

    let (s, day) = edge
        .get_as(&format!("/api/v1/reports/visitor?code={code}"), "manager")
        .await;
    assert_eq!(s, 200, "{day}");
    assert_eq!(day["date"], today.as_str());
    assert_eq!(day["product"], "park-day");
    assert_eq!(
        (day["entries"].as_i64(), day["exits"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(day["purchases"], 2);
    // 2 x 1800 + 5000 - 1800 given back.
    assert_eq!(day["spend_fen"], 6800, "{day}");
    let kinds: Vec<&str> = day["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["entry", "purchase", "purchase", "refund", "exit"],
        "{day}"
    );
    let sum: i64 = day["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spend_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 6800);
    assert_eq!(day["events"][1]["merchant"], "m-tea-house");
    assert_eq!(day["events"][0]["area"], "park");

    // The auditor reads it too; finance and the ticket window do not.
    assert_eq!(
        edge.get_as(&format!("/api/v1/reports/visitor?code={code}"), "auditor")
            .await
            .0,
        200
    );
    for role in ["finance-reviewer", "ticketing"] {
        let (s, _) = edge
            .get_as(&format!("/api/v1/reports/visitor?code={code}"), role)
            .await;
        assert_eq!(s, 403, "{role}");
    }
    // Bad questions get clear answers.
    let (s, e) = edge
        .get_as("/api/v1/reports/visitor?code=NO-SUCH", "manager")
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("unknown_ticket")),
        "{e}"
    );
    let (s, e) = edge.get_as("/api/v1/reports/visitor", "manager").await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = edge
        .get_as(
            &format!("/api/v1/reports/visitor?code={code}&date=2026-12-5"),
            "manager",
        )
        .await;
    assert_eq!(s, 400, "{e}");
    // Another day of the same ticket: nothing happened then.
    let (s, other_day) = edge
        .get_as(
            &format!("/api/v1/reports/visitor?code={code}&date=2020-01-01"),
            "manager",
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            other_day["spend_fen"].as_i64(),
            other_day["events"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // The day's sales journal keeps the code on the wallet sales only.
    let sales = edge.sales_of_day(&today).await;
    let coded = sales
        .iter()
        .filter(|x| x["ticket_code"] == code.as_str())
        .count();
    assert_eq!(coded, 2, "{sales:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_built_against_1_0_0_run_unchanged_and_another_major_is_refused() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let today = Edge::today();

    // The 1.0.0 POS adapter replaces the current one while the box runs.
    let (s, body) = replace(&edge, "std-json-pos", fixture("std-json-pos-1.0.0.wasm")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(contract_of(&edge, "std-json-pos").await, "1.0.0");
    let (s, body) = replace(&edge, "std-json-gate", fixture("std-json-gate-1.0.0.wasm")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(contract_of(&edge, "std-json-gate").await, "1.0.0");
    assert_eq!(contract_of(&edge, "line-gate").await, "1.1.0");

    // Its sales are journaled as before; a ticket code it cannot know is never read.
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("v10-1", "window", &today, "park-day", 1, true),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    assert_eq!(
        gate.scan(&code, true, 1, None).await.unwrap().decision,
        "admit"
    );
    assert_eq!(
        gate.scan(&code, true, 1, None).await.unwrap().reason,
        "passback"
    );
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let mut sale = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[line("tea-01", "food", 1, 1800)],
    );
    sale["ticket_code"] = serde_json::json!(code);
    let ack = tea.send(&sale).await.unwrap();
    assert!(ack.accepted(), "{ack:?}");
    let refund = tea.message(
        "refund",
        sale["event_id"].as_str(),
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 1800)],
    );
    assert!(tea.send(&refund).await.unwrap().accepted());
    let bad = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 1800)],
    );
    let mut bad = bad;
    bad["total_fen"] = serde_json::json!(1);
    let ack = tea.send(&bad).await.unwrap();
    assert!(format!("{ack:?}").contains("total_mismatch"), "{ack:?}");
    let list = edge.sales_of_day(&today).await;
    let journaled = list
        .iter()
        .find(|x| x["event_id"] == sale["event_id"])
        .expect("journaled");
    assert_eq!(journaled["total_fen"], 1800);
    assert!(
        journaled.get("ticket_code").is_none_or(|c| c.is_null()),
        "{journaled}"
    );
    let (_, day) = edge
        .get_as(&format!("/api/v1/reports/visitor?code={code}"), "manager")
        .await;
    assert_eq!(
        (day["entries"].as_i64(), day["purchases"].as_i64()),
        (Some(1), Some(0)),
        "{day}"
    );

    // A component of contract 2.0.0 (the 1.0.0 build with its names moved on) is refused
    // at load; the running version stays.
    let mut v2 = fixture("std-json-pos-1.0.0.wasm");
    let (from, to) = (b"venue:edge/pos@1.0.0", b"venue:edge/pos@2.0.0");
    let mut moved = 0;
    for i in 0..v2.len() - from.len() {
        if &v2[i..i + from.len()] == from {
            v2[i..i + to.len()].copy_from_slice(to);
            moved += 1;
        }
    }
    assert!(moved > 0);
    let (s, body) = replace(&edge, "std-json-pos", v2).await;
    assert_eq!(s, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("venue:edge@2.0.0")
            && message.contains("venue:edge@1.0.0 and venue:edge@1.1.0"),
        "{body}"
    );
    assert_eq!(contract_of(&edge, "std-json-pos").await, "1.0.0");
    let again = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 900)],
    );
    assert!(tea.send(&again).await.unwrap().accepted());
}
