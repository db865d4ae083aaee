//! The gate's latency curve against a bare echo's, through each broker: the gate's target
//! (BENCHMARKS.md). At each offered rate the gate runs, then the echo with the same
//! clients and rate; each one's knee is the highest rate whose p99 stays under
//! [`KNEE_P99_US_MAX`] with nothing lost.
//!
//! Two more things are measured where a scan may wait:
//! - the box's own p99 at each rate (its `scan_seconds` histogram, from receiving a scan to
//!   its verdict decided, read before and after the rate): what the end-to-end p99 has
//!   beyond it was spent in the broker and on the connections;
//! - through the embedded broker, the same curve with device logins on (each turnstile its
//!   own credentials and topic rules, the product's default) on a box of its own: the cost
//!   of authentication on the gate path. The echo cannot run there (it publishes on topics
//!   no device owns), so its baseline is the same-run gate curve without logins.

use super::gate::{BrokerKind, bench_gates, check_loss, park_tickets, start_mosquitto};
use super::*;

/// The offered rates, scans per second, lowest first.
pub(crate) const RATES: [u32; 6] = [1_000, 2_000, 4_000, 8_000, 12_000, 16_000];

/// A rate is carried when its p99 stays under this (and nothing is lost).
const KNEE_P99_US_MAX: u64 = 5_000;

/// The target: the gate's knee at least this share of the echo's.
const KNEE_SHARE_MIN: f64 = 0.8;

/// One rate's figures for one side (gate or echo).
struct Point {
    rate: u32,
    report: LoadReport,
    stolen: Option<f64>,
}

impl Point {
    fn carried(&self) -> bool {
        self.report.lost == 0 && self.report.p99_us < KNEE_P99_US_MAX
    }
}

/// The cumulative counts of the box's `scan_seconds` histogram, by upper bound (seconds).
async fn scan_buckets(edge: &Edge) -> Vec<(f64, u64)> {
    let Ok(r) = edge.api.get("/metrics", None).await else {
        return Vec::new();
    };
    r.text()
        .lines()
        .filter(|l| l.contains("scan_seconds_bucket{"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, count))
        })
        .collect()
}

/// The upper bound (ms) of the bucket holding the 99th percentile of the scans between two
/// readings; None when there were none.
fn box_p99_ms(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<f64> {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before.iter().find(|(b, _)| b == le).map_or(0, |(_, c)| *c);
            (*le, n.saturating_sub(was))
        })
        .collect();
    let total = delta.iter().map(|(_, n)| *n).max()?;
    if total == 0 {
        return None;
    }
    delta
        .iter()
        .find(|(_, n)| *n as f64 >= 0.99 * total as f64)
        .map(|(le, _)| le * 1000.0)
}

/// The highest rate carried; 0 when none is. Rates above a missed one still count if they
/// are carried (a noisy step is shown, not hidden), so the knee is the highest carried.
fn knee(points: &[Point]) -> u32 {
    points
        .iter()
        .filter(|p| p.carried())
        .map(|p| p.rate)
        .max()
        .unwrap_or(0)
}

/// The gate adapter the bench gates run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GatePlugin {
    /// The std-json gate in Rust (the product's reference).
    Rust,
    /// The same adapter in JavaScript (plugins/js-gate).
    Js,
}

