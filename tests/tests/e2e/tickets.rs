//! Issue 2, tests (a) to (d): buy and enter, refund, rebook, a tour group.

use venue_devices::formats::Format;
use venue_tests::{Broker, Edge, EdgeOptions, order};

use super::on_both_brokers;

on_both_brokers!(
    a_visitor_who_bought_online_enters_and_reenters_after_an_exit,
    a_refunded_ticket_is_denied_as_refunded,
    a_rebooked_ticket_is_denied_on_the_old_date_and_admitted_on_the_new,
    a_tour_group_of_twenty_enters_with_one_group_scan_and_the_rest_one_by_one,
);

async fn edge(broker: Broker) -> Edge {
    Edge::start(EdgeOptions {
        broker,
        ..Default::default()
    })
    .await
}

async fn buy(edge: &Edge, body: serde_json::Value) -> serde_json::Value {
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(edge.token("ticketing")), &body)
        .await
        .expect("order");
    assert_eq!(r.status, 201, "order refused: {}", r.text());
    r.json()
}

async fn a_visitor_who_bought_online_enters_and_reenters_after_an_exit(broker: Broker) {
    let edge = edge(broker).await;
    let today = Edge::today();
    let bought = buy(&edge, order("web-a-1", "web", &today, "park-day", 1, true)).await;
    assert_eq!(bought["status"], "paid");
    assert_eq!(bought["total_fen"], 12000);
    let ticket = &bought["tickets"][0];
    assert_eq!(
        ticket["visitor"]["id_number"], "1101**********0000",
        "ID numbers leave the box masked"
    );
    let code = ticket["code"].as_str().unwrap();

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str(), v.admitted),
        ("admit", "ok", 1)
    );
    assert_eq!(v.entries_left, Some(0));
    assert_eq!(v.ticket_id.as_deref(), ticket["ticket_id"].as_str());

    let v = gate.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "passback"),
        "inside already"
    );
    let v = gate.scan(code, false, 1, None).await.unwrap();
    assert_eq!(v.decision, "admit", "an exit of a known ticket is admitted");
    let v = gate.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("admit", "ok"),
        "park-day allows re-entry the same day"
    );

    // The second vendor's turnstile, its own format, the same rules.
    let bought = buy(&edge, order("web-a-2", "web", &today, "park-day", 1, true)).await;
    let code = bought["tickets"][0]["code"].as_str().unwrap();
    let south = edge.turnstile("g-south-1", Format::Tp1).await;
    let v = south.scan(code, true, 1, None).await.unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));
    let v = south.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "passback"),
        "TP1 code 16 maps back to passback"
    );

    // A real-name lane checks the ID number.
    let bought = buy(&edge, order("web-a-3", "web", &today, "park-day", 1, true)).await;
    let code = bought["tickets"][0]["code"].as_str().unwrap();
    let lane = edge.turnstile("g-north-1", Format::StdJson).await;
    let v = lane.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        v.reason, "realname_mismatch",
        "a real-name lane needs the ID"
    );
    let v = lane
        .scan(code, true, 1, Some("110101199000000001"))
        .await
        .unwrap();
    assert_eq!(v.reason, "realname_mismatch");
    let v = lane
        .scan(code, true, 1, Some("110101199000000000"))
        .await
        .unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));

    // A coaster ticket does not open the park.
    let bought = buy(
        &edge,
        order("web-a-4", "web", &today, "coaster-ride", 1, false),
    )
    .await;
    let code = bought["tickets"][0]["code"].as_str().unwrap();
    let v = gate.scan(code, true, 1, None).await.unwrap();
    assert_eq!(v.reason, "wrong_area");

    let order_id = bought["order_id"].as_str().unwrap();
    let r = edge
        .api
        .get(
            &format!("/api/v1/orders/{order_id}"),
            Some(edge.token("auditor")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tickets"][0]["entries_used"], 0);
}

async fn a_refunded_ticket_is_denied_as_refunded(broker: Broker) {
    let edge = edge(broker).await;
    let bought = buy(
        &edge,
        order("web-b-1", "web", &Edge::today(), "park-day", 2, true),
    )
    .await;
    let order_id = bought["order_id"].as_str().unwrap();
    let (t0, t1) = (&bought["tickets"][0], &bought["tickets"][1]);
    let refund = serde_json::json!({"refund_ref": "rf-b-1", "tickets": [t0["ticket_id"]], "reason": "plans changed"});
    let path = format!("/api/v1/orders/{order_id}/refunds");
    let r = edge
        .api
        .post_json(&path, Some(edge.token("ticketing")), &refund)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let refunded = r.json();
    assert_eq!(refunded["order"]["refunds"][0]["amount_fen"], 12000);
    assert_eq!(refunded["order"]["tickets"][0]["status"], "refunded");

    let again = edge
        .api
        .post_json(&path, Some(edge.token("ticketing")), &refund)
        .await
        .unwrap();
    assert_eq!(
        again.status, 200,
        "the same refund_ref returns the same refund"
    );
    assert_eq!(again.json()["refund_id"], refunded["refund_id"]);

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate
        .scan(t0["code"].as_str().unwrap(), true, 1, None)
        .await
        .unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "refunded")
    );
    let v = gate
        .scan(t1["code"].as_str().unwrap(), true, 1, None)
        .await
        .unwrap();
    assert_eq!(v.reason, "ok", "the other ticket of the order still works");

    let used = serde_json::json!({"refund_ref": "rf-b-2", "tickets": [t1["ticket_id"]]});
    let r = edge
        .api
        .post_json(&path, Some(edge.token("ticketing")), &used)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("ticket_used"))
    );

    let tp1 = edge.turnstile("g-south-1", Format::Tp1).await;
    let v = tp1
        .scan(t0["code"].as_str().unwrap(), true, 1, None)
        .await
        .unwrap();
    assert_eq!(v.reason, "refunded", "TP1 code 14");
}

