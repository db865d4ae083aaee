//! What a plugin's calls can reach: the host imports of `wit/host.wit`, each one bounded,
//! and a WASI context with nothing in it (no files, no sockets, no environment), which
//! only satisfies what Rust's standard library imports on `wasm32-wasip2`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{clock, config, kv, log, types};
use crate::manifest::Grant;
use venue_model::clock::Clock;
use venue_store::Store as Db;

/// One log line from a plugin is cut at this many bytes.
pub const LOG_LINE_BYTES_MAX: usize = 2048;
/// Log lines one call may write; the rest are counted and dropped.
pub const LOG_LINES_PER_CALL_MAX: u32 = 64;
/// A key-value entry's key and value at most, and entries per plugin at most.
pub const KV_KEY_BYTES_MAX: usize = 256;
pub const KV_VALUE_BYTES_MAX: usize = 64 * 1024;
pub const KV_KEYS_MAX: usize = 10_000;

/// A plugin's key-value scratch space: read from memory, written through to the store.
pub struct KvSpace {
    plugin: String,
    entries: Mutex<HashMap<String, Vec<u8>>>,
    db: Option<Db>,
}

impl KvSpace {
    /// Loads the plugin's entries from the store (`db: None` keeps them in memory only).
    pub fn open(plugin: &str, db: Option<Db>) -> Arc<KvSpace> {
        let entries = match &db {
            Some(db) => {
                let id = plugin.to_owned();
                db.write_blocking(
                    move |c| -> Result<HashMap<String, Vec<u8>>, venue_store::StoreError> {
                        let mut stmt =
                            c.prepare("SELECT key, value FROM plugin_kv WHERE plugin = ?1")?;
                        let rows = stmt.query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                        Ok(rows.collect::<Result<_, _>>()?)
                    },
                )
                .unwrap_or_else(|e| {
                    tracing::error!(plugin, error = %e, "cannot load the plugin's key-value space");
                    HashMap::new()
                })
            }
            None => HashMap::new(),
        };
        Arc::new(KvSpace {
            plugin: plugin.to_owned(),
            entries: Mutex::new(entries),
            db,
        })
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        if key.len() > KV_KEY_BYTES_MAX {
            return Err(format!("key longer than {KV_KEY_BYTES_MAX} bytes"));
        }
        if value.len() > KV_VALUE_BYTES_MAX {
            return Err(format!("value longer than {KV_VALUE_BYTES_MAX} bytes"));
        }
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| "key-value space unavailable".to_owned())?;
        if !entries.contains_key(&key) && entries.len() >= KV_KEYS_MAX {
            return Err(format!("more than {KV_KEYS_MAX} keys"));
        }
        entries.insert(key.clone(), value.clone());
        drop(entries);
        self.persist(key, Some(value));
        Ok(())
    }

    fn delete(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
        self.persist(key.to_owned(), None);
    }

    fn persist(&self, key: String, value: Option<Vec<u8>>) {
        let (Some(db), Ok(rt)) = (self.db.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let plugin = self.plugin.clone();
        rt.spawn(async move {
            let result = db
                .write(move |c| -> Result<(), venue_store::StoreError> {
                    match value {
                        Some(v) => c.execute(
                            "INSERT INTO plugin_kv (plugin, key, value) VALUES (?1, ?2, ?3)
                             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
                            rusqlite::params![plugin, key, v],
                        )?,
                        None => c.execute(
                            "DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2",
                            rusqlite::params![plugin, key],
                        )?,
                    };
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot save a plugin's key-value entry");
            }
        });
    }
}

/// What stays the same across a plugin's calls.
pub struct PluginContext {
    pub id: String,
    pub config: BTreeMap<String, String>,
    pub clock: Clock,
    pub kv: Arc<KvSpace>,
}

/// The store data of one call.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    ctx: Arc<PluginContext>,
    log_lines: u32,
}

impl HostState {
    pub fn new(ctx: Arc<PluginContext>, memory_bytes_max: u64, grants: &[Grant]) -> HostState {
        let mut wasi = WasiCtx::builder();
        if !grants.contains(&Grant::Clock) {
            wasi.wall_clock(Frozen).monotonic_clock(Frozen);
        }
        if !grants.contains(&Grant::Random) {
            wasi.secure_random(wasmtime_wasi::Deterministic::new(FIXED_BYTES.to_vec()))
                .insecure_random(wasmtime_wasi::Deterministic::new(FIXED_BYTES.to_vec()))
                .insecure_random_seed(0x5645_4e55_455f_4544_4745_5f53_4545_4430);
        }
        HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter(
                StoreLimitsBuilder::new()
                    .memory_size(memory_bytes_max as usize)
                    .build(),
                0,
            ),
            ctx,
            log_lines: 0,
        }
    }

    pub fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// Linear memory the instance's memories have grown to, bytes (all its core
    /// memories, from their initial sizes on).
    pub fn memory_bytes(&self) -> usize {
        self.limiter.1
    }

    /// Starts a call on this state: the per-call budgets start afresh.
    pub fn new_call(&mut self) {
        self.log_lines = 0;
    }
}

/// The WASI clocks of a plugin without the `clock` grant: always 0.
struct Frozen;

impl wasmtime_wasi::HostWallClock for Frozen {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for Frozen {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The bytes a plugin without the `random` grant gets as random numbers, over and over.
const FIXED_BYTES: [u8; 16] = [
    0x8e, 0x31, 0x5c, 0xa7, 0x02, 0xf9, 0x64, 0x1b, 0xd3, 0x77, 0x4a, 0xe0, 0x19, 0xb6, 0x2d, 0x55,
];

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The plugin asked for more linear memory than its manifest allows.
#[derive(Debug)]
pub struct MemoryLimitHit;

impl std::fmt::Display for MemoryLimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plugin exceeded its memory limit (memory_bytes_max)")
    }
}

impl std::error::Error for MemoryLimitHit {}

/// [`StoreLimits`] that turns a refused `memory.grow` into a recognisable trap instead of
/// a -1 the guest would turn into an anonymous abort.
pub struct Limiter(StoreLimits, usize);

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.0.memory_growing(current, desired, maximum)? {
            self.1 += desired.saturating_sub(current);
            Ok(true)
        } else {
            Err(MemoryLimitHit.into())
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.0.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.0.instances()
    }

    fn tables(&self) -> usize {
        self.0.tables()
    }

    fn memories(&self) -> usize {
        self.0.memories()
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > LOG_LINES_PER_CALL_MAX {
            return Ok(());
        }
        let mut message = message;
        if message.len() > LOG_LINE_BYTES_MAX {
            let mut cut = LOG_LINE_BYTES_MAX;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = self.ctx.id.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl clock::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.clock.now_rfc3339())
    }

    fn now_ms(&mut self) -> wasmtime::Result<i64> {
        Ok(chrono::Utc::now().timestamp_millis())
    }

    fn today(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.clock.today().to_string())
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.ctx.config.get(&key).cloned())
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.ctx.kv.get(&key))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        Ok(self.ctx.kv.set(key, value))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.ctx.kv.delete(&key);
        Ok(())
    }
}
