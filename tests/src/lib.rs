//! # venue-tests: the harness for end-to-end tests
//!
//! [`Edge`] starts the real `venue-edge` binary as a process (`venue-edge run --config`)
//! on a fresh data folder, with the reference plugins compiled from `plugins/`, tokens
//! created through `venue-edge token add`, and either its embedded broker or an external
//! one. Every edge box gets a zone of its own, so tests can share one external broker.
//!
//! Build what the tests need first: `cargo xtask test` does (plugins and binaries).

mod accounts;
mod alerts;
pub mod hq;

pub use alerts::AlertListener;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Event, Incoming, QoS};
use venue_devices::formats::Format;
use venue_devices::http::HttpClient;
use venue_devices::turnstile::Turnstile;
use venue_edge::demo;
use venue_plugin_host::{Grant, World};

/// The external broker tests may use (the machine's mosquitto).
pub const EXTERNAL_BROKER: &str = "127.0.0.1:1883";

/// Which broker an edge box uses.
#[derive(Debug, Clone)]
pub enum Broker {
    Embedded,
    External(String),
}

/// The target folder of this workspace (where `cargo xtask test` built everything).
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// A built binary of the workspace (`debug`, or `release` when `VENUE_TEST_PROFILE=release`,
/// as the benchmarks set it).
/// The user name the test harness gives the user of `role` (`operator:p` is `op-p`).
/// The roles the harness makes a user and a token for (`Edge::token`).
pub const HARNESS_ROLES: [&str; 8] = [
    "admin",
    "ticketing",
    "finance-reviewer",
    "finance-payer",
    "manager",
    "auditor",
    "integration",
    "operator:p-coaster-co",
];

/// The device the harness's alert listener logs in as.
pub const MONITOR_DEVICE: &str = "t-monitor";

pub fn test_username(role: &str) -> String {
    match role.strip_prefix("operator:") {
        Some(party) => format!("op-{party}"),
        None => format!("t-{role}"),
    }
}

/// The password the test harness gives the user of `role`.
pub fn test_password(role: &str) -> String {
    format!("pw-{}-for-tests", role.replace(':', "-"))
}

pub fn binary(name: &str) -> PathBuf {
    let profile = std::env::var("VENUE_TEST_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target_dir().join(profile).join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo xtask test`",
        path.display()
    );
    path
}

/// The built plugins folder.
pub fn built_plugins() -> PathBuf {
    let dir = target_dir().join("wasm32-wasip2/plugin");
    assert!(
        dir.join("plugin_std_json_gate.wasm").exists(),
        "the plugins are not built ({}): run `cargo xtask test`",
        dir.display()
    );
    dir
}

static ZONES: AtomicU32 = AtomicU32::new(0);

/// A zone id no other test in any process uses.
pub fn unique_zone() -> String {
    format!(
        "t{}x{}",
        std::process::id(),
        ZONES.fetch_add(1, Ordering::Relaxed)
    )
}

/// How to set up an edge box.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    pub broker: Broker,
    /// Extra TOML appended to the demo venue (more gates, products...).
    pub extra_toml: String,
    /// Keep the admission clock check (off by default so tests can scan on other days).
    pub clock_check: bool,
    /// Install the misbehaving test plugins as `mis-trap`, `mis-loop`, `mis-grow` and
    /// `mis-garbage`, each serving a gate of the same name in the park.
    pub misbehaving_plugins: bool,
    /// The embedded broker asks devices for their logins (the product's default). Off for
    /// the benchmarks' bare-MQTT echo, which publishes on topics no device owns.
    pub device_logins: bool,
    /// The runtime logs in to the external broker as `venue-edge` with the password in
    /// [`Edge::mqtt_password_file`] (written by the harness).
    pub mqtt_login: bool,
    /// `[edge] tls_cert` and `tls_key`: the API is served over HTTPS (the harness's plain
    /// HTTP client cannot talk to it then).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `[edge] id_key_file`: the ID-number key outside the data folder.
    pub id_key_file: Option<PathBuf>,
    /// More lines of the `[mqtt]` table (`tls_listen = ...`).
    pub mqtt_toml: String,
    /// More plugins to install: (component file in [`built_plugins`], id, world, grants).
    pub extra_plugins: Vec<(&'static str, &'static str, World, Vec<Grant>)>,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        EdgeOptions {
            broker: Broker::Embedded,
            extra_toml: String::new(),
            clock_check: false,
            misbehaving_plugins: false,
            device_logins: true,
            mqtt_login: false,
            tls: None,
            id_key_file: None,
            mqtt_toml: String::new(),
            extra_plugins: Vec::new(),
        }
    }
}

