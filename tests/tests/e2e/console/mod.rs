//! The staff console in a real browser (headless chromium): sign-in, the pages each role
//! sees, and the numbers on them against what MQTT and the API made.

mod browser;

use browser::Browser;
use venue_devices::formats::Format;
use venue_tests::{Broker, Edge, EdgeOptions, order, test_password, test_username};

async fn edge() -> Edge {
    Edge::start(EdgeOptions {
        broker: Broker::Embedded,
        ..EdgeOptions::default()
    })
    .await
}

async fn signed_in(edge: &Edge, test: &str, role: &str) -> Browser {
    let b = Browser::start(test, &edge.http_addr).await;
    b.sign_in(&test_username(role), &test_password(role)).await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_today_page_shows_what_the_gates_the_tills_and_the_window_made() {
    let edge = edge().await;
    let today = Edge::today();
    // Three park tickets sold, two of them in at the north gate, one out again.
    let (s, park) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("con-park", "window", &today, "park-day", 3, true),
        )
        .await;
    assert_eq!(s, 201, "{park}");
    let north = edge.turnstile("g-north-2", Format::StdJson).await;
    let codes: Vec<&str> = park["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    for code in &codes[..2] {
        assert_eq!(north.scan(code, true, 1, None).await.unwrap().admitted, 1);
    }
    assert_eq!(
        north.scan(codes[0], false, 1, None).await.unwrap().admitted,
        1
    );
    // A tea sale of 25.00 yuan.
    edge.sell("pos-tea-1", "m-tea-house", 2500).await;

    let b = Browser::start("today", &edge.http_addr).await;
    // Not signed in: any page leads to the sign-in form, and back after it.
    b.open("/today").await;
    b.check(
        b.path().await == "/signin",
        "not signed in: the sign-in form",
    )
    .await;
    b.fill("#username", &test_username("manager")).await;
    b.fill("#password", "not the password").await;
    b.click("#submit").await;
    b.check(
        b.text("#error").await == "用户名或密码不正确",
        "a wrong password is named",
    )
    .await;
    b.sign_in(&test_username("manager"), &test_password("manager"))
        .await;
    b.check(b.path().await == "/today", "a manager lands on Today")
        .await;
    let park_row = "#areas tr[data-area='park']";
    let cell = |c: &str| format!("{park_row} td.{c}");
    b.check(b.text(&cell("entries")).await == "2", "two entries")
        .await;
    b.check(b.text(&cell("exits")).await == "1", "one exit")
        .await;
    b.check(b.text(&cell("inside")).await == "1", "one inside")
        .await;
    b.check(b.text(&cell("sold")).await == "3", "three sold")
        .await;
    let (_, capacity) = edge
        .get_as(&format!("/api/v1/capacity?date={today}"), "manager")
        .await;
    let park_capacity = capacity["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "park")
        .unwrap()
        .clone();
    b.check(
        park_capacity["sold"] == 3 && park_capacity["in_park"] == 1,
        &format!("the API agrees: {park_capacity}"),
    )
    .await;
    // Revenue so far: 3 x 120.00 tickets and 25.00 of tea, all in the park area.
    b.check(
        b.text("#revenue-area tr[data-key='park'] td.net").await == "385.00",
        "the park's revenue in yuan",
    )
    .await;
    b.check(
        b.text("#revenue-category tr[data-key='ticket'] td.net")
            .await
            == "360.00",
        "ticket revenue in yuan",
    )
    .await;
    b.check(
        b.text("#devices tr[data-device='pos-tea-1'] td:last-child")
            .await
            == "在线",
        "the till that sold is online",
    )
    .await;
    b.keep_screenshot("today.png").await;
    // English by choice, kept for the next page.
    b.open("/today?lang=en").await;
    b.check(b.text("h1").await.starts_with("Today"), "English labels")
        .await;
    b.open("/today").await;
    b.check(b.text("#areas th").await == "Area", "English is kept")
        .await;
    // Signing out ends the session: the page asks for a sign-in again.
    b.click("#signout").await;
    b.open("/today").await;
    b.check(b.path().await == "/signin", "signed out").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_role_gets_no_page() {
    let edge = edge().await;
    let b = signed_in(&edge, "no_page", "ticketing").await;
    b.check(b.path().await == "/ticketing", "a clerk lands on Ticketing")
        .await;
    let nav = b.text("header nav").await;
    b.check(
        !nav.contains("今日") && !nav.contains("财务"),
        &format!("the clerk's navigation has no Today or Finance: {nav}"),
    )
    .await;
    for page in ["/today", "/finance", "/admin"] {
        b.open(page).await;
        b.check(
            b.text("#message").await == "您的角色没有这个页面",
            &format!("{page} is refused"),
        )
        .await;
        b.check(
            !b.has("#areas").await,
            &format!("{page} shows nothing of the page"),
        )
        .await;
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_sells_at_the_window_finds_the_order_by_id_number_and_refunds_it() {
    let edge = edge().await;
    let today = Edge::today();
    let b = signed_in(&edge, "window_sale", "ticketing").await;
    b.check(b.path().await == "/ticketing", "a clerk lands on Ticketing")
        .await;
    // A real-name sale without visitors is refused with the API's words, the form kept.
    b.select("#product", "park-day").await;
    b.fill("#qty", "2").await;
    b.select("#payment", "wechat").await;
    b.click("#sell-submit").await;
    let refused = b.text("#sell-error").await;
    b.check(
        refused.contains("real-name") && b.has("#qty").await,
        &format!("a sale without visitors is refused: {refused}"),
    )
    .await;
    b.fill(
        "#visitors",
        "张三 110101199001011234\n李四 330106199202022345",
    )
    .await;
    b.click("#sell-submit").await;
    let order = b.find("section.order").await;
    let order_id = order.attr("data-order").await.unwrap().unwrap_or_default();
    b.check(
        b.text("section.order .order-total").await == "240.00",
        "two park days at 120.00",
    )
    .await;
    let html = b.html().await;
    b.check(
        html.contains("1101**********1234") && !html.contains("110101199001011234"),
        "the ID number is shown masked, never whole",
    )
    .await;
    b.check(
        html.matches("<figure class=\"ticket\"").count() == 2 && html.contains("<svg"),
        "a QR code per ticket",
    )
    .await;
    // The API has the same order, sold at the window by this clerk.
    let (s, api_order) = edge
        .get_as(&format!("/api/v1/orders/{order_id}"), "ticketing")
        .await;
    assert_eq!(s, 200, "{api_order}");
    assert_eq!(api_order["channel"], "window");
    assert_eq!(api_order["total_fen"], 24000);
    assert_eq!(api_order["visit_date"], today.as_str());
    let code = api_order["tickets"][0]["code"].as_str().unwrap().to_owned();
    // Found again by a visitor's ID number (through the keyed index) and by a ticket code.
    for search in ["330106199202022345", code.as_str()] {
        b.open("/ticketing").await;
        b.fill("#q", search).await;
        b.click("#find-submit").await;
        let found = b.find("section.order").await;
        b.check(
            found.attr("data-order").await.unwrap().as_deref() == Some(order_id.as_str()),
            &format!("{search} finds the order"),
        )
        .await;
    }
    b.open("/ticketing?q=nobody").await;
    b.check(b.has("#not-found").await, "an unknown search says so")
        .await;
    // Refund every unused ticket.
    b.open(&format!("/ticketing?order={order_id}")).await;
    b.fill("section.order input[name='reason']", "rain").await;
    b.click("section.order .refund-submit").await;
    b.check(
        b.text("section.order .order-status").await == "已退款",
        "the order is refunded",
    )
    .await;
    let (_, api_order) = edge
        .get_as(&format!("/api/v1/orders/{order_id}"), "ticketing")
        .await;
    assert_eq!(api_order["status"], "refunded", "{api_order}");
    b.close().await;
}

/// The bill of `party` in the console's bill list.
async fn bill_row(b: &Browser, party: &str) -> String {
    let row = b.find(&format!("#bills tr[data-party='{party}']")).await;
    row.attr("data-bill").await.unwrap().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_is_settled_and_approved_by_one_user_and_paid_by_another() {
    let edge = edge().await;
    let today = Edge::today();
    edge.sell("pos-tea-1", "m-tea-house", 10000).await;
    edge.sell("pos-photo-1", "m-coaster-photo", 10000).await;

    // The reviewer settles today through the form and approves the tea house's bill.
    let reviewer = signed_in(&edge, "bill_reviewer", "finance-reviewer").await;
    reviewer
        .check(
            reviewer.path().await == "/reports",
            "finance lands on Reports",
        )
        .await;
    // The form's days are today unless changed (a date field takes typing in the
    // browser's locale, not as ISO text).
    reviewer.open("/finance").await;
    reviewer
        .check(
            reviewer
                .find("#settle-from")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref()
                == Some(today.as_str()),
            "the form offers today",
        )
        .await;
    reviewer.click("#settle-submit").await;
    reviewer
        .check(
            reviewer.text("#settled").await.contains("1/1"),
            "the day is settled",
        )
        .await;
    let tea = bill_row(&reviewer, "p-tea-house").await;
    let (_, api_bill) = edge
        .get_as(&format!("/api/v1/bills/{tea}"), "finance-reviewer")
        .await;
    reviewer.open(&format!("/finance?bill={tea}")).await;
    let payable = reviewer
        .text("#bill-totals tr[data-total='bill.payable'] td")
        .await;
    reviewer
        .check(
            payable
                == format!(
                    "{}.{:02}",
                    api_bill["payable_fen"].as_i64().unwrap() / 100,
                    api_bill["payable_fen"].as_i64().unwrap() % 100
                ),
            &format!("the bill's payable in yuan matches the API: {payable} vs {api_bill}"),
        )
        .await;
    reviewer
        .check(!reviewer.has("#pay").await, "a reviewer has no pay button")
        .await;
    reviewer.click("#approve").await;
    reviewer
        .check(reviewer.text("#bill-status").await == "已审核", "approved")
        .await;
    reviewer
        .check(
            reviewer.text("#approved-by").await == venue_tests::test_username("finance-reviewer"),
            "the approver is the signed-in user",
        )
        .await;
    reviewer.close().await;

    // The payer pays it and sees the bank's answer.
    let payer = signed_in(&edge, "bill_payer", "finance-payer").await;
    payer.open(&format!("/finance?bill={tea}")).await;
    payer
        .check(!payer.has("#approve").await, "a payer cannot approve")
        .await;
    payer.click("#pay").await;
    payer
        .check(payer.text("#bill-status").await == "已支付", "paid")
        .await;
    payer
        .check(
            payer.text("#payout tr[data-field='status'] td").await == "succeeded",
            "the connector's result is shown",
        )
        .await;
    let (_, api_bill) = edge
        .get_as(&format!("/api/v1/bills/{tea}"), "finance-payer")
        .await;
    assert_eq!(api_bill["status"], "paid", "{api_bill}");
    payer.close().await;

    // The coaster's operator sees its own bill, and nothing of the tea house's.
    let operator = signed_in(&edge, "bill_operator", "operator:p-coaster-co").await;
    operator
        .check(
            operator.path().await == "/bills",
            "an operator lands on its bills",
        )
        .await;
    let html = operator.html().await;
    operator
        .check(
            html.contains("p-coaster-co") && !html.contains("p-tea-house"),
            "only its own party's bills",
        )
        .await;
    operator.open(&format!("/bills?bill={tea}")).await;
    operator
        .check(
            !operator.has("#bill").await,
            "another party's bill by id shows nothing",
        )
        .await;
    operator.open("/finance").await;
    operator
        .check(
            operator.text("#message").await == "您的角色没有这个页面",
            "no finance page for an operator",
        )
        .await;
    operator.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_on_the_page_and_its_download_are_the_apis_rows() {
    let edge = edge().await;
    let today = Edge::today();
    let (s, o) = edge
        .post_as(
            "/api/v1/orders",
            "ticketing",
            order("con-rep", "web", &today, "coaster-ride", 2, false),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    edge.sell("pos-tea-1", "m-tea-house", 1250).await;
    edge.sell("pos-gift-1", "m-gift-shop", 4000).await;

    let b = signed_in(&edge, "reports", "manager").await;
    let query = format!("from={today}&to={today}&period=day&by=merchant");
    b.open(&format!("/reports?{query}")).await;
    let (s, api) = edge
        .get_as(&format!("/api/v1/reports/revenue?{query}"), "manager")
        .await;
    assert_eq!(s, 200, "{api}");
    // The table: the API's rows, in yuan.
    let keys: Vec<String> = api["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    let shown: Vec<String> = {
        let mut v = Vec::new();
        for el in b
            .client
            .find_all(fantoccini::Locator::Css("#revenue tbody td.key"))
            .await
            .unwrap()
        {
            v.push(el.text().await.unwrap());
        }
        v
    };
    b.check(
        shown == keys,
        &format!("the rows shown {shown:?} are the API's {keys:?}"),
    )
    .await;
    b.check(
        b.text("#revenue-total td.net").await == "112.50",
        "2 x 30.00 + 12.50 + 40.00",
    )
    .await;
    // The CSV link, fetched with the browser's own session, is the API's CSV.
    let href = b
        .find("#download-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let csv = b
        .client
        .execute(
            "return fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text())",
            vec![serde_json::Value::String(href)],
        )
        .await
        .unwrap();
    let api_csv = edge
        .api
        .send_with(
            hyper::Method::GET,
            &format!("/api/v1/reports/revenue?{query}"),
            Some(edge.token("manager")),
            &[("accept", "text/csv")],
            Vec::new(),
        )
        .await
        .unwrap();
    b.check(
        csv.as_str() == Some(api_csv.text().as_str()),
        &format!("the download {csv} is the API's CSV {}", api_csv.text()),
    )
    .await;
    // The consumption analysis: what the API says, on the page.
    let (_, c) = edge
        .get_as(
            &format!("/api/v1/reports/consumption?from={today}&to={today}"),
            "manager",
        )
        .await;
    b.check(
        b.text("#spend").await
            == format!(
                "¥{}.{:02}",
                c["spend_per_visitor_fen"].as_i64().unwrap() / 100,
                c["spend_per_visitor_fen"].as_i64().unwrap() % 100
            ),
        &format!("spend per visitor as the API: {c}"),
    )
    .await;
    b.check(b.has("#flow").await, "a manager sees the flow")
        .await;
    b.close().await;

    // Finance reads revenue and the analysis, not the visitor flow.
    let f = signed_in(&edge, "reports_finance", "finance-payer").await;
    f.open(&format!("/reports?{query}")).await;
    f.check(
        f.has("#revenue").await && f.has("#consumption").await && !f.has("#flow").await,
        "finance sees revenue and consumption, no flow",
    )
    .await;
    f.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_sees_accounts_devices_plugins_and_a_whole_audit_chain() {
    let edge = edge().await;
    edge.sell("pos-tea-1", "m-tea-house", 500).await;
    let b = signed_in(&edge, "admin", "admin").await;
    b.check(
        b.path().await == "/admin",
        "an admin lands on Administration",
    )
    .await;
    let clerk = venue_tests::test_username("ticketing");
    b.check(
        b.has(&format!("#users tr[data-user='{clerk}']")).await,
        "the users are listed",
    )
    .await;
    b.check(
        b.text("#admin-devices tr[data-device='pos-tea-1'] td.login")
            .await
            == "有效",
        "the till has live MQTT credentials",
    )
    .await;
    let calls: u64 = b
        .text("#plugins tr[data-plugin='std-json-pos'] td.calls")
        .await
        .parse()
        .unwrap_or(0);
    b.check(calls >= 1, "the POS plugin has been called").await;
    b.check(
        b.text("#plugins tr[data-plugin='std-json-pos'] td.contract")
            .await
            == "venue:edge@1.1.0",
        "each plugin's contract version is shown",
    )
    .await;
    b.check(
        b.text("#chain").await.starts_with("哈希链完整"),
        "the audit chain is whole",
    )
    .await;
    b.check(
        b.html().await.contains("session.sign_in"),
        "this sign-in is in the audit log",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_one_tickets_day_by_its_code() {
    let edge = edge().await;
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("c-wallet", "window", &Edge::today(), "park-day", 1, true),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    assert_eq!(
        gate.scan(&code, true, 1, None).await.unwrap().decision,
        "admit"
    );
    let tea = venue_devices::pos::PosTerminal::connect(
        &edge.mqtt_addr,
        &edge.zone,
        "pos-tea-1",
        "m-tea-house",
    )
    .await;
    let mut sale = tea.message(
        "sale",
        None,
        &Edge::now_at(),
        "wallet",
        &[venue_devices::pos::line("tea-01", "food", 2, 1850)],
    );
    sale["ticket_code"] = serde_json::json!(code);
    assert!(tea.send(&sale).await.unwrap().accepted());

    let b = signed_in(&edge, "visitor", "manager").await;
    b.open("/visitor?lang=en").await;
    b.fill("#code", &code).await;
    b.click("#show").await;
    b.check(b.text("#entries").await == "1", "the entry is counted")
        .await;
    b.check(
        b.text("#purchases").await == "1",
        "the wallet purchase is counted",
    )
    .await;
    b.check(b.text("#spend").await == "37.00", "the spend is in yuan")
        .await;
    b.check(
        b.has("#events tr[data-kind='entry']").await
            && b.has("#events tr[data-kind='purchase']").await,
        "the entry and the purchase are listed",
    )
    .await;
    b.fill("#code", "NO-SUCH-CODE").await;
    b.click("#show").await;
    b.check(
        b.text("#visitor-error").await.contains("NO-SUCH-CODE"),
        "an unknown code is named",
    )
    .await;
    b.close().await;

    // A ticket clerk has no such page.
    let clerk = signed_in(&edge, "visitor-clerk", "ticketing").await;
    clerk.open("/visitor").await;
    clerk
        .check(!clerk.has("#visitor-query").await, "the clerk gets no form")
        .await;
    clerk.close().await;
}
