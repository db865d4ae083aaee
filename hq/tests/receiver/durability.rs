//! What survives a restart, and a partition dropped by hand.

use serde_json::json;

use crate::DAY;
use crate::common::{self, Db, Server, ndjson, ticket_sale};

pub(crate) async fn acknowledged_batches_survive_a_restart(db: Db) {
    let mut hq = Server::start(db).await;
    let edge = hq.edge_token("edge-a");
    let body = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    assert_eq!(
        hq.upload(&edge, "edge-a", 1, body.clone(), false)
            .await
            .status,
        200
    );
    hq.kill();
    hq.spawn();
    let a = hq.upload(&edge, "edge-a", 1, body.clone(), false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "{}",
        a.text()
    );
    assert!(hq.stop(), "SIGTERM stops cleanly");
    hq.spawn();
    let a = hq.upload(&edge, "edge-a", 1, body, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "{}",
        a.text()
    );
    // A token made while the server runs works at once.
    let late = hq.role_token("manager");
    assert_eq!(
        hq.revenue(&late, &format!("from={DAY}&to={DAY}&by=area"))
            .await["total"]["gross_fen"],
        100
    );
}

/// PostgreSQL only: a day partition dropped by hand is made again on the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_day_partition_is_made_again_on_retry() {
    let hq = Server::start(Db::Postgres).await;
    let edge = hq.edge_token("edge-a");
    let first = ndjson(&[ticket_sale("edge-a", 1, "o-1", DAY, "park-day", 100)]);
    assert_eq!(
        hq.upload(&edge, "edge-a", 1, first, false).await.status,
        200
    );
    let (client, conn) = tokio_postgres::connect(&common::pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "DROP TABLE \"{s}\".records_p20261124; DROP TABLE \"{s}\".revenue_lines_p20261124",
            s = hq.schema
        ))
        .await
        .unwrap();
    let second = ndjson(&[ticket_sale("edge-a", 2, "o-2", DAY, "park-day", 100)]);
    let a = hq.upload(&edge, "edge-a", 2, second.clone(), false).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (503, "database_unavailable"),
        "{}",
        a.text()
    );
    let a = hq.upload(&edge, "edge-a", 2, second, false).await;
    assert_eq!(
        a.json(),
        json!({"accepted": 1, "duplicates": 0}),
        "{}",
        a.text()
    );
}
