//! The sales-ingest benchmark's load generator against a real box: every sale its
//! terminals send is acknowledged, accepted, and journaled once.

use std::time::Duration;

use venue_devices::pos_load::{self, PosLoadSpec};
use venue_tests::{Broker, Edge, EdgeOptions};

async fn every_sale_of_the_load_generator_is_accepted_and_journaled_once(broker: Broker) {
    let terminals = [
        ("pos-tea-1", "m-tea-house"),
        ("pos-gift-1", "m-gift-shop"),
        ("pos-photo-1", "m-coaster-photo"),
    ];
    let mut edge = Edge::start(EdgeOptions {
        broker,
        ..EdgeOptions::default()
    })
    .await;
    let report = pos_load::run(PosLoadSpec {
        mqtt: edge.mqtt_addr.clone(),
        zone: edge.zone.clone(),
        terminals: terminals
            .iter()
            .map(|(id, m)| (id.to_string(), m.to_string()))
            .collect(),
        window: 3,
        warmup: Duration::from_millis(200),
        duration: Duration::from_secs(1),
        utc_offset_s: 8 * 3600,
    })
    .await
    .expect("the load ran");
    assert_eq!(report.rejected, 0, "{:?}", report.first_rejection);
    assert!(report.accepted_counted > 0, "{report:?}");
    assert_eq!(report.accepted, report.sent, "every sale sent got its ack");

    edge.kill();
    let db = edge.data_dir().join(venue_edge::runtime::STORE_FILE);
    let (journaled, total): (i64, i64) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(total_fen), 0) FROM sales WHERE device LIKE 'pos-%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(journaled as u64, report.sent, "one journal row per sale");
    // Each sale is a tea of 1800 to 1849 fen and two juices of 900: never less than 3600.
    assert!(
        total >= 3600 * journaled,
        "{total} fen in {journaled} sales"
    );
}

crate::on_both_brokers!(every_sale_of_the_load_generator_is_accepted_and_journaled_once);
