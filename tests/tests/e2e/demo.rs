//! The README's first command: `venue-edge demo`, here with `--hq-url`/`--hq-token`, so a
//! newcomer's demo box uploads to an HQ (protocol.md, section 4).

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use venue_tests::hq::{Hq, HqDatabase};
use venue_tests::{Edge, binary, built_plugins, order, spawn_logged};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sells_and_uploads_to_hq() {
    let hq = Hq::start(HqDatabase::Sqlite).await;
    let token = hq.edge_token("edge-main");
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary("venue-edge"));
    command
        .arg("demo")
        .arg("--data")
        .arg(data.path())
        .args([
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
            "--no-simulators",
        ])
        .arg("--plugins")
        .arg(built_plugins())
        .args(["--hq-url", &hq.url(), "--hq-token", &token]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let (mut child, ready) = spawn_logged(command, &["venue-edge: HTTP on http://"], &log);
    let line = ready
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the demo did not start: {:?}", log.lock().unwrap());
        });
    let http = line.split("  MQTT on ").next().unwrap().trim().to_owned();
    let api = venue_devices::http::HttpClient::new(&http);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.path().join("demo-tokens.json")).unwrap())
            .unwrap();
    let r = api
        .post_json(
            "/api/v1/orders",
            tokens["ticketing"].as_str(),
            &order("demo-hq-1", "web", &Edge::today(), "park-day", 2, true),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    // One user per role, whose password signs in; the file is the owner's alone.
    let users_file = data.path().join("demo-users.json");
    let users: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&users_file).unwrap()).unwrap();
    for role in [
        "admin",
        "ticketing",
        "finance-reviewer",
        "finance-payer",
        "manager",
        "auditor",
    ] {
        let user = &users[role];
        let r = api
            .post_json(
                "/api/v1/session",
                None,
                &serde_json::json!({"username": user["username"], "password": user["password"]}),
            )
            .await
            .unwrap();
        assert_eq!(
            (r.status, &r.json()["roles"][0]),
            (200, &serde_json::json!(role)),
            "{}",
            r.text()
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&users_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "demo-users.json is readable by its owner only");

    let today = Edge::today();
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let report = hq
            .revenue(&format!("from={today}&to={today}&period=day&by=edge"))
            .await;
        if report["total"]["gross_fen"].as_i64() == Some(24000) {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "HQ never got the demo's order: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["rows"][0]["key"], "edge-main");
    let health = api.get("/healthz", None).await.unwrap().json();
    assert_eq!(health["uplink"]["url"], hq.url().as_str());
    let _ = child.kill();
    let _ = child.wait();
}

/// The README's promise: the demo's simulated visitors are admitted and its tills sell
/// within a minute. The simulators are `venue-devices` processes of the demo's own, and
/// they end with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_admits_and_sells_within_a_minute_and_its_simulators_stop_with_it() {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary("venue-edge"));
    command
        .arg("demo")
        .arg("--data")
        .arg(data.path())
        .args(["--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .arg("--plugins")
        .arg(built_plugins());
    let log = Arc::new(Mutex::new(Vec::new()));
    let (mut child, ready) = spawn_logged(command, &["venue-edge: HTTP on http://"], &log);
    let line = ready
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the demo did not start: {:?}", log.lock().unwrap());
        });
    let http = line.split("  MQTT on ").next().unwrap().trim().to_owned();
    let api = venue_devices::http::HttpClient::new(&http);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.path().join("demo-tokens.json")).unwrap())
            .unwrap();
    let today = Edge::today();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let flow = api
            .get(
                &format!("/api/v1/reports/flow?date={today}"),
                tokens["manager"].as_str(),
            )
            .await
            .unwrap()
            .json();
        let sales = api
            .get(
                &format!("/api/v1/sales?date={today}"),
                tokens["finance-reviewer"].as_str(),
            )
            .await
            .unwrap()
            .json();
        let entries: i64 = flow["areas"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["entries"].as_i64()).sum())
            .unwrap_or(0);
        let sold = sales["sales"].as_array().map_or(0, Vec::len);
        if entries > 0 && sold > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a minute in, entries {entries}, sales {sold}: {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pid = child.id();
    let simulators = || {
        let out = Command::new("pgrep")
            .args(["-P", &pid.to_string(), "venue-devices"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(simulators(), 2, "the bank and the traffic run as processes");
    // SIGTERM: the demo stops in order and takes its simulators with it.
    assert!(
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let orphans = || {
        let out = Command::new("pgrep")
            .args(["-f", &data.path().display().to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    while orphans() > 0 {
        assert!(Instant::now() < deadline, "simulators outlived the demo");
        std::thread::sleep(Duration::from_millis(100));
    }
}
