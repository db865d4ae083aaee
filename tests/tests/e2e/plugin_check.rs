//! Issue 28, part 2: `venue-edge plugin check`. Every reference plugin passes its world's
//! conformance vectors with its own samples; the misbehaving plugin fails them with the
//! right reasons (trap, timeout, memory limit); a 1.0.0 build passes on the 1.1.0 host;
//! a component of another major version is refused, naming the versions the host accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use venue_edge::demo::{install_bank_connector, install_plugin, install_reference_plugins};
use venue_plugin_host::{Grant, World};
use venue_tests::{binary, built_plugins};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_owned()
}

/// Runs `venue-edge plugin check --json`; the exit code and the report.
fn check(wasm: &Path, manifest: Option<&Path>, samples: Option<&str>) -> (i32, serde_json::Value) {
    let mut c = Command::new(binary("venue-edge"));
    c.args(["plugin", "check", "--json"]).arg(wasm);
    if let Some(m) = manifest {
        c.arg("--manifest").arg(m);
    }
    if let Some(s) = samples {
        c.arg("--samples").arg(repo().join(s));
    }
    let out = c.output().expect("venue-edge runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn failures(report: &serde_json::Value) -> Vec<String> {
    report["vectors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["pass"] != true)
        .map(|v| format!("{} / {}: {}", v["group"], v["name"], v["got"]))
        .collect()
}

#[test]
fn every_reference_plugin_passes_its_worlds_vectors_in_rust_javascript_and_python() {
    let dir = tempfile::tempdir().unwrap();
    install_reference_plugins(&built_plugins(), dir.path()).unwrap();
    install_bank_connector(&built_plugins(), dir.path(), "127.0.0.1:9".parse().unwrap()).unwrap();
    let cases = [
        (
            "std-json-gate",
            "gate-adapter",
            Some("plugins/std-json-gate/conformance.toml"),
        ),
        (
            "line-gate",
            "gate-adapter",
            Some("plugins/line-gate/conformance.toml"),
        ),
        (
            "std-json-pos",
            "pos-adapter",
            Some("plugins/std-json-pos/conformance.toml"),
        ),
        (
            "hotel-pms",
            "pos-adapter",
            Some("plugins/hotel-pms/conformance.toml"),
        ),
        (
            "ota-orders",
            "ticketing-adapter",
            Some("plugins/ota-orders/conformance.toml"),
        ),
        ("tiered-commission", "settlement-rule", None),
        ("bank-transfer", "payment-connector", None),
        (
            "js-gate",
            "gate-adapter",
            Some("plugins/std-json-gate/conformance.toml"),
        ),
        (
            "py-pos",
            "pos-adapter",
            Some("plugins/std-json-pos/conformance.toml"),
        ),
    ];
    for (file, id, world) in [
        ("plugin_js_gate.wasm", "js-gate", World::GateAdapter),
        ("plugin_py_pos.wasm", "py-pos", World::PosAdapter),
    ] {
        install_plugin(
            &built_plugins().join(file),
            dir.path(),
            id,
            world,
            &[Grant::Log],
            &[],
        )
        .unwrap();
    }
    for (id, world, samples) in cases {
        let manifest = dir.path().join(format!("{id}.plugin.toml"));
        let (code, report) = check(
            &dir.path().join(format!("{id}.wasm")),
            Some(&manifest),
            samples,
        );
        assert_eq!(report["world"], world, "{id}");
        assert_eq!(report["contract"], "1.1.0", "{id}");
        assert!(
            failures(&report).is_empty(),
            "{id}: {:#?}",
            failures(&report)
        );
        assert_eq!(code, 0, "{id}: {report}");
        assert!(report["passed"].as_u64().unwrap() >= 3, "{id}: {report}");
        // Every vector reports its call's time.
        assert!(
            report["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["micros"].as_u64().is_some()),
            "{id}"
        );
    }
}

#[test]
fn without_samples_the_scenarios_fail_and_say_what_is_missing() {
    let wasm = built_plugins().join("plugin_std_json_gate.wasm");
    let (code, report) = check(&wasm, None, None);
    assert_eq!(code, 1);
    assert_eq!(report["world"], "gate-adapter");
    let missing: Vec<&serde_json::Value> = report["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["pass"] == false)
        .collect();
    assert!(!missing.is_empty());
    assert!(
        missing
            .iter()
            .all(|v| v["got"].as_str().unwrap().starts_with("no sample")),
        "{missing:?}"
    );
    // The malformed and limits vectors still ran and passed.
    assert!(
        report["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["group"] == "limits" && v["pass"] == true)
    );
}

#[test]
fn the_misbehaving_plugin_fails_with_the_right_reasons() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, limit) in [
        ("trap", "trap"),
        ("loop", "timeout"),
        ("grow", "memory_limit"),
    ] {
        let id = format!("mis-{mode}");
        install_plugin(
            &built_plugins().join("plugin_misbehave.wasm"),
            dir.path(),
            &id,
            World::GateAdapter,
            &[Grant::Config],
            &[("mode", mode)],
        )
        .unwrap();
        let (code, report) = check(
            &dir.path().join(format!("{id}.wasm")),
            Some(&dir.path().join(format!("{id}.plugin.toml"))),
            Some("plugins/std-json-gate/conformance.toml"),
        );
        assert_eq!(code, 1, "{mode}");
        let hit: Vec<&serde_json::Value> = report["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["limit"] == limit)
            .collect();
        assert!(!hit.is_empty(), "{mode}: no vector hit {limit}: {report}");
        assert!(hit.iter().all(|v| v["pass"] == false), "{mode}");
    }
}

#[test]
fn a_1_0_0_build_passes_and_another_major_is_refused() {
    let fixture = repo().join("tests/fixtures/plugins/std-json-pos-1.0.0.wasm");
    let (code, report) = check(
        &fixture,
        None,
        Some("plugins/std-json-pos/conformance.toml"),
    );
    assert_eq!(report["contract"], "1.0.0");
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    assert_eq!(code, 0);

    let mut v2 = std::fs::read(&fixture).unwrap();
    let (from, to) = (b"venue:edge/pos@1.0.0", b"venue:edge/pos@2.0.0");
    for i in 0..v2.len() - from.len() {
        if &v2[i..i + from.len()] == from {
            v2[i..i + to.len()].copy_from_slice(to);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pos-2.wasm");
    std::fs::write(&path, v2).unwrap();
    let (code, report) = check(&path, None, None);
    assert_eq!(code, 1);
    let refused = report["refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("venue:edge@2.0.0")
            && refused.contains("venue:edge@1.0.0 and venue:edge@1.1.0"),
        "{report}"
    );
}
