//! Plugins that misbehave, that do not match their pin, that are replaced under load, and
//! a partner's order push through the OTA plugin.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::Digest;
use venue_devices::formats::Format;
use venue_tests::{Edge, EdgeOptions, built_plugins, order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_looping_or_hoarding_plugin_fails_that_call_only() {
    let edge = Edge::start(EdgeOptions {
        misbehaving_plugins: true,
        ..Default::default()
    })
    .await;
    let alerts = edge.alerts().await;
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("m-1", "web", &Edge::today(), "shuttle-day", 1, false),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let good = edge.turnstile("g-shuttle-1", Format::StdJson).await;

    for (gate, failure) in [
        ("mis-trap", "trap"),
        ("mis-loop", "timeout"),
        ("mis-grow", "memory_limit"),
    ] {
        let t = edge.turnstile(gate, Format::StdJson).await;
        let started = Instant::now();
        t.publish_scan(b"TKANY".to_vec()).await.unwrap();
        let alert = alerts
            .wait_for(Duration::from_secs(10), |a| {
                a["kind"] == "plugin_failure" && a["plugin"] == gate
            })
            .await
            .unwrap_or_else(|| panic!("no plugin_failure alert for {gate}: {:?}", alerts.all()));
        assert_eq!(alert["failure"], failure, "{alert}");
        if gate == "mis-loop" {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the deadline (50 ms) stops a loop: {:?}",
                started.elapsed()
            );
        }
        assert!(
            alerts
                .wait_for(Duration::from_secs(5), |a| a["kind"] == "dead_letter"
                    && a["device"] == gate)
                .await
                .is_some(),
            "the payload is kept"
        );
        // Nothing else stopped: another gate still answers at once.
        let v = good.scan(&code, true, 1, None).await.unwrap();
        assert_eq!(v.decision, "admit", "after {gate}");
    }

    // A plugin that hands back a scan without an event id is refused like a bad payload.
    let t = edge.turnstile("mis-garbage", Format::StdJson).await;
    t.publish_scan(b"x".to_vec()).await.unwrap();
    let a = alerts
        .wait_for(Duration::from_secs(10), |a| {
            a["kind"] == "dead_letter" && a["device"] == "mis-garbage"
        })
        .await
        .expect("garbage output dead-lettered");
    assert!(
        a["reason"].as_str().unwrap().contains("bad_event_id"),
        "{a}"
    );

    let metrics = edge.api.get("/metrics", None).await.unwrap().text();
    assert!(
        metrics.contains("venue_edge_plugin_memory_limits_total{plugin=\"mis-grow\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("venue_edge_plugin_timeouts_total{plugin=\"mis-loop\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_file_that_does_not_match_its_pin_is_refused() {
    let edge = Edge::start(EdgeOptions {
        extra_toml: "\n[[gates]]\nid = \"g-pinned\"\narea = \"park\"\nplugin = \"pinned\"\n".into(),
        ..Default::default()
    })
    .await;
    let plugin_dir = edge.data_dir().join("plugins");
    std::fs::copy(
        built_plugins().join("plugin_std_json_gate.wasm"),
        plugin_dir.join("pinned.wasm"),
    )
    .unwrap();
    std::fs::write(
        plugin_dir.join("pinned.plugin.toml"),
        format!("id = \"pinned\"\nworld = \"gate-adapter\"\nwasm = \"pinned.wasm\"\nsha256 = \"{}\"\ngrants = [\"log\"]\n", "0".repeat(64)),
    )
    .unwrap();
    edge.hup();
    for _ in 0..500 {
        if edge.log_text().contains("plugins reloaded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let health = edge.api.get("/healthz", None).await.unwrap();
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(health.json()["missing_plugins"][0], "pinned");
    assert!(
        edge.log_text().contains("refusing to load it"),
        "{}",
        edge.log_text()
    );
    let r = edge
        .api
        .get("/api/v1/plugins", Some(edge.token("admin")))
        .await
        .unwrap();
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != "pinned")
    );

    // An upload whose hash is not the one given is refused and changes nothing.
    let wasm = std::fs::read(built_plugins().join("plugin_std_json_gate.wasm")).unwrap();
    let r = edge
        .api
        .send(
            hyper::Method::PUT,
            &format!("/api/v1/plugins/std-json-gate?sha256={}", "ab".repeat(32)),
            Some(edge.token("admin")),
            Some("application/wasm"),
            wasm,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("sha256_mismatch"))
    );
}

/// The same component with a custom section appended: valid, behaves the same, and has
/// another sha256, like a vendor's rebuild.
fn rebuilt(wasm: &[u8]) -> Vec<u8> {
    let name = b"venue-test-build";
    let payload = b"2";
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_replaced_under_load_loses_no_scan_and_answers_none_twice() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let gate = edge.turnstile("g-shuttle-1", Format::StdJson).await;
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("hr-1", "web", &Edge::today(), "shuttle-day", 1, false),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();

    let scans: Vec<_> = (0..300)
        .map(|_| gate.scan_input(&code, true, 1, None))
        .collect();
    let sender = {
        let gate = gate.clone();
        let scans = scans.clone();
        tokio::spawn(async move {
            let mut verdicts = HashMap::new();
            let mut waiting = Vec::new();
            for s in scans {
                let gate = gate.clone();
                waiting.push(tokio::spawn(async move {
                    (s.event_id.clone(), gate.send(&s).await)
                }));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            for w in waiting {
                let (id, v) = w.await.unwrap();
                verdicts.insert(id, v);
            }
            verdicts
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let new = rebuilt(&std::fs::read(built_plugins().join("plugin_std_json_gate.wasm")).unwrap());
    let sha = hex::encode(sha2::Sha256::digest(&new));
    let r = edge
        .api
        .send(
            hyper::Method::PUT,
            &format!("/api/v1/plugins/std-json-gate?sha256={sha}"),
            Some(edge.token("admin")),
            Some("application/wasm"),
            new,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sha256"], sha.as_str());

    let verdicts = sender.await.unwrap();
    assert_eq!(verdicts.len(), 300);
    let failed: Vec<_> = verdicts.iter().filter(|(_, v)| v.is_err()).collect();
    assert!(failed.is_empty(), "every scan answered: {failed:?}");
    assert!(
        verdicts
            .values()
            .all(|v| v.as_ref().unwrap().decision == "admit"),
        "shuttle-day: unlimited entries"
    );

    let db = rusqlite::Connection::open(edge.data_dir().join("venue-edge.sqlite3")).unwrap();
    let journaled: i64 = db
        .query_row("SELECT COUNT(*) FROM scans WHERE code = ?1", [&code], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(journaled, 300, "each scan journaled exactly once");
    let entries: i64 = db
        .query_row(
            "SELECT entries_used FROM tickets WHERE code = ?1",
            [&code],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(entries, 300);
    let r = edge
        .api
        .get("/api/v1/plugins", Some(edge.token("admin")))
        .await
        .unwrap();
    let listed = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "std-json-gate")
        .cloned()
        .unwrap();
    assert_eq!(listed["sha256"], sha.as_str());
    let audit = edge
        .api
        .get("/api/v1/audit", Some(edge.token("auditor")))
        .await
        .unwrap();
    assert!(audit.text().contains("plugin.replace"), "{}", audit.text());
    // The new manifest is on disk: a restart keeps the new version.
    let manifest =
        std::fs::read_to_string(edge.data_dir().join("plugins/std-json-gate.plugin.toml")).unwrap();
    assert!(manifest.contains(&sha));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ota_order_push_is_decoded_by_its_plugin_and_answered_in_the_partners_format() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let push = serde_json::json!({
        "otaOrderNo": "OTA-778812", "travelDate": Edge::today().replace('-', ""),
        "items": [{"skuCode": "YUNSHAN-DAY-ADULT", "quantity": 2, "guests": [
            {"fullName": "张三", "certType": "ID", "certNo": "110101199001011234"},
            {"fullName": "李四", "certType": "ID", "certNo": "110101199202022345"}]}],
        "payAmountCent": 24000, "payChannel": "ALIPAY", "payNo": "2026112522001",
    });
    let path = "/api/v1/integrations/ota-orders/orders";
    let r = edge
        .api
        .post_json(path, Some(edge.token("integration")), &push)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["otaOrderNo"], "OTA-778812");
    assert_eq!(answer["totalCent"], 24000);
    let vouchers = answer["vouchers"].as_array().unwrap();
    assert_eq!(vouchers.len(), 2);

    let again = edge
        .api
        .post_json(path, Some(edge.token("integration")), &push)
        .await
        .unwrap();
    assert_eq!(again.status, 200, "a repeated push is the same order");
    assert_eq!(again.json()["venueOrderId"], answer["venueOrderId"]);

    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate
        .scan(vouchers[0]["voucherCode"].as_str().unwrap(), true, 1, None)
        .await
        .unwrap();
    assert_eq!(v.reason, "ok", "an OTA voucher opens the gate");

    let mut unknown = push.clone();
    unknown["otaOrderNo"] = "OTA-2".into();
    unknown["items"][0]["skuCode"] = "NO-SUCH-SKU".into();
    let r = edge
        .api
        .post_json(path, Some(edge.token("integration")), &unknown)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("bad_partner_order"))
    );
    assert!(r.text().contains("NO-SUCH-SKU"));
    let r = edge
        .api
        .post_json(path, Some(edge.token("ticketing")), &push)
        .await
        .unwrap();
    assert_eq!(r.status, 403, "only an integration token may push");
    let r = edge
        .api
        .post_json(
            "/api/v1/integrations/std-json-gate/orders",
            Some(edge.token("integration")),
            &push,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "a gate plugin takes no orders");
}

/// A device adapter's instance serves the next calls of its plugin while they succeed;
/// the call that fails takes its instance with it, and the next call starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_instance_is_reused_until_a_call_fails() {
    use venue_plugin_host::{FailureKind, Grant, PluginError};

    let dir = tempfile::tempdir().unwrap();
    let host = test_host(&dir.path().join("cache"));
    let mut manifest = test_manifest(
        dir.path(),
        "plugin_misbehave.wasm",
        "mis-by-payload",
        &[Grant::Config],
        &[("mode", "by-payload")],
    );
    // Time enough for a trap or a hoard to fail their own way on a loaded machine.
    manifest.deadline_ms = 1000;
    let plugin = host.install(manifest).unwrap();

    // One call at a time: each finds the instance the previous one gave back.
    async fn code(
        plugin: &venue_plugin_host::Loaded,
        payload: &str,
    ) -> Result<String, PluginError> {
        Ok(plugin
            .decode_scan("g-1", payload.as_bytes())
            .await?
            .expect("decoded")
            .code)
    }
    assert_eq!(code(&plugin, "a").await.unwrap(), "a#1");
    assert_eq!(code(&plugin, "b").await.unwrap(), "b#2");
    assert_eq!(code(&plugin, "c").await.unwrap(), "c#3");

    for (payload, failure) in [
        ("trap", FailureKind::Trap),
        ("grow", FailureKind::MemoryLimit),
        ("loop", FailureKind::Timeout),
    ] {
        match code(&plugin, payload).await {
            Err(PluginError::Call { kind, .. }) => assert_eq!(kind, failure, "{payload}"),
            other => panic!("{payload}: expected a {failure} failure, got {other:?}"),
        }
        // The failed instance is gone: a fresh one counts from one again.
        assert_eq!(code(&plugin, "d").await.unwrap(), "d#1", "after {payload}");
        assert_eq!(code(&plugin, "e").await.unwrap(), "e#2", "after {payload}");
    }

    // A replaced plugin starts with instances of its own.
    let mut again = test_manifest(
        dir.path(),
        "plugin_misbehave.wasm",
        "mis-by-payload",
        &[Grant::Config],
        &[("mode", "by-payload")],
    );
    again.deadline_ms = 1000;
    let replacement = host.install(again).unwrap();
    assert_eq!(code(&replacement, "f").await.unwrap(), "f#1");
    assert_eq!(
        code(&plugin, "g").await.unwrap(),
        "g#3",
        "the old version keeps its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_clocks_and_random_numbers_are_real_only_when_granted() {
    use venue_plugin_host::Grant;

    let dir = tempfile::tempdir().unwrap();
    let host = test_host(&dir.path().join("cache"));
    let peek = |id: &str, grants: &[Grant]| {
        let manifest = test_manifest(
            dir.path(),
            "plugin_misbehave.wasm",
            id,
            grants,
            &[("mode", "peek")],
        );
        host.install(manifest).unwrap()
    };
    async fn seen(plugin: &venue_plugin_host::Loaded) -> (u64, String) {
        let code = plugin.decode_scan("g-1", b"x").await.unwrap().unwrap().code;
        let (secs, keyed) = code.split_once(':').unwrap();
        (secs.parse().unwrap(), keyed.to_owned())
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // (grants, clock is real, random is real)
    let cases: [(&[Grant], bool, bool); 3] = [
        (&[Grant::Config], false, false),
        (&[Grant::Config, Grant::Clock], true, false),
        (&[Grant::Config, Grant::Clock, Grant::Random], true, true),
    ];
    for (i, (grants, real_clock, real_random)) in cases.into_iter().enumerate() {
        // Two plugins with the same grants: their first calls, each on a fresh instance.
        let (a, b) = (
            peek(&format!("peek-{i}-a"), grants),
            peek(&format!("peek-{i}-b"), grants),
        );
        let ((secs_a, keyed_a), (_, keyed_b)) = (seen(&a).await, seen(&b).await);
        if real_clock {
            assert!(
                secs_a.abs_diff(now) < 600,
                "{grants:?}: the clock reads {secs_a}"
            );
        } else {
            assert_eq!(
                secs_a, 0,
                "{grants:?}: without the clock grant the clock reads 0"
            );
        }
        assert_eq!(
            keyed_a != keyed_b,
            real_random,
            "{grants:?}: random numbers {} across instances",
            if real_random { "differ" } else { "repeat" }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_code_swapped_or_planted_in_the_cache_is_not_run() {
    use venue_plugin_host::{Grant, PluginHost};

    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let host = test_host;
    let install = |host: &PluginHost, wasm: &str, id: &str, config: &[(&str, &str)]| {
        let manifest = test_manifest(dir.path(), wasm, id, &[Grant::Log, Grant::Config], config);
        host.install(manifest).unwrap()
    };
    let scan = br#"{"event_id":"c-1","code":"TK-CACHE","at":"2026-11-25T09:00:00+08:00"}"#;
    let first = host(&cache);
    let gate = install(&first, "plugin_std_json_gate.wasm", "std", &[]);
    let _mis = install(
        &first,
        "plugin_misbehave.wasm",
        "mis",
        &[("mode", "by-payload")],
    );
    assert_eq!(
        gate.decode_scan("g-1", scan).await.unwrap().unwrap().code,
        "TK-CACHE"
    );
    let compiled: Vec<std::path::PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(compiled.len(), 2, "both compiled and cached: {compiled:?}");
    let key = dir.path().join("plugin-cache.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Someone who can write the cache folder swaps the two compiled files.
    let (a, b) = (&compiled[0], &compiled[1]);
    let (bytes_a, bytes_b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    std::fs::write(a, &bytes_b).unwrap();
    std::fs::write(b, &bytes_a).unwrap();
    let second = host(&cache);
    let gate = install(&second, "plugin_std_json_gate.wasm", "std", &[]);
    let mis = install(
        &second,
        "plugin_misbehave.wasm",
        "mis",
        &[("mode", "by-payload")],
    );
    assert_eq!(
        gate.decode_scan("g-1", scan).await.unwrap().unwrap().code,
        "TK-CACHE",
        "the std-json gate still runs its own code"
    );
    assert_eq!(
        mis.decode_scan("g-1", b"x").await.unwrap().unwrap().code,
        "x#1",
        "and the misbehaving one its own"
    );

    // A planted file with a made-up MAC is not run either.
    for p in &compiled {
        std::fs::write(p, b"not compiled code").unwrap();
        std::fs::write(p.with_extension("cwasm.mac"), [0u8; 32]).unwrap();
    }
    let third = host(&cache);
    let gate = install(&third, "plugin_std_json_gate.wasm", "std", &[]);
    assert_eq!(
        gate.decode_scan("g-1", scan).await.unwrap().unwrap().code,
        "TK-CACHE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_fuel_fails_as_out_of_fuel_and_the_next_call_works() {
    use venue_plugin_host::{FailureKind, Grant, PluginError};

    let dir = tempfile::tempdir().unwrap();
    let host = test_host(&dir.path().join("cache"));
    let mut manifest = test_manifest(
        dir.path(),
        "plugin_misbehave.wasm",
        "mis-fuel",
        &[Grant::Config],
        &[("mode", "by-payload")],
    );
    // Far more than a decode needs, far less than a loop that never ends; and a deadline
    // long enough that the fuel, not the clock, stops it.
    manifest.fuel = Some(50_000_000);
    manifest.deadline_ms = 10_000;
    let plugin = host.install(manifest).unwrap();
    let code = |payload: &'static str| {
        let plugin = plugin.clone();
        async move { plugin.decode_scan("g-1", payload.as_bytes()).await }
    };
    assert_eq!(code("a").await.unwrap().unwrap().code, "a#1");
    match code("loop").await {
        Err(PluginError::Call { kind, .. }) => assert_eq!(kind, FailureKind::OutOfFuel),
        other => panic!("expected out of fuel, got {other:?}"),
    }
    assert_eq!(
        code("b").await.unwrap().unwrap().code,
        "b#1",
        "a fresh instance"
    );
}

/// A plugin host of the box's making, its compiled code cached in `cache`.
fn test_host(cache: &std::path::Path) -> venue_plugin_host::PluginHost {
    let (tx, _alerts) = tokio::sync::mpsc::channel(64);
    let clock = venue_model::clock::Clock::new(chrono_tz::Asia::Shanghai);
    venue_plugin_host::PluginHost::new(cache, None, clock, tx).unwrap()
}

/// The manifest of a built reference plugin installed under `dir/plugins` as `id`.
fn test_manifest(
    dir: &std::path::Path,
    wasm: &str,
    id: &str,
    grants: &[venue_plugin_host::Grant],
    config: &[(&str, &str)],
) -> venue_plugin_host::Manifest {
    let mut manifest = venue_edge::demo::install_plugin(
        &built_plugins().join(wasm),
        &dir.join("plugins"),
        id,
        venue_plugin_host::World::GateAdapter,
        grants,
        config,
    )
    .unwrap();
    manifest.wasm = dir.join("plugins").join(&manifest.wasm);
    manifest
}

/// Issue 26, part 8: a plugin that tries to read or write a file, list a folder, read the
/// environment or open a socket gets nothing (WASI is linked with nothing in it), and the
/// host carries on; nothing reached the listener it aimed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_tries_files_sockets_or_the_environment_gets_nothing() {
    use venue_plugin_host::Grant;

    let dir = tempfile::tempdir().unwrap();
    let host = test_host(&dir.path().join("cache"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let manifest = test_manifest(
        dir.path(),
        "plugin_misbehave.wasm",
        "escape",
        &[Grant::Config, Grant::Clock, Grant::Random],
        &[("mode", "escape"), ("target", &target)],
    );
    let plugin = host.install(manifest).unwrap();
    for _ in 0..2 {
        let code = plugin.decode_scan("g-1", b"x").await.unwrap().unwrap().code;
        assert_eq!(
            code, "file:denied;dir:denied;write:denied;env:denied;tcp:denied",
            "every way out is shut"
        );
    }
    assert!(listener.accept().is_err(), "nothing connected to {target}");
    assert!(
        !std::path::Path::new("escape.txt").exists() && !dir.path().join("escape.txt").exists(),
        "no file was written"
    );
}
