//! Issue 28, part 3: signed plugin packages. A box whose config asks for signatures loads
//! only packages signed by a key it trusts; a bare manifest, an unsigned package and one
//! signed by another key are refused, each with its reason and the key named; a raw
//! upload is refused. Re-signed with the trusted key, the gate's package loads and serves.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use venue_devices::formats::Format;
use venue_tests::{Edge, EdgeOptions, binary, order};

fn cli(args: &[&str], dir: &Path) -> String {
    let out = Command::new(binary("venue-edge"))
        .args(args)
        .current_dir(dir)
        .env("VENUE_EDGE_LOG", "warn")
        .output()
        .expect("venue-edge runs");
    assert!(
        out.status.success(),
        "venue-edge {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A vendor key pair: (key file, public key).
fn keygen(vendor: &str, dir: &Path) -> (String, String) {
    let file = format!("{vendor}.key");
    let out = cli(
        &["plugin", "keygen", "--vendor", vendor, "--out", &file],
        dir,
    );
    let public = out
        .split("key = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the public key is printed")
        .to_owned();
    (dir.join(file).display().to_string(), public)
}

async fn loaded_plugins(edge: &Edge) -> Vec<String> {
    let (s, list) = edge.get_as("/api/v1/plugins", "admin").await;
    assert_eq!(s, 200);
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_for_plugin(edge: &Edge, id: &str) {
    let started = Instant::now();
    while !loaded_plugins(edge).await.iter().any(|p| p == id) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{id} did not load: {}",
            edge.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_that_requires_signatures_loads_only_packages_signed_by_a_trusted_key() {
    let keys = tempfile::tempdir().unwrap();
    let (acme_key, acme_public) = keygen("acme", keys.path());
    let (globex_key, globex_public) = keygen("globex", keys.path());
    let edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            "\n[plugins]\nrequire_signatures = true\ntrusted_keys = [{{ vendor = \"acme\", key = \"{acme_public}\" }}]\n"
        ),
        ..EdgeOptions::default()
    })
    .await;
    // The harness installed bare manifests: none of them loaded.
    assert!(loaded_plugins(&edge).await.is_empty());
    assert!(
        edge.log_text()
            .contains("this box loads signed plugin packages only"),
        "{}",
        edge.log_text()
    );

    // The vendor packs and signs each; the gate's package is signed with a key the venue
    // does not trust, the line gate's is left unsigned.
    let dir = edge.data_dir().join("plugins");
    let ids: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".plugin.toml").map(str::to_owned)
        })
        .collect();
    assert!(ids.len() >= 6, "{ids:?}");
    for id in &ids {
        let manifest = format!("{id}.plugin.toml");
        let package = format!("{id}.vpkg");
        let wasm = format!("{id}.wasm");
        cli(
            &[
                "plugin",
                "pack",
                &wasm,
                "--manifest",
                &manifest,
                "--vendor",
                "acme",
                "--out",
                &package,
            ],
            &dir,
        );
        match id.as_str() {
            "line-gate" => {}
            "std-json-gate" => {
                cli(&["plugin", "sign", &package, "--key", &globex_key], &dir);
            }
            _ => {
                cli(&["plugin", "sign", &package, "--key", &acme_key], &dir);
            }
        }
        std::fs::remove_file(dir.join(&manifest)).unwrap();
    }
    edge.hup();
    wait_for_plugin(&edge, "std-json-pos").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = loaded_plugins(&edge).await;
    for id in [
        "std-json-pos",
        "hotel-pms",
        "ota-orders",
        "tiered-commission",
        "bank-transfer",
    ] {
        assert!(loaded.iter().any(|p| p == id), "{id} not in {loaded:?}");
    }
    assert!(
        !loaded
            .iter()
            .any(|p| p == "std-json-gate" || p == "line-gate"),
        "{loaded:?}"
    );
    let log = edge.log_text();
    let globex_name = format!("acme/{}", &globex_public[..12]);
    assert!(
        log.contains("std-json-gate.vpkg")
            && log.contains(&globex_name)
            && log.contains("not among"),
        "the refusal names the key: {log}"
    );
    assert!(
        log.contains("line-gate.vpkg: the package is not signed"),
        "{log}"
    );

    // The till's signed adapter serves; a raw upload is refused.
    edge.sell("pos-tea-1", "m-tea-house", 1800).await;
    let r = edge
        .api
        .send(
            hyper::Method::PUT,
            &format!("/api/v1/plugins/std-json-pos?sha256={}", "ab".repeat(32)),
            Some(edge.token("admin")),
            Some("application/wasm"),
            b"\0asm".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "signatures_required");

    // Signed with the trusted key, the gate's package loads and the gate admits.
    cli(
        &["plugin", "sign", "std-json-gate.vpkg", "--key", &acme_key],
        &dir,
    );
    cli(
        &[
            "plugin",
            "verify",
            "std-json-gate.vpkg",
            "--trust",
            &format!("acme={acme_public}"),
        ],
        &dir,
    );
    edge.hup();
    wait_for_plugin(&edge, "std-json-gate").await;
    let r = edge
        .api
        .post_json(
            "/api/v1/orders",
            Some(edge.token("ticketing")),
            &order("pkg-1", "web", &Edge::today(), "shuttle-day", 1, false),
        )
        .await
        .unwrap();
    let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
    let gate = edge.turnstile("g-shuttle-1", Format::StdJson).await;
    assert_eq!(
        gate.scan(&code, true, 1, None).await.unwrap().decision,
        "admit"
    );
}
