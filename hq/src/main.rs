//! The `venue-hq` binary: `serve` receives batches and serves reports; `token add` creates
//! bearer tokens; `audit check` checks an edge box's audit chain against the heads its
//! batches carried. Every flag can also be set from the environment variable named in
//! `--help`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use venue_hq::auth::{self, Role};
use venue_hq::store::{self, DatabaseConfig, Store};

/// jemalloc returns the memory of large batches to the system once they are stored.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "venue-hq",
    version,
    about = "The Venue Edge headquarters receiver: takes the batches edge boxes upload and serves revenue reports",
    long_about = "The Venue Edge headquarters receiver.\n\n\
        Edge boxes upload their records in numbered batches (POST /api/v1/batches); HQ checks them, \
        drops what it already has, stores the rest in SQLite (default) or PostgreSQL, and serves \
        revenue reports across every edge box (GET /api/v1/reports/revenue).\n\n\
        Example:\n  \
        venue-hq token add --data /var/lib/venue-hq --edge edge-main\n  \
        venue-hq token add --data /var/lib/venue-hq --role finance\n  \
        venue-hq serve --data /var/lib/venue-hq --http 0.0.0.0:8443"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive batches and serve reports until SIGINT or SIGTERM.
    #[command(
        long_about = "Receive batches from edge boxes and serve reports until SIGINT or SIGTERM.\n\n\
        Prints `venue-hq: HTTP on http://ADDR` on stdout once it listens (ADDR is the address \
        actually bound, so --http 127.0.0.1:0 picks a free port) and logs to stderr \
        (filter with VENUE_HQ_LOG, e.g. VENUE_HQ_LOG=debug). Creates the database, or the \
        PostgreSQL schema and its tables, if missing.\n\n\
        Example:\n  \
        venue-hq serve --data /var/lib/venue-hq --http 0.0.0.0:8443\n  \
        venue-hq serve --database postgres://hq@db.internal/hq --pg-schema venue_hq --http 0.0.0.0:8443"
    )]
    Serve(ServeArgs),
    /// Manage bearer tokens.
    #[command(
        long_about = "Manage bearer tokens. A token is shown once, when it is created; HQ keeps only \
        its SHA-256 digest.\n\n\
        Example:\n  \
        venue-hq token add --data /var/lib/venue-hq --edge edge-main"
    )]
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check an edge box's audit chain against the heads its batches carried.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Exit 0 when an edge box's audit heads belong to one growing chain; 1 naming the
    /// first that does not.
    #[command(
        long_about = "Check an edge box's audit chain against the heads HQ kept.\n\n\
        Every batch an edge box uploads carries its audit chain's head (the last row and its \
        hash). A later head on an earlier row, or a row whose hash changed, means the box's log \
        was cut back or rewritten. With --chain (the box's `venue-edge audit export` output), the \
        chain is also walked row by row and must hold every head HQ was sent: a log rebuilt past \
        the old heads is caught there. Exit 0 when all is well, 1 naming the first problem.\n\n\
        Example:\n  \
        venue-hq audit check --data /var/lib/venue-hq --edge edge-main\n  \
        venue-edge audit export --data /var/lib/venue-edge > chain.jsonl\n  \
        venue-hq audit check --data /var/lib/venue-hq --edge edge-main --chain chain.jsonl"
    )]
    Check(AuditCheckArgs),
}

#[derive(Args)]
struct AuditCheckArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The edge box (its [edge] id).
    #[arg(long, value_name = "EDGE_ID")]
    edge: String,
    /// The box's exported chain (`venue-edge audit export`), one JSON row a line.
    #[arg(long, value_name = "FILE")]
    chain: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The address to listen on for HTTP, e.g. 0.0.0.0:8443 (port 0: any free port).
    #[arg(long, env = "VENUE_HQ_HTTP", value_name = "ADDR")]
    http: String,
    /// The largest batch accepted, in bytes, both as sent (compressed) and decompressed;
    /// larger ones are answered 413 batch_too_large.
    #[arg(long, env = "VENUE_HQ_MAX_BATCH_BYTES", value_name = "N", default_value_t = venue_hq::MAX_BATCH_BYTES_DEFAULT)]
    max_batch_bytes: usize,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Edge
    /// boxes pin the CA that signed it (`[uplink] ca_file`).
    #[arg(
        long,
        env = "VENUE_HQ_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long,
        env = "VENUE_HQ_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

#[derive(Args)]
struct DatabaseArgs {
    /// The data folder: the SQLite database is DIR/hq.sqlite3. Not needed with --database.
    #[arg(
        long,
        env = "VENUE_HQ_DATA",
        value_name = "DIR",
        required_unless_present = "database"
    )]
    data: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://user@host:5432/database) to use instead of SQLite.
    #[arg(long, env = "VENUE_HQ_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// The PostgreSQL schema holding HQ's tables (created if missing): a-z, 0-9 and _.
    #[arg(
        long,
        env = "VENUE_HQ_PG_SCHEMA",
        value_name = "NAME",
        default_value = "venue_hq"
    )]
    pg_schema: String,
    /// PostgreSQL connections at most (batches stored at once).
    #[arg(
        long,
        env = "VENUE_HQ_PG_CONNECTIONS",
        value_name = "N",
        default_value_t = 4
    )]
    pg_connections: usize,
}

