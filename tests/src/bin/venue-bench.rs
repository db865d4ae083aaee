//! `venue-bench`: the benchmarks of BENCHMARKS.md, each against a baseline measured in the
//! same run. `cargo xtask bench` builds everything in release and runs them all; one can be
//! run alone with `cargo xtask bench gate` (or `plugin`, `orders`, `memory`).
//!
//! Results are printed as a Markdown table and appended as JSON lines to
//! `target/bench/results.jsonl`.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use venue_devices::loadgen::{self, LoadReport, LoadSpec, Mode};
use venue_edge::admission::{Decision, Reason, Verdict};
use venue_edge::demo;
use venue_edge::plugin::{Grant, PluginHost, World};
use venue_tests::{Broker, Edge, EdgeOptions, built_plugins, order, target_dir};

#[derive(Parser)]
#[command(
    name = "venue-bench",
    about = "Venue Edge benchmarks (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    bench: Option<Bench>,
}

#[derive(Subcommand, Clone, Copy)]
enum Bench {
    /// Gate round trip through the embedded broker and mosquitto, against a bare echo.
    Gate {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 200)]
        turnstiles: usize,
    },
    /// decode-scan + encode-verdict through the std-json plugin, against native Rust.
    Plugin {
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
    /// Single-ticket orders over keep-alive HTTP, against GET /api/v1/products.
    Orders {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// Runtime RSS with six plugins and 1,000,000 issued tickets, against the same runtime empty.
    Memory {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u32,
    },
    /// Settling one day of 1,000,000 sales across 50 parties, against a bare GROUP BY.
    Settlement {
        #[arg(long, default_value_t = 1_000_000)]
        sales: u32,
        #[arg(long, default_value_t = 50)]
        parties: u32,
    },
    /// Every benchmark with its default settings.
    All,
}

#[derive(serde::Serialize)]
struct Row {
    bench: String,
    measure: String,
    value: f64,
    unit: String,
    baseline: String,
    baseline_value: f64,
    ratio: f64,
    target: String,
}

fn main() -> anyhow::Result<()> {
    // SAFETY: set before any thread is started.
    if std::env::var("VENUE_TEST_PROFILE").is_err() {
        unsafe { std::env::set_var("VENUE_TEST_PROFILE", "release") };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bench = Cli::parse().bench.unwrap_or(Bench::All);
    let rows = rt.block_on(async move {
        let mut rows = Vec::new();
        let all = matches!(bench, Bench::All);
        if let Bench::Plugin { iterations } = bench {
            rows.extend(plugin(iterations).await?);
        } else if all {
            rows.extend(plugin(20_000).await?);
        }
        if let Bench::Orders { seconds, clients } = bench {
            rows.extend(orders(seconds, clients).await?);
        } else if all {
            rows.extend(orders(20, 32).await?);
        }
        if let Bench::Memory { tickets } = bench {
            rows.extend(memory(tickets).await?);
        } else if all {
            rows.extend(memory(1_000_000).await?);
        }
        if let Bench::Settlement { sales, parties } = bench {
            rows.extend(settlement(sales, parties).await?);
        } else if all {
            rows.extend(settlement(1_000_000, 50).await?);
        }
        if let Bench::Gate {
            seconds,
            rate,
            turnstiles,
        } = bench
        {
            rows.extend(gate(seconds, rate, turnstiles).await?);
        } else if all {
            rows.extend(gate(60, 1000, 200).await?);
        }
        anyhow::Ok(rows)
    })?;
    report(&rows)?;
    Ok(())
}

fn report(rows: &[Row]) -> anyhow::Result<()> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("results.jsonl"))?;
    let at = chrono::Utc::now().to_rfc3339();
    println!(
        "\n| bench | measure | value | baseline | ratio | target |\n|---|---|---|---|---|---|"
    );
    for r in rows {
        writeln!(file, "{}", serde_json::json!({ "at": at, "row": r }))?;
        println!(
            "| {} | {} | {:.2} {} | {}: {:.2} {} | {:.2} | {} |",
            r.bench,
            r.measure,
            r.value,
            r.unit,
            r.baseline,
            r.baseline_value,
            r.unit,
            r.ratio,
            r.target
        );
    }
    Ok(())
}