pub(crate) async fn gate_curve(
    seconds: u64,
    turnstiles: usize,
    only: Option<BrokerKind>,
    plugin: GatePlugin,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for kind in [BrokerKind::Embedded, BrokerKind::Mosquitto]
        .into_iter()
        .filter(|b| only.is_none_or(|o| o == *b))
    {
        let broker_name = match plugin {
            GatePlugin::Rust => kind.name().to_owned(),
            GatePlugin::Js => format!("{}, JavaScript gate adapter", kind.name()),
        };
        let mut mosquitto = None;
        let broker = if kind == BrokerKind::Embedded {
            Broker::Embedded
        } else {
            let (child, addr) = start_mosquitto()?;
            mosquitto = Some(child);
            Broker::External(addr)
        };
        let (extra, ids) = bench_gates(turnstiles);
        let (extra, extra_plugins) = match plugin {
            GatePlugin::Rust => (extra, Vec::new()),
            GatePlugin::Js => (
                extra.replace("plugin = \"std-json-gate\"", "plugin = \"js-gate\""),
                vec![(
                    "plugin_js_gate.wasm",
                    "js-gate",
                    World::GateAdapter,
                    vec![Grant::Log],
                )],
            ),
        };
        let edge = Edge::start(EdgeOptions {
            broker,
            extra_toml: extra,
            extra_plugins,
            clock_check: true,
            // The echo baseline publishes on bench topics no device owns.
            device_logins: false,
            ..Default::default()
        })
        .await;
        let codes = park_tickets(&edge, 2000).await?;
        let (mut gate, mut echo) = (Vec::new(), Vec::new());
        let mut in_box_p99: Vec<Option<f64>> = Vec::new();
        for rate in RATES {
            let spec = |mode| LoadSpec {
                mqtt: edge.mqtt_addr.clone(),
                zone: edge.zone.clone(),
                mode,
                devices: ids.clone(),
                codes: codes.clone(),
                rate_per_s: rate,
                duration: Duration::from_secs(seconds),
                warmup: Duration::from_secs(3),
            };
            let cpu = host::CpuTimes::now();
            let buckets = scan_buckets(&edge).await;
            let g = loadgen::run(spec(Mode::Gate)).await;
            let g_stolen = host::stolen_since(cpu);
            let in_box = box_p99_ms(&buckets, &scan_buckets(&edge).await);
            let cpu = host::CpuTimes::now();
            let e = loadgen::run(spec(Mode::Echo)).await;
            let e_stolen = host::stolen_since(cpu);
            check_loss(&g, &e);
            eprintln!(
                "{broker_name} {rate}/s: gate p50 {:.2} p99 {:.2} ms lost {} (steal {}; in the box p99 <= {} ms), echo p50 {:.2} p99 {:.2} ms lost {} (steal {})",
                g.p50_us as f64 / 1000.0,
                g.p99_us as f64 / 1000.0,
                g.lost,
                host::percent(g_stolen),
                in_box.map_or("?".into(), |ms| format!("{ms:.2}")),
                e.p50_us as f64 / 1000.0,
                e.p99_us as f64 / 1000.0,
                e.lost,
                host::percent(e_stolen),
            );
            in_box_p99.push(in_box);
            gate.push(Point {
                rate,
                report: g,
                stolen: g_stolen,
            });
            echo.push(Point {
                rate,
                report: e,
                stolen: e_stolen,
            });
        }
        println!("\n{broker_name}, {turnstiles} turnstiles, {seconds} s a rate:\n");
        println!(
            "| rate /s | gate p50 / p99 (ms) | in the box p99 (ms) | gate lost | gate steal | echo p50 / p99 (ms) | echo lost | echo steal |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for ((g, e), in_box) in gate.iter().zip(&echo).zip(&in_box_p99) {
            println!(
                "| {} | {:.2} / {:.2} | <= {} | {} of {} | {} | {:.2} / {:.2} | {} of {} | {} |",
                g.rate,
                g.report.p50_us as f64 / 1000.0,
                g.report.p99_us as f64 / 1000.0,
                in_box.map_or("?".into(), |ms| format!("{ms:.2}")),
                g.report.lost,
                g.report.sent,
                host::percent(g.stolen),
                e.report.p50_us as f64 / 1000.0,
                e.report.p99_us as f64 / 1000.0,
                e.report.lost,
                e.report.sent,
                host::percent(e.stolen),
            );
            rows.push(Row {
                bench: format!("gate curve, {broker_name}, {turnstiles} turnstiles, {seconds} s"),
                measure: format!(
                    "p99 at {}/s (lost {} of {})",
                    g.rate, g.report.lost, g.report.sent
                ),
                value: g.report.p99_us as f64 / 1000.0,
                unit: "ms".into(),
                baseline: "bare MQTT echo".into(),
                baseline_value: e.report.p99_us as f64 / 1000.0,
                ratio: g.report.p99_us as f64 / e.report.p99_us.max(1) as f64,
                target: String::new(),
            });
        }
        let (g_knee, e_knee) = (knee(&gate), knee(&echo));
        rows.push(Row {
            bench: format!("gate curve, {broker_name}, {turnstiles} turnstiles, {seconds} s"),
            measure: format!("knee (p99 < {} ms, none lost)", KNEE_P99_US_MAX / 1000),
            value: f64::from(g_knee),
            unit: "scans/s".into(),
            baseline: "echo's knee".into(),
            baseline_value: f64::from(e_knee),
            ratio: f64::from(g_knee) / f64::from(e_knee.max(1)),
            target: format!(">= {KNEE_SHARE_MIN}x echo's knee"),
        });
        drop(edge);
        if kind == BrokerKind::Embedded && plugin == GatePlugin::Rust {
            rows.extend(with_logins(seconds, turnstiles, &gate).await?);
        }
        if let Some(mut child) = mosquitto {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(rows)
}

/// The gate curve through the embedded broker with device logins on, against the same
/// run's curve without them (`plain`).
async fn with_logins(seconds: u64, turnstiles: usize, plain: &[Point]) -> anyhow::Result<Vec<Row>> {
    let (extra, ids) = bench_gates(turnstiles);
    let edge = Edge::start(EdgeOptions {
        broker: Broker::Embedded,
        extra_toml: extra,
        clock_check: true,
        device_logins: true,
        ..Default::default()
    })
    .await;
    let codes = park_tickets(&edge, 2000).await?;
    let mut points = Vec::new();
    let mut rows = Vec::new();
    let bench =
        format!("gate curve with device logins, embedded, {turnstiles} turnstiles, {seconds} s");
    println!("\nembedded with device logins, {turnstiles} turnstiles, {seconds} s a rate:\n");
    println!(
        "| rate /s | gate p50 / p99 (ms), logins | lost | steal | same run without logins p99 (ms) |"
    );
    println!("|---|---|---|---|---|");
    for (rate, without) in RATES.into_iter().zip(plain) {
        let cpu = host::CpuTimes::now();
        let g = loadgen::run(LoadSpec {
            mqtt: edge.mqtt_addr.clone(),
            zone: edge.zone.clone(),
            mode: Mode::Gate,
            devices: ids.clone(),
            codes: codes.clone(),
            rate_per_s: rate,
            duration: Duration::from_secs(seconds),
            warmup: Duration::from_secs(3),
        })
        .await;
        let stolen = host::stolen_since(cpu);
        println!(
            "| {rate} | {:.2} / {:.2} | {} of {} | {} | {:.2} |",
            g.p50_us as f64 / 1000.0,
            g.p99_us as f64 / 1000.0,
            g.lost,
            g.sent,
            host::percent(stolen),
            without.report.p99_us as f64 / 1000.0,
        );
        rows.push(Row {
            bench: bench.clone(),
            measure: format!("p99 at {rate}/s (lost {} of {})", g.lost, g.sent),
            value: g.p99_us as f64 / 1000.0,
            unit: "ms".into(),
            baseline: "same run, no logins".into(),
            baseline_value: without.report.p99_us as f64 / 1000.0,
            ratio: g.p99_us as f64 / without.report.p99_us.max(1) as f64,
            target: String::new(),
        });
        points.push(Point {
            rate,
            report: g,
            stolen,
        });
    }
    let (with, without) = (knee(&points), knee(plain));
    rows.push(Row {
        bench,
        measure: format!("knee (p99 < {} ms, none lost)", KNEE_P99_US_MAX / 1000),
        value: f64::from(with),
        unit: "scans/s".into(),
        baseline: "same run, no logins".into(),
        baseline_value: f64::from(without),
        ratio: f64::from(with) / f64::from(without.max(1)),
        target: String::new(),
    });
    Ok(rows)
}
