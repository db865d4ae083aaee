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
        .max_core_instances_per_component(16)
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
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    pub fn new(engine: &Engine, dir: &Path) -> Arc<CompileCache> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Arc::new(CompileCache {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", h.finish()),
        })
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
        if path.exists() {
            // SAFETY: files in this folder are only ever written by `precompile_component`
            // below (atomically, by rename) and never modified afterwards; an incompatible
            // file is refused by wasmtime with an error, not undefined behaviour.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "compiled plugin cache unusable; recompiling")
                }
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        if let Err(e) = self.write(&path, &compiled) {
            tracing::warn!(error = %e, "cannot write the compiled plugin cache; continuing without it");
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
