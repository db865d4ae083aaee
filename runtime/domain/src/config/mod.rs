//! The venue configuration: one TOML file, read once at start, strictly.
//!
//! Unknown keys are an error (a misspelt key that silently does nothing is worse than a
//! refusal to start), every cross-reference is checked (a gate's area and plugin, a
//! product's grants), and every setting has a default that serves a single-zone demo.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use serde::Deserialize;

/// The demo venue's config (protocol.md, section 4), shipped in the binary.
pub const DEMO_VENUE: &str = include_str!("../../../../deploy/demo/venue.toml");

mod commerce;
mod uplink;

pub use commerce::{ContractConfig, MerchantConfig, PartyConfig, PosConfig};
pub use uplink::UplinkConfig;

/// Why a configuration was refused. The message names the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config is not consistent: {0}")]
    Invalid(String),
}

/// The whole configuration of one edge box.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub edge: EdgeConfig,
    /// Which plugins the box loads: signed packages only, and whose keys it trusts.
    #[serde(default)]
    pub plugins: PluginsConfig,
    #[serde(default)]
    pub mqtt: MqttConfig,
    pub venue: VenueConfig,
    #[serde(default)]
    pub admission: AdmissionConfig,
    #[serde(default)]
    pub areas: Vec<AreaConfig>,
    #[serde(default)]
    pub gates: Vec<GateConfig>,
    #[serde(default)]
    pub products: Vec<ProductConfig>,
    #[serde(default)]
    pub merchants: Vec<MerchantConfig>,
    #[serde(default)]
    pub pos: Vec<PosConfig>,
    #[serde(default)]
    pub parties: Vec<PartyConfig>,
    #[serde(default)]
    pub contracts: Vec<ContractConfig>,
    /// Upload to HQ; absent: records wait in the outbox until an uplink is configured.
    pub uplink: Option<UplinkConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// This box's id towards HQ and in logs.
    #[serde(default = "default_edge_id")]
    pub id: String,
    /// Where the SQLite store, secrets, plugin cache and plugins live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The HTTP API's listen address.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// Folder of plugin manifests (`*.plugin.toml`); relative paths are under `data_dir`.
    #[serde(default = "default_plugin_dir")]
    pub plugin_dir: PathBuf,
    /// HTTPS for the API and console: the certificate chain (PEM, leaf first) and its
    /// private key (PEM). Both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The key that protects visitors' ID numbers, kept apart from the data folder (a copy
    /// of the data then holds ciphertexts only). Unset: `secret.key` in `data_dir`.
    /// `VENUE_EDGE_ID_KEY` (hex) overrides both.
    pub id_key_file: Option<PathBuf>,
}

/// `[plugins]`: `require_signatures = true` loads only plugin packages (`*.vpkg`) signed
/// by one of `trusted_keys` (`{ vendor = "acme", key = "<base64 Ed25519 public key>" }`);
/// bare manifests and unsigned packages are then refused, each with its reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    #[serde(default)]
    pub require_signatures: bool,
    #[serde(default)]
    pub trusted_keys: Vec<venue_plugin_host::package::TrustedKey>,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            id: default_edge_id(),
            data_dir: default_data_dir(),
            http: default_http(),
            plugin_dir: default_plugin_dir(),
            tls_cert: None,
            tls_key: None,
            id_key_file: None,
        }
    }
}

fn default_edge_id() -> String {
    "edge-main".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("venue-data")
}
fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_plugin_dir() -> PathBuf {
    PathBuf::from("plugins")
}

/// Where devices reach the box. With no `url`, the embedded broker listens on `listen`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// An external broker, `mqtt://host:port` or `mqtts://host:port` (TLS, trusting only
    /// `ca_file`). Unset: the embedded broker.
    pub url: Option<String>,
    /// The CA certificate(s), PEM, that alone are trusted for an `mqtts://` broker.
    pub ca_file: Option<std::path::PathBuf>,
    /// The embedded broker also takes MQTT over TLS here (with `tls_cert` and `tls_key`).
    pub tls_listen: Option<SocketAddr>,
    /// The certificate chain (PEM, leaf first) devices see on `tls_listen`.
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of `tls_cert` (PEM).
    pub tls_key: Option<std::path::PathBuf>,
    /// The embedded broker's listen address (ignored with `url`).
    #[serde(default = "default_mqtt_listen")]
    pub listen: SocketAddr,
    /// The runtime's own MQTT client id.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// The embedded broker lets in only devices with credentials (`venue-edge device
    /// add`), each on its own topics. Off only to measure the bare broker.
    #[serde(default = "default_true")]
    pub device_logins: bool,
    /// The runtime's user name at an external broker (`device export --mosquitto` makes one).
    pub username: Option<String>,
    /// A file holding the runtime's password at an external broker (readable by the box
    /// alone); the environment variable `VENUE_EDGE_MQTT_PASSWORD` may give it instead.
    pub password_file: Option<std::path::PathBuf>,
}

