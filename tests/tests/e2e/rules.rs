//! The rules no other scenario reaches: an area's daily maximum, a slot's entry window, and
//! the clock-skew refusal of a turnstile's scan and a terminal's sale.

use chrono::{Duration, Timelike};
use venue_devices::formats::Format;
use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Edge, EdgeOptions, order};

/// Now in the demo venue's offset.
fn venue_now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_sells_up_to_its_daily_maximum_and_no_further_each_day_on_its_own() {
    let edge = Edge::start(EdgeOptions {
        extra_toml: r#"
[[areas]]
id = "grotto"
daily_max = 3

[[products]]
id = "grotto-tour"
price_fen = 1000
grants = ["grotto"]
entries = 1
"#
        .into(),
        ..Default::default()
    })
    .await;
    let token = edge.token("ticketing").to_owned();
    let day = Edge::in_days(3);
    let buy = |order_ref: &str, date: &str, qty: u32| {
        order(order_ref, "window", date, "grotto-tour", qty, false)
    };
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(&token), &buy("grotto-1", &day, 2))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(&token), &buy("grotto-2", &day, 2))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (422, Some("capacity_full")),
        "2 + 2 is past a daily maximum of 3: {}",
        r.text()
    );
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(&token), &buy("grotto-3", &day, 1))
        .await
        .unwrap();
    assert_eq!(
        r.status,
        201,
        "the third place is still there: {}",
        r.text()
    );
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(&token), &buy("grotto-4", &day, 1))
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.text());
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(&token),
            &buy("grotto-5", &Edge::in_days(4), 3),
        )
        .await
        .unwrap();
    assert_eq!(
        r.status,
        201,
        "the next day has its own maximum: {}",
        r.text()
    );
    let (status, capacity) = edge
        .get_as(&format!("/api/v1/capacity?date={day}"), "ticketing")
        .await;
    assert_eq!(status, 200);
    let grotto = capacity["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "grotto")
        .unwrap()
        .clone();
    assert_eq!(
        (grotto["sold"].clone(), grotto["daily_max"].clone()),
        (3.into(), 3.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_ticket_enters_within_its_window_and_is_refused_outside_it() {
    // Two slots today: one that started a minute ago (within -15 / +60 minutes) and one
    // three hours away from now, on the same day.
    let now = venue_now();
    let open = (now - Duration::minutes(1)).format("%H:%M").to_string();
    let far = if now.hour() >= 4 {
        now - Duration::hours(3)
    } else {
        now + Duration::hours(3)
    };
    let far = far.format("%H:%M").to_string();
    if now.hour() == 0 && now.minute() < 1 {
        // A minute after midnight the open slot would be yesterday's; the rule is the same.
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    }
    let edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            r#"
[[products]]
id = "tide-pool"
price_fen = 500
grants = ["park"]
entries = 1
slots = [{{ time = "{open}", quota = 10 }}, {{ time = "{far}", quota = 10 }}]
slot_entry_before_min = 15
slot_entry_after_min = 60
"#
        ),
        ..Default::default()
    })
    .await;
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let mut codes = Vec::new();
    for slot in [&open, &far] {
        let mut body = order(
            &format!("tide-{slot}"),
            "window",
            &today,
            "tide-pool",
            1,
            false,
        );
        body["slot"] = slot.as_str().into();
        let r = edge
            .api
            .post_json("/api/v1/orders", Some(&token), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        codes.push(r.json()["tickets"][0]["code"].as_str().unwrap().to_owned());
    }
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate.scan(&codes[1], true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "outside_time_slot"),
        "slot {far} is three hours from now"
    );
    let v = gate.scan(&codes[0], true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("admit", "ok"),
        "slot {open} began a minute ago"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_whose_clock_is_off_is_refused_and_the_refusal_is_kept() {
    let edge = Edge::start(EdgeOptions {
        clock_check: true,
        ..Default::default()
    })
    .await;
    let today = Edge::today();
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("skew-1", "window", &today, "coaster-ride", 1, false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();

    // A turnstile an hour slow: refused, saying why; the same code scanned right is let in.
    let gate = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let mut scan = gate.scan_input(&code, true, 1, None);
    let slow = venue_now() - Duration::hours(1);
    scan.at = slow.to_rfc3339();
    scan.unix_ms = slow.timestamp_millis();
    let v = gate.send(&scan).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "bad_request")
    );
    assert!(v.message.contains("clock"), "{}", v.message);
    let v = gate.send(&scan).await.unwrap();
    assert_eq!(v.reason, "bad_request", "a resend gets the same answer");
    let v = gate.scan(&code, true, 1, None).await.unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));

    // A POS terminal an hour fast: the sale is rejected as clock_skew, and a resend of
    // the same message gets the same rejection (it was journaled); a sale stamped now is taken.
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let fast = (venue_now() + Duration::hours(1)).to_rfc3339();
    let sale = tea.message(
        "sale",
        None,
        &fast,
        "wechat",
        &[line("tea-01", "food", 1, 1800)],
    );
    let ack = tea.send(&sale).await.unwrap();
    assert!(!ack.accepted(), "{ack:?}");
    let error = ack.error.clone().unwrap_or_default();
    assert!(error.starts_with("clock_skew"), "{error}");
    assert_eq!(tea.send(&sale).await.unwrap(), ack);
    let now = venue_now().to_rfc3339();
    let sale = tea.message(
        "sale",
        None,
        &now,
        "wechat",
        &[line("tea-01", "food", 1, 1800)],
    );
    assert!(tea.send(&sale).await.unwrap().accepted());
    let (status, sales) = edge
        .get_as(&format!("/api/v1/sales?date={today}"), "finance-reviewer")
        .await;
    assert_eq!(status, 200, "{sales}");
    let journaled = sales.to_string();
    assert_eq!(
        journaled.matches("\"total_fen\":1800").count(),
        1,
        "only the sale with a right clock counts: {journaled}"
    );
}