async fn a_rebooked_ticket_is_denied_on_the_old_date_and_admitted_on_the_new(broker: Broker) {
    let edge = edge(broker).await;
    let (today, tomorrow) = (Edge::today(), Edge::in_days(1));
    let bought = buy(&edge, order("web-c-1", "web", &today, "park-day", 1, true)).await;
    let ticket = &bought["tickets"][0];
    let (id, code) = (
        ticket["ticket_id"].as_str().unwrap(),
        ticket["code"].as_str().unwrap(),
    );
    let r = edge
        .api
        .post_json(
            &format!("/api/v1/tickets/{id}/rebook"),
            Some(edge.token("ticketing")),
            &serde_json::json!({"visit_date": tomorrow}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["visit_date"], tomorrow.as_str());
    assert_eq!(r.json()["code"], code, "the ticket keeps its code");

    let cap = |date: String| {
        let edge = &edge;
        async move {
            let r = edge
                .api
                .get(
                    &format!("/api/v1/capacity?date={date}"),
                    Some(edge.token("manager")),
                )
                .await
                .unwrap();
            r.json()["areas"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["area"] == "park")
                .unwrap()["sold"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(cap(today.clone()).await, 0, "capacity moved off today");
    assert_eq!(cap(tomorrow.clone()).await, 1, "and onto tomorrow");

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate.scan(code, true, 1, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.reason.as_str()),
        ("deny", "not_valid_today")
    );
    let mut tomorrow_morning = gate.scan_input(code, true, 1, None);
    tomorrow_morning.at = format!("{tomorrow}T10:00:00+08:00");
    let v = gate.send(&tomorrow_morning).await.unwrap();
    assert_eq!((v.decision.as_str(), v.reason.as_str()), ("admit", "ok"));
}

async fn a_tour_group_of_twenty_enters_with_one_group_scan_and_the_rest_one_by_one(broker: Broker) {
    let edge = edge(broker).await;
    let today = Edge::today();
    let small = buy_status(
        &edge,
        order("grp-small", "group", &today, "park-day", 5, true),
    )
    .await;
    assert_eq!(
        (small.0, small.1["error"]["code"].as_str()),
        (422, Some("group_too_small"))
    );

    let bought = buy(
        &edge,
        order("grp-d-1", "group", &today, "park-day", 20, true),
    )
    .await;
    assert_eq!(bought["total_fen"], 20 * 9000, "the group price");
    let tickets = bought["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 20, "one ticket per member");
    let group_code = bought["group_code"].as_str().expect("a group code");

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate.scan(group_code, true, 15, None).await.unwrap();
    assert_eq!(
        (v.decision.as_str(), v.admitted, v.entries_left),
        ("admit", 15, Some(5))
    );

    let mut admitted = 0;
    let mut inside = 0;
    for t in tickets {
        let v = gate
            .scan(t["code"].as_str().unwrap(), true, 1, None)
            .await
            .unwrap();
        match v.reason.as_str() {
            "ok" => admitted += 1,
            "passback" => inside += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (admitted, inside),
        (5, 15),
        "the five left enter one by one; the fifteen are inside"
    );
    let v = gate.scan(group_code, true, 1, None).await.unwrap();
    assert_eq!(v.decision, "deny", "nobody of the party is left to enter");

    let r = edge
        .api
        .get(
            &format!("/api/v1/capacity?date={today}"),
            Some(edge.token("manager")),
        )
        .await
        .unwrap();
    let park = r.json()["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "park")
        .cloned()
        .unwrap();
    assert_eq!(
        (park["sold"].as_i64(), park["in_park"].as_i64()),
        (Some(20), Some(20))
    );
}

async fn buy_status(edge: &Edge, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(edge.token("ticketing")), &body)
        .await
        .unwrap();
    (r.status, r.json())
}