fn default_true() -> bool {
    true
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: None,
            ca_file: None,
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            listen: default_mqtt_listen(),
            client_id: default_client_id(),
            device_logins: true,
            username: None,
            password_file: None,
        }
    }
}

fn default_mqtt_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1883))
}
fn default_client_id() -> String {
    "venue-edge".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    pub name: String,
    /// The zone this box serves: `{zone}` in every MQTT topic.
    pub zone: String,
    /// IANA time zone deciding business days.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}

/// How scans are judged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionConfig {
    /// An online scan whose `at` is further than this from the box's clock is refused as
    /// `bad_request` (a turnstile with a wrong clock would otherwise admit on the wrong
    /// day). 0 turns the check off. Offline scans are exempt: they are late by design.
    #[serde(default = "default_clock_skew")]
    pub clock_skew_s_max: u32,
    /// Percentages of an area's instantaneous maximum at which an alert is raised.
    #[serde(default = "default_alert_levels")]
    pub alert_levels_pct: Vec<u8>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            clock_skew_s_max: default_clock_skew(),
            alert_levels_pct: default_alert_levels(),
        }
    }
}

fn default_clock_skew() -> u32 {
    300
}
fn default_alert_levels() -> Vec<u8> {
    vec![80, 100]
}

/// An area the venue controls entry to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    pub id: String,
    /// Tickets that may be sold per visit date; unset: no limit.
    pub daily_max: Option<u32>,
    /// People inside at once; unset: no limit.
    pub instant_max: Option<u32>,
    /// A ticket already inside cannot enter again before it exits.
    #[serde(default = "yes")]
    pub anti_passback: bool,
}

fn yes() -> bool {
    true
}

/// A turnstile or ride-entrance gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The device id in its MQTT topics.
    pub id: String,
    pub area: String,
    /// The gate-adapter plugin that speaks this turnstile's format.
    pub plugin: String,
    /// A real-name lane: scans must carry the visitor's ID number for real-name products.
    #[serde(default)]
    pub realname: bool,
}

/// When a ticket can be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundRule {
    /// Unused tickets until the end of the visit date (local time).
    UntilEndOfVisitDate,
    /// Unused tickets until the end of the day before the visit date.
    UntilDayBefore,
    Never,
}

impl RefundRule {
    /// The rule as the config and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundRule::UntilEndOfVisitDate => "until_end_of_visit_date",
            RefundRule::UntilDayBefore => "until_day_before",
            RefundRule::Never => "never",
        }
    }

    /// Whether an unused ticket for `visit` may be refunded on `today` (pure; the business
    /// day is the caller's, from the venue's clock).
    pub fn allows(
        self,
        visit: venue_model::BusinessDate,
        today: venue_model::BusinessDate,
    ) -> bool {
        match self {
            RefundRule::UntilEndOfVisitDate => today <= visit,
            RefundRule::UntilDayBefore => today < visit,
            RefundRule::Never => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub price_fen: venue_model::money::Fen,
    /// Areas this product admits to.
    pub grants: Vec<String>,
    /// Entries allowed on the visit date; unset: unlimited.
    pub entries: Option<u32>,
    /// After an exit, the same ticket may enter again the same day.
    #[serde(default)]
    pub reentry: bool,
    /// One named visitor per ticket; the ID number is checked on real-name lanes.
    #[serde(default)]
    pub real_name: bool,
    /// Group sales: the smallest party, and the price per member.
    pub group_min_size: Option<u32>,
    pub group_price_fen: Option<venue_model::money::Fen>,
    #[serde(default = "default_refund_rule")]
    pub refund: RefundRule,
    /// Timed entry: a ticket must name one of these slots.
    #[serde(default)]
    pub slots: Vec<SlotConfig>,
    /// Entry opens this many minutes before the slot...
    #[serde(default = "default_window_before")]
    pub slot_entry_before_min: u32,
    /// ...and closes this many minutes after it.
    #[serde(default = "default_window_after")]
    pub slot_entry_after_min: u32,
}

fn default_refund_rule() -> RefundRule {
    RefundRule::UntilEndOfVisitDate
}
fn default_window_before() -> u32 {
    15
}
fn default_window_after() -> u32 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// Local time `HH:MM`.
    pub time: String,
    /// Tickets per visit date for this slot.
    pub quota: u32,
}

