//! Issue 4: the outbox, the uplink and HQ, with real processes: `venue-edge` boxes
//! uploading to `venue-hq` on SQLite and on the PostgreSQL at 127.0.0.1:5432, through a
//! simulated WAN link that can be cut or slowed. Every scenario ends with the same check:
//! HQ holds every record the box queued exactly once, and its revenue report matches
//! the money of the day to the fen.

use std::time::{Duration, Instant};

use venue_devices::formats::Format;
use venue_devices::link::Link;
use venue_devices::pos::{PosTerminal, line};
use venue_tests::hq::{Hq, HqDatabase};
use venue_tests::{Edge, EdgeOptions, bill_of, order};

/// Runs a scenario against HQ on SQLite and on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod hq_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(venue_tests::hq::HqDatabase::Sqlite).await
                }
            )*
        }
        mod hq_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(venue_tests::hq::HqDatabase::Postgres).await
                }
            )*
        }
    };
}

mod audit_anchor;
mod refusals;

use audit_anchor::a_log_cut_back_and_rebuilt_is_caught_by_hq;

on_both_databases!(
    hq_away_for_a_whole_day_then_back_gets_everything_once,
    an_edge_killed_while_hq_holds_its_batch_sends_it_again_without_doubling,
    hq_killed_mid_ingest_loses_nothing,
    a_slow_hq_past_the_timeout_gets_every_record_once,
    two_edge_boxes_upload_at_once,
    a_log_cut_back_and_rebuilt_is_caught_by_hq,
);

/// What a day of traffic put on the books, for comparing with HQ's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Money {
    gross_fen: i64,
    refunds_fen: i64,
    count: i64,
}

impl Money {
    fn add(self, o: Money) -> Money {
        Money {
            gross_fen: self.gross_fen + o.gross_fen,
            refunds_fen: self.refunds_fen + o.refunds_fen,
            count: self.count + o.count,
        }
    }
}

fn edge_id(edge: &Edge) -> String {
    format!("edge-{}", edge.zone)
}

fn uplink_toml(url: &str, token: &str, batch_records: u32) -> String {
    format!(
        "\n[uplink]\nurl = \"{url}\"\ntoken = \"{token}\"\nbatch_records = {batch_records}\nbatch_age_ms = 200\nbackoff_min_ms = 100\nbackoff_max_ms = 800\ntimeout_s = 2\n"
    )
}

/// An edge box uploading to `url` with `token` (its HQ id is `edge-{zone}`, which the
/// token must be for: the zone is known only after start, so the token is given a
/// placeholder edge id and fixed up by `edge_with_hq`).
async fn edge_with_hq(hq: &Hq, via: &str, batch_records: u32) -> Edge {
    let mut edge = Edge::start(EdgeOptions {
        extra_toml: uplink_toml(via, "not-yet", batch_records),
        ..EdgeOptions::default()
    })
    .await;
    let token = hq.edge_token(&edge_id(&edge));
    retoken(&mut edge, &token).await;
    edge
}

/// Restarts the box with another HQ token.
async fn retoken(edge: &mut Edge, token: &str) {
    edge.stop();
    let text = std::fs::read_to_string(&edge.config_path).unwrap();
    let start = text.find("token = \"").unwrap() + "token = \"".len();
    let end = start + text[start..].find('"').unwrap();
    let text = format!("{}{token}{}", &text[..start], &text[end..]);
    std::fs::write(&edge.config_path, text).unwrap();
    edge.spawn().await;
}