impl DatabaseArgs {
    fn config(&self) -> anyhow::Result<DatabaseConfig> {
        match (&self.database, &self.data) {
            (Some(url), _) => {
                anyhow::ensure!(
                    url.starts_with("postgres://") || url.starts_with("postgresql://"),
                    "--database must be a postgres:// URL (for SQLite, give only --data DIR)"
                );
                store::check_schema_name(&self.pg_schema).map_err(anyhow::Error::msg)?;
                Ok(DatabaseConfig::Postgres {
                    url: url.clone(),
                    schema: self.pg_schema.clone(),
                    connections: self.pg_connections.max(1),
                })
            }
            (None, Some(dir)) => Ok(DatabaseConfig::Sqlite {
                path: dir.join(store::SQLITE_FILE),
            }),
            (None, None) => anyhow::bail!("give --data DIR (SQLite) or --database postgres://..."),
        }
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for an edge box or an HQ role and print it (the last line of stdout).
    #[command(
        long_about = "Create a token and print it as the last line of stdout: the only time it is shown.\n\n\
        An edge token (--edge EDGE_ID) uploads batches for that edge box only; set it in the box's \
        uplink configuration. A role token (--role) reads reports: manager, finance and auditor \
        read GET /api/v1/reports/revenue; manager and auditor also GET /api/v1/edges. Safe while \
        `venue-hq serve` runs: the server finds a new token on its first use.\n\n\
        Example:\n  \
        venue-hq token add --data /var/lib/venue-hq --edge edge-main --label \"main gate box\"\n  \
        venue-hq token add --database postgres://hq@db.internal/hq --role auditor"
    )]
    Add(TokenAddArgs),
}

#[derive(Args)]
struct TokenAddArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    who: Who,
    /// A note on who holds the token.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct Who {
    /// The edge box the token uploads for (its [edge] id).
    #[arg(long, value_name = "EDGE_ID")]
    edge: Option<String>,
    /// An HQ role: manager, finance or auditor.
    #[arg(long, value_parser = auth::HQ_ROLES)]
    role: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VENUE_HQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Token {
                command: TokenCommand::Add(args),
            } => token_add(args).await,
            Command::Audit {
                command: AuditCommand::Check(args),
            } => audit_check(args).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    anyhow::ensure!(
        args.max_batch_bytes > 0,
        "--max-batch-bytes must be above 0"
    );
    let mut term = signal(SignalKind::terminate())?;
    let running = venue_hq::start(venue_hq::ServeOptions {
        database: args.database.config()?,
        http: args.http,
        max_batch_bytes: args.max_batch_bytes,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(venue_hq::tls::TlsFiles { cert, key }),
            _ => None,
        },
    })
    .await?;
    {
        let mut out = std::io::stdout().lock();
        let scheme = if running.tls { "https" } else { "http" };
        writeln!(out, "venue-hq: HTTP on {scheme}://{}", running.addr)?;
        out.flush()?;
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("venue-hq: stopping; requests in progress finish first");
    running.stop().await;
    tracing::info!("venue-hq: stopped");
    Ok(())
}

async fn audit_check(args: AuditCheckArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.database.config()?)
        .await
        .context("opening the database")?;
    let anchors = store.audit_anchors(&args.edge).await?;
    let mut file = match &args.chain {
        Some(path) => Some(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => None,
    };
    let chain = file.as_mut().map(|f| f as &mut dyn std::io::BufRead);
    match venue_hq::audit::check(&anchors, chain) {
        Ok(checked) => {
            let mut line = format!(
                "audit heads of {}: {} kept, latest row {}, one growing chain",
                args.edge, checked.anchors, checked.latest_row
            );
            if let Some(rows) = checked.chain_rows {
                line.push_str(&format!(
                    "; the exported chain is whole ({rows} rows) and holds every head"
                ));
            }
            println!("{line}");
            Ok(())
        }
        Err(broken) => {
            eprintln!(
                "audit chain of {} broken at row {}: {}",
                args.edge, broken.row, broken.why
            );
            std::process::exit(1);
        }
    }
}

async fn token_add(args: TokenAddArgs) -> anyhow::Result<()> {
    let role = match (&args.who.edge, &args.who.role) {
        (Some(edge), _) => {
            anyhow::ensure!(
                !edge.is_empty()
                    && edge.len() <= 128
                    && edge
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')),
                "--edge {edge:?} must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"
            );
            Role::Edge(edge.clone())
        }
        (None, Some(name)) => Role::hq(name).with_context(|| format!("unknown role {name:?}"))?,
        (None, None) => anyhow::bail!("give --edge EDGE_ID or --role manager|finance|auditor"),
    };
    let store = Store::open(&args.database.config()?)
        .await
        .context("opening the database")?;
    let token = auth::new_token();
    store
        .add_token(&auth::digest(&token), &role, &args.label)
        .await
        .context("storing the token")?;
    eprintln!(
        "venue-hq: created {}; it is shown only this once:",
        role.describe()
    );
    println!("{token}");
    Ok(())
}