/// A config fragment with `n` extra std-json gates in the park, `b-0001`...
fn bench_gates(n: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (1..=n).map(|i| format!("b-{i:04}")).collect();
    let toml = ids
        .iter()
        .map(|id| {
            format!("\n[[gates]]\nid = \"{id}\"\narea = \"park\"\nplugin = \"std-json-gate\"\n")
        })
        .collect();
    (toml, ids)
}

/// Buys `n` park-day tickets for today, 100 to an order; returns their codes.
async fn park_tickets(edge: &Edge, n: u32) -> anyhow::Result<Vec<String>> {
    let mut codes = Vec::new();
    let mut k = 0;
    while (codes.len() as u32) < n {
        k += 1;
        let qty = (n - codes.len() as u32).min(100);
        let r = edge
            .api
            .post_json(
                "/api/v1/orders",
                Some(edge.token("ticketing")),
                &order(
                    &format!("bench-{k}"),
                    "web",
                    &Edge::today(),
                    "park-day",
                    qty,
                    true,
                ),
            )
            .await?;
        anyhow::ensure!(r.status == 201, "order refused: {}", r.text());
        for t in r.json()["tickets"].as_array().into_iter().flatten() {
            codes.push(t["code"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(codes)
}

async fn gate(seconds: u64, rate: u32, turnstiles: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for broker_name in ["embedded", "mosquitto"] {
        let mut mosquitto = None;
        let broker = if broker_name == "embedded" {
            Broker::Embedded
        } else {
            let (child, addr) = start_mosquitto()?;
            mosquitto = Some(child);
            Broker::External(addr)
        };
        let (extra, ids) = bench_gates(turnstiles);
        let edge = Edge::start(EdgeOptions {
            broker,
            extra_toml: extra,
            clock_check: true,
            ..Default::default()
        })
        .await;
        let codes = park_tickets(&edge, 2000).await?;
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
        let gate = loadgen::run(spec(Mode::Gate)).await;
        let inside = decision_quantiles(&edge.api.get("/metrics", None).await?.text());
        eprintln!("runtime's own scan decision latency ({broker_name}): {inside}");
        let echo = loadgen::run(spec(Mode::Echo)).await;
        eprintln!("gate  ({broker_name}): {}", serde_json::to_string(&gate)?);
        eprintln!("echo  ({broker_name}): {}", serde_json::to_string(&echo)?);
        for (measure, g, e) in [
            ("p50", gate.p50_us, echo.p50_us),
            ("p99", gate.p99_us, echo.p99_us),
        ] {
            rows.push(Row {
                bench: format!(
                    "gate round trip, {broker_name}, {turnstiles} turnstiles, {rate}/s, {seconds} s"
                ),
                measure: format!("{measure} (lost {} of {})", gate.lost, gate.sent),
                value: g as f64 / 1000.0,
                unit: "ms".into(),
                baseline: "bare MQTT echo".into(),
                baseline_value: e as f64 / 1000.0,
                ratio: g as f64 / e.max(1) as f64,
                target: if measure == "p99" {
                    "<= 2x echo and < 5 ms".into()
                } else {
                    String::new()
                },
            });
        }
        check_loss(&gate, &echo);
        drop(edge);
        if let Some(mut child) = mosquitto {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(rows)
}

/// p50 and p99 of the runtime's `venue_edge_scan_seconds` histogram (bucket upper bounds).
fn decision_quantiles(metrics: &str) -> String {
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with("venue_edge_scan_seconds_bucket"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((le.parse().unwrap_or(f64::INFINITY), count))
        })
        .collect();
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    let q = |p: f64| {
        buckets
            .iter()
            .find(|b| b.1 >= total * p)
            .map(|b| b.0 * 1000.0)
            .unwrap_or(f64::NAN)
    };
    format!(
        "p50 <= {:.2} ms, p99 <= {:.2} ms over {total} scans",
        q(0.5),
        q(0.99)
    )
}

fn check_loss(gate: &LoadReport, echo: &LoadReport) {
    if gate.lost > 0 || echo.lost > 0 {
        eprintln!(
            "warning: unanswered requests: gate {} of {}, echo {} of {}",
            gate.lost, gate.sent, echo.lost, echo.sent
        );
    }
}

/// Starts a mosquitto of our own on a free loopback port, with Nagle off.
fn start_mosquitto() -> anyhow::Result<(Child, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = tempfile::tempdir()?.keep();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nset_tcp_nodelay true\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 100000\n"
        ),
    )?;
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return Ok((child, addr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("mosquitto did not start on {addr}")
}

async fn plugin(iterations: u32) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let clock = venue_edge::clock::Clock::new(chrono_tz_shanghai());
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
    let started = Instant::now();
    for _ in 0..iterations {
        let scan = plugin.decode_scan("g7", payload).await?;
        std::hint::black_box(&scan);
        let bytes = plugin.encode_verdict("g7", &verdict).await?;
        std::hint::black_box(&bytes);
    }
    let wasm_us = started.elapsed().as_secs_f64() * 1e6 / iterations as f64;

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
            measure: "per call (half a pair)".into(),
            value: wasm_us / 2.0,
            unit: "µs".into(),
            baseline: "same code native".into(),
            baseline_value: native_us / 2.0,
            ratio: wasm_us / native_us,
            target: "<= 20 µs".into(),
        },
    ])
}

fn chrono_tz_shanghai() -> chrono_tz::Tz {
    chrono_tz::Asia::Shanghai
}

fn plugin_std_json_gate_verdict(
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

/// Runs `clients` loops of `request` for `seconds`; returns successes per second.
async fn closed_loop<F, Fut>(clients: usize, seconds: u64, request: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let ok = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, ok, seq) = (request.clone(), ok.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if request(n).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn orders(seconds: u64, clients: usize) -> anyhow::Result<Vec<Row>> {
    let edge = Edge::start(EdgeOptions::default()).await;
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let api = edge.api.clone();
    let (t, d) = (token.clone(), today.clone());
    let orders_per_s = closed_loop(clients, seconds, move |n| {
        let (api, t, d) = (api.clone(), t.clone(), d.clone());
        async move {
            let body = order(&format!("ob-{n}"), "web", &d, "shuttle-day", 1, false);
            matches!(api.post_json("/api/v1/orders", Some(&t), &body).await, Ok(r) if r.status == 201)
        }
    })
    .await;
    let api = edge.api.clone();
    let reads_per_s =
        closed_loop(clients, seconds, move |_| {
            let (api, t) = (api.clone(), token.clone());
            async move {
                matches!(api.get("/api/v1/products", Some(&t)).await, Ok(r) if r.status == 200)
            }
        })
        .await;
    Ok(vec![Row {
        bench: format!("orders, {clients} keep-alive clients, {seconds} s"),
        measure: "single-ticket orders/s (201)".into(),
        value: orders_per_s,
        unit: "/s".into(),
        baseline: "GET /api/v1/products".into(),
        baseline_value: reads_per_s,
        ratio: orders_per_s / reads_per_s,
        target: ">= 2000 /s".into(),
    }])
}

fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

async fn memory(tickets: u32) -> anyhow::Result<Vec<Row>> {
    let mut edge = Edge::start(EdgeOptions::default()).await;
    // Six plugins: the four reference plugins and two more gate adapters.
    let plugin_dir = edge.data_dir().join("plugins");
    demo::install_plugin(
        &built_plugins().join("plugin_misbehave.wasm"),
        &plugin_dir,
        "mis-ok",
        World::GateAdapter,
        &[Grant::Config],
        &[("mode", "ok")],
    )?;
    demo::install_plugin(
        &built_plugins().join("plugin_std_json_gate.wasm"),
        &plugin_dir,
        "std-json-gate-b",
        World::GateAdapter,
        &[Grant::Log],
        &[],
    )?;
    edge.stop();
    edge.spawn().await;
    let plugins = edge
        .api
        .get("/api/v1/plugins", Some(edge.token("admin")))
        .await?
        .json();
    anyhow::ensure!(
        plugins.as_array().map(Vec::len) == Some(6),
        "expected six plugins: {plugins}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = edge.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let (empty_rss, _) = rss_kib(pid)?;

    let started = Instant::now();
    let per_order = 1000u32;
    let orders = tickets.div_ceil(per_order);
    let api = edge.api.clone();
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (api, token, today, next) = (api.clone(), token.clone(), today.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders as u64 {
                    return anyhow::Ok(());
                }
                let body = order(
                    &format!("mem-{n}"),
                    "web",
                    &today,
                    "shuttle-day",
                    per_order,
                    false,
                );
                let r = api.post_json("/api/v1/orders", Some(&token), &body).await?;
                anyhow::ensure!(r.status == 201, "order refused: {}", r.text());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let issue_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (full_rss, peak) = rss_kib(pid)?;
    let metrics = edge.api.get("/metrics", None).await?.text();
    let sqlite_heap = metrics
        .lines()
        .find(|l| l.starts_with("venue_edge_sqlite_heap_bytes "))
        .unwrap_or("")
        .to_owned();
    eprintln!("memory: {sqlite_heap}");
    // VENUE_BENCH_DEBUG=1: watch RSS settle and list the largest mappings.
    if std::env::var("VENUE_BENCH_DEBUG").is_ok() {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            eprintln!("later RSS {:?}", rss_kib(pid)?);
        }
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
        let mut maps: Vec<(u64, String)> = Vec::new();
        let mut current = String::new();
        for line in smaps.lines() {
            if line.contains('-') && !line.starts_with(|c: char| c.is_ascii_uppercase()) {
                current = line.to_owned();
            } else if let Some(v) = line.strip_prefix("Rss:") {
                let kb: u64 = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                maps.push((kb, current.clone()));
            }
        }
        maps.sort_by_key(|m| std::cmp::Reverse(m.0));
        for (kb, m) in maps.iter().take(12) {
            eprintln!("{kb:>8} kB  {m}");
        }
    }
    let db_bytes = std::fs::metadata(edge.data_dir().join("venue-edge.sqlite3"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "memory: {tickets} tickets issued in {issue_s:.1} s; RSS {full_rss} KiB (peak {peak} KiB), empty {empty_rss} KiB; store {} MiB",
        db_bytes / (1 << 20)
    );
    Ok(vec![Row {
        bench: format!("memory, six plugins, {tickets} tickets (issued in {issue_s:.0} s)"),
        measure: format!("runtime RSS (peak {:.0} MiB)", peak as f64 / 1024.0),
        value: full_rss as f64 / 1024.0,
        unit: "MiB".into(),
        baseline: "same runtime, no tickets".into(),
        baseline_value: empty_rss as f64 / 1024.0,
        ratio: full_rss as f64 / empty_rss.max(1) as f64,
        target: "< 256 MiB".into(),
    }])
}

async fn settlement(sales: u32, parties: u32) -> anyhow::Result<Vec<Row>> {
    use venue_edge::store::StoreError;
    let dir = tempfile::tempdir()?;
    // The demo venue plus merchants, parties and commission contracts up to `parties`.
    let mut text = demo::DEMO_VENUE.to_owned();
    let extra = parties.saturating_sub(4);
    for i in 0..extra {
        text.push_str(&format!(
            "\n[[merchants]]\nid = \"m-b{i}\"\narea = \"park\"\n\n[[parties]]\nid = \"p-b{i}\"\n\n[[contracts]]\nid = \"c-b{i}\"\nparty = \"p-b{i}\"\nkind = \"commission\"\nmerchants = [\"m-b{i}\"]\nrates = {{ food = 1000, drink = 1200 }}\ndefault_rate_bp = 1500\n"
        ));
    }
    let config = venue_edge::config::Config::parse(&text, std::path::Path::new("bench"))?;
    let venue = venue_edge::venue::Venue::new(config, venue_edge::realname::IdVault::ephemeral());
    let store = venue_edge::store::Store::open(&dir.path().join("s.sqlite3"))?;
    let day = venue.clock.today();
    let (contracts, now) = (venue.config.contracts.clone(), venue.clock.now_rfc3339());
    store
        .write(move |c| -> Result<usize, StoreError> {
            Ok(venue_edge::settlement::contracts::seed(
                c, &contracts, &now,
            )?)
        })
        .await?;
    let mut merchants: Vec<String> = venue
        .config
        .merchants
        .iter()
        .map(|m| m.id.clone())
        .collect();
    merchants.truncate(parties as usize);
    let d = day.to_string();
    let started = Instant::now();
    store
        .write(move |c| -> Result<(), StoreError> {
            let mut stmt = c.prepare(
                "INSERT INTO revenue_facts (source, fact_id, kind, merchant, area, category, business_date, amount_fen, count)
                 VALUES ('pos', ?1, 'sale', ?2, 'park', ?3, ?4, ?5, 1)",
            )?;
            let categories = ["food", "drink", "souvenir"];
            for n in 0..sales as usize {
                let m = &merchants[n % merchants.len()];
                stmt.execute(rusqlite::params![format!("s{n}"), m, categories[n % 3], d, 100 + (n % 9000) as i64])?;
            }
            Ok(())
        })
        .await?;
    eprintln!(
        "settlement: {sales} sales written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let d = day.to_string();
    let started = Instant::now();
    let groups = store
        .write(move |c| -> Result<i64, StoreError> {
            let mut stmt = c.prepare(
                "SELECT merchant, category, SUM(amount_fen) FROM revenue_facts WHERE business_date = ?1 GROUP BY merchant, category",
            )?;
            let rows = stmt.query_map([&d], |r| r.get::<_, i64>(2))?;
            Ok(rows.count() as i64)
        })
        .await?;
    let group_s = started.elapsed().as_secs_f64();
    let venue = std::sync::Arc::new(venue);
    let started = Instant::now();
    let bills = venue_edge::settlement::settle_with_plugins(
        &venue,
        &store,
        &PluginHost::new(
            &dir.path().join("cache"),
            None,
            venue.clock,
            tokio::sync::mpsc::channel(1).0,
        )?,
        day,
        "bench",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settle_s = started.elapsed().as_secs_f64();
    eprintln!(
        "settlement: {} bills in {settle_s:.3} s; bare GROUP BY ({groups} groups) {group_s:.3} s",
        bills.len()
    );
    anyhow::ensure!(
        bills.len() as u32 >= parties.min(merchants_len(&venue)),
        "expected a bill per party"
    );
    Ok(vec![Row {
        bench: format!("settlement, {sales} sales of one day, {parties} parties"),
        measure: format!("all {} daily bills", bills.len()),
        value: settle_s,
        unit: "s".into(),
        baseline: "bare GROUP BY merchant, category".into(),
        baseline_value: group_s,
        ratio: settle_s / group_s,
        target: "< 2 s".into(),
    }])
}

fn merchants_len(v: &venue_edge::venue::Venue) -> u32 {
    v.config
        .contracts
        .iter()
        .filter(|c| c.cycle == "daily")
        .count() as u32
}
