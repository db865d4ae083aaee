//! The wasmtime engine every plugin runs on, its epoch clock, and the on-disk cache of
//! compiled plugins.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginError;
use super::manifest::MEMORY_BYTES_CEILING;

/// Plugin calls in flight at most, across all plugins. Each holds one pooled instance;
/// further calls wait for a slot (see `PluginHost::call_slots`).
pub const CALLS_IN_FLIGHT_MAX: u32 = 128;

/// Idle device-adapter instances kept across all plugins (see `warm`).
pub const WARM_INSTANCES_MAX: u32 = 32;

/// Component instances the pooling allocator holds at once: calls in flight and idle
/// warm instances.
const INSTANCES_MAX: u32 = CALLS_IN_FLIGHT_MAX + WARM_INSTANCES_MAX;

/// The epoch clock's tick: the granularity of call deadlines, and how often a long call
/// yields to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Bytes of each linear memory reset by memset (not madvise) when its slot is reused.
const MEMORY_KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
/// Bytes of each async stack kept resident between calls.
const STACK_KEEP_RESIDENT_BYTES: usize = 128 * 1024;

/// Builds the engine: pooling allocator, epoch interruption, fuel metering.
pub fn new_engine() -> Result<Engine, PluginError> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(INSTANCES_MAX)
        .total_core_instances(INSTANCES_MAX * 8)
        .total_memories(INSTANCES_MAX * 2)
        .total_tables(INSTANCES_MAX * 8)
        // A stack is held only while a call runs.
        .total_stacks(CALLS_IN_FLIGHT_MAX)
        .max_memory_size(MEMORY_BYTES_CEILING as usize)
        // A componentize-py component links 38 core instances (the interpreter, libc,
        // its shared libraries and adapters); Rust and JavaScript components 2-8.
        .max_core_instances_per_component(64)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        // Reset a slot's first pages with memset instead of madvise: a plugin call touches
        // little memory, and madvise's page faults and TLB shootdowns cost more than the
        // call itself (measured: BENCHMARKS.md, plugin call).
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(STACK_KEEP_RESIDENT_BYTES)
        // Linux 6.7+: reset only the pages a call dirtied (elsewhere: the first
        // MEMORY_KEEP_RESIDENT_BYTES by memset).
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).map_err(|e| PluginError::Engine(format!("{e:#}")))?;
    start_epoch_clock(&engine);
    Ok(engine)
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped.
fn start_epoch_clock(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("venue-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch clock: plugin deadlines will not fire");
    }
}

/// Compiled plugins on disk, keyed by the engine's compatibility hash and the wasm's
/// sha256: a restart loads them in milliseconds; a new wasmtime or new engine settings
/// miss the cache and compile afresh.
///
/// A cached file is native code the box would run, so it is trusted only with its MAC:
/// HMAC-SHA256 over the engine key, the pinned wasm's sha256 and the compiled bytes, under
/// a key kept beside the cache folder, not in it (`plugin-cache.key`, owner-only). A file
/// swapped, edited or planted in the folder fails the check and is compiled afresh from the
/// pinned wasm.
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    mac_key: Option<[u8; 32]>,
}

/// The cache's MAC key file, beside the cache folder.
pub const CACHE_KEY_FILE: &str = "plugin-cache.key";

impl CompileCache {
    pub fn new(engine: &Engine, dir: &Path) -> Arc<CompileCache> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let key_path = dir.parent().unwrap_or(Path::new(".")).join(CACHE_KEY_FILE);
        let mac_key = match cache_key(&key_path) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(error = %e, path = %key_path.display(), "no key for the compiled plugin cache; compiling every plugin at each start");
                None
            }
        };
        Arc::new(CompileCache {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", h.finish()),
            mac_key,
        })
    }

    fn mac(&self, sha256: &str, bytes: &[u8]) -> Option<[u8; 32]> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.mac_key?).ok()?;
        mac.update(self.engine_key.as_bytes());
        mac.update(b"\0");
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(bytes);
        Some(mac.finalize().into_bytes().into())
    }

    /// Loads the compiled component for `wasm` (whose sha256 is `sha256`), compiling and
    /// caching it on a miss.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> Result<Component, PluginError> {
        let path = self.dir.join(format!("{}-{sha256}.cwasm", self.engine_key));
        let mac_path = path.with_extension("cwasm.mac");
        if self.mac_key.is_some()
            && let (Ok(bytes), Ok(stored)) = (std::fs::read(&path), std::fs::read(&mac_path))
        {
            let expected = self.mac(sha256, &bytes);
            if expected.is_some_and(|m| hmac_eq(&m, &stored)) {
                // SAFETY: these bytes are what `precompile_component` of an engine with the
                // same compatibility hash produced for the pinned wasm: their MAC, under a
                // key the cache folder does not hold, says so.
                match unsafe { Component::deserialize(engine, &bytes) } {
                    Ok(component) => return Ok(component),
                    Err(e) => {
                        tracing::warn!(error = %e, path = %path.display(), "compiled plugin cache unusable; recompiling")
                    }
                }
            } else {
                tracing::warn!(path = %path.display(), "compiled plugin in the cache fails its MAC (edited, swapped or planted); recompiling from the pinned wasm");
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        if let Some(mac) = self.mac(sha256, &compiled) {
            let written = self
                .write(&path, &compiled)
                .and_then(|()| self.write(&mac_path, &mac));
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot write the compiled plugin cache; continuing without it");
            }
        }
        // SAFETY: `compiled` was produced by `precompile_component` of this same engine.
        unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| PluginError::Compile(format!("{e:#}")))
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// Compares two MACs without an early exit.
fn hmac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The cache's MAC key: read from `path`, or made there (owner-only) on first use.
fn cache_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let bytes = hex::decode(text.trim())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        return bytes.try_into().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not 32 bytes of hex")
        });
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        // Another process of this box made it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return cache_key(path),
        Err(e) => return Err(e),
    };
    file.write_all(hex::encode(key).as_bytes())?;
    Ok(key)
}
