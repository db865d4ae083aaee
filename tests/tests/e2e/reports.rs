//! The edge box's own reports (protocol.md section 2): revenue by product, area, category,
//! merchant and party from its journal, as JSON and CSV; visitor flow per area and hour.

use venue_devices::formats::Format;
use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Broker, Edge, EdgeOptions, order};

/// `GET` a report as `role`: status and body.
async fn report(edge: &Edge, path: &str, role: &str) -> (u16, serde_json::Value) {
    edge.get_as(path, role).await
}

/// The rows of a revenue report as (key, gross, refunds, net, count), in the report's order.
fn rows(r: &serde_json::Value) -> Vec<(String, i64, i64, i64, i64)> {
    r["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {r}"))
        .iter()
        .map(|x| {
            (
                x["key"].as_str().unwrap().to_owned(),
                x["gross_fen"].as_i64().unwrap(),
                x["refunds_fen"].as_i64().unwrap(),
                x["net_fen"].as_i64().unwrap(),
                x["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(key: &str, gross: i64, refunds: i64, count: i64) -> (String, i64, i64, i64, i64) {
    (key.to_owned(), gross, refunds, gross - refunds, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_revenue_and_flow_are_reported_by_every_key_to_the_fen() {
    let edge = Edge::start(EdgeOptions {
        broker: Broker::Embedded,
        ..EdgeOptions::default()
    })
    .await;
    let today = Edge::today();
    // Tickets: two park-day orders of 2 (one refunded whole) and a ride order of 3.
    let mut park = Vec::new();
    for i in 0..2 {
        let (s, o) = edge
            .post_as(
                "/api/v1/orders",
                "ticketing",
                order(&format!("rep-park-{i}"), "web", &today, "park-day", 2, true),
            )
            .await;
        assert_eq!(s, 201, "{o}");
        park.push(o);
    }
    let (s, ride) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("rep-ride", "window", &today, "coaster-ride", 3, false),
        )
        .await;
    assert_eq!(s, 201, "{ride}");
    let refunded = park[1]["order_id"].as_str().unwrap();
    let (s, r) = edge
        .post_as(
            &format!("/api/v1/orders/{refunded}/refunds"),
            "ticketing",
            serde_json::json!({"refund_ref": "rep-rf", "reason": "rain"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    // POS: a tea sale of two categories, a gift sale voided, a gift sale partly refunded.
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let now = Edge::now_at();
    let t1 = tea.message(
        "sale",
        None,
        &now,
        "cash",
        &[line("tea", "food", 2, 5000), line("juice", "drink", 1, 800)],
    );
    assert!(tea.send(&t1).await.unwrap().accepted());
    let g1 = gift.message(
        "sale",
        None,
        &now,
        "cash",
        &[line("fan", "souvenir", 1, 5000)],
    );
    assert!(gift.send(&g1).await.unwrap().accepted());
    let void = gift.message("void", g1["event_id"].as_str(), &now, "cash", &[]);
    assert!(gift.send(&void).await.unwrap().accepted());
    let g2 = gift.message(
        "sale",
        None,
        &now,
        "wechat",
        &[line("hat", "souvenir", 2, 2500)],
    );
    assert!(gift.send(&g2).await.unwrap().accepted());
    let back = gift.message(
        "refund",
        g2["event_id"].as_str(),
        &now,
        "wechat",
        &[line("hat", "souvenir", 1, 2500)],
    );
    assert!(gift.send(&back).await.unwrap().accepted());

    let q = |by: &str| format!("/api/v1/reports/revenue?from={today}&to={today}&by={by}");
    let (s, by_product) = report(&edge, &q("product"), "manager").await;
    assert_eq!(s, 200, "{by_product}");
    assert_eq!(
        rows(&by_product),
        [
            // POS revenue has no product.
            row("-", 10000 + 800 + 5000, 2500, 2),
            row("coaster-ride", 3 * 3000, 0, 3),
            row("park-day", 4 * 12000, 2 * 12000, 4),
        ]
    );
    assert_eq!(
        by_product["total"],
        serde_json::json!({"gross_fen": 72800, "refunds_fen": 26500, "net_fen": 46300, "count": 9})
    );
    assert_eq!(by_product["rows"][0]["period"], today.as_str());
    let (_, by_category) = report(&edge, &q("category"), "finance-reviewer").await;
    assert_eq!(
        rows(&by_category),
        [
            // A sale is counted once, under its first category.
            row("drink", 800, 0, 1),
            row("food", 10000, 0, 0),
            row("souvenir", 5000, 2500, 1),
            row("ticket", 57000, 24000, 7),
        ]
    );
    let (_, by_merchant) = report(&edge, &q("merchant"), "auditor").await;
    assert_eq!(
        rows(&by_merchant),
        [
            row("-", 57000, 24000, 7),
            row("m-gift-shop", 5000, 2500, 1),
            row("m-tea-house", 10800, 0, 1),
        ]
    );
    let (_, by_party) = report(&edge, &q("party"), "finance-payer").await;
    assert_eq!(
        rows(&by_party),
        [
            // Park tickets are under no contract; the coaster's rides are its operator's.
            row("-", 48000, 24000, 4),
            row("p-coaster-co", 9000, 0, 3),
            row("p-gift-shop", 5000, 2500, 1),
            row("p-tea-house", 10800, 0, 1),
        ]
    );
    let (_, by_area) = report(&edge, &q("area"), "manager").await;
    assert_eq!(
        rows(&by_area),
        [
            row("park", 48000 + 10800 + 5000, 24000 + 2500, 6),
            row("ride:coaster", 9000, 0, 3),
        ]
    );
    let (_, month) = report(&edge, &format!("{}&period=month", q("area")), "manager").await;
    assert_eq!(month["period"], "month");
    assert_eq!(month["rows"][0]["period"], format!("{}-01", &today[..7]));
    assert_eq!(month["total"], by_area["total"]);

    // CSV, as a spreadsheet takes it.
    let csv = edge
        .api
        .send_with(
            hyper::Method::GET,
            &q("merchant"),
            Some(edge.token("manager")),
            &[("accept", "text/csv")],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.text(),
        format!(
            "period,key,gross_fen,refunds_fen,net_fen,count\r\n{today},-,57000,24000,33000,7\r\n{today},m-gift-shop,5000,2500,2500,1\r\n{today},m-tea-house,10800,0,10800,1\r\n"
        )
    );

    // Flow: two park tickets in at the north gate, one out again, three riders in.
    let north = edge.turnstile("g-north-2", Format::StdJson).await;
    let coaster = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let codes: Vec<&str> = park[0]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    for code in &codes {
        assert_eq!(north.scan(code, true, 1, None).await.unwrap().admitted, 1);
    }
    assert_eq!(
        north.scan(codes[0], false, 1, None).await.unwrap().admitted,
        1
    );
    for t in ride["tickets"].as_array().unwrap() {
        let code = t["code"].as_str().unwrap();
        assert_eq!(coaster.scan(code, true, 1, None).await.unwrap().admitted, 1);
    }
    // A refunded ticket is denied, and a denial is no flow.
    let gone = park[1]["tickets"][0]["code"].as_str().unwrap();
    assert_eq!(north.scan(gone, true, 1, None).await.unwrap().admitted, 0);
    let (s, flow) = report(
        &edge,
        &format!("/api/v1/reports/flow?date={today}"),
        "manager",
    )
    .await;
    assert_eq!(s, 200, "{flow}");
    assert_eq!(
        (flow["date"].as_str(), flow["interval"].as_str()),
        (Some(today.as_str()), Some("hour"))
    );
    let area = |id: &str| {
        flow["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["area"] == id)
            .unwrap_or_else(|| panic!("no area {id}: {flow}"))
            .clone()
    };
    let p = area("park");
    assert_eq!(
        (
            p["entries"].as_i64(),
            p["exits"].as_i64(),
            p["inside_now"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{p}"
    );
    let intervals = p["intervals"].as_array().unwrap();
    let last = intervals.last().unwrap();
    assert_eq!(last["inside"].as_i64(), Some(1), "{p}");
    let summed: i64 = intervals
        .iter()
        .map(|i| i["entries"].as_i64().unwrap())
        .sum();
    assert_eq!(summed, 2);
    let start = last["start"].as_str().unwrap();
    assert!(
        start.starts_with(&today) && start.ends_with(":00:00+08:00"),
        "{start}"
    );
    let c = area("ride:coaster");
    assert_eq!(
        (c["entries"].as_i64(), c["exits"].as_i64()),
        (Some(3), Some(0)),
        "{c}"
    );
    // An area nobody entered is listed, empty.
    let shuttle = area("shuttle");
    assert_eq!(
        (
            shuttle["entries"].as_i64(),
            shuttle["intervals"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let (_, quarter) = report(
        &edge,
        &format!("/api/v1/reports/flow?date={today}&interval=15m"),
        "auditor",
    )
    .await;
    assert_eq!(quarter["interval"], "15m");
    let q_start = quarter["areas"][0]["intervals"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["start"]
        .as_str()
        .unwrap()
        .to_owned();
    let minute: u32 = q_start[14..16].parse().unwrap();
    assert_eq!(minute % 15, 0, "{q_start}");
    // Another day had no flow.
    let (_, tomorrow) = report(
        &edge,
        &format!("/api/v1/reports/flow?date={}", Edge::in_days(1)),
        "manager",
    )
    .await;
    assert_eq!(
        tomorrow["areas"][0]["entries"].as_i64(),
        Some(0),
        "{tomorrow}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_queries_and_tokens_that_are_wrong_are_refused_with_what_is_wrong() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let today = Edge::today();
    let revenue = |q: &str| format!("/api/v1/reports/revenue?{q}");
    for (query, says) in [
        (
            format!("from={today}&to={today}&by=edge"),
            "is not one of product, area, category, party, merchant",
        ),
        (
            format!("from={today}&by=product"),
            "to=YYYY-MM-DD is required",
        ),
        (
            format!("from={today}&to=2020-01-01&by=product"),
            "is after to",
        ),
        (
            format!("from={today}&to={today}&by=product&period=year"),
            "period=\"year\"",
        ),
        (
            format!("from=yesterday&to={today}&by=product"),
            "is not a date",
        ),
        (
            format!("from={today}&to={today}&by=product&limit=3"),
            "unknown parameter",
        ),
    ] {
        let (s, e) = report(&edge, &revenue(&query), "manager").await;
        assert_eq!(s, 400, "{query}: {e}");
        assert_eq!(e["error"]["code"], "bad_query", "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    for query in ["interval=5m", "date=2026-13-01", "area=park"] {
        let (s, e) = report(&edge, &format!("/api/v1/reports/flow?{query}"), "manager").await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("bad_query")),
            "{query}: {e}"
        );
    }
    let ok = revenue(&format!("from={today}&to={today}&by=product"));
    // Who may read which report.
    for (path, role) in [
        (&ok, "ticketing"),
        (&ok, "integration"),
        (&"/api/v1/reports/flow".to_owned(), "finance-reviewer"),
    ] {
        let (s, e) = report(&edge, path, role).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path} as {role}: {e}"
        );
    }
    let none = edge.api.get(&ok, None).await.unwrap();
    assert_eq!(none.status, 401);
    let wrong = edge.api.get(&ok, Some("not-a-token")).await.unwrap();
    assert_eq!(wrong.status, 401);
    let post = edge
        .api
        .post_json(&ok, Some(edge.token("manager")), &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(post.status, 405);
    // An empty day is an empty report, not an error.
    let (s, empty) = report(&edge, &ok, "manager").await;
    assert_eq!(s, 200);
    assert_eq!(empty["rows"], serde_json::json!([]));
    assert_eq!(empty["total"]["net_fen"], 0);
}

/// The consumption analysis (protocol.md, Reports) against sums worked by hand: eight
/// visitors, two channels, three POS sales (one voided, one partly refunded), two stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumption_analysis_adds_up_visitors_spend_hours_stays_channels_and_origins() {
    let edge = Edge::start(EdgeOptions {
        broker: Broker::Embedded,
        ..EdgeOptions::default()
    })
    .await;
    let today = Edge::today();
    // Six real-name park days bought on the web: five from Zhejiang (33), one from Beijing.
    let visitors: Vec<serde_json::Value> = (0..6)
        .map(|i| {
            let number = if i < 5 {
                format!("3301061990010{:05}", i)
            } else {
                "110101199001019999".to_owned()
            };
            serde_json::json!({"name": format!("游客{i}"), "id_type": "id_card", "id_number": number})
        })
        .collect();
    let (s, park) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            serde_json::json!({
                "order_ref": "cons-park", "channel": "web", "visit_date": today,
                "items": [{"product": "park-day", "qty": 6, "visitors": visitors}],
                "payment": {"method": "wechat", "ref": "wx-cons-park"},
            }),
        )
        .await;
    assert_eq!(s, 201, "{park}");
    let (s, ride) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("cons-ride", "window", &today, "coaster-ride", 2, false),
        )
        .await;
    assert_eq!(s, 201, "{ride}");
    // Everyone enters; two park visitors leave again, after stays timed by the scans.
    let north = edge.turnstile("g-north-2", Format::StdJson).await;
    let coaster = edge.turnstile("g-coaster-1", Format::StdJson).await;
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let now = chrono::Utc::now().with_timezone(&tz);
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 1)
        .unwrap()
        .and_local_timezone(tz)
        .unwrap();
    let entered = (now - chrono::Duration::minutes(20)).max(midnight);
    let half = entered + (now - entered) / 2;
    let at =
        |t: chrono::DateTime<chrono_tz::Tz>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let codes: Vec<String> = park["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_owned())
        .collect();
    for code in &codes {
        let mut scan = north.scan_input(code, true, 1, None);
        scan.at = at(entered);
        assert_eq!(north.send(&scan).await.unwrap().admitted, 1);
    }
    for (code, left) in [(&codes[0], half), (&codes[1], now)] {
        let mut scan = north.scan_input(code, false, 1, None);
        scan.at = at(left);
        assert_eq!(north.send(&scan).await.unwrap().admitted, 1);
    }
    for t in ride["tickets"].as_array().unwrap() {
        let code = t["code"].as_str().unwrap();
        assert_eq!(coaster.scan(code, true, 1, None).await.unwrap().admitted, 1);
    }
    // POS: tea 2 x 50.00 and a juice 8.00; a fan sold and voided; two hats, one returned.
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let sold_at = Edge::now_at();
    let t1 = tea.message(
        "sale",
        None,
        &sold_at,
        "cash",
        &[line("tea", "food", 2, 5000), line("juice", "drink", 1, 800)],
    );
    assert!(tea.send(&t1).await.unwrap().accepted());
    let fan = gift.message(
        "sale",
        None,
        &sold_at,
        "cash",
        &[line("fan", "souvenir", 1, 5000)],
    );
    assert!(gift.send(&fan).await.unwrap().accepted());
    let void = gift.message("void", fan["event_id"].as_str(), &sold_at, "cash", &[]);
    assert!(gift.send(&void).await.unwrap().accepted());
    let hats = gift.message(
        "sale",
        None,
        &sold_at,
        "wechat",
        &[line("hat", "souvenir", 2, 2500)],
    );
    assert!(gift.send(&hats).await.unwrap().accepted());
    let back = gift.message(
        "refund",
        hats["event_id"].as_str(),
        &sold_at,
        "wechat",
        &[line("hat", "souvenir", 1, 2500)],
    );
    assert!(gift.send(&back).await.unwrap().accepted());

    let path = format!("/api/v1/reports/consumption?from={today}&to={today}");
    let (s, r) = report(&edge, &path, "manager").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["visitors"], 8, "{r}");
    assert_eq!(r["ticket_net_fen"], 6 * 12000 + 2 * 3000);
    // 108.00 + 50.00 - 25.00; the voided fan is not spend.
    assert_eq!(r["pos_net_fen"], 13300);
    // 13300 / 8 = 1662.5, half up.
    assert_eq!(r["spend_per_visitor_fen"], 1663);
    assert_eq!(
        r["by_category"],
        serde_json::json!([
            {"category": "food", "net_fen": 10000, "count": 1, "share_bp": 7519},
            {"category": "souvenir", "net_fen": 2500, "count": 1, "share_bp": 1880},
            {"category": "drink", "net_fen": 800, "count": 1, "share_bp": 602},
        ])
    );
    assert_eq!(
        r["top_skus"],
        serde_json::json!([
            {"sku": "tea", "merchant": "m-tea-house", "net_fen": 10000, "qty": 2},
            {"sku": "hat", "merchant": "m-gift-shop", "net_fen": 2500, "qty": 1},
            {"sku": "juice", "merchant": "m-tea-house", "net_fen": 800, "qty": 1},
        ])
    );
    let stays = [
        (half - entered).num_seconds() / 60,
        (now - entered).num_seconds() / 60,
    ];
    assert_eq!(
        r["dwell_min"],
        serde_json::json!({"visits": 2, "p50": stays[0], "p90": stays[1]})
    );
    assert_eq!(
        r["by_channel"],
        serde_json::json!([
            {"channel": "web", "visitors": 6, "ticket_net_fen": 72000},
            {"channel": "window", "visitors": 2, "ticket_net_fen": 6000},
        ])
    );
    // Beijing's one visitor is folded into "other": no row singles anyone out.
    assert_eq!(
        r["origin"],
        serde_json::json!([{"province": "浙江", "visitors": 5}, {"province": "other", "visitors": 1}])
    );
    let hours = r["by_hour"].as_array().unwrap();
    let sum = |k: &str| hours.iter().map(|h| h[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        (sum("pos_net_fen"), sum("sales"), sum("entries")),
        (13300, 2, 8)
    );
    assert_eq!(hours.last().unwrap()["in_park"], 4, "{hours:?}");
    // The same as CSV and XLSX downloads; a bad range is a 400 naming the problem.
    let csv = edge
        .api
        .send_with(
            hyper::Method::GET,
            &format!("{path}&format=csv"),
            Some(edge.token("auditor")),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(csv.status, 200);
    assert!(
        csv.text().starts_with(&format!(
            "from,to,visitors,ticket_net_fen,pos_net_fen,spend_per_visitor_fen,dwell_visits,dwell_p50_min,dwell_p90_min\r\n{today},{today},8,78000,13300,1663,2,"
        )),
        "{}",
        csv.text()
    );
    let xlsx = edge
        .api
        .send_with(
            hyper::Method::GET,
            &format!("{path}&format=xlsx"),
            Some(edge.token("finance-reviewer")),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with(b"PK"), "a workbook is a zip");
    let (s, bad) = report(
        &edge,
        &format!("/api/v1/reports/consumption?from={today}&to=2020-01-01"),
        "manager",
    )
    .await;
    assert_eq!(
        (s, bad["error"]["code"].as_str()),
        (400, Some("bad_query")),
        "{bad}"
    );
    let (s, _) = report(&edge, &path, "ticketing").await;
    assert_eq!(s, 403);

    // The command line prints the same analysis: CSV byte for byte, and a table in yuan.
    let out = edge.cli(
        &[
            "report",
            "consumption",
            "--from",
            &today,
            "--to",
            &today,
            "--csv",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv.text());
    let out = edge.cli(
        &["report", "consumption", "--from", &today, "--to", &today],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("visitors 8") && text.contains("per visitor ¥16.63") && text.contains("浙江"),
        "{text}"
    );
    let out = edge.cli(
        &[
            "report", "revenue", "--from", &today, "--to", &today, "--by", "category",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("souvenir") && text.contains("total"),
        "{text}"
    );
    let out = edge.cli(&["report", "flow", "--date", &today, "--csv"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("area,start,entries,exits,inside\r\npark,"),
        "{text}"
    );
    let out = edge.cli(
        &["report", "revenue", "--from", &today, "--to", "2020-01-01"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("after"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
