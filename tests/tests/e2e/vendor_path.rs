//! Issue 28, "done when": a vendor's path from `venue-edge plugin new` to a signed package
//! admitting visitors at a gate, in Rust, JavaScript and Python. Each new project builds
//! with its own `build.sh` (cargo for Rust, componentize-js from npm, componentize-py from
//! PyPI), which also runs `plugin check` and fails unless every vector passes; the
//! component is packed and signed with the vendor's key; a box that requires signatures
//! and trusts that key loads the three packages, and each gate admits a ticket bought on
//! the web.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use venue_devices::formats::Format;
use venue_tests::{Edge, EdgeOptions, binary, order};

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("VENUE_EDGE", binary("venue-edge"))
        .env("VENUE_EDGE_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{program} {args:?} in {}:\n{text}",
        dir.display()
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_goes_from_plugin_new_to_a_signed_package_admitting_at_a_gate_in_each_language() {
    let work = tempfile::tempdir().unwrap();
    let edge_bin = binary("venue-edge").display().to_string();
    let keygen = run(
        &edge_bin,
        &["plugin", "keygen", "--vendor", "acme", "--out", "acme.key"],
        work.path(),
    );
    let public = keygen
        .split("key = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let mut packages = Vec::new();
    for (lang, id, wasm) in [
        (
            "rust",
            "acme-rust-gate",
            "target/wasm32-wasip2/release/acme_rust_gate.wasm",
        ),
        ("js", "acme-js-gate", "dist/acme-js-gate.wasm"),
        ("python", "acme-python-gate", "dist/acme-python-gate.wasm"),
    ] {
        let started = Instant::now();
        run(
            &edge_bin,
            &[
                "plugin",
                "new",
                "--world",
                "gate-adapter",
                "--lang",
                lang,
                id,
            ],
            work.path(),
        );
        let project = work.path().join(id);
        let built = run("bash", &["build.sh"], &project);
        assert!(built.contains("18 of 18 vectors passed"), "{lang}: {built}");
        eprintln!(
            "{lang}: new, build and check in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        run(
            &edge_bin,
            &[
                "plugin",
                "pack",
                wasm,
                "--manifest",
                "plugin.toml",
                "--vendor",
                "acme",
                "--out",
                &format!("{id}.vpkg"),
            ],
            &project,
        );
        run(
            &edge_bin,
            &[
                "plugin",
                "sign",
                &format!("{id}.vpkg"),
                "--key",
                "../acme.key",
            ],
            &project,
        );
        packages.push((id, project.join(format!("{id}.vpkg"))));
    }

    let gates: String = packages
        .iter()
        .map(|(id, _)| {
            format!("\n[[gates]]\nid = \"g-{id}\"\narea = \"shuttle\"\nplugin = \"{id}\"\n")
        })
        .collect();
    let edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            "{gates}\n[plugins]\nrequire_signatures = true\ntrusted_keys = [{{ vendor = \"acme\", key = \"{public}\" }}]\n"
        ),
        ..EdgeOptions::default()
    })
    .await;
    let dir = edge.data_dir().join("plugins");
    for (id, package) in &packages {
        std::fs::copy(package, dir.join(format!("{id}.vpkg"))).unwrap();
    }
    edge.hup();
    let started = Instant::now();
    loop {
        let (_, list) = edge.get_as("/api/v1/plugins", "admin").await;
        let loaded: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["id"].as_str())
            .collect();
        if packages.iter().all(|(id, _)| loaded.contains(id)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "loaded {loaded:?}: {}",
            edge.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for (i, (id, _)) in packages.iter().enumerate() {
        let r = edge
            .api
            .post_json(
                "/api/v1/orders",
                Some(edge.token("ticketing")),
                &order(
                    &format!("vendor-{i}"),
                    "web",
                    &Edge::today(),
                    "shuttle-day",
                    1,
                    false,
                ),
            )
            .await
            .unwrap();
        let code = r.json()["tickets"][0]["code"].as_str().unwrap().to_owned();
        let gate = edge.turnstile(&format!("g-{id}"), Format::StdJson).await;
        let v = gate.scan(&code, true, 1, None).await.unwrap();
        assert_eq!(v.decision, "admit", "{id}: {v:?}");
    }
}
