//! The `venue-edge` binary: `run` for production, `demo` for a newcomer, `user` and
//! `token` for venue IT. Every flag can also be set from the environment variable named in `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use venue_domain::config::Config;
use venue_edge::{accounts, demo, keys, plugin_cli, report_cli, runtime};

/// jemalloc returns freed memory to the system (glibc's malloc keeps the high-water mark of
/// transient peaks, such as a 1,000-ticket order, resident for the life of the process).
/// See BENCHMARKS.md, memory.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: a background thread returns pages freed more than a second ago even
/// while the process is idle (without it, purging waits for the next allocations).
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[derive(Parser)]
#[command(
    name = "venue-edge",
    version,
    about = "The Venue Edge host runtime for one zone of a venue"
)]
struct Cli {
    /// Threads of the async runtime (MQTT sessions, plugin calls, HTTP). Default: the
    /// cores, at least 4. The store's writer and checkpointer run on threads of their own.
    #[arg(long, global = true, env = "VENUE_EDGE_WORKER_THREADS")]
    worker_threads: Option<std::num::NonZeroUsize>,
    #[command(subcommand)]
    command: Command,
}

/// Async worker threads when `--worker-threads` is not given. At least four, also on a
/// two-core box: the store's writer runs at a raised priority and takes most of a core
/// under load, and with one worker per core the workers ran too seldom to batch anything
/// (sales benchmark on 2 cores: group commits of 8 sales with 2 workers, 24-31 with 4-8,
/// and 22,000-27,000 sales/s instead of 20,400-20,900 in the same hour; BENCHMARKS.md).
fn default_worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(4)
}

