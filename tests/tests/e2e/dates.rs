//! A business date enters the box written `YYYY-MM-DD` exactly, or not at all: a visit
//! date spelled any other way is refused at the door with the form it must take, so no
//! order counts in a capacity bucket of its own and no ticket carries a date the gate
//! cannot match to its day.

use venue_tests::{Edge, EdgeOptions, order};

/// `2027-01-05` -> `2027-1-5`: the same day without its zeros.
fn without_zeros(day: &str) -> String {
    day.split('-')
        .map(|part| part.trim_start_matches('0'))
        .collect::<Vec<_>>()
        .join("-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_date_not_written_yyyy_mm_dd_is_refused_and_counts_in_no_bucket() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let ticketing = edge.token("ticketing").to_owned();
    // A day whose month or day has a leading zero, so the zero-less form differs from it.
    let day = (40..80)
        .map(Edge::in_days)
        .find(|d| without_zeros(d) != *d)
        .expect("a day with a leading zero within 80 days");
    let today = Edge::today();

    let refused = [
        without_zeros(&day),
        format!(" {day}"),
        format!("{day} "),
        day.replace('-', "/"),
        day.replace('-', ""),
        format!("{day}T00:00:00+08:00"),
        "2027-02-30".to_owned(),
        without_zeros(&today),
    ];
    for (i, bad) in refused.iter().enumerate() {
        let body = order(&format!("date-{i}"), "web", bad, "park-day", 1, true);
        let r = edge
            .api
            .post_json("/api/v1/orders", Some(&ticketing), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "visit_date {bad:?} is refused: {}", r.text());
        assert!(
            r.text().contains("YYYY-MM-DD"),
            "the refusal of {bad:?} names the expected form: {}",
            r.text()
        );
    }

    let body = order("date-ok", "web", &day, "park-day", 1, true);
    let r = edge
        .api
        .post_json("/api/v1/orders", Some(&ticketing), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let ticket = &r.json()["tickets"][0];
    assert_eq!(ticket["visit_date"], day.as_str());

    let (status, capacity) = edge
        .get_as(&format!("/api/v1/capacity?date={day}"), "ticketing")
        .await;
    assert_eq!(status, 200, "{capacity}");
    let park = capacity["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "park")
        .unwrap();
    assert_eq!(park["sold"], 1, "one order, one bucket: {capacity}");

    let sloppy = without_zeros(&day);
    let (status, answer) = edge
        .get_as(&format!("/api/v1/capacity?date={sloppy}"), "ticketing")
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("YYYY-MM-DD"), "{answer}");

    // Rebooking takes the same form and nothing else.
    let ticket_id = ticket["ticket_id"].as_str().unwrap();
    let r = edge
        .api
        .post_json(
            &format!("/api/v1/tickets/{ticket_id}/rebook"),
            Some(&ticketing),
            &serde_json::json!({ "visit_date": without_zeros(&day) }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("YYYY-MM-DD"), "{}", r.text());
}
