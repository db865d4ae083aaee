//! The demo venue 云山景区 (protocol.md, section 4): one command gives a newcomer a
//! running zone with the reference plugins, tokens for every role, and simulated
//! turnstiles producing traffic.
//!
//! Run again on the same `--data` folder, it continues with the same data and tokens.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::auth::{self, Role};
use crate::runtime::{self, Running};
use venue_domain::config::Config;
use venue_plugin_host::{Grant, Manifest, World};

pub use venue_domain::config::DEMO_VENUE;

/// The file tokens are written to, inside the data folder.
pub const TOKENS_FILE: &str = "demo-tokens.json";
/// The file the demo users' names and passwords are written to, inside the data folder.
pub const USERS_FILE: &str = "demo-users.json";
/// The file the simulated devices' MQTT credentials are written to, inside the data folder.
pub const DEVICES_FILE: &str = "demo-devices.json";

/// Where `cargo xtask` puts the reference plugins, relative to the workspace.
pub const BUILT_PLUGINS: &str = "target/wasm32-wasip2/plugin";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder for the SQLite store, secrets, plugins and tokens.
    #[arg(long, env = "VENUE_EDGE_DATA", default_value = "demo-data")]
    pub data: PathBuf,
    /// HTTP listen address.
    #[arg(long, env = "VENUE_EDGE_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// The embedded MQTT broker's listen address.
    #[arg(long, env = "VENUE_EDGE_MQTT", default_value = "127.0.0.1:1883")]
    pub mqtt: SocketAddr,
    /// Use this external broker (mqtt://host:port) instead of the embedded one.
    #[arg(long, env = "VENUE_EDGE_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// Start no simulated devices.
    #[arg(long, env = "VENUE_EDGE_NO_SIMULATORS")]
    pub no_simulators: bool,
    /// Upload the demo's settled data to this HQ (`http://host:port`, see `venue-hq`).
    #[arg(long, env = "VENUE_EDGE_HQ_URL", requires = "hq_token")]
    pub hq_url: Option<String>,
    /// This box's token at HQ (`venue-hq token add --edge edge-main`).
    #[arg(long, env = "VENUE_EDGE_HQ_TOKEN", requires = "hq_url")]
    pub hq_token: Option<String>,
    /// Folder with the built reference plugins (default: target/wasm32-wasip2/plugin
    /// of the workspace this binary was built in, or of the current folder).
    #[arg(long, env = "VENUE_EDGE_PLUGINS")]
    pub plugins: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Config(#[from] venue_domain::config::ConfigError),
    #[error(transparent)]
    Start(#[from] runtime::StartError),
    #[error(transparent)]
    Store(#[from] venue_store::StoreError),
    #[error(
        "the reference plugins were not found ({0}); build them with `cargo xtask plugins` or pass --plugins DIR"
    )]
    NoPlugins(String),
    #[error(
        "the device simulators ({}) were not found; build them with `cargo build --bins`, set VENUE_DEVICES_BIN, or install venue-devices beside venue-edge",
        .0.display()
    )]
    NoDevices(PathBuf),
    #[error("device simulator: {0}")]
    Simulator(String),
    #[error("demo users: {0}")]
    Users(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Other(#[from] Box<dyn std::error::Error + Send + Sync>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A reference plugin of the demo: its id, world, built file and manifest settings.
pub struct ReferencePlugin {
    pub id: &'static str,
    pub world: World,
    pub file: &'static str,
    pub grants: &'static [Grant],
    pub config: &'static [(&'static str, &'static str)],
}

pub const REFERENCE_PLUGINS: &[ReferencePlugin] = &[
    ReferencePlugin {
        id: "std-json-gate",
        world: World::GateAdapter,
        file: "plugin_std_json_gate.wasm",
        grants: &[Grant::Log],
        config: &[],
    },
    ReferencePlugin {
        id: "line-gate",
        world: World::GateAdapter,
        file: "plugin_line_gate.wasm",
        grants: &[Grant::Log],
        config: &[],
    },
    ReferencePlugin {
        id: "std-json-pos",
        world: World::PosAdapter,
        file: "plugin_std_json_pos.wasm",
        grants: &[Grant::Log],
        config: &[],
    },
    ReferencePlugin {
        id: "hotel-pms",
        world: World::PosAdapter,
        file: "plugin_hotel_pms.wasm",
        grants: &[Grant::Log],
        config: &[],
    },
    ReferencePlugin {
        id: "tiered-commission",
        world: World::SettlementRule,
        file: "plugin_tiered_commission.wasm",
        grants: &[Grant::Config],
        config: &[("tiers", "0:1500,100000:1200,500000:1000")],
    },
    ReferencePlugin {
        id: "ota-orders",
        world: World::TicketingAdapter,
        file: "plugin_ota_orders.wasm",
        grants: &[Grant::Log, Grant::Config],
        config: &[
            ("product.YUNSHAN-DAY-ADULT", "park-day"),
            ("product.YUNSHAN-SUNRISE", "sunrise"),
            ("product.YUNSHAN-COASTER", "coaster-ride"),
            ("product.YUNSHAN-SHUTTLE", "shuttle-day"),
        ],
    },
];

/// The demo's config with its data folder and addresses.
pub fn demo_config(
    data: &Path,
    http: SocketAddr,
    mqtt: SocketAddr,
    mqtt_url: Option<String>,
) -> Result<Config, DemoError> {
    let mut config = Config::parse(DEMO_VENUE, Path::new("deploy/demo/venue.toml"))?;
    config.edge.data_dir = data.to_owned();
    // The demo keeps its ID-number key in its own folder, on purpose.
    config.edge.id_key_file = Some(data.join(venue_domain::realname::SECRET_FILE));
    config.edge.http = http;
    config.mqtt.listen = mqtt;
    config.mqtt.url = mqtt_url;
    Ok(config)
}

/// Copies a built plugin into `dest` and writes its manifest, pinned to its sha256.
pub fn install_plugin(
    src: &Path,
    dest: &Path,
    id: &str,
    world: World,
    grants: &[Grant],
    config: &[(&str, &str)],
) -> Result<Manifest, DemoError> {
    let wasm = std::fs::read(src).map_err(io(src))?;
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let file = format!("{id}.wasm");
    let wasm_path = dest.join(&file);
    std::fs::write(&wasm_path, &wasm).map_err(io(&wasm_path))?;
    let manifest = Manifest {
        id: id.to_owned(),
        world,
        wasm: PathBuf::from(&file),
        sha256: hex::encode(sha2::Sha256::digest(&wasm)),
        grants: grants.to_vec(),
        memory_bytes_max: venue_plugin_host::manifest::MEMORY_BYTES_DEFAULT,
        deadline_ms: venue_plugin_host::manifest::DEADLINE_MS_DEFAULT,
        fuel: None,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        allowed_hosts: Vec::new(),
        ca_file: None,
        source: None,
    };
    let path = dest.join(format!("{id}.plugin.toml"));
    std::fs::write(&path, manifest.to_toml()).map_err(io(&path))?;
    Ok(manifest)
}

/// Finds the built reference plugins.
pub fn find_built_plugins(explicit: Option<&Path>) -> Result<PathBuf, DemoError> {
    let has_all = |dir: &Path| {
        REFERENCE_PLUGINS.iter().all(|p| dir.join(p.file).exists())
            && dir.join("plugin_bank_transfer.wasm").exists()
    };
    if let Some(dir) = explicit {
        return if has_all(dir) {
            Ok(dir.to_owned())
        } else {
            Err(DemoError::NoPlugins(dir.display().to_string()))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(cwd.ancestors().map(|d| d.join(BUILT_PLUGINS)));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/venue-edge -> target/wasm32-wasip2/plugin
        candidates.extend(
            exe.ancestors()
                .skip(2)
                .take(1)
                .map(|t| t.join("wasm32-wasip2/plugin")),
        );
    }
    candidates.into_iter().find(|d| has_all(d)).ok_or_else(|| {
        DemoError::NoPlugins(format!(
            "looked for {BUILT_PLUGINS} above the current folder"
        ))
    })
}

/// Installs the reference plugins into the data folder (refreshing them if rebuilt).
pub fn install_reference_plugins(built: &Path, plugin_dir: &Path) -> Result<(), DemoError> {
    for p in REFERENCE_PLUGINS {
        install_plugin(
            &built.join(p.file),
            plugin_dir,
            p.id,
            p.world,
            p.grants,
            p.config,
        )?;
    }
    Ok(())
}

/// Installs the `bank-transfer` payment connector, pointed at the bank at `bank`.
pub fn install_bank_connector(
    built: &Path,
    plugin_dir: &Path,
    bank: SocketAddr,
) -> Result<Manifest, DemoError> {
    let base = format!("http://{bank}");
    let mut manifest = install_plugin(
        &built.join("plugin_bank_transfer.wasm"),
        plugin_dir,
        "bank-transfer",
        World::PaymentConnector,
        &[Grant::Config],
        &[("base_url", base.as_str())],
    )?;
    manifest.allowed_hosts = vec![bank.to_string()];
    let path = plugin_dir.join("bank-transfer.plugin.toml");
    std::fs::write(&path, manifest.to_toml()).map_err(io(&path))?;
    Ok(manifest)
}

/// The demo's user name for a role: the role itself, an operator as `op-{party}`.
fn demo_username(role: &str) -> String {
    match role.strip_prefix("operator:") {
        Some(party) => format!("op-{party}"),
        None => role.to_owned(),
    }
}

/// On the first run: one user per role with a generated password, written to
/// `demo-users.json`, and a token for each, written to `demo-tokens.json` (both readable
/// by the owner only). Later runs keep both files and the users.
pub async fn ensure_users(running: &Running, data: &Path) -> Result<serde_json::Value, DemoError> {
    let tokens_path = data.join(TOKENS_FILE);
    let users_path = data.join(USERS_FILE);
    let devices_path = data.join(DEVICES_FILE);
    if !devices_path.exists() {
        let devices = crate::device_logins::configured_devices(&running.venue.config);
        let logins = running
            .store
            .write(move |c| -> Result<serde_json::Value, DemoError> {
                let now = chrono::Utc::now().to_rfc3339();
                crate::device_logins::add_all(c, &devices, &now).map_err(DemoError::Users)
            })
            .await?;
        write_private(&devices_path, &logins)?;
    }
    if users_path.exists()
        && let Ok(text) = std::fs::read_to_string(&tokens_path)
        && let Ok(tokens) = serde_json::from_str::<serde_json::Value>(&text)
    {
        return Ok(tokens);
    }
    let mut roles: Vec<String> = Role::FIXED.iter().map(|r| r.to_string()).collect();
    roles.push("operator:p-coaster-co".into());
    let created = running
        .store
        .write(
            move |c| -> Result<Vec<(String, String, String, String)>, DemoError> {
                let now = chrono::Utc::now();
                let mut out = Vec::new();
                for r in roles {
                    let role = Role::parse(&r).unwrap_or(Role::Auditor);
                    let username = demo_username(&r);
                    let password = auth::generate_password();
                    auth::add_user(
                        c,
                        &auth::NewUser {
                            username: &username,
                            display_name: &format!("Demo {r}"),
                            roles: std::slice::from_ref(&role),
                            password: Some(&password),
                        },
                        now,
                    )
                    .map_err(DemoError::Users)?;
                    let token = auth::create_token(c, &username, None, "demo", None, now)
                        .map_err(DemoError::Users)?;
                    out.push((r, username, password, token.token));
                }
                Ok(out)
            },
        )
        .await?;
    let (mut tokens, mut users) = (serde_json::Map::new(), serde_json::Map::new());
    for (role, username, password, token) in created {
        tokens.insert(role.clone(), serde_json::Value::String(token));
        users.insert(
            role,
            serde_json::json!({ "username": username, "password": password }),
        );
    }
    let tokens = serde_json::Value::Object(tokens);
    write_private(&users_path, &serde_json::Value::Object(users))?;
    write_private(&tokens_path, &tokens)?;
    Ok(tokens)
}

/// Writes a secrets file readable by its owner only.
fn write_private(path: &Path, value: &serde_json::Value) -> Result<(), DemoError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    crate::device_logins::write_private(path, text.as_bytes()).map_err(io(path))
}

/// The `[uplink]` table alone, to give the demo's flags the config file's defaults.
#[derive(serde::Deserialize)]
struct UplinkOnly {
    uplink: venue_domain::config::UplinkConfig,
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Runs the demo until `serve` returns (the binary passes its signal handling).
pub async fn run<F, Fut>(args: DemoArgs, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(Running) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut config = demo_config(&args.data, args.http, args.mqtt, args.mqtt_url.clone())?;
    if let (Some(url), Some(token)) = (&args.hq_url, &args.hq_token) {
        let text = format!(
            "[uplink]\nurl = {}\ntoken = {}\n",
            toml_string(url),
            toml_string(token)
        );
        let uplink: UplinkOnly = toml::from_str(&text).map_err(|e| {
            DemoError::Config(venue_domain::config::ConfigError::Invalid(format!(
                "--hq-url: {e}"
            )))
        })?;
        config.uplink = Some(uplink.uplink);
        config.validate()?;
    }
    let built = find_built_plugins(args.plugins.as_deref())?;
    install_reference_plugins(&built, &config.plugin_dir())?;
    // The demo's bank and simulated devices are `venue-devices` processes of their own: the
    // runtime links no simulator. They stop with the demo (killed when dropped).
    let devices = DevicesBinary::find()?;
    let (bank_process, bank) = devices.start_bank().await?;
    install_bank_connector(&built, &config.plugin_dir(), bank)?;
    let running = runtime::start(config).await?;
    let tokens = ensure_users(&running, &args.data).await?;
    println!("venue-edge demo: 云山景区 (Cloud Mountain), zone main");
    println!(
        "venue-edge: HTTP on http://{}  MQTT on {}",
        running.http_addr, running.mqtt_addr
    );
    println!(
        "  console:  http://{}/ (sign in with a user of {})",
        running.http_addr,
        args.data.join(USERS_FILE).display()
    );
    println!("  tokens:   {}", args.data.join(TOKENS_FILE).display());
    println!(
        "  users:    {} (sign-in names and passwords)",
        args.data.join(USERS_FILE).display()
    );
    println!("  bank:     http://{bank} (simulated; pays bills approved and paid through the API)");
    if let Some(url) = &args.hq_url {
        println!("  HQ:       {url} (uploads settled data; state in /healthz)");
    }
    println!(
        "  try:      curl -s http://{}/api/v1/products -H \"Authorization: Bearer {}\"",
        running.http_addr,
        tokens["ticketing"].as_str().unwrap_or("")
    );
    let traffic = if args.no_simulators {
        None
    } else {
        let process = devices.start_traffic(&running, &args.data.join(TOKENS_FILE))?;
        println!("  simulated turnstiles are buying and scanning tickets; stop with Ctrl-C");
        Some(process)
    };
    let served = serve(running).await;
    drop((traffic, bank_process));
    served
}

/// The `venue-devices` binary, which the demo runs for its bank and its simulated
/// turnstiles and POS terminals: beside this binary (where `cargo build` and an install
/// put both), or where `VENUE_DEVICES_BIN` says.
struct DevicesBinary(PathBuf);

/// How long the bank simulator may take to say where it listens.
const BANK_START_S_MAX: u64 = 10;

impl DevicesBinary {
    /// A `venue-devices` command that ends with the demo: dropped, it is killed, and if the
    /// demo dies without dropping it (SIGKILL), the kernel sends it SIGTERM.
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.0);
        command.kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe and touches only the child being set up.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        command
    }

    fn find() -> Result<DevicesBinary, DemoError> {
        let path = match std::env::var_os("VENUE_DEVICES_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe()
                .map_err(io(Path::new("venue-edge")))?
                .with_file_name(format!("venue-devices{}", std::env::consts::EXE_SUFFIX)),
        };
        if path.is_file() {
            Ok(DevicesBinary(path))
        } else {
            Err(DemoError::NoDevices(path))
        }
    }

    /// Starts the payout-bank simulator and reads the address it listens on.
    async fn start_bank(&self) -> Result<(tokio::process::Child, SocketAddr), DemoError> {
        use tokio::io::AsyncBufReadExt;
        let mut child = self
            .command()
            .args(["bank", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(io(&self.0))?;
        let stdout = child.stdout.take().ok_or(DemoError::Simulator(
            "the bank simulator has no standard output".into(),
        ))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(
            std::time::Duration::from_secs(BANK_START_S_MAX),
            lines.next_line(),
        )
        .await
        .map_err(|_| {
            DemoError::Simulator(format!(
                "the bank simulator did not start within {BANK_START_S_MAX} s"
            ))
        })?
        .map_err(io(&self.0))?
        .unwrap_or_default();
        let addr = first
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| {
                DemoError::Simulator(format!(
                    "the bank simulator said {first:?}, not where it listens"
                ))
            })?;
        // Keep reading its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((child, addr))
    }

    /// Starts the simulated turnstiles and POS terminals; the ticketing token they buy
    /// with is read from the tokens file, never passed on a command line.
    fn start_traffic(
        &self,
        running: &Running,
        tokens: &Path,
    ) -> Result<tokio::process::Child, DemoError> {
        self.command()
            .arg("demo-traffic")
            .arg("--http")
            .arg(running.http_addr.to_string())
            .arg("--mqtt")
            .arg(&running.mqtt_addr)
            .arg("--zone")
            .arg(running.venue.zone())
            .arg("--tokens")
            .arg(tokens)
            .arg("--logins")
            .arg(tokens.with_file_name(DEVICES_FILE))
            .spawn()
            .map_err(io(&self.0))
    }
}
