//! Plugins by language: the same adapter in Rust and in JavaScript (the std-json gate) and
//! in Rust and in Python (the std-json POS adapter), through the real plugin host. Per
//! plugin: the component's size, its first load (compiling it with an empty cache), a
//! call on a fresh instance and on a warm one, an instance's start (fresh minus warm),
//! and the linear memory of a warm instance. The Rust plugin of each pair is its baseline.

use super::*;
use crate::plugin::chrono_tz_shanghai;

struct Subject {
    label: &'static str,
    file: &'static str,
    world: World,
}

const SUBJECTS: [Subject; 4] = [
    Subject {
        label: "gate, Rust",
        file: "plugin_std_json_gate.wasm",
        world: World::GateAdapter,
    },
    Subject {
        label: "gate, JavaScript",
        file: "plugin_js_gate.wasm",
        world: World::GateAdapter,
    },
    Subject {
        label: "POS, Rust",
        file: "plugin_std_json_pos.wasm",
        world: World::PosAdapter,
    },
    Subject {
        label: "POS, Python",
        file: "plugin_py_pos.wasm",
        world: World::PosAdapter,
    },
];

const SCAN: &[u8] = br#"{"event_id":"g7-000123","code":"TK5Q3VJ8W2KXM4PR7N","direction":"in","at":"2026-11-25T09:00:00+08:00","count":1}"#;
const SALE: &[u8] = br#"{"event_id":"pos12-88812","merchant":"m-tea-house","kind":"sale","refers_to":null,"at":"2026-11-25T12:31:09+08:00","payment":"wechat","lines":[{"sku":"tea-01","category":"food","qty":2,"unit_price_fen":1800}],"total_fen":3600}"#;

/// What one plugin measured.
struct Figures {
    bytes: u64,
    load_ms: f64,
    fresh_us: f64,
    warm_us: f64,
    memory_bytes: usize,
}

async fn call(plugin: &Loaded, world: World) -> anyhow::Result<()> {
    match world {
        World::GateAdapter => {
            let scan = plugin.decode_scan("g7", SCAN).await?;
            std::hint::black_box(&scan);
        }
        _ => {
            let sale = plugin.decode_sale("pos12", SALE).await?;
            std::hint::black_box(&sale);
        }
    }
    Ok(())
}

async fn measure(s: &Subject, iterations: u32) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let clock = venue_model::clock::Clock::new(chrono_tz_shanghai());
    let host = PluginHost::new(&dir.path().join("cache"), None, clock, tx)?;
    let path = built_plugins().join(s.file);
    let bytes = std::fs::metadata(&path)?.len();
    let mut manifest = demo::install_plugin(
        &path,
        &dir.path().join("plugins"),
        s.label.split(',').next().unwrap_or("p"),
        s.world,
        &[Grant::Log],
        &[],
    )?;
    manifest.wasm = dir.path().join("plugins").join(&manifest.wasm);
    let started = Instant::now();
    let plugin = tokio::task::block_in_place(|| host.install(manifest))?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    for _ in 0..200 {
        call(&plugin, s.world).await?;
    }
    let memory_bytes = plugin.warm_memory_bytes().into_iter().max().unwrap_or(0);
    // Fresh: every call instantiates (the idle instance is dropped after each).
    let fresh_n = (iterations / 10).max(50);
    let started = Instant::now();
    for _ in 0..fresh_n {
        call(&plugin, s.world).await?;
        plugin.drop_warm();
    }
    let fresh_us = started.elapsed().as_secs_f64() * 1e6 / fresh_n as f64;
    let started = Instant::now();
    for _ in 0..iterations {
        call(&plugin, s.world).await?;
    }
    let warm_us = started.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    Ok(Figures {
        bytes,
        load_ms,
        fresh_us,
        warm_us,
        memory_bytes,
    })
}

pub(crate) async fn plugin_langs(iterations: u32) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut baseline: Option<(&str, Figures)> = None;
    for s in &SUBJECTS {
        let f = measure(s, iterations).await?;
        let base = match &baseline {
            Some((_, b)) if !s.label.ends_with("Rust") => b,
            _ => &f,
        };
        let base_label = match &baseline {
            Some((l, _)) if !s.label.ends_with("Rust") => format!("{l} (same run)"),
            _ => "itself".into(),
        };
        let mut row = |measure: &str, value: f64, unit: &str, base_value: f64| {
            rows.push(Row {
                bench: format!("plugins by language, {}", s.label),
                measure: measure.into(),
                value,
                unit: unit.into(),
                baseline: base_label.clone(),
                baseline_value: base_value,
                ratio: value / base_value,
                target: "(none)".into(),
            })
        };
        row(
            "component size",
            f.bytes as f64 / 1024.0,
            "KiB",
            base.bytes as f64 / 1024.0,
        );
        row(
            "first load (compile, empty cache)",
            f.load_ms,
            "ms",
            base.load_ms,
        );
        row("decode, fresh instance", f.fresh_us, "µs", base.fresh_us);
        row("decode, warm instance", f.warm_us, "µs", base.warm_us);
        row(
            "instance start (fresh - warm)",
            f.fresh_us - f.warm_us,
            "µs",
            base.fresh_us - base.warm_us,
        );
        row(
            "linear memory of a warm instance",
            f.memory_bytes as f64 / (1024.0 * 1024.0),
            "MiB",
            base.memory_bytes as f64 / (1024.0 * 1024.0),
        );
        if s.label.ends_with("Rust") {
            baseline = Some((s.label, f));
        }
    }
    Ok(rows)
}