impl ProductConfig {
    pub fn slot(&self, time: &str) -> Option<&SlotConfig> {
        self.slots.iter().find(|s| s.time == time)
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every cross-reference and value range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.plugins;
        if p.require_signatures && p.trusted_keys.is_empty() {
            return Err(ConfigError::Invalid(
                "[plugins] require_signatures = true needs trusted_keys: no package could load"
                    .into(),
            ));
        }
        for k in &p.trusted_keys {
            venue_plugin_host::package::public_key(&k.key).map_err(|e| {
                ConfigError::Invalid(format!(
                    "[plugins] trusted key of vendor {:?}: {e}",
                    k.vendor
                ))
            })?;
        }
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.edge.tls_cert.is_some() != self.edge.tls_key.is_some() {
            return bad("edge.tls_cert and edge.tls_key go together: give both or neither".into());
        }
        let m = &self.mqtt;
        let tls_parts = [
            m.tls_listen.is_some(),
            m.tls_cert.is_some(),
            m.tls_key.is_some(),
        ];
        if tls_parts.iter().any(|p| *p) && !tls_parts.iter().all(|p| *p) {
            return bad(
                "mqtt.tls_listen, mqtt.tls_cert and mqtt.tls_key go together: give all three or none"
                    .into(),
            );
        }
        if m.url.is_some() && m.tls_listen.is_some() {
            return bad(
                "mqtt.tls_listen is the embedded broker's; with mqtt.url the external broker's own TLS serves devices"
                    .into(),
            );
        }
        let mqtts = m.url.as_deref().is_some_and(|u| u.starts_with("mqtts://"));
        if mqtts != m.ca_file.is_some() {
            return bad(if mqtts {
                "an mqtts:// mqtt.url needs mqtt.ca_file: the PEM of the CA that signed the broker's certificate".into()
            } else {
                "mqtt.ca_file needs an mqtts:// mqtt.url".into()
            });
        }
        if let Some(u) = &self.uplink {
            if !(u.url.starts_with("http://") || u.url.starts_with("https://")) {
                return bad(format!(
                    "uplink.url {:?} must start with http:// or https://",
                    u.url
                ));
            }
            if u.url.starts_with("http://") && u.ca_file.is_some() {
                return bad("uplink.ca_file needs an https:// uplink.url".into());
            }
            if u.url.starts_with("https://") && u.ca_file.is_none() {
                return bad(
                    "an https:// uplink.url needs uplink.ca_file: the PEM of the CA that signed HQ's certificate"
                        .into(),
                );
            }
            if u.token.trim().is_empty() {
                return bad("uplink.token is empty: give this box's HQ token".into());
            }
            if u.batch_records == 0 || u.batch_records > 100_000 {
                return bad("uplink.batch_records must be 1 to 100000".into());
            }
            if u.backoff_min_ms == 0 || u.backoff_min_ms > u.backoff_max_ms {
                return bad("uplink.backoff_min_ms must be > 0 and <= backoff_max_ms".into());
            }
        }
        if self.venue.timezone.parse::<chrono_tz::Tz>().is_err() {
            return bad(format!(
                "venue.timezone {:?} is not an IANA time zone (e.g. \"Asia/Shanghai\")",
                self.venue.timezone
            ));
        }
        if !is_topic_segment(&self.venue.zone) {
            return bad(format!(
                "venue.zone {:?} must be a plain MQTT topic segment (no '/', '+', '#')",
                self.venue.zone
            ));
        }
        let areas = unique_ids("areas", self.areas.iter().map(|a| a.id.as_str()))?;
        unique_ids("gates", self.gates.iter().map(|g| g.id.as_str()))?;
        unique_ids("products", self.products.iter().map(|p| p.id.as_str()))?;
        for gate in &self.gates {
            if !is_topic_segment(&gate.id) {
                return bad(format!(
                    "gate id {:?} must be a plain MQTT topic segment",
                    gate.id
                ));
            }
            if !areas.contains(gate.area.as_str()) {
                return bad(format!(
                    "gate {} names area {:?}, which is not in [[areas]]",
                    gate.id, gate.area
                ));
            }
        }
        for p in &self.products {
            if p.price_fen.is_negative() {
                return bad(format!("product {}: price_fen must not be negative", p.id));
            }
            if p.grants.is_empty() {
                return bad(format!(
                    "product {}: grants must name at least one area",
                    p.id
                ));
            }
            for g in &p.grants {
                if !areas.contains(g.as_str()) {
                    return bad(format!(
                        "product {} grants area {:?}, which is not in [[areas]]",
                        p.id, g
                    ));
                }
            }
            if p.entries == Some(0) {
                return bad(format!(
                    "product {}: entries = 0 admits nobody; leave it unset for unlimited",
                    p.id
                ));
            }
            match (p.group_min_size, p.group_price_fen) {
                (Some(0), _) => {
                    return bad(format!(
                        "product {}: group_min_size must be at least 1",
                        p.id
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {
                    return bad(format!(
                        "product {}: set both group_min_size and group_price_fen, or neither",
                        p.id
                    ));
                }
                (_, Some(price)) if price.is_negative() => {
                    return bad(format!(
                        "product {}: group_price_fen must not be negative",
                        p.id
                    ));
                }
                _ => {}
            }
            let mut seen = HashSet::new();
            for s in &p.slots {
                if NaiveTime::parse_from_str(&s.time, "%H:%M").is_err() {
                    return bad(format!(
                        "product {}: slot time {:?} is not HH:MM",
                        p.id, s.time
                    ));
                }
                if !seen.insert(s.time.as_str()) {
                    return bad(format!("product {}: slot {} is listed twice", p.id, s.time));
                }
            }
        }
        let merchants = unique_ids("merchants", self.merchants.iter().map(|m| m.id.as_str()))?;
        unique_ids("pos", self.pos.iter().map(|p| p.id.as_str()))?;
        let parties = unique_ids("parties", self.parties.iter().map(|p| p.id.as_str()))?;
        for m in &self.merchants {
            if let Some(area) = &m.area
                && !areas.contains(area.as_str())
            {
                return bad(format!(
                    "merchant {} names area {area:?}, which is not in [[areas]]",
                    m.id
                ));
            }
        }
        for p in &self.pos {
            if !is_topic_segment(&p.id) {
                return bad(format!(
                    "pos id {:?} must be a plain MQTT topic segment",
                    p.id
                ));
            }
            if !merchants.contains(p.merchant.as_str()) {
                return bad(format!(
                    "pos {} names merchant {:?}, which is not in [[merchants]]",
                    p.id, p.merchant
                ));
            }
            if self.gates.iter().any(|g| g.id == p.id) {
                return bad(format!("device id {} is both a gate and a pos", p.id));
            }
        }
        let mut versions = HashSet::new();
        for c in &self.contracts {
            if !parties.contains(c.party.as_str()) {
                return bad(format!(
                    "contract {} names party {:?}, which is not in [[parties]]",
                    c.id, c.party
                ));
            }
            if !versions.insert((c.id.as_str(), c.version)) {
                return bad(format!(
                    "contract {} version {} appears twice",
                    c.id, c.version
                ));
            }
            if let Err(e) = c.to_contract() {
                return bad(format!("contract {}: {e}", c.id));
            }
            for p in &c.products {
                if self.product(p).is_none() {
                    return bad(format!(
                        "contract {} names product {p:?}, which is not in [[products]]",
                        c.id
                    ));
                }
            }
            for m in &c.merchants {
                if !merchants.contains(m.as_str()) {
                    return bad(format!(
                        "contract {} names merchant {m:?}, which is not in [[merchants]]",
                        c.id
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn merchant(&self, id: &str) -> Option<&MerchantConfig> {
        self.merchants.iter().find(|m| m.id == id)
    }

    pub fn pos_device(&self, id: &str) -> Option<&PosConfig> {
        self.pos.iter().find(|p| p.id == id)
    }

    pub fn party(&self, id: &str) -> Option<&PartyConfig> {
        self.parties.iter().find(|p| p.id == id)
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        // validate() has checked it; fall back to the documented default regardless.
        self.venue
            .timezone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai)
    }

    pub fn product(&self, id: &str) -> Option<&ProductConfig> {
        self.products.iter().find(|p| p.id == id)
    }

    pub fn area(&self, id: &str) -> Option<&AreaConfig> {
        self.areas.iter().find(|a| a.id == id)
    }

    pub fn gate(&self, id: &str) -> Option<&GateConfig> {
        self.gates.iter().find(|g| g.id == id)
    }

    /// Gates per area, for whitelist deltas.
    pub fn gates_by_area(&self) -> BTreeMap<&str, Vec<&GateConfig>> {
        let mut map: BTreeMap<&str, Vec<&GateConfig>> = BTreeMap::new();
        for g in &self.gates {
            map.entry(g.area.as_str()).or_default().push(g);
        }
        map
    }

    /// `plugin_dir` resolved against `data_dir`.
    pub fn plugin_dir(&self) -> PathBuf {
        if self.edge.plugin_dir.is_absolute() {
            self.edge.plugin_dir.clone()
        } else {
            self.edge.data_dir.join(&self.edge.plugin_dir)
        }
    }
}

fn unique_ids<'a>(
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, ConfigError> {
    let mut set = HashSet::new();
    for id in ids {
        if id.is_empty() {
            return Err(ConfigError::Invalid(format!("{what}: an id is empty")));
        }
        if !set.insert(id) {
            return Err(ConfigError::Invalid(format!(
                "{what}: id {id:?} appears twice"
            )));
        }
    }
    Ok(set)
}

/// A device or zone id must be usable as one MQTT topic level.
pub fn is_topic_segment(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '+', '#', '\0'])
}

#[cfg(test)]
mod tests;