/// A day at the venue: orders, a refund, a rebooking, scans, POS sales and a refund,
/// settled, approved and paid. Returns the day's money as HQ should report it.
async fn a_day(edge: &Edge, tag: &str) -> Money {
    let today = Edge::today();
    let mut codes = Vec::new();
    let mut orders = Vec::new();
    for i in 0..4 {
        let (s, o) = edge
            .post_as(
                "/api/v1/orders",
                "ticketing",
                order(
                    &format!("{tag}-web-{i}"),
                    "web",
                    &today,
                    "park-day",
                    2,
                    true,
                ),
            )
            .await;
        assert_eq!(s, 201, "{o}");
        for t in o["tickets"].as_array().unwrap() {
            codes.push(t["code"].as_str().unwrap().to_owned());
        }
        orders.push(o);
    }
    let (s, ride) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order(
                &format!("{tag}-ride"),
                "window",
                &today,
                "coaster-ride",
                3,
                false,
            ),
        )
        .await;
    assert_eq!(s, 201, "{ride}");
    // The last park order is refunded whole; one ticket of the first moves to tomorrow.
    let refunded = orders[3]["order_id"].as_str().unwrap();
    let (s, r) = edge
        .post_as(
            &format!("/api/v1/orders/{refunded}/refunds"),
            "ticketing",
            serde_json::json!({"refund_ref": format!("{tag}-rf"), "reason": "rain"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let moved = orders[0]["tickets"][0]["ticket_id"].as_str().unwrap();
    let (s, r) = edge
        .post_as(
            &format!("/api/v1/tickets/{moved}/rebook"),
            "ticketing",
            serde_json::json!({"visit_date": Edge::in_days(1)}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let mut admitted = 0;
    for code in &codes {
        if gate.scan(code, true, 1, None).await.unwrap().admitted > 0 {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5, "8 tickets, 2 refunded, 1 moved to tomorrow");

    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let s1 = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea", "food", 2, 5000)],
    );
    assert!(tea.send(&s1).await.unwrap().accepted());
    let s2 = gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "wechat",
        &[line("fan", "souvenir", 1, 5000)],
    );
    assert!(gift.send(&s2).await.unwrap().accepted());
    let back = gift.message(
        "refund",
        s2["event_id"].as_str(),
        &Edge::now_at(),
        "wechat",
        &[line("fan", "souvenir", 1, 1000)],
    );
    assert!(gift.send(&back).await.unwrap().accepted());

    let bills = edge.settle(&today).await;
    let tea_bill = bill_of(&bills, "p-tea-house")["bill_id"]
        .as_str()
        .unwrap()
        .to_owned();
    edge.approve(&tea_bill).await;
    let paid = edge.pay(&tea_bill).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    // Tickets: 8 park-day at 12000 and 3 rides at 3000, 2 park-day refunded; POS: 10000 and
    // 5000 sold, 1000 refunded.
    Money {
        gross_fen: 8 * 12000 + 3 * 3000 + 10000 + 5000,
        refunds_fen: 2 * 12000 + 1000,
        count: 11 + 2,
    }
}

/// Many small facts quickly: `n` POS sales of 100 fen.
async fn many_sales(edge: &Edge, n: usize) -> Money {
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let mut pending = Vec::new();
    for _ in 0..n {
        let (tea, m) = (
            tea.clone(),
            tea.message(
                "sale",
                None,
                &Edge::now_at(),
                "cash",
                &[line("cup", "drink", 1, 100)],
            ),
        );
        pending.push(tokio::spawn(async move {
            tea.send(&m).await.unwrap().accepted()
        }));
        if pending.len() >= 50 {
            for p in pending.drain(..) {
                assert!(p.await.unwrap());
            }
        }
    }
    for p in pending {
        assert!(p.await.unwrap());
    }
    Money {
        gross_fen: n as i64 * 100,
        refunds_fen: 0,
        count: n as i64,
    }
}

async fn health(edge: &Edge) -> serde_json::Value {
    edge.api.get("/healthz", None).await.unwrap().json()
}

/// Waits until the box's outbox is empty and everything is acknowledged.
async fn drained(edge: &Edge, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let h = health(edge).await;
        if h["uplink"]["pending_records"] == 0 && h["uplink"]["last_acked_batch"].as_u64() > Some(0)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain: {}\n{}",
            h["uplink"],
            edge.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the box's store says of its uploads: (records ever queued, records in batches HQ
/// acknowledged, of which HQ said it already had them). Read from the box's SQLite file.
fn uploads(edge: &Edge) -> (i64, i64, i64) {
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let queued: i64 = db
        .query_row(
            // Numbers run from 1 without gaps: the highest ever handed out, queued or sent.
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM outbox), 0),
                        COALESCE((SELECT MAX(last_seq) FROM uplink_batches), 0))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (acknowledged, duplicates): (Option<i64>, Option<i64>) = db
        .query_row(
            "SELECT SUM(records), SUM(duplicates) FROM uplink_batches WHERE acked_at IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (queued, acknowledged.unwrap_or(0), duplicates.unwrap_or(0))
}

/// Records HQ holds of one edge box.
async fn records_of(hq: &Hq, edge: &str) -> i64 {
    hq.edges().await["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["edge_id"] == edge)
        .and_then(|e| e["records"].as_i64())
        .unwrap_or(0)
}

/// HQ's revenue report of today for one edge box.
async fn hq_money(hq: &Hq, edge: &str) -> Money {
    let today = Edge::today();
    let report = hq
        .revenue(&format!("from={today}&to={today}&period=day&by=edge"))
        .await;
    report["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {report}"))
        .iter()
        .filter(|r| r["key"] == edge)
        .map(|r| Money {
            gross_fen: r["gross_fen"].as_i64().unwrap(),
            refunds_fen: r["refunds_fen"].as_i64().unwrap(),
            count: r["count"].as_i64().unwrap(),
        })
        .fold(Money::default(), Money::add)
}

/// Every record queued reached HQ once, and the money matches.
async fn arrived_once(hq: &Hq, edge: &Edge, money: Money) {
    let (queued, acknowledged, _) = uploads(edge);
    assert!(queued > 0);
    assert_eq!(
        acknowledged, queued,
        "every queued record went in one acknowledged batch"
    );
    assert_eq!(hq_money(hq, &edge_id(edge)).await, money);
    assert_eq!(
        records_of(hq, &edge_id(edge)).await,
        queued,
        "HQ holds each record once"
    );
}

async fn hq_away_for_a_whole_day_then_back_gets_everything_once(db: HqDatabase) {
    let mut hq = Hq::start(db).await;
    let link = Link::start(hq.http_addr.parse().unwrap()).await.unwrap();
    let mut edge = edge_with_hq(&hq, &format!("http://{}", link.addr), 20).await;
    hq.stop();
    let money = a_day(&edge, "away").await;
    // HQ is away the whole day: the box kept working and says so.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut h = health(&edge).await;
    while h["uplink"]["state"] != "retrying" || h["uplink"]["pending_records"] == 0 {
        assert!(Instant::now() < deadline, "{h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = health(&edge).await;
    }
    assert!(h["uplink"]["pending_records"].as_i64().unwrap() > 0, "{h}");
    assert!(h["uplink"]["last_error"].as_str().is_some(), "{h}");
    let metrics = edge.api.get("/metrics", None).await.unwrap().text();
    assert!(
        metrics.contains("venue_edge_uplink_pending_records"),
        "{metrics}"
    );
    // A restart of the box while HQ is away keeps the queue.
    edge.stop();
    edge.spawn().await;
    hq.spawn().await;
    drained(&edge, Duration::from_secs(60)).await;
    arrived_once(&hq, &edge, money).await;
    reports_agree(&hq, &edge).await;
}

/// The box's own revenue report (from its journal) says what HQ's says (from the records
/// it was sent), by every key both offer.
async fn reports_agree(hq: &Hq, edge: &Edge) {
    let today = Edge::today();
    for by in ["product", "area", "category", "party", "merchant"] {
        let query = format!("from={today}&to={today}&period=week&by={by}");
        let central = hq.revenue(&query).await;
        let (s, own) = edge
            .get_as(&format!("/api/v1/reports/revenue?{query}"), "manager")
            .await;
        assert_eq!(s, 200, "{own}");
        assert_eq!(own, central, "by={by}");
    }
}

async fn an_edge_killed_while_hq_holds_its_batch_sends_it_again_without_doubling(db: HqDatabase) {
    let hq = Hq::start(db).await;
    let link = Link::start(hq.http_addr.parse().unwrap()).await.unwrap();
    let mut edge = edge_with_hq(&hq, &format!("http://{}", link.addr), 500).await;
    // HQ stores each batch at once, but its answer takes 3 s to come back.
    link.slow(Duration::from_secs(3));
    let money = many_sales(&edge, 300).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_of(&hq, &edge_id(&edge)).await == 0 {
        assert!(Instant::now() < deadline, "HQ never got the batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        health(&edge).await["uplink"]["last_acked_batch"],
        0,
        "the answer is still on its way"
    );
    edge.kill();
    link.slow(Duration::ZERO);
    edge.spawn().await;
    drained(&edge, Duration::from_secs(60)).await;
    let (_, _, duplicates) = uploads(&edge);
    assert!(
        duplicates > 0,
        "the batch HQ held was sent again and recognised"
    );
    arrived_once(&hq, &edge, money).await;
}

async fn hq_killed_mid_ingest_loses_nothing(db: HqDatabase) {
    let mut hq = Hq::start(db).await;
    let link = Link::start(hq.http_addr.parse().unwrap()).await.unwrap();
    let edge = edge_with_hq(&hq, &format!("http://{}", link.addr), 40).await;
    let sales = tokio::spawn({
        let (addr, zone) = (edge.mqtt_addr.clone(), edge.zone.clone());
        async move {
            let tea = PosTerminal::connect(&addr, &zone, "pos-tea-1", "m-tea-house").await;
            for _ in 0..400 {
                let m = tea.message(
                    "sale",
                    None,
                    &Edge::now_at(),
                    "cash",
                    &[line("cup", "drink", 1, 100)],
                );
                assert!(tea.send(&m).await.unwrap().accepted());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_of(&hq, &edge_id(&edge)).await < 40 {
        assert!(Instant::now() < deadline, "HQ got nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hq.kill();
    sales.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    hq.spawn().await;
    drained(&edge, Duration::from_secs(60)).await;
    arrived_once(
        &hq,
        &edge,
        Money {
            gross_fen: 400 * 100,
            refunds_fen: 0,
            count: 400,
        },
    )
    .await;
}

async fn a_slow_hq_past_the_timeout_gets_every_record_once(db: HqDatabase) {
    let hq = Hq::start(db).await;
    let link = Link::start(hq.http_addr.parse().unwrap()).await.unwrap();
    let edge = edge_with_hq(&hq, &format!("http://{}", link.addr), 20).await;
    // Slower than the box's 2 s timeout: each batch reaches HQ, the answer never reaches
    // the box in time, and the box tries again.
    link.slow(Duration::from_secs(3));
    let money = a_day(&edge, "slow").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&edge).await["uplink"]["failures_in_a_row"].as_u64() < Some(2) {
        assert!(Instant::now() < deadline, "the box never timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A scan is answered at once all the while.
    let (s, o) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("slow-extra", "web", &Edge::today(), "shuttle-day", 1, false),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    let gate = edge.turnstile("g-shuttle-1", Format::StdJson).await;
    let started = Instant::now();
    let v = gate
        .scan(o["tickets"][0]["code"].as_str().unwrap(), true, 1, None)
        .await
        .unwrap();
    assert_eq!(v.admitted, 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "gates never wait for HQ"
    );
    link.slow(Duration::ZERO);
    drained(&edge, Duration::from_secs(60)).await;
    let (_, _, duplicates) = uploads(&edge);
    assert!(
        duplicates > 0,
        "the timed-out batches HQ had stored came back as duplicates"
    );
    let extra = Money {
        gross_fen: 2000,
        refunds_fen: 0,
        count: 1,
    };
    arrived_once(&hq, &edge, money.add(extra)).await;
}

async fn two_edge_boxes_upload_at_once(db: HqDatabase) {
    let hq = Hq::start(db).await;
    let url = format!("http://{}", hq.http_addr);
    let (a, b) = tokio::join!(edge_with_hq(&hq, &url, 10), edge_with_hq(&hq, &url, 10));
    let (ma, mb) = tokio::join!(a_day(&a, "a"), a_day(&b, "b"));
    let (ma2, mb2) = tokio::join!(many_sales(&a, 100), many_sales(&b, 100));
    tokio::join!(
        drained(&a, Duration::from_secs(60)),
        drained(&b, Duration::from_secs(60))
    );
    arrived_once(&hq, &a, ma.add(ma2)).await;
    arrived_once(&hq, &b, mb.add(mb2)).await;
    // Across boxes: the report's total is both days.
    let today = Edge::today();
    let all = hq
        .revenue(&format!("from={today}&to={today}&period=day&by=party"))
        .await;
    let both = ma.add(ma2).add(mb).add(mb2);
    assert_eq!(
        all["total"]["gross_fen"].as_i64(),
        Some(both.gross_fen),
        "{all}"
    );
    assert_eq!(all["total"]["count"].as_i64(), Some(both.count), "{all}");
}
