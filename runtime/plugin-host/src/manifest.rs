//! A plugin's manifest: `<id>.plugin.toml` beside its wasm file.
//!
//! ```toml
//! id = "std-json-gate"
//! world = "gate-adapter"
//! wasm = "std-json-gate.wasm"        # relative to this file
//! sha256 = "9f2c…"                   # the wasm file must hash to this, or it is refused
//! grants = ["log", "clock"]          # host imports it may use; anything else fails to load
//! memory_bytes_max = 16777216        # linear memory limit per call
//! deadline_ms = 50                   # wall-time limit per call
//! fuel = 100000000                   # optional: instruction budget per call
//! [config]                           # values the plugin reads with config.get
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::PluginError;

/// Linear memory a plugin may ask for at most; the pooling allocator reserves this much
/// address space per instance slot.
pub const MEMORY_BYTES_CEILING: u64 = 256 * 1024 * 1024;
/// Default linear memory limit per call: decoding a payload needs far less.
pub const MEMORY_BYTES_DEFAULT: u64 = 32 * 1024 * 1024;
/// Default and ceiling of the wall time of one call.
pub const DEADLINE_MS_DEFAULT: u32 = 50;
pub const DEADLINE_MS_CEILING: u32 = 30_000;

/// The subsystem a plugin serves: a world of `wit/worlds.wit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    GateAdapter,
    PosAdapter,
    TicketingAdapter,
    SettlementRule,
    PaymentConnector,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::GateAdapter => "gate-adapter",
            World::PosAdapter => "pos-adapter",
            World::TicketingAdapter => "ticketing-adapter",
            World::SettlementRule => "settlement-rule",
            World::PaymentConnector => "payment-connector",
        }
    }
}

/// A host import a manifest may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    Log,
    /// The venue's clock import, and the real WASI clocks; without it a plugin's WASI wall
    /// and monotonic clocks read 0, so a settlement rule cannot depend on when it runs.
    Clock,
    Config,
    Kv,
    /// Real WASI random numbers; without it they are a fixed sequence, the same in every
    /// instance (a plugin's hash maps keep working, and its answers stay repeatable).
    Random,
}

impl Grant {
    pub fn interface(self) -> &'static str {
        match self {
            Grant::Log => "venue:edge/log",
            Grant::Clock => "venue:edge/clock",
            Grant::Config => "venue:edge/config",
            Grant::Kv => "venue:edge/kv",
            Grant::Random => "wasi:random",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub world: World,
    pub wasm: PathBuf,
    pub sha256: String,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default = "default_memory")]
    pub memory_bytes_max: u64,
    #[serde(default = "default_deadline")]
    pub deadline_ms: u32,
    #[serde(default)]
    pub fuel: Option<u64>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Hosts a payment connector may reach, as its URLs name them (`bank.example`,
    /// `127.0.0.1:8443`).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// For a payment connector's `https://` requests: the CA certificate(s) (PEM) that
    /// alone are trusted for its hosts (resolved against the manifest's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The file this manifest was read from.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

fn default_memory() -> u64 {
    MEMORY_BYTES_DEFAULT
}
fn default_deadline() -> u32 {
    DEADLINE_MS_DEFAULT
}

impl Manifest {
    /// Reads and checks a manifest; `wasm` is resolved against the manifest's folder.
    pub fn load(path: &Path) -> Result<Manifest, PluginError> {
        let text = std::fs::read_to_string(path).map_err(|e| PluginError::Manifest {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut m: Manifest = toml::from_str(&text).map_err(|e| PluginError::Manifest {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        m.source = Some(path.to_owned());
        if let Some(dir) = path.parent() {
            if m.wasm.is_relative() {
                m.wasm = dir.join(&m.wasm);
            }
            if let Some(ca) = m.ca_file.as_mut()
                && ca.is_relative()
            {
                *ca = dir.join(&*ca);
            }
        }
        m.validate().map_err(|message| PluginError::Manifest {
            path: path.display().to_string(),
            message,
        })?;
        Ok(m)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "id {:?} must be letters, digits, '-' or '_'",
                self.id
            ));
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("sha256 must be 64 hex digits (sha256sum of the wasm file)".into());
        }
        if self.memory_bytes_max == 0 || self.memory_bytes_max > MEMORY_BYTES_CEILING {
            return Err(format!(
                "memory_bytes_max must be between 1 and {MEMORY_BYTES_CEILING}"
            ));
        }
        if self.deadline_ms == 0 || self.deadline_ms > DEADLINE_MS_CEILING {
            return Err(format!(
                "deadline_ms must be between 1 and {DEADLINE_MS_CEILING}"
            ));
        }
        if self.fuel == Some(0) {
            return Err("fuel = 0 allows no instruction; leave it unset for no fuel limit".into());
        }
        Ok(())
    }

    /// Writes the manifest as TOML (for `demo` and `PUT /api/v1/plugins/{id}`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.plugin.toml");
        std::fs::write(
            &path,
            format!("id = \"x\"\nworld = \"gate-adapter\"\nwasm = \"x.wasm\"\nsha256 = \"{}\"\nmemroy = 1\n", "a".repeat(64)),
        )
        .unwrap();
        let err = Manifest::load(&path).unwrap_err().to_string();
        assert!(err.contains("memroy"), "{err}");
    }

    #[test]
    fn wasm_paths_are_relative_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.plugin.toml");
        std::fs::write(
            &path,
            format!("id = \"x\"\nworld = \"pos-adapter\"\nwasm = \"x.wasm\"\nsha256 = \"{}\"\ngrants = [\"log\"]\n", "a".repeat(64)),
        )
        .unwrap();
        let m = Manifest::load(&path).unwrap();
        assert_eq!(m.wasm, dir.path().join("x.wasm"));
        assert_eq!(m.grants, vec![Grant::Log]);
    }
}
