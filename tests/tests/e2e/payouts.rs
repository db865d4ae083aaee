//! Paying bills through the bank-transfer connector against the bank simulator.

use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Edge, EdgeOptions, bill_of};

async fn bank_mode(edge: &Edge, account: &str, mode: &str) {
    let r = edge
        .bank
        .post_json(
            &format!("/_control/accounts/{account}"),
            None,
            &serde_json::json!({"mode": mode, "reason": "account frozen"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

async fn moved(edge: &Edge, bill_id: &str) -> Vec<serde_json::Value> {
    let r = edge.bank.get("/_control/payments", None).await.unwrap();
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["payout_id"].as_str().unwrap().starts_with(bill_id))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bills_are_paid_once_even_after_a_failure_or_a_timeout() {
    let edge = Edge::start(EdgeOptions::default()).await;
    for (device, merchant, amount) in [
        ("pos-tea-1", "m-tea-house", 10000),
        ("pos-gift-1", "m-gift-shop", 10000),
        ("pos-photo-1", "m-coaster-photo", 10000),
    ] {
        edge.sell(device, merchant, amount).await;
    }
    let (s, bills) = edge
        .post_as(
            &format!("/api/v1/settlements?date={}", Edge::today()),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let id_of = |party: &str| {
        bills["bills"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["party"] == party)
            .unwrap()["bill_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (tea, gift, coaster) = (
        id_of("p-tea-house"),
        id_of("p-gift-shop"),
        id_of("p-coaster-co"),
    );

    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{tea}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 409, "a draft is not paid");
    for id in [&tea, &gift, &coaster] {
        let (s, _) = edge
            .post_as(
                &format!("/api/v1/bills/{id}/approve"),
                "finance-reviewer",
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{tea}/pay"),
            "finance-reviewer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 403, "the reviewer who approved does not pay");

    // Tea house: paid at once; 10000 food at 10% commission leaves 9000.
    let (s, paid) = edge
        .post_as(
            &format!("/api/v1/bills/{tea}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!((s, paid["status"].as_str()), (200, Some("paid")), "{paid}");
    assert_eq!(paid["payout"]["status"], "succeeded");
    assert_eq!(paid["payout"]["amount_fen"], 9000);
    let (s, _) = edge
        .post_as(
            &format!("/api/v1/bills/{tea}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 409, "a paid bill is not paid again");
    assert_eq!(moved(&edge, &tea).await.len(), 1);

    // Gift shop: the bank refuses, the bill fails with the reason; retried once the account
    // works, paid with a new payout id; one payment in all.
    bank_mode(&edge, "6222-0003-GIFT", "fail").await;
    let (_, failed) = edge
        .post_as(
            &format!("/api/v1/bills/{gift}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        (
            failed["status"].as_str(),
            failed["payout"]["reason"].as_str()
        ),
        (Some("failed"), Some("account frozen"))
    );
    bank_mode(&edge, "6222-0003-GIFT", "ok").await;
    let (_, retried) = edge
        .post_as(
            &format!("/api/v1/bills/{gift}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        (
            retried["status"].as_str(),
            retried["payout"]["attempt"].as_i64()
        ),
        (Some("paid"), Some(2))
    );
    let payments = moved(&edge, &gift).await;
    assert_eq!(payments.len(), 1, "one payment: {payments:?}");
    assert_eq!(payments[0]["payout_id"], format!("{gift}-p2"));

    // Coaster Co.: the bank pays but does not answer in time; the status query finds it paid.
    bank_mode(&edge, "6222-0001-COASTER", "timeout").await;
    let (_, resolved) = edge
        .post_as(
            &format!("/api/v1/bills/{coaster}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(resolved["status"], "paid", "{resolved}");
    assert_eq!(
        moved(&edge, &coaster).await.len(),
        1,
        "resolved by asking, never by paying again"
    );

    // The ledger: paid parties are owed nothing more, and the books balance.
    let r = edge
        .api
        .get(
            "/api/v1/ledger/parties/p-tea-house",
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(r.json()["balances"]["payable:p-tea-house"], 0);
    let r = edge
        .api
        .get("/api/v1/ledger/trial-balance", Some(edge.token("auditor")))
        .await
        .unwrap();
    assert_eq!(r.json()["debit_fen"], r.json()["credit_fen"]);
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills/{tea}"),
            Some(edge.token("operator:p-coaster-co")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills/{coaster}"),
            Some(edge.token("operator:p-coaster-co")),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json()["payout"]["status"],
        "succeeded",
        "the party sees its payout's result"
    );

    // Exports for finance: a day's bills as CSV and as an XLSX workbook.
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills?date={}&format=csv", Edge::today()),
            Some(edge.token("finance-reviewer")),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    let csv = r.text();
    assert!(csv.starts_with("bill_id,party,contract,"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&tea) && l.contains(",9000,category,food,10000,1000,1000,")),
        "{csv}"
    );
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills/{tea}?format=xlsx"),
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"PK"), "an XLSX file is a zip archive");
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills/{tea}?format=pdf"),
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_after_the_bill_is_paid_lands_in_the_next_bill() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let gift = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, "pos-gift-1", "m-gift-shop").await;
    let yesterday = Edge::in_days(-1);
    let sold = gift.message(
        "sale",
        None,
        &format!("{yesterday}T15:00:00+08:00"),
        "alipay",
        &[line("vase", "souvenir", 1, 10000)],
    );
    assert!(gift.send(&sold).await.unwrap().accepted());
    let sold_id = sold["event_id"].as_str().unwrap();

    // Yesterday: 10000 souvenir at 18% leaves 8200 for the shop, approved and paid.
    let bills = edge.settle(&yesterday).await;
    let first = bill_of(&bills, "p-gift-shop").clone();
    assert_eq!(first["payable_fen"], 8200);
    let first_id = first["bill_id"].as_str().unwrap().to_owned();
    edge.approve(&first_id).await;
    let paid = edge.pay(&first_id).await;
    assert_eq!(paid["status"], "paid", "{paid}");

    // Today: part of yesterday's sale comes back, and a new sale is made. A void of a sale
    // on a paid bill is refused (a refund is the way), and so is a refund beyond what is left.
    let void = gift.message("void", Some(sold_id), &Edge::now_at(), "alipay", &[]);
    let refused = gift.send(&void).await.unwrap().error.unwrap();
    assert!(refused.starts_with("void_not_same_day"), "{refused}");
    let refund = gift.message(
        "refund",
        Some(sold_id),
        &Edge::now_at(),
        "alipay",
        &[line("vase", "souvenir", 1, 4000)],
    );
    assert!(gift.send(&refund).await.unwrap().accepted());
    let too_much = gift.message(
        "refund",
        Some(sold_id),
        &Edge::now_at(),
        "alipay",
        &[line("vase", "souvenir", 1, 6001)],
    );
    assert_eq!(
        gift.send(&too_much).await.unwrap().error.as_deref(),
        Some(
            format!("refund_exceeds_sale: 6000 fen of sale {sold_id} is left to refund, the refund asks 6001")
                .as_str()
        )
    );
    let today_sale = gift.message(
        "sale",
        None,
        &Edge::now_at(),
        "cash",
        &[line("card", "souvenir", 5, 2000)],
    );
    assert!(gift.send(&today_sale).await.unwrap().accepted());

    // The refund counts today: souvenir 10000 - 4000 = 6000 at 18% = 1080; 4920 payable.
    let bills = edge.settle(&Edge::today()).await;
    let next = bill_of(&bills, "p-gift-shop");
    assert_eq!(
        (
            next["gross_fen"].as_i64(),
            next["refunds_fen"].as_i64(),
            next["commission_fen"].as_i64(),
            next["payable_fen"].as_i64()
        ),
        (Some(10000), Some(4000), Some(1080), Some(4920)),
        "{next}"
    );
    assert_ne!(next["bill_id"], first["bill_id"]);

    // The paid bill is untouched, and the ledger shows it settled.
    let r = edge
        .api
        .get(
            &format!("/api/v1/bills/{first_id}"),
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    let after = r.json();
    assert_eq!(
        (
            after["status"].as_str(),
            after["payable_fen"].as_i64(),
            after["refunds_fen"].as_i64()
        ),
        (Some("paid"), Some(8200), Some(0))
    );
    let r = edge
        .api
        .get(
            "/api/v1/ledger/parties/p-gift-shop",
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json()["balances"]["payable:p-gift-shop"],
        0,
        "{}",
        r.json()
    );
    let next_id = next["bill_id"].as_str().unwrap().to_owned();
    edge.approve(&next_id).await;
    let r = edge
        .api
        .get(
            "/api/v1/ledger/parties/p-gift-shop",
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json()["balances"]["payable:p-gift-shop"],
        -4920,
        "{}",
        r.json()
    );
    let r = edge
        .api
        .get("/api/v1/ledger/trial-balance", Some(edge.token("auditor")))
        .await
        .unwrap();
    assert_eq!(r.json()["debit_fen"], r.json()["credit_fen"]);
}

/// The bank-transfer connector's manifest in the box's plugin folder, pointed at `base`
/// (the bank's scheme and address) with `ca_file` (None: no CA named).
fn point_connector(
    edge: &Edge,
    bank: std::net::SocketAddr,
    base: &str,
    ca_file: Option<&std::path::Path>,
) {
    let path = edge.data_dir().join("plugins/bank-transfer.plugin.toml");
    let mut m = venue_plugin_host::Manifest::load(&path).unwrap();
    m.config.insert("base_url".into(), base.into());
    m.allowed_hosts = vec![bank.to_string()];
    m.ca_file = ca_file.map(std::path::Path::to_path_buf);
    m.wasm = std::path::PathBuf::from(m.wasm.file_name().unwrap());
    std::fs::write(&path, m.to_toml()).unwrap();
}

/// Issue 26, part 6: a payment connector calls its bank over HTTPS, trusting only the CA
/// its manifest names. Without a CA, or with another CA, the request never leaves (the
/// bill stays `paying`, nothing is paid, the log names why); with the bank's CA the bill
/// is paid, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_over_https_is_paid_only_when_its_ca_is_the_one_pinned() {
    let certs_dir = tempfile::tempdir().unwrap();
    let bank_certs = crate::certs::certificates(certs_dir.path(), "bank");
    let stranger = crate::certs::certificates(certs_dir.path(), "stranger");
    let bank = venue_devices::bank::start_tls(
        "127.0.0.1:0".parse().unwrap(),
        &bank_certs.cert,
        &bank_certs.key,
    )
    .await
    .unwrap();
    let base = format!("https://{bank}");
    let mut edge = Edge::start(EdgeOptions::default()).await;
    edge.sell("pos-tea-1", "m-tea-house", 10000).await;
    let bills = edge.settle(&Edge::today()).await;
    let tea = bill_of(&bills, "p-tea-house")["bill_id"]
        .as_str()
        .unwrap()
        .to_owned();
    edge.approve(&tea).await;

    async fn pay(
        edge: &mut Edge,
        bank: std::net::SocketAddr,
        base: &str,
        bill: &str,
        ca: Option<&std::path::Path>,
    ) -> serde_json::Value {
        edge.stop();
        point_connector(edge, bank, base, ca);
        edge.spawn().await;
        let (s, answer) = edge
            .post_as(
                &format!("/api/v1/bills/{bill}/pay"),
                "finance-payer",
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "{answer}");
        answer
    }
    let bill = pay(&mut edge, bank, &base, &tea, None).await;
    assert_eq!(
        bill["status"], "paying",
        "no CA named: nothing sent: {bill}"
    );
    assert!(
        edge.log_text().contains("names no ca_file"),
        "the log says why"
    );
    let bill = pay(&mut edge, bank, &base, &tea, Some(&stranger.ca)).await;
    assert_eq!(
        bill["status"], "paying",
        "another CA: the handshake fails: {bill}"
    );
    assert!(
        edge.log_text().to_lowercase().contains("certificate"),
        "the log names the certificate"
    );
    let bill = pay(&mut edge, bank, &base, &tea, Some(&bank_certs.ca)).await;
    assert_eq!(bill["status"], "paid", "{bill}");
    assert_eq!(bill["payout"]["status"], "succeeded");
    assert_eq!(bill["payout"]["amount_fen"], 9000);
}
