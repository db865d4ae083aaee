//! Issue 26, part 4: the audit chain's head travels to HQ with every batch, and HQ, which
//! the box cannot rewrite, catches a log that was cut back and rebuilt, though the box's
//! own `audit verify` finds the rebuilt chain whole.

use std::time::Duration;

use venue_tests::hq::Hq;
use venue_tests::{Edge, order};

use super::{drained, edge_id, edge_with_hq, health};

/// Waits until the box has sent everything queued in a batch numbered above `after`.
async fn sent_past(edge: &Edge, after: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let h = health(edge).await;
        let last = h["uplink"]["last_acked_batch"].as_u64().unwrap_or(0);
        if h["uplink"]["pending_records"] == 0 && last > after {
            return last;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not sent: {}",
            h["uplink"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn last_acked(edge: &Edge) -> u64 {
    health(edge).await["uplink"]["last_acked_batch"]
        .as_u64()
        .unwrap_or(0)
}

async fn orders(edge: &Edge, tag: &str, n: usize) {
    for i in 0..n {
        let body = order(
            &format!("{tag}-{i}"),
            "web",
            &Edge::today(),
            "park-day",
            1,
            true,
        );
        let (s, o) = edge.post_as("/api/v1/orders", "ticketing", body).await;
        assert_eq!(s, 201, "{o}");
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `venue-edge audit export` into a file beside the box's data.
fn export(edge: &Edge, name: &str) -> String {
    let out = edge.cli(&["audit", "export"], None);
    assert!(out.status.success(), "{}", text(&out));
    let path = edge.dir.path().join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path.display().to_string()
}

pub(super) async fn a_log_cut_back_and_rebuilt_is_caught_by_hq(db: venue_tests::hq::HqDatabase) {
    let hq = Hq::start(db).await;
    let mut edge = edge_with_hq(&hq, &hq.url(), 1).await;
    let id = edge_id(&edge);
    orders(&edge, "before", 6).await;
    drained(&edge, Duration::from_secs(30)).await;

    let check = hq.cli(&["audit", "check", "--edge", &id]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("one growing chain"),
        "{}",
        text(&check)
    );
    let whole = export(&edge, "chain-before.jsonl");
    let check = hq.cli(&["audit", "check", "--edge", &id, "--chain", &whole]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("holds every head"),
        "{}",
        text(&check)
    );

    // Someone with the box's disk cuts the log back to its first row and lets it grow again.
    edge.stop();
    let store = edge.data_dir().join(venue_edge::runtime::STORE_FILE);
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute("DELETE FROM audit WHERE id > 1", [])
        .unwrap();
    edge.spawn().await;
    let before = last_acked(&edge).await;
    orders(&edge, "after", 1).await;
    sent_past(&edge, before).await;
    let verify = edge.cli(&["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "the box alone cannot tell a cut log: {}",
        text(&verify)
    );
    let check = hq.cli(&["audit", "check", "--edge", &id]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(text(&check).contains("cut back"), "{}", text(&check));

    // Grown past the old heads, the rebuilt chain is caught against them.
    let before = last_acked(&edge).await;
    orders(&edge, "later", 12).await;
    sent_past(&edge, before).await;
    let rebuilt = export(&edge, "chain-rebuilt.jsonl");
    let check = hq.cli(&["audit", "check", "--edge", &id, "--chain", &rebuilt]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("rewritten") || text(&check).contains("cut back"),
        "{}",
        text(&check)
    );
    // An edited row in the export itself is named too.
    let edited =
        std::fs::read_to_string(&whole)
            .unwrap()
            .replacen("order.create", "order.cancel", 1);
    let path = edge.dir.path().join("chain-edited.jsonl");
    std::fs::write(&path, edited).unwrap();
    let check = hq.cli(&[
        "audit",
        "check",
        "--edge",
        &id,
        "--chain",
        &path.display().to_string(),
    ]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(text(&check).contains("edited"), "{}", text(&check));
}