/// A running edge box process.
pub struct Edge {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub zone: String,
    pub http_addr: String,
    pub mqtt_addr: String,
    /// Where the embedded broker takes MQTT over TLS, when the config asks for it.
    pub mqtt_tls_addr: Option<String>,
    pub api: HttpClient,
    pub tokens: HashMap<String, String>,
    pub options: EdgeOptions,
    log: Arc<Mutex<Vec<String>>>,
    /// The payout-bank simulator the box's `bank-transfer` connector talks to.
    pub bank: HttpClient,
}

const MISBEHAVING: &[(&str, &str)] = &[
    ("mis-trap", "trap"),
    ("mis-loop", "loop"),
    ("mis-grow", "grow"),
    ("mis-garbage", "garbage"),
];

impl Edge {
    pub async fn start(options: EdgeOptions) -> Edge {
        let dir = tempfile::tempdir().expect("temp dir");
        let zone = unique_zone();
        let config_path = dir.path().join("venue.toml");
        std::fs::write(&config_path, config_text(dir.path(), &zone, &options))
            .expect("write config");
        let plugin_dir = dir.path().join("data/plugins");
        demo::install_reference_plugins(&built_plugins(), &plugin_dir).expect("install plugins");
        if options.misbehaving_plugins {
            for (id, mode) in MISBEHAVING {
                demo::install_plugin(
                    &built_plugins().join("plugin_misbehave.wasm"),
                    &plugin_dir,
                    id,
                    World::GateAdapter,
                    &[Grant::Config],
                    &[("mode", mode)],
                )
                .expect("install misbehaving plugin");
                if *mode != "loop" {
                    // Only the looping plugin is meant to meet its deadline; the others get
                    // time enough to fail their own way even on a loaded machine.
                    let path = plugin_dir.join(format!("{id}.plugin.toml"));
                    let text = std::fs::read_to_string(&path).expect("manifest");
                    std::fs::write(
                        &path,
                        text.replace("deadline_ms = 50", "deadline_ms = 5000"),
                    )
                    .expect("manifest");
                }
            }
        }
        for (file, id, world, grants) in &options.extra_plugins {
            demo::install_plugin(
                &built_plugins().join(file),
                &plugin_dir,
                id,
                *world,
                grants,
                &[],
            )
            .expect("install an extra plugin");
        }
        let bank = venue_devices::bank::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bank simulator");
        demo::install_bank_connector(&built_plugins(), &plugin_dir, bank)
            .expect("install the bank connector");
        let tokens = accounts::provision(&config_path, &zone);
        let mut edge = Edge {
            child: None,
            dir,
            config_path,
            zone,
            http_addr: String::new(),
            mqtt_addr: String::new(),
            mqtt_tls_addr: None,
            api: HttpClient::new("127.0.0.1:1"),
            tokens,
            options,
            log: Arc::default(),
            bank: venue_devices::http::HttpClient::new(bank),
        };
        edge.spawn().await;
        edge
    }

