//! `venue-devices`: simulated turnstiles and a load generator, from the command line.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use venue_devices::formats::Format;
use venue_devices::loadgen::{self, LoadSpec, Mode};
use venue_devices::turnstile::Turnstile;

#[derive(Parser)]
#[command(
    name = "venue-devices",
    version,
    about = "Simulated Venue Edge devices and load generators"
)]
struct Cli {
    /// The devices' MQTT credentials (the JSON `venue-edge device add` prints; the demo's
    /// `demo-devices.json`): each simulated device logs in with its own.
    #[arg(long, global = true, env = "VENUE_DEVICE_LOGINS")]
    logins: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    StdJson,
    Tp1,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Gate,
    Echo,
}

#[derive(Subcommand)]
enum Command {
    /// Present one code at a turnstile and print the verdict.
    Scan {
        #[arg(long, env = "VENUE_MQTT", default_value = "127.0.0.1:1883")]
        mqtt: String,
        #[arg(long, default_value = "main")]
        zone: String,
        #[arg(long)]
        gate: String,
        #[arg(long, value_enum, default_value = "std-json")]
        format: FormatArg,
        #[arg(long)]
        code: String,
        /// Scan out instead of in.
        #[arg(long)]
        out: bool,
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[arg(long)]
        id_number: Option<String>,
    },
    /// The payout-bank simulator (see the `bank` module for its API).
    Bank {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The key of --tls-cert (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
    },
    /// The demo venue's traffic: visitors buying tickets and passing the turnstiles, and
    /// sales at the POS terminals, until stopped. `venue-edge demo` runs this.
    DemoTraffic {
        /// The edge box's HTTP address.
        #[arg(long)]
        http: std::net::SocketAddr,
        /// The MQTT broker the devices connect to.
        #[arg(long, env = "VENUE_MQTT")]
        mqtt: String,
        #[arg(long, default_value = "main")]
        zone: String,
        /// The demo's tokens file (`demo-tokens.json`): its `ticketing` token buys the tickets.
        #[arg(long)]
        tokens: std::path::PathBuf,
    },
    /// Many devices at a fixed rate; prints a JSON report of round-trip latencies.
    Load {
        #[arg(long, env = "VENUE_MQTT", default_value = "127.0.0.1:1883")]
        mqtt: String,
        #[arg(long, default_value = "main")]
        zone: String,
        #[arg(long, value_enum, default_value = "gate")]
        mode: ModeArg,
        /// Gate ids, comma-separated (gate mode); or a count of echo devices.
        #[arg(long, value_delimiter = ',')]
        devices: Vec<String>,
        /// Ticket codes to scan, comma-separated (gate mode).
        #[arg(long, value_delimiter = ',', default_value = "TKNONE")]
        codes: Vec<String>,
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warmup_seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(path) = &cli.logins {
        venue_devices::mqtt::load_logins("", path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    match cli.command {
        Command::Scan {
            mqtt,
            zone,
            gate,
            format,
            code,
            out,
            count,
            id_number,
        } => {
            let format = match format {
                FormatArg::StdJson => Format::StdJson,
                FormatArg::Tp1 => Format::Tp1,
            };
            let t = Turnstile::connect(&mqtt, &zone, &gate, format).await;
            let v = t.scan(&code, !out, count, id_number.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Command::Bank {
            listen,
            tls_cert,
            tls_key,
        } => {
            let (addr, scheme) = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => (
                    venue_devices::bank::start_tls(listen, &cert, &key).await?,
                    "https",
                ),
                _ => (venue_devices::bank::start(listen).await?, "http"),
            };
            println!("bank simulator on {scheme}://{addr}");
            tokio::signal::ctrl_c().await?;
        }
        Command::DemoTraffic {
            http,
            mqtt,
            zone,
            tokens,
        } => {
            let text = std::fs::read_to_string(&tokens)
                .map_err(|e| anyhow::anyhow!("{}: {e}", tokens.display()))?;
            let all: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", tokens.display()))?;
            let Some(token) = all["ticketing"].as_str() else {
                anyhow::bail!("{} has no ticketing token", tokens.display());
            };
            let traffic = venue_devices::demo::DemoTraffic {
                http,
                mqtt,
                zone,
                ticketing_token: token.to_owned(),
            };
            tokio::select! {
                () = traffic.run() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Command::Load {
            mqtt,
            zone,
            mode,
            devices,
            codes,
            rate,
            seconds,
            warmup_seconds,
        } => {
            let report = loadgen::run(LoadSpec {
                mqtt,
                zone,
                mode: match mode {
                    ModeArg::Gate => Mode::Gate,
                    ModeArg::Echo => Mode::Echo,
                },
                devices,
                codes,
                rate_per_s: rate,
                duration: Duration::from_secs(seconds),
                warmup: Duration::from_secs(warmup_seconds),
            })
            .await;
            println!("{}", serde_json::to_string(&report)?);
        }
    }
    Ok(())
}