#[derive(Subcommand)]
enum Command {
    /// Run the edge box from a config file (production).
    Run {
        /// The venue config file (see deploy/demo/venue.toml and docs/configuration.md).
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
    },
    /// Run the demo venue 云山景区: embedded broker, SQLite, reference plugins and
    /// simulated turnstiles, with one bearer token per role in DIR/demo-tokens.json.
    Demo(demo::DemoArgs),
    /// Settle a range of business days (draft bills, as `POST /api/v1/settlements` does
    /// for one day), with a progress bar. Safe while the box runs.
    Settle {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// First business day, YYYY-MM-DD.
        #[arg(long)]
        from: venue_model::BusinessDate,
        /// Last business day, YYYY-MM-DD (inclusive).
        #[arg(long)]
        to: venue_model::BusinessDate,
    },
    /// Staff accounts: user names, display names, roles, passwords (Argon2id).
    User {
        #[command(subcommand)]
        command: accounts::UserCommand,
    },
    /// API tokens, each issued to a user: add, list, revoke.
    Token {
        #[command(subcommand)]
        command: accounts::TokenCommand,
    },
    /// Devices' MQTT credentials: add, list, revoke, export for mosquitto.
    Device {
        #[command(subcommand)]
        command: accounts::DeviceCommand,
    },
    /// The ID-number keys: rotate.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Reports in a terminal: revenue, visitor flow, consumption (tables, or --csv).
    Report {
        #[command(subcommand)]
        command: report_cli::ReportCommand,
    },
    /// Vendors' tools: check a plugin against its world's conformance vectors; make a
    /// signing key; pack, sign and verify a plugin package.
    Plugin {
        #[command(subcommand)]
        command: plugin_cli::PluginCommand,
    },
    /// The audit log's hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain: exit 0 when it is whole, 1 naming the first row edited, removed or
    /// reordered. Reads the store only; safe while the box runs.
    Verify {
        /// The box's data folder.
        #[arg(long, conflicts_with = "config", required_unless_present = "config")]
        data: Option<PathBuf>,
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Write the whole chain to stdout, oldest row first, one JSON row a line: what
    /// `venue-hq audit check --chain FILE` reads to hold it against the heads HQ kept.
    #[command(
        long_about = "Write the whole audit chain to stdout, oldest row first, one JSON row a line \
        ({\"id\",\"at\",\"actor\",\"via\",\"action\",\"subject\",\"detail\",\"prev_hash\",\"hash\"}). \
        Reads the store only; safe while the box runs. HQ checks it against the heads the box's \
        uploads carried.\n\n\
        Example:\n  \
        venue-edge audit export --data /var/lib/venue-edge > chain.jsonl\n  \
        venue-hq audit check --data /var/lib/venue-hq --edge edge-main --chain chain.jsonl"
    )]
    Export {
        /// The box's data folder.
        #[arg(long, conflicts_with = "config", required_unless_present = "config")]
        data: Option<PathBuf>,
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// The store of `--data DIR` or of `--config FILE`'s data folder, read only.
fn audit_store(
    data: Option<PathBuf>,
    config: Option<PathBuf>,
) -> anyhow::Result<rusqlite::Connection> {
    let data = match (data, config) {
        (Some(d), _) => d,
        (None, Some(c)) => Config::load(&c)?.edge.data_dir,
        (None, None) => anyhow::bail!("give --data DIR or --config FILE"),
    };
    let path = data.join(runtime::STORE_FILE);
    anyhow::ensure!(path.exists(), "no store at {}", path.display());
    Ok(venue_store::open_reader(&path)?)
}

/// `venue-edge audit export`: the chain as JSON lines on stdout.
fn audit_export(data: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<()> {
    let conn = audit_store(data, config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let rows = venue_domain::audit::export(&conn, &mut out)?;
    eprintln!("audit chain: {rows} rows written");
    Ok(())
}

/// `venue-edge audit verify`: whole (exit 0) or the first bad row (exit 1).
fn audit_verify(data: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<()> {
    let conn = audit_store(data, config)?;
    match venue_domain::audit::verify(&conn)? {
        Ok(whole) => {
            println!(
                "audit chain whole: {} rows, head {}",
                whole.rows, whole.head.hash
            );
            Ok(())
        }
        Err(broken) => {
            eprintln!("audit chain broken at row {}: {}", broken.row, broken.why);
            std::process::exit(1);
        }
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VENUE_EDGE_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,rmqtt=warn,rmqtt_net=warn,wasmtime=warn,cranelift=warn",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            cli.worker_threads
                .map_or_else(default_worker_threads, |n| n.get()),
        )
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Run { config } => {
                // Handlers go in before the box says it is up: a SIGHUP that follows the
                // "HTTP on" line at once must reload plugins, not end the process.
                let signals = Signals::install()?;
                let config = Config::load(&config)?;
                let running = runtime::start(config).await?;
                let tls = running
                    .mqtt_tls_addr
                    .map(|a| format!("  MQTT over TLS on {a}"))
                    .unwrap_or_default();
                println!(
                    "venue-edge: HTTP on {}://{}  MQTT on {}{tls}",
                    if running.https { "https" } else { "http" },
                    running.http_addr,
                    running.mqtt_addr
                );
                signals.serve_until_stopped(running).await
            }
            Command::Demo(args) => {
                let signals = Signals::install()?;
                demo::run(args, |running| signals.serve_until_stopped(running)).await
            }
            Command::Settle { config, from, to } => settle(config, from, to).await,
            Command::User { command } => accounts::user(command).await,
            Command::Token { command } => accounts::token(command).await,
            Command::Device { command } => accounts::device(command).await,
            Command::Keys { command } => keys::keys(command).await,
            Command::Report { command } => report_cli::run(command),
            Command::Plugin { command } => {
                let code = plugin_cli::run(command).await?;
                if code != 0 {
                    std::process::exit(code);
                }
                Ok(())
            }
            Command::Audit {
                command: AuditCommand::Verify { data, config },
            } => audit_verify(data, config),
            Command::Audit {
                command: AuditCommand::Export { data, config },
            } => audit_export(data, config),
        }
    })
}

/// `venue-edge settle`: one day after the other, each idempotent.
async fn settle(
    config: PathBuf,
    from: venue_model::BusinessDate,
    to: venue_model::BusinessDate,
) -> anyhow::Result<()> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let config = Config::load(&config)?;
    let data = config.edge.data_dir.clone();
    let store = venue_store::Store::open(&data.join(runtime::STORE_FILE))?;
    let vault = venue_domain::realname::IdVault::for_box(&config.edge)?;
    let plugin_dir = config.plugin_dir();
    let venue = venue_domain::venue::Venue::new(config, vault);
    let (alerts, _) = tokio::sync::mpsc::channel(16);
    let plugins =
        venue_plugin_host::PluginHost::new(&data.join("cache"), None, venue.clock, alerts)?;
    plugins.set_trust(venue_plugin_host::Trust {
        require_signatures: venue.config.plugins.require_signatures,
        keys: venue.config.plugins.trusted_keys.clone(),
    });
    for (path, e) in plugins.load_dir(&plugin_dir) {
        eprintln!("plugin {} not loaded: {e}", path.display());
    }
    let days = (to.naive() - from.naive()).num_days() as u64 + 1;
    let bar = indicatif::ProgressBar::new(days).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} days  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut bills, mut day) = (0usize, from);
    while day <= to {
        bar.set_message(day.to_string());
        bills += venue_domain::settlement::settle_with_plugins(
            &venue,
            &store,
            &plugins,
            day,
            &venue_domain::actor::Actor::system("cli:settle"),
        )
        .await?
        .len();
        bar.inc(1);
        day = day.succ();
    }
    bar.finish_with_message(format!("{bills} bills"));
    println!("settled {days} days: {bills} bills (drafts to review through the API)");
    Ok(())
}

/// The signals a serving box answers, installed before it starts.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Serves until SIGINT or SIGTERM, reloading plugins on SIGHUP, then stops in order.
    async fn serve_until_stopped(mut self, running: runtime::Running) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                _ = self.int.recv() => break,
                _ = self.term.recv() => break,
                _ = self.hup.recv() => running.reload_plugins().await,
            }
        }
        println!("venue-edge: stopping");
        running.shutdown().await;
        Ok(())
    }
}