    /// Starts the process (again) on the same data folder.
    pub async fn spawn(&mut self) {
        let mut command = Command::new(binary("venue-edge"));
        command
            .args(["run", "--config"])
            .arg(&self.config_path)
            .env("VENUE_EDGE_LOG", "info,rmqtt=warn,rmqtt_net=warn");
        let (child, rx) = spawn_logged(
            command,
            &[
                "venue-edge: HTTP on http://",
                "venue-edge: HTTP on https://",
            ],
            &self.log,
        );
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("venue-edge did not start; its log:\n{}", self.log_text());
            });
        let mut parts = ready.split("  MQTT on ");
        self.http_addr = parts.next().unwrap_or_default().trim().to_owned();
        let mqtt = parts.next().unwrap_or_default();
        let (mqtt, tls) = mqtt.split_once("  MQTT over TLS on ").unwrap_or((mqtt, ""));
        self.mqtt_addr = mqtt.trim().to_owned();
        self.mqtt_tls_addr = Some(tls.trim().to_owned()).filter(|a| !a.is_empty());
        self.api = HttpClient::new(&self.http_addr);
        self.child = Some(child);
    }

    /// Everything the process has logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Runs `venue-edge ARGS --config <this box's config>`, with `stdin` as its input.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        accounts::cli(&self.config_path, args, stdin)
    }

    /// Adds a user holding `roles` (password `password`) and issues it a token with
    /// `token_args` (e.g. `--expires-at`); returns the token.
    pub fn user_with_token(
        &self,
        username: &str,
        roles: &[&str],
        password: &str,
        token_args: &[&str],
    ) -> String {
        let mut args = vec![
            "user",
            "add",
            "--username",
            username,
            "--display-name",
            username,
        ];
        for r in roles {
            args.extend(["--role", r]);
        }
        args.push("--password-stdin");
        let out = self.cli(&args, Some(password));
        assert!(
            out.status.success(),
            "user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args = vec!["token", "add", "--user", username];
        args.extend(token_args);
        let out = self.cli(&args, None);
        assert!(
            out.status.success(),
            "token add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub fn token(&self, role: &str) -> &str {
        self.tokens.get(role).map(String::as_str).unwrap_or("")
    }

    /// A simulated turnstile for one of the box's gates.
    pub async fn turnstile(&self, gate: &str, format: Format) -> Arc<Turnstile> {
        Turnstile::connect(&self.mqtt_addr, &self.zone, gate, format).await
    }

    /// Listens to `venue/{zone}/alerts`.
    pub async fn alerts(&self) -> AlertListener {
        AlertListener::start(
            &self.mqtt_addr,
            &format!("venue/{}/alerts", self.zone),
            Some((&self.zone, MONITOR_DEVICE)),
        )
        .await
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().expect("wait")
    }

    /// POSTs JSON with the token of `role`; returns status and JSON body.
    pub async fn post_as(
        &self,
        path: &str,
        role: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .api
            .post_json(path, Some(self.token(role)), &body)
            .await
            .expect("HTTP request");
        (r.status, r.json())
    }

    /// One cash sale of one `food` line of `fen` at POS terminal `device` of `merchant`, now;
    /// panics unless it is accepted.
    pub async fn sell(&self, device: &str, merchant: &str, fen: i64) {
        let pos =
            venue_devices::pos::PosTerminal::connect(&self.mqtt_addr, &self.zone, device, merchant)
                .await;
        let sale = pos.message(
            "sale",
            None,
            &Edge::now_at(),
            "cash",
            &[venue_devices::pos::line("x", "food", 1, fen)],
        );
        let ack = pos.send(&sale).await.expect("an ack");
        assert!(ack.accepted(), "{device}'s sale refused: {ack:?}");
    }

    /// Settles `day` as the finance reviewer; panics unless 200. Returns the bills.
    pub async fn settle(&self, day: &str) -> serde_json::Value {
        let (s, bills) = self
            .post_as(
                &format!("/api/v1/settlements?date={day}"),
                "finance-reviewer",
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "settling {day}: {bills}");
        bills
    }

    /// Approves a bill as the finance reviewer; panics unless 200.
    pub async fn approve(&self, bill_id: &str) {
        let (s, body) = self
            .post_as(
                &format!("/api/v1/bills/{bill_id}/approve"),
                "finance-reviewer",
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "approving {bill_id}: {body}");
    }

    /// Pays a bill as the finance payer; returns the bill as answered.
    pub async fn pay(&self, bill_id: &str) -> serde_json::Value {
        self.post_as(
            &format!("/api/v1/bills/{bill_id}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await
        .1
    }

    /// GETs with the token of `role`; returns status and JSON body.
    pub async fn get_as(&self, path: &str, role: &str) -> (u16, serde_json::Value) {
        let r = self
            .api
            .get(path, Some(self.token(role)))
            .await
            .expect("HTTP request");
        (r.status, r.json())
    }

    /// Now in the demo venue's offset, as a POS or turnstile stamps it.
    pub fn now_at() -> String {
        chrono::Utc::now()
            .with_timezone(&shanghai())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// The journaled sales, refunds and voids of a business day, as the auditor reads them.
    pub async fn sales_of_day(&self, date: &str) -> Vec<serde_json::Value> {
        let (s, sales) = self
            .get_as(&format!("/api/v1/sales?date={date}"), "auditor")
            .await;
        assert_eq!(s, 200, "{sales}");
        sales
            .as_array()
            .or_else(|| sales["sales"].as_array())
            .cloned()
            .unwrap_or_default()
    }

    /// Sends SIGHUP (reload plugin manifests).
    pub fn hup(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-HUP", &child.id().to_string()])
                .status();
        }
    }

    /// Kills the process with SIGKILL (no shutdown at all).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id of the running `venue-edge`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The runtime's MQTT password file (see [`EdgeOptions::mqtt_login`]).
    pub fn mqtt_password_file(&self) -> PathBuf {
        self.dir.path().join(MQTT_PASSWORD_FILE)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Today's business day in the demo venue's time zone.
    pub fn today() -> String {
        chrono::Utc::now()
            .with_timezone(&shanghai())
            .date_naive()
            .to_string()
    }

    /// Whether today is a Sunday in the demo venue's time zone (weekly cycles end then).
    pub fn today_is_sunday() -> bool {
        use chrono::Datelike;
        chrono::Utc::now().with_timezone(&shanghai()).weekday() == chrono::Weekday::Sun
    }

    /// A day after today.
    pub fn in_days(n: i64) -> String {
        (chrono::Utc::now().with_timezone(&shanghai()).date_naive() + chrono::Duration::days(n))
            .to_string()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- venue-edge log (zone {}) ----\n{}\n---- end of log ----",
                self.zone,
                self.log_text()
            );
        }
    }
}

/// Starts `command` with its stderr collected into `log` and its stdout watched: the
/// returned channel gets the rest of the first line that starts with one of
/// `ready_prefixes` (the process's "listening on" line). The channel closes if the process
/// exits first.
pub fn spawn_logged(
    mut command: Command,
    ready_prefixes: &[&'static str],
    log: &Arc<Mutex<Vec<String>>>,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut l) = log.lock() {
                l.push(line);
            }
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let prefixes = ready_prefixes.to_vec();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = prefixes.iter().find_map(|p| line.strip_prefix(p)) {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    (child, rx)
}

fn shanghai() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

fn config_text(dir: &Path, zone: &str, options: &EdgeOptions) -> String {
    let (mqtt, url) = match &options.broker {
        Broker::Embedded => ("listen = \"127.0.0.1:0\"".to_owned(), String::new()),
        // An address, or a whole URL (`mqtts://...`).
        Broker::External(addr) if addr.contains("://") => {
            (String::new(), format!("url = \"{addr}\""))
        }
        Broker::External(addr) => (String::new(), format!("url = \"mqtt://{addr}\"")),
    };
    let venue = demo::DEMO_VENUE.replace("zone = \"main\"", &format!("zone = \"{zone}\""));
    let mut text = format!(
        "[edge]\nid = \"edge-{zone}\"\ndata_dir = \"{}\"\nhttp = \"127.0.0.1:0\"\n\n[mqtt]\n{mqtt}\n{url}\nclient_id = \"edge-{zone}\"\ndevice_logins = {}\n\n[admission]\nclock_skew_s_max = {}\n\n{venue}\n",
        dir.join("data").display(),
        options.device_logins,
        if options.clock_check { 300 } else { 0 }
    );
    if options.misbehaving_plugins {
        for (id, _) in MISBEHAVING {
            text.push_str(&format!(
                "\n[[gates]]\nid = \"{id}\"\narea = \"park\"\nplugin = \"{id}\"\n"
            ));
        }
    }
    if let Some(path) = &options.id_key_file {
        text = text.replacen(
            "http = \"127.0.0.1:0\"\n",
            &format!(
                "http = \"127.0.0.1:0\"\nid_key_file = \"{}\"\n",
                path.display()
            ),
            1,
        );
    }
    if let Some((cert, key)) = &options.tls {
        text = text.replacen(
            "http = \"127.0.0.1:0\"\n",
            &format!(
                "http = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            1,
        );
    }
    if options.mqtt_login {
        // [mqtt] is the table right before [admission].
        text = text.replacen(
            "\n\n[admission]",
            &format!(
                "\nusername = \"venue-edge\"\npassword_file = \"{}\"\n\n[admission]",
                dir.join(MQTT_PASSWORD_FILE).display()
            ),
            1,
        );
        std::fs::write(dir.join(MQTT_PASSWORD_FILE), format!("pw-{zone}-runtime"))
            .expect("write the runtime's MQTT password");
    }
    if !options.mqtt_toml.is_empty() {
        text = text.replacen(
            "\n\n[admission]",
            &format!("\n{}\n\n[admission]", options.mqtt_toml.trim_end()),
            1,
        );
    }
    text.push_str(&options.extra_toml);
    text
}

/// The runtime's MQTT password file in the test folder (see [`EdgeOptions::mqtt_login`]).
pub const MQTT_PASSWORD_FILE: &str = "mqtt-edge.password";

/// The bill of `party` in a settlement answer.
pub fn bill_of<'a>(bills: &'a serde_json::Value, party: &str) -> &'a serde_json::Value {
    bills["bills"]
        .as_array()
        .and_then(|all| all.iter().find(|b| b["party"] == party))
        .unwrap_or_else(|| panic!("no bill for {party}: {bills}"))
}

/// An order body for `POST /api/v1/orders`.
pub fn order(
    order_ref: &str,
    channel: &str,
    visit_date: &str,
    product: &str,
    qty: u32,
    real_name: bool,
) -> serde_json::Value {
    let visitors: Vec<serde_json::Value> = if real_name {
        (0..qty)
            .map(|i| serde_json::json!({"name": format!("游客{i}"), "id_type": "id_card", "id_number": format!("1101011990{:08}", i)}))
            .collect()
    } else {
        Vec::new()
    };
    serde_json::json!({
        "order_ref": order_ref, "channel": channel, "visit_date": visit_date,
        "items": [{"product": product, "qty": qty, "visitors": visitors}],
        "payment": {"method": "wechat", "ref": format!("wx-{order_ref}")},
    })
}
