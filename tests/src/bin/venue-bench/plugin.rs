//! Plugin call: decode + encode through the std-json plugin against the same code native,
//! on a fresh instance per call and on the warm instance the device paths use.

use super::*;

pub(crate) async fn plugin(iterations: u32) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let clock = venue_model::clock::Clock::new(chrono_tz_shanghai());
    let host = PluginHost::new(&dir.path().join("cache"), None, clock, tx)?;
    let manifest = demo::install_plugin(
        &built_plugins().join("plugin_std_json_gate.wasm"),
        &dir.path().join("plugins"),
        "std-json-gate",
        World::GateAdapter,
        &[Grant::Log],
        &[],
    )?;
    let mut manifest = manifest;
    manifest.wasm = dir.path().join("plugins").join(&manifest.wasm);
    let plugin = host.install(manifest)?;
    let payload = br#"{"event_id":"g7-000123","code":"TK5Q3VJ8W2KXM4PR7N","direction":"in","at":"2026-11-25T09:00:00+08:00","count":1}"#;
    let verdict = Verdict {
        event_id: "g7-000123".into(),
        decision: Decision::Admit,
        reason: Reason::Ok,
        ticket_id: Some("tkt-0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4".into()),
        admitted: 1,
        entries_left: Some(0),
        message: Reason::Ok.message().into(),
    };
    for _ in 0..1000 {
        let _ = plugin.decode_scan("g7", payload).await?;
        let _ = plugin.encode_verdict("g7", &verdict).await?;
    }
    // Cold: each call instantiates from the InstancePre (the idle instance is dropped after
    // every call, as a fresh instance is after its call).
    let started = Instant::now();
    for _ in 0..iterations {
        let scan = plugin.decode_scan("g7", payload).await?;
        std::hint::black_box(&scan);
        plugin.drop_warm();
        let bytes = plugin.encode_verdict("g7", &verdict).await?;
        std::hint::black_box(&bytes);
        plugin.drop_warm();
    }
    let wasm_us = started.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    // Warm: how the device paths call it (an instance serves the next call).
    let started = Instant::now();
    for _ in 0..iterations {
        let scan = plugin.decode_scan("g7", payload).await?;
        std::hint::black_box(&scan);
        let bytes = plugin.encode_verdict("g7", &verdict).await?;
        std::hint::black_box(&bytes);
    }
    let warm_us = started.elapsed().as_secs_f64() * 1e6 / iterations as f64;

    let wit_verdict = plugin_std_json_gate_verdict(&verdict);
    let native_iterations = iterations * 10;
    let started = Instant::now();
    for _ in 0..native_iterations {
        let scan = plugin_std_json_gate::decode(std::hint::black_box(payload));
        std::hint::black_box(&scan);
        let bytes = plugin_std_json_gate::encode(std::hint::black_box(&wit_verdict));
        std::hint::black_box(&bytes);
    }
    let native_us = started.elapsed().as_secs_f64() * 1e6 / native_iterations as f64;
    Ok(vec![
        Row {
            bench: format!("plugin call, std-json gate, {iterations} pairs"),
            measure: "decode-scan + encode-verdict, fresh instance each".into(),
            value: wasm_us,
            unit: "µs".into(),
            baseline: "same code native".into(),
            baseline_value: native_us,
            ratio: wasm_us / native_us,
            target: "<= 20 µs per call".into(),
        },
        Row {
            bench: format!("plugin call, std-json gate, {iterations} pairs"),
            measure: "per call (half a pair), fresh instance".into(),
            value: wasm_us / 2.0,
            unit: "µs".into(),
            baseline: "same code native".into(),
            baseline_value: native_us / 2.0,
            ratio: wasm_us / native_us,
            target: "<= 20 µs".into(),
        },
        Row {
            bench: format!("plugin call, std-json gate, {iterations} pairs"),
            measure: "per call (half a pair), warm instance (the device paths)".into(),
            value: warm_us / 2.0,
            unit: "µs".into(),
            baseline: "same code native".into(),
            baseline_value: native_us / 2.0,
            ratio: warm_us / native_us,
            target: "(none)".into(),
        },
    ])
}

pub(crate) fn chrono_tz_shanghai() -> chrono_tz::Tz {
    chrono_tz::Asia::Shanghai
}

pub(crate) fn plugin_std_json_gate_verdict(
    v: &Verdict,
) -> venue_plugin_sdk::gate::venue::edge::types::Verdict {
    use venue_plugin_sdk::gate::venue::edge::types as g;
    g::Verdict {
        event_id: v.event_id.clone(),
        decision: g::Decision::Admit,
        reason: g::Reason::Ok,
        ticket_id: v.ticket_id.clone(),
        admitted: v.admitted,
        entries_left: v.entries_left,
        message: v.message.clone(),
    }
}
