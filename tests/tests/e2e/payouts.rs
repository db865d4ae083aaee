//! Paying bills through the bank-transfer connector against the bank simulator.

use venue_devices::pos::{PosTerminal, line};
use venue_tests::{Edge, EdgeOptions};

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
        let pos = PosTerminal::connect(&edge.mqtt_addr, &edge.zone, device, merchant).await;
        let sale = pos.message(
            "sale",
            None,
            &Edge::now_at(),
            "cash",
            &[line("x", "food", 1, amount)],
        );
        assert!(pos.send(&sale).await.unwrap().accepted());
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
