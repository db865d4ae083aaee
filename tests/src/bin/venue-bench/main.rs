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
use venue_domain::admission::{Decision, Reason, Verdict};
use venue_edge::demo;
use venue_plugin_host::{Grant, Loaded, PluginHost, World};
use venue_tests::{Broker, Edge, EdgeOptions, built_plugins, order, target_dir};

mod gate;
mod gate_curve;
mod host;
mod memory;
mod orders;
mod plugin;
mod plugin_langs;
mod reports;
mod sales;
mod settlement;
mod upstream;

use gate::gate;
use gate_curve::gate_curve;
use memory::memory;
use orders::{orders, signin};
use plugin::plugin;
use plugin_langs::plugin_langs;
use reports::reports_bench;
use sales::{sales, sales_store};
use settlement::settlement;
use upstream::upstream;

#[derive(Parser)]
#[command(
    name = "venue-bench",
    about = "Venue Edge benchmarks (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    pub(crate) bench: Option<Bench>,
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
        /// Run through this broker only; both by default.
        #[arg(long, value_enum)]
        broker: Option<gate::BrokerKind>,
    },
    /// The gate's latency curve against a bare echo's over rising rates, through each
    /// broker, and each one's knee (the gate's target).
    GateCurve {
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 200)]
        turnstiles: usize,
        /// Run through this broker only; both by default.
        #[arg(long, value_enum)]
        broker: Option<gate::BrokerKind>,
        /// The gate adapter the gates run.
        #[arg(long, value_enum, default_value = "rust")]
        plugin: gate_curve::GatePlugin,
    },
    /// decode-scan + encode-verdict through the std-json plugin, against native Rust.
    Plugin {
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
    /// The same adapters in Rust, JavaScript and Python: size, first load, a call on a
    /// fresh and on a warm instance, memory per instance.
    PluginLangs {
        #[arg(long, default_value_t = 2_000)]
        iterations: u32,
    },
    /// Single-ticket orders over keep-alive HTTP, against GET /api/v1/products.
    Orders {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// Sign-ins (Argon2id) over keep-alive HTTP, against a token's authenticated read.
    Signin {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 4)]
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
    /// Sales from POS terminals over MQTT, acked after commit, against raw batched inserts.
    Sales {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        terminals: usize,
        /// Sales each terminal has in flight (sent, not yet acknowledged).
        #[arg(long, default_value_t = 4)]
        window: usize,
    },
    /// The sales journal alone (no MQTT, broker or plugin), against raw batched inserts.
    SalesStore {
        #[arg(long, default_value_t = 200_000)]
        sales: u64,
        #[arg(long, default_value_t = 100)]
        terminals: usize,
        /// Concurrent writers (sales in flight).
        #[arg(long, default_value_t = 400)]
        tasks: usize,
    },
    /// A million records from an edge box's outbox to HQ (SQLite, PostgreSQL), against COPY.
    Upstream {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
    },
    /// Reports on a year of one busy zone (7.3 million sales and scans by default): the
    /// Today page's queries, a month's consumption analysis, a year's revenue by month,
    /// each against a plain GROUP BY.
    Reports {
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long, default_value_t = 20_000)]
        per_day: u32,
    },
    /// Every benchmark with its default settings.
    All,
}

#[derive(serde::Serialize)]
pub(crate) struct Row {
    pub(crate) bench: String,
    pub(crate) measure: String,
    pub(crate) value: f64,
    pub(crate) unit: String,
    pub(crate) baseline: String,
    pub(crate) baseline_value: f64,
    pub(crate) ratio: f64,
    pub(crate) target: String,
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
        if let Bench::PluginLangs { iterations } = bench {
            rows.extend(plugin_langs(iterations).await?);
        }
        if let Bench::Orders { seconds, clients } = bench {
            rows.extend(orders(seconds, clients).await?);
        } else if all {
            rows.extend(orders(20, 32).await?);
        }
        if let Bench::Signin { seconds, clients } = bench {
            rows.extend(signin(seconds, clients).await?);
        } else if all {
            rows.extend(signin(10, 4).await?);
        }
        if let Bench::Memory { tickets } = bench {
            rows.extend(memory(tickets).await?);
        } else if all {
            rows.extend(memory(1_000_000).await?);
        }
        if let Bench::Reports { days, per_day } = bench {
            rows.extend(reports_bench(days, per_day).await?);
        } else if all {
            rows.extend(reports_bench(365, 20_000).await?);
        }
        if let Bench::Settlement { sales, parties } = bench {
            rows.extend(settlement(sales, parties).await?);
        } else if all {
            rows.extend(settlement(1_000_000, 50).await?);
        }
        if let Bench::Sales {
            seconds,
            terminals,
            window,
        } = bench
        {
            rows.extend(sales(seconds, terminals, window).await?);
        } else if all {
            rows.extend(sales(20, 100, 4).await?);
        }
        if let Bench::SalesStore {
            sales,
            terminals,
            tasks,
        } = bench
        {
            rows.extend(sales_store(sales, terminals, tasks).await?);
        }
        if let Bench::Upstream { records } = bench {
            rows.extend(upstream(records).await?);
        } else if all {
            rows.extend(upstream(1_000_000).await?);
        }
        if let Bench::Gate {
            seconds,
            rate,
            turnstiles,
            broker,
        } = bench
        {
            rows.extend(gate(seconds, rate, turnstiles, broker).await?);
        }
        if let Bench::GateCurve {
            seconds,
            turnstiles,
            broker,
            plugin,
        } = bench
        {
            rows.extend(gate_curve(seconds, turnstiles, broker, plugin).await?);
        } else if all {
            rows.extend(gate_curve(15, 200, None, gate_curve::GatePlugin::Rust).await?);
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
