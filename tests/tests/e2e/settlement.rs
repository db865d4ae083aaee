//! Issue 3: POS sales over MQTT into the journal, settled by contract, reviewed, with every
//! amount worked out by hand here.

use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Edge, EdgeOptions, order};

fn yesterday_noon() -> String {
    format!("{}T12:00:00+08:00", Edge::in_days(-1))
}

fn bill_of<'a>(bills: &'a serde_json::Value, party: &str) -> &'a serde_json::Value {
    bills["bills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["party"] == party)
        .unwrap_or_else(|| panic!("no bill for {party}: {bills}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_sales_is_settled_by_contract_to_the_fen_and_reviewed() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let today = Edge::today();
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let photo = PosTerminal::connect(
        &edge.mqtt_addr,
        &edge.zone,
        "pos-photo-1",
        "m-coaster-photo",
    )
    .await;

    // Yesterday's tea-house bill, empty, approved; a sale of yesterday then arrives late.
    let (s, y) = edge
        .post_as(
            &format!("/api/v1/settlements?date={}", Edge::in_days(-1)),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{y}");
    let yesterday_tea = bill_of(&y, "p-tea-house")["bill_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{yesterday_tea}/approve"),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let late = tea.message(
        "sale",
        None,
        &yesterday_noon(),
        "cash",
        &[line("tea-02", "food", 1, 1000)],
    );
    assert!(tea.send(&late).await.unwrap().accepted());

    // Tea house today: the commission worked example of settlement.md.
    let sale = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "wechat",
        &[
            line("tea-01", "food", 1, 12345),
            line("juice", "drink", 1, 9999),
            line("fan", "souvenir", 1, 2000),
        ],
    );
    let ack = tea.send(&sale).await.unwrap();
    assert!(ack.accepted(), "{ack:?}");
    assert_eq!(
        tea.send(&sale).await.unwrap(),
        ack,
        "a redelivery gets the same ack and is not counted twice"
    );

    // Bad input, each with its reason; nothing of it reaches the books.
    let mut wrong_total = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 2, 1800)],
    );
    wrong_total["total_fen"] = 3500.into();
    let a = tea.send(&wrong_total).await.unwrap();
    assert_eq!(
        a.error.as_deref(),
        Some("total_mismatch: lines sum to 3600, total says 3500")
    );
    let mut foreign_merchant = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("x", "food", 1, 100)],
    );
    foreign_merchant["merchant"] = "m-gift-shop".into();
    assert!(
        tea.send(&foreign_merchant)
            .await
            .unwrap()
            .error
            .unwrap()
            .starts_with("merchant_mismatch")
    );
    let orphan = tea.message(
        "refund",
        Some("pos-tea-1-nope"),
        &Edge::now_at(),
        "cash",
        &[line("x", "food", 1, 100)],
    );
    assert!(
        tea.send(&orphan)
            .await
            .unwrap()
            .error
            .unwrap()
            .starts_with("unknown_sale")
    );
    let no_lines = tea.message("sale", None, &Edge::now_at(), "cash", &[]);
    assert!(
        tea.send(&no_lines)
            .await
            .unwrap()
            .error
            .unwrap()
            .starts_with("no_lines")
    );
    let a = tea
        .send_raw(
            "tea-broken",
            br#"{"event_id":"tea-broken","kind":"sale""#.to_vec(),
        )
        .await
        .unwrap();
    assert!(
        a.error.unwrap().starts_with("bad_json"),
        "broken JSON with an event id is answered rejected"
    );

    // Gift shop: a sale, a voided sale, a partial refund; half_even; souvenir 1800 bp.
    let a_sale = gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "alipay",
        &[line("vase", "souvenir", 2, 3500)],
    );
    assert!(gift.send(&a_sale).await.unwrap().accepted());
    let a_id = a_sale["event_id"].as_str().unwrap();
    let b_sale = gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[
            line("card", "souvenir", 1, 1250),
            line("snack", "food", 1, 999),
        ],
    );
    assert!(gift.send(&b_sale).await.unwrap().accepted());
    let void = gift.message(
        "void",
        b_sale["event_id"].as_str(),
        &Edge::now_at(),
        "cash",
        &[],
    );
    assert!(gift.send(&void).await.unwrap().accepted());
    let too_much = gift.message(
        "refund",
        Some(a_id),
        &Edge::now_at(),
        "alipay",
        &[line("vase", "souvenir", 2, 4000)],
    );
    assert_eq!(
        gift.send(&too_much).await.unwrap().error.as_deref(),
        Some(format!("refund_exceeds_sale: 7000 fen of sale {a_id} is left to refund, the refund asks 8000").as_str())
    );
    let refund = gift.message(
        "refund",
        Some(a_id),
        &Edge::now_at(),
        "alipay",
        &[line("vase", "souvenir", 1, 3500)],
    );
    assert!(gift.send(&refund).await.unwrap().accepted());
    let foreign = gift.message(
        "refund",
        sale["event_id"].as_str(),
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 1, 100)],
    );
    assert!(
        gift.send(&foreign)
            .await
            .unwrap()
            .error
            .unwrap()
            .starts_with("foreign_sale")
    );
    // An event id another terminal already used is refused (again on redelivery), never a
    // second sale.
    let mut copycat = photo.message(
        "sale",
        None,
        &Edge::now_at(),
        "card",
        &[line("photo", "photo", 1, 2500)],
    );
    copycat["event_id"] = a_sale["event_id"].clone();
    for _ in 0..2 {
        let error = photo.send(&copycat).await.unwrap().error.unwrap();
        assert!(
            error.starts_with("duplicate_event_id") && error.contains("pos-gift-1"),
            "{error}"
        );
    }
    let old_sale = gift.message(
        "sale",
        None,
        &yesterday_noon(),
        "cash",
        &[line("pin", "souvenir", 1, 500)],
    );
    assert!(gift.send(&old_sale).await.unwrap().accepted());
    let void_old = gift.message(
        "void",
        old_sale["event_id"].as_str(),
        &Edge::now_at(),
        "cash",
        &[],
    );
    assert!(
        gift.send(&void_old)
            .await
            .unwrap()
            .error
            .unwrap()
            .starts_with("void_not_same_day")
    );

    // Coaster Co.: two ride tickets and a photo, revenue share 85% after 15% cost, 70% share.
    let (s, _) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("cc-1", "web", &today, "coaster-ride", 2, false),
        )
        .await;
    assert_eq!(s, 201);
    let photo_sale = photo.message(
        "sale",
        None,
        &Edge::now_at(),
        "card",
        &[line("photo", "photo", 1, 2500)],
    );
    assert!(photo.send(&photo_sale).await.unwrap().accepted());

    // The lodge's PMS posts a folio in its own format; lodging lands in the same journal.
    let pms = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pms-hotel-1", "m-hotel").await;
    let time = &Edge::now_at()[11..19];
    let posting = format!(
        r#"{{"msgType":"FOLIO_POST","postingId":"P-{}","postDate":"{today}","postTime":"{time}",
            "charges":[{{"code":"RN","qty":2,"amountCent":58000}},{{"code":"MB","qty":1,"amountCent":3500}}],
            "settlement":{{"method":"CARD"}}}}"#,
        edge.zone
    );
    pms.publish(posting.into_bytes()).await.unwrap();

    let mut sales = serde_json::Value::Null;
    for _ in 0..100 {
        let (s, got) = edge
            .get_as(&format!("/api/v1/sales?date={today}"), "auditor")
            .await;
        assert_eq!(s, 200);
        sales = got;
        if sales["sales"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["merchant"] == "m-hotel")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let folio = sales["sales"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["merchant"] == "m-hotel")
        .expect("the folio is journaled");
    assert_eq!(
        (folio["total_fen"].as_i64(), folio["payment"].as_str()),
        (Some(61500), Some("card"))
    );
    assert_eq!(folio["lines"][0]["category"], "lodging");
    let journaled = sales["sales"].as_array().unwrap();
    assert_eq!(
        journaled
            .iter()
            .filter(|x| x["merchant"] == "m-tea-house")
            .count(),
        1,
        "one tea sale journaled today"
    );

    let path = format!("/api/v1/settlements?date={today}");
    let (s, bills) = edge
        .post_as(&path, "finance-reviewer", serde_json::json!({}))
        .await;
    assert_eq!(s, 200, "{bills}");
    let tea_bill = bill_of(&bills, "p-tea-house");
    // 12345 food at 10% = 1234.5 -> 1235; 9999 drink at 12% = 1199.88 -> 1200; 2000 souvenir at
    // the default 15% = 300; and yesterday's late 1000 food at 10% = 100.
    assert_eq!(tea_bill["status"], "draft");
    assert_eq!(tea_bill["gross_fen"], 24344 + 1000);
    assert_eq!(tea_bill["commission_fen"], 2735 + 100);
    assert_eq!(tea_bill["payable_fen"], 21609 + 900);
    let late_line = tea_bill["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "late")
        .expect("a late line");
    assert_eq!(
        (
            late_line["basis_fen"].as_i64(),
            late_line["category"].as_str()
        ),
        (Some(1000), Some("food"))
    );
    assert!(
        late_line["note"]
            .as_str()
            .unwrap()
            .contains(&Edge::in_days(-1))
    );

    let gift_bill = bill_of(&bills, "p-gift-shop");
    // souvenir 7000 - 3500 = 3500 at 18% = 630; B voided; payable 2870.
    assert_eq!(
        (
            gift_bill["gross_fen"].as_i64(),
            gift_bill["refunds_fen"].as_i64()
        ),
        (Some(7000), Some(3500))
    );
    assert_eq!(
        (
            gift_bill["commission_fen"].as_i64(),
            gift_bill["payable_fen"].as_i64()
        ),
        (Some(630), Some(2870))
    );

    let coaster = bill_of(&bills, "p-coaster-co");
    // gross 6000 + 2500 = 8500; cost 1275; net 7225; share 5057.5 -> 5058 (half_up).
    assert_eq!(coaster["kind"], "revenue_share");
    assert_eq!(
        (
            coaster["gross_fen"].as_i64(),
            coaster["cost_fen"].as_i64(),
            coaster["net_fen"].as_i64(),
            coaster["share_fen"].as_i64()
        ),
        (Some(8500), Some(1275), Some(7225), Some(5058))
    );
    assert!(
        bills["bills"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["party"] != "p-hotel" || Edge::today_is_sunday()),
        "the hotel settles weekly"
    );

    // Settling again gives the same bills.
    let (_, again) = edge
        .post_as(&path, "finance-reviewer", serde_json::json!({}))
        .await;
    assert_eq!(again["bills"], bills["bills"]);

    // Review: approve tea; reject coaster; re-run makes version 2.
    let tea_id = tea_bill["bill_id"].as_str().unwrap();
    let (s, approved) = edge
        .post_as(
            &format!("/api/v1/bills/{tea_id}/approve"),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        (s, approved["status"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{tea_id}/approve"),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 409, "an approved bill is never approved again");
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{tea_id}/approve"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 403);
    let coaster_id = coaster["bill_id"].as_str().unwrap();
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{coaster_id}/reject"),
            "finance-reviewer",
            serde_json::json!({"reason": ""}),
        )
        .await;
    assert_eq!(s, 400, "a rejection says why");
    let (s, rejected) = edge
        .post_as(
            &format!("/api/v1/bills/{coaster_id}/reject"),
            "finance-reviewer",
            serde_json::json!({"reason": "photo count disputed"}),
        )
        .await;
    assert_eq!((s, rejected["status"].as_str()), (200, Some("rejected")));
    let (_, third) = edge
        .post_as(&path, "finance-reviewer", serde_json::json!({}))
        .await;
    let coaster2 = bill_of(&third, "p-coaster-co");
    assert_eq!(
        (coaster2["version"].as_i64(), coaster2["status"].as_str()),
        (Some(2), Some("draft"))
    );
    assert_eq!(coaster2["share_fen"], 5058);
    assert_eq!(
        bill_of(&third, "p-tea-house")["status"],
        "approved",
        "an approved bill is never edited"
    );

    // The ledger balances, and the tea house is owed exactly its payable.
    let (s, tb) = edge.get_as("/api/v1/ledger/trial-balance", "auditor").await;
    assert_eq!(s, 200, "{tb}");
    assert_eq!(tb["debit_fen"], tb["credit_fen"]);
    let (_, bal) = edge
        .get_as("/api/v1/ledger/parties/p-tea-house", "finance-payer")
        .await;
    assert_eq!(bal["balances"]["payable:p-tea-house"], -(21609 + 900));
    assert_eq!(bal["balances"]["commission:p-tea-house"], -(2735 + 100));

    // An operator sees its own bills only.
    let (s, own) = edge.get_as("/api/v1/bills", "operator:p-coaster-co").await;
    assert_eq!(s, 200);
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .all(|b| b["party"] == "p-coaster-co")
            && !own.as_array().unwrap().is_empty()
    );
    let (s, _) = edge
        .get_as(&format!("/api/v1/bills/{tea_id}"), "operator:p-coaster-co")
        .await;
    assert_eq!(s, 404);
    let (s, _) = edge
        .get_as("/api/v1/bills?party=p-tea-house", "operator:p-coaster-co")
        .await;
    assert_eq!(s, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settle_command_settles_a_range_of_days_while_the_box_runs() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let tea = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-tea-1", "m-tea-house").await;
    let sale = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("tea-01", "food", 2, 1800)],
    );
    assert!(tea.send(&sale).await.unwrap().accepted());
    let out = std::process::Command::new(venue_tests::binary("venue-edge"))
        .args([
            "settle",
            "--from",
            &Edge::in_days(-2),
            "--to",
            &Edge::today(),
            "--config",
        ])
        .arg(&edge.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("settled 3 days"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, bills) = edge
        .get_as("/api/v1/bills?party=p-tea-house", "auditor")
        .await;
    let bills = bills.as_array().unwrap();
    assert_eq!(bills.len(), 3, "one daily bill per day: {bills:?}");
    let (status, drafts) = edge
        .get_as("/api/v1/bills?party=p-tea-house&status=draft", "auditor")
        .await;
    assert_eq!(status, 200, "{drafts}");
    assert_eq!(drafts.as_array().unwrap().len(), 3, "all three are drafts");
    let (status, refused) = edge.get_as("/api/v1/bills?status=Draft", "auditor").await;
    assert_eq!(status, 400, "a state is parsed at the door: {refused}");
    assert!(
        refused.to_string().contains("draft, approved"),
        "the refusal names the states: {refused}"
    );
    let today = bills
        .iter()
        .find(|b| b["period_start"] == Edge::today().as_str())
        .unwrap();
    // 3600 food at 10%: commission 360, payable 3240.
    assert_eq!(
        (
            today["commission_fen"].as_i64(),
            today["payable_fen"].as_i64()
        ),
        (Some(360), Some(3240))
    );
    let bad = std::process::Command::new(venue_tests::binary("venue-edge"))
        .args([
            "settle",
            "--from",
            &Edge::today(),
            "--to",
            &Edge::in_days(-1),
            "--config",
        ])
        .arg(&edge.config_path)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_version_with_a_settlement_rule_plugin_bills_by_its_tiers() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let tiered = serde_json::json!({
        "id": "c-gift", "party": "p-gift-shop", "effective_from": Edge::today(), "kind": "commission",
        "merchants": ["m-gift-shop"], "cycle": "daily", "rounding": "half_up", "plugin": "tiered-commission",
    });
    let (s, created) = edge
        .post_as("/api/v1/contracts", "admin", tiered.clone())
        .await;
    assert_eq!(
        (s, created["version"].as_i64()),
        (201, Some(2)),
        "{created}"
    );
    let (s, _) = edge
        .post_as("/api/v1/contracts", "finance-reviewer", tiered)
        .await;
    assert_eq!(s, 403, "contracts are written by admins");

    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let sale = gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "card",
        &[
            line("jade", "souvenir", 1, 150_000),
            line("tea", "food", 1, 12_345),
        ],
    );
    assert!(gift.send(&sale).await.unwrap().accepted());
    let (s, bills) = edge
        .post_as(
            &format!("/api/v1/settlements?date={}", Edge::today()),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{bills}");
    let bill = bill_of(&bills, "p-gift-shop");
    // Cycle net 162,345 fen is past the 100,000 tier: 12% on each category, rounded once:
    // souvenir 150,000 -> 18,000; food 12,345 -> 1,481.4 -> 1,481.
    assert_eq!(bill["contract_version"], 2);
    assert_eq!(
        (
            bill["commission_fen"].as_i64(),
            bill["payable_fen"].as_i64()
        ),
        (Some(19_481), Some(142_864))
    );
    assert!(
        bill["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["rate_bp"] == 1200)
    );
}