/// Presence is kept per ticket and area: a shuttle ticket scanned out twice at a park gate
/// opens the gate but moves no count (the flow report's park count stayed at -2 before),
/// a ticket granting two areas enters the second while inside the first, and the presence
/// report lists who is inside the park.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_per_ticket_and_area_and_an_exit_of_a_ticket_not_inside_moves_nothing() {
    let edge = Edge::start(EdgeOptions {
        extra_toml: r#"
[[products]]
id = "park-coaster"
price_fen = 15000
grants = ["park", "ride:coaster"]
"#
        .into(),
        ..Default::default()
    })
    .await;
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let mut codes = Vec::new();
    for (order_ref, product) in [("p-shuttle", "shuttle-day"), ("p-both", "park-coaster")] {
        let r = edge
            .api
            .post_json(
                "/api/v1/orders",
                Some(&token),
                &order(order_ref, "window", &today, product, 1, false),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        codes.push(r.json()["tickets"][0]["code"].as_str().unwrap().to_owned());
    }
    let (shuttle, both) = (&codes[0], &codes[1]);
    let park = edge.turnstile("g-north-2", Format::StdJson).await;
    let coaster = edge.turnstile("g-coaster-1", Format::StdJson).await;

    for _ in 0..2 {
        let v = park.scan(shuttle, false, 1, None).await.unwrap();
        assert_eq!(
            (v.decision.as_str(), v.admitted),
            ("admit", 0),
            "people may always leave; a ticket not inside moves no count: {v:?}"
        );
    }
    let v = park.scan(both, true, 1, None).await.unwrap();
    assert_eq!((v.decision.as_str(), v.admitted), ("admit", 1), "{v:?}");
    let v = coaster.scan(both, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("admit", "ok"),
        "inside the park, the ticket still enters the coaster: {v:?}"
    );
    let v = coaster.scan(both, true, 1, None).await.unwrap();
    assert_eq!(v.reason, "passback", "{v:?}");

    let (status, flow) = edge
        .get_as(&format!("/api/v1/reports/flow?date={today}"), "manager")
        .await;
    assert_eq!(status, 200, "{flow}");
    let area = |name: &str| {
        flow["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["area"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            area("park")["entries"].as_i64(),
            area("park")["exits"].as_i64()
        ),
        (Some(1), Some(0)),
        "the shuttle ticket's exits count nowhere: {flow}"
    );
    assert_eq!(area("park")["inside_now"], 1, "{flow}");
    assert_eq!(area("ride:coaster")["inside_now"], 1, "{flow}");

    let (status, presence) = edge
        .get_as(&format!("/api/v1/reports/presence?date={today}"), "manager")
        .await;
    assert_eq!(status, 200, "{presence}");
    assert_eq!(presence["closed"], false);
    let park_inside = presence["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "park")
        .unwrap();
    assert_eq!(park_inside["inside"], 1, "{presence}");
    assert_eq!(park_inside["tickets"].as_array().unwrap().len(), 1);
    assert!(
        !presence.to_string().contains(both.as_str()),
        "the report shows no ticket code: {presence}"
    );
    let (status, _) = edge
        .get_as(
            &format!("/api/v1/reports/presence?date={today}"),
            "ticketing",
        )
        .await;
    assert_eq!(status, 403, "a ticket clerk does not read who is inside");
    let (status, refused) = edge
        .get_as("/api/v1/reports/presence?date=2026-12-5", "manager")
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_number_key_lives_where_the_config_says_not_in_the_data_folder() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("id.key");
    let edge = Edge::start(EdgeOptions {
        extra_toml: String::new(),
        id_key_file: Some(key_file.clone()),
        ..EdgeOptions::default()
    })
    .await;
    // A real-name order: the ID numbers are encrypted with the key outside the data.
    let (s, order) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            venue_tests::order("key-1", "web", &Edge::today(), "park-day", 1, true),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    assert!(key_file.exists(), "the key was made where the config says");
    assert!(
        !edge
            .data_dir()
            .join(venue_edge::runtime::SECRET_FILE)
            .exists(),
        "no key in the data folder"
    );
    let shown = order["tickets"][0]["visitor"]["id_number"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(shown.contains('*'), "masked in the answer: {order}");
}

/// Issue 26, part 5: `venue-edge keys rotate` while the box runs: every stored number is
/// re-sealed under the new key, the old key leaves the file, a real-name lane still matches
/// a ticket sold before the rotation, and new numbers are sealed with the new key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_number_key_is_rotated_while_the_box_runs_and_lanes_still_match() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("id.key");
    let edge = Edge::start(EdgeOptions {
        id_key_file: Some(key_file.clone()),
        ..EdgeOptions::default()
    })
    .await;
    let today = Edge::today();
    let (s, before) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("rot-1", "web", &today, "park-day", 3, true),
        )
        .await;
    assert_eq!(s, 201, "{before}");
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    let out = edge.cli(&["keys", "rotate", "--batch", "2"], None);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("key 2 in use: 3 ID numbers re-sealed, 1 old key(s) retired"),
        "{said}"
    );
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(old_key, new_key);
    let key_lines: Vec<&str> = new_key.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        key_lines.len() == 1 && key_lines[0].starts_with("2 "),
        "{new_key}"
    );

    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let under = |key: u8| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM tickets WHERE substr(id_cipher, 1, 3) = ?1 AND id_index LIKE ?2",
            rusqlite::params![&[b'K', 0, key][..], format!("k{key}:%")],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        under(2),
        3,
        "every number re-sealed and re-indexed under key 2"
    );

    // The box kept running with key 1 in memory: it reads the file again and matches.
    let lane = edge.turnstile("g-north-1", Format::StdJson).await;
    let code = before["tickets"][0]["code"].as_str().unwrap();
    let v = lane
        .scan(code, true, 1, Some("110101199000000001"))
        .await
        .unwrap();
    assert_eq!(v.reason, "realname_mismatch", "another visitor's number");
    let v = lane
        .scan(code, true, 1, Some("110101199000000000"))
        .await
        .unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));

    // A number sold now is sealed with key 2 and its ticket enters too.
    let (s, after) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("rot-2", "web", &today, "park-day", 1, true),
        )
        .await;
    assert_eq!(s, 201, "{after}");
    assert_eq!(under(2), 4);
    let code = after["tickets"][0]["code"].as_str().unwrap();
    let v = lane
        .scan(code, true, 1, Some("110101199000000000"))
        .await
        .unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));

    let audit: i64 = db
        .query_row("SELECT COUNT(*) FROM audit WHERE action = 'keys.rotate' AND detail LIKE 'key=2 resealed=3%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit, 1, "the rotation is in the audit log");
    let verify = edge.cli(&["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_number_is_nowhere_in_clear_not_in_the_store_nor_in_what_goes_to_hq() {
    let edge = Edge::start(EdgeOptions::default()).await;
    // `order` gives visitor i the ID number 1101011990 followed by i as 8 digits.
    let (s, order) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            venue_tests::order("clear-1", "web", &Edge::today(), "park-day", 2, true),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    let ids = ["110101199000000000", "110101199000000001"];
    let shown = order["tickets"][1]["visitor"]["id_number"]
        .as_str()
        .unwrap();
    assert!(
        shown.starts_with("1101") && shown.ends_with("0001") && shown.contains('*'),
        "{shown}"
    );
    // What HQ would be sent: every queued record's data.
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let queued: Vec<String> = db
        .prepare("SELECT data FROM outbox")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!queued.is_empty());
    // And every byte of the store, its WAL included.
    let mut bytes = std::fs::read(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    bytes.extend(
        std::fs::read(
            edge.data_dir()
                .join(format!("{}-wal", venue_edge::runtime::STORE_FILE)),
        )
        .unwrap_or_default(),
    );
    for id in ids {
        assert!(
            queued.iter().all(|d| !d.contains(id)),
            "{id} queued for HQ in clear"
        );
        assert!(
            !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
            "{id} stored in clear"
        );
        assert!(!order.to_string().contains(id), "{id} in the API's answer");
    }
}
