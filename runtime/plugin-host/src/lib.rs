//! # venue-plugin-host: the wasmtime host of vendors' plugins
//!
//! Layer 3 of docs/architecture.md, over `venue_model` (the unified types the WIT shapes
//! convert to) and `venue_store` (the plugins' key-value scratch space); no domain rule
//! lives here. Its map: [`manifest`] (pins and grants), [`engine`] (the engine, its
//! limits and compile cache), [`bindings`] (generated from `wit/`), `convert` (WIT shapes
//! <-> the model), `host` (the host imports), `warm` (warm instances), `calls` (one call
//! per world export), `version` (contract versions), `package` (signed packages),
//! `loading` (the plugin folder and the venue's trust), `conformance` (`plugin check`), and
//! this file (installing and hot replacement).
//!
//! The plugin host: vendors' WebAssembly components, loaded, bounded and replaceable.
//!
//! - **Load**: a manifest names the wasm file, its sha256 pin, its world and the host
//!   imports it is granted. A file that does not hash to its pin is refused; a component
//!   importing anything not granted is refused with the import's name. Compiled code is
//!   cached on disk ([`engine::CompileCache`]).
//! - **Call**: every call runs on an instance from an `InstancePre` (the pooling allocator
//!   makes that microseconds) with a memory limit, a wall-time deadline on the epoch clock
//!   (yielding to other tasks every tick), and optional fuel. A trap, timeout or memory
//!   blow-up fails that one call with a [`PluginError::Call`], throws the instance away,
//!   is counted, and raised as an alert. Nothing else stops.
//! - **Warm adapters**: the device adapters (gate, POS) answer every device message, so
//!   an instance whose call succeeded is kept ([`warm::WarmPool`]) and serves up to
//!   [`warm::CALLS_PER_INSTANCE_MAX`] calls of the same plugin version; any failure
//!   discards it. The other worlds (orders, settlement rules, payments) run each call on
//!   a fresh instance: they are rare, and a settlement rule must be deterministic.
//! - **Replace**: [`PluginHost::install`] swaps in a new version atomically; calls in
//!   flight hold an `Arc` of the old one and finish on it.

pub mod bindings;
pub mod conformance;
mod convert;
pub mod engine;
mod host;
mod loading;
pub mod manifest;
pub mod package;
pub mod version;
mod warm;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::Digest;
use tokio::sync::{Semaphore, mpsc};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

pub use host::{HostState, KvSpace, MemoryLimitHit, PluginContext};
pub use loading::{Inspection, Trust};
pub use manifest::{Grant, Manifest, World};
use venue_model::alert::Alert;
use venue_model::clock::Clock;
use venue_store::Store as Db;

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("plugin manifest {path}: {message}")]
    Manifest { path: String, message: String },
    #[error("plugin {id}: cannot read {path}: {message}")]
    Read {
        id: String,
        path: String,
        message: String,
    },
    #[error(
        "plugin {id}: {path} has sha256 {actual}, but the manifest pins {expected}; refusing to load it"
    )]
    HashMismatch {
        id: String,
        path: String,
        expected: String,
        actual: String,
    },
    #[error("cannot start the plugin engine: {0}")]
    Engine(String),
    #[error("plugin is not a valid component: {0}")]
    Compile(String),
    #[error("plugin {id}: {message}")]
    Link { id: String, message: String },
    /// The component targets a contract version this host does not run.
    #[error("plugin {id}: {message}")]
    Contract { id: String, message: String },
    #[error("no plugin {0} is loaded")]
    NotFound(String),
    /// A plugin package that is malformed, unsigned where signatures are required, or
    /// signed by a key the venue does not trust.
    #[error("plugin package {path}: {message}")]
    Package { path: String, message: String },
    #[error("plugin {id} is a {actual} plugin, not a {expected}")]
    WrongWorld {
        id: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("plugin {id} failed ({kind}): {detail}")]
    Call {
        id: String,
        kind: FailureKind,
        detail: String,
    },
}

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The call ran past its `deadline_ms`.
    Timeout,
    /// The call used up its `fuel`.
    OutOfFuel,
    /// The plugin asked for more memory than `memory_bytes_max`.
    MemoryLimit,
    /// The plugin trapped (a panic, an unreachable, a bad memory access, ...).
    Trap,
    /// The plugin returned something the host cannot use.
    BadOutput,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::OutOfFuel => "out_of_fuel",
            FailureKind::MemoryLimit => "memory_limit",
            FailureKind::Trap => "trap",
            FailureKind::BadOutput => "bad_output",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payload the plugin understood to be malformed (a WIT `decode-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: String,
    pub message: String,
    pub event_id: Option<String>,
}

/// Calls and failures of one plugin id, across versions.
#[derive(Default)]
pub struct PluginStats {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub memory_limits: AtomicU64,
    pub traps: AtomicU64,
    pub call_ns_total: AtomicU64,
}

enum Kind {
    Gate(
        bindings::gate::GateAdapterPre<HostState>,
        warm::WarmPool<bindings::gate::GateAdapter>,
    ),
    Pos(
        bindings::pos::PosAdapterPre<HostState>,
        warm::WarmPool<bindings::pos::PosAdapter>,
    ),
    /// A POS adapter built against contract 1.0.0 (its `sale` has no ticket code).
    Pos1_0(
        bindings::pos_1_0::PosAdapterPre<HostState>,
        warm::WarmPool<bindings::pos_1_0::PosAdapter>,
    ),
    Ticketing(bindings::ticketing::TicketingAdapterPre<HostState>),
    Settlement(bindings::settlement::SettlementRulePre<HostState>),
    #[allow(dead_code)]
    Payment(bindings::payment::PaymentConnectorPre<HostState>),
}

/// One loaded version of a plugin.
pub struct Loaded {
    pub manifest: Manifest,
    pub sha256: String,
    /// The contract version the component was built against.
    pub contract: version::ContractVersion,
    pub loaded_at: String,
    kind: Kind,
    engine: Engine,
    ctx: Arc<PluginContext>,
    stats: Arc<PluginStats>,
    slots: Arc<Semaphore>,
    failures: mpsc::Sender<Alert>,
    clock: Clock,
}

/// All plugins of the box.
pub struct PluginHost {
    engine: Engine,
    cache: Arc<engine::CompileCache>,
    plugins: RwLock<HashMap<String, Arc<Loaded>>>,
    kv: RwLock<HashMap<String, Arc<KvSpace>>>,
    stats: RwLock<HashMap<String, Arc<PluginStats>>>,
    slots: Arc<Semaphore>,
    warm: Arc<warm::WarmBudget>,
    db: Option<Db>,
    clock: Clock,
    failures: mpsc::Sender<Alert>,
    trust: RwLock<Trust>,
}

impl PluginHost {
    /// A host whose compiled-code cache lives in `cache_dir`; failures are sent to
    /// `failures` as alerts.
    pub fn new(
        cache_dir: &Path,
        db: Option<Db>,
        clock: Clock,
        failures: mpsc::Sender<Alert>,
    ) -> Result<PluginHost, PluginError> {
        let engine = engine::new_engine()?;
        let cache = engine::CompileCache::new(&engine, cache_dir);
        Ok(PluginHost {
            engine,
            cache,
            plugins: RwLock::new(HashMap::new()),
            kv: RwLock::new(HashMap::new()),
            stats: RwLock::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(engine::CALLS_IN_FLIGHT_MAX as usize)),
            warm: Arc::new(warm::WarmBudget::new(engine::WARM_INSTANCES_MAX)),
            db,
            clock,
            failures,
            trust: RwLock::new(Trust::default()),
        })
    }

    /// Loads a plugin and makes it the current version of its id. Calls in flight finish
    /// on the version they started with.
    pub fn install(&self, manifest: Manifest) -> Result<Arc<Loaded>, PluginError> {
        let loaded = Arc::new(self.build(manifest)?);
        let id = loaded.manifest.id.clone();
        let previous = self
            .plugins
            .write()
            .map_err(|_| PluginError::Engine("plugin table poisoned".into()))?
            .insert(id.clone(), loaded.clone());
        match previous {
            Some(old) if old.sha256 != loaded.sha256 => {
                tracing::info!(plugin = %id, from = %&old.sha256[..12], to = %&loaded.sha256[..12], "plugin replaced")
            }
            Some(_) => tracing::debug!(plugin = %id, "plugin reloaded unchanged"),
            None => {
                tracing::info!(plugin = %id, world = loaded.manifest.world.as_str(), contract = %loaded.contract, sha256 = %&loaded.sha256[..12], "plugin loaded")
            }
        }
        Ok(loaded)
    }

    fn build(&self, manifest: Manifest) -> Result<Loaded, PluginError> {
        let id = manifest.id.clone();
        let wasm = std::fs::read(&manifest.wasm).map_err(|e| PluginError::Read {
            id: id.clone(),
            path: manifest.wasm.display().to_string(),
            message: e.to_string(),
        })?;
        let sha256 = hex::encode(sha2::Sha256::digest(&wasm));
        if !sha256.eq_ignore_ascii_case(&manifest.sha256) {
            return Err(PluginError::HashMismatch {
                id,
                path: manifest.wasm.display().to_string(),
                expected: manifest.sha256.clone(),
                actual: sha256,
            });
        }
        let component = self.cache.load(&self.engine, &wasm, &sha256)?;
        let contract = version::of_exports(
            component
                .component_type()
                .exports(&self.engine)
                .map(|(name, _)| name),
        )
        .map_err(|message| PluginError::Contract {
            id: id.clone(),
            message,
        })?;
        check_imports(&self.engine, &component, &manifest)?;
        let linker =
            build_linker(&self.engine, &manifest.grants).map_err(|e| PluginError::Link {
                id: id.clone(),
                message: format!("{e:#}"),
            })?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Link {
                id: id.clone(),
                message: format!("{e:#}"),
            })?;
        let wrong = |e: wasmtime::Error| PluginError::Link {
            id: id.clone(),
            message: format!(
                "its exports do not match the {} world of venue:edge: {e:#}",
                manifest.world.as_str()
            ),
        };
        let kind = match manifest.world {
            World::GateAdapter => Kind::Gate(
                bindings::gate::GateAdapterPre::new(pre).map_err(wrong)?,
                warm::WarmPool::new(self.warm.clone()),
            ),
            World::PosAdapter if contract == version::V1_0 => Kind::Pos1_0(
                bindings::pos_1_0::PosAdapterPre::new(pre).map_err(wrong)?,
                warm::WarmPool::new(self.warm.clone()),
            ),
            World::PosAdapter => Kind::Pos(
                bindings::pos::PosAdapterPre::new(pre).map_err(wrong)?,
                warm::WarmPool::new(self.warm.clone()),
            ),
            World::TicketingAdapter => {
                Kind::Ticketing(bindings::ticketing::TicketingAdapterPre::new(pre).map_err(wrong)?)
            }
            World::SettlementRule => {
                Kind::Settlement(bindings::settlement::SettlementRulePre::new(pre).map_err(wrong)?)
            }
            World::PaymentConnector => {
                Kind::Payment(bindings::payment::PaymentConnectorPre::new(pre).map_err(wrong)?)
            }
        };
        let kv = self.kv_space(&id);
        let stats = self.stats_of(&id);
        Ok(Loaded {
            ctx: Arc::new(PluginContext {
                id: id.clone(),
                config: manifest.config.clone(),
                clock: self.clock,
                kv,
            }),
            manifest,
            sha256,
            contract,
            loaded_at: self.clock.now_rfc3339(),
            kind,
            engine: self.engine.clone(),
            stats,
            slots: self.slots.clone(),
            failures: self.failures.clone(),
            clock: self.clock,
        })
    }

    fn kv_space(&self, id: &str) -> Arc<KvSpace> {
        if let Some(kv) = self.kv.read().ok().and_then(|m| m.get(id).cloned()) {
            return kv;
        }
        let kv = KvSpace::open(id, self.db.clone());
        if let Ok(mut m) = self.kv.write() {
            return m.entry(id.to_owned()).or_insert(kv).clone();
        }
        kv
    }

    fn stats_of(&self, id: &str) -> Arc<PluginStats> {
        if let Ok(mut m) = self.stats.write() {
            return m.entry(id.to_owned()).or_default().clone();
        }
        Arc::default()
    }

    /// The current version of a plugin.
    pub fn get(&self, id: &str) -> Result<Arc<Loaded>, PluginError> {
        self.plugins
            .read()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .ok_or_else(|| PluginError::NotFound(id.to_owned()))
    }

    /// Every loaded plugin, by id.
    pub fn list(&self) -> Vec<Arc<Loaded>> {
        let mut all: Vec<Arc<Loaded>> = self
            .plugins
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        all
    }

    /// Every loaded plugin with its counters (the API's and the console's lists).
    pub fn list_with_stats(&self) -> Vec<(Arc<Loaded>, Arc<PluginStats>)> {
        self.list()
            .into_iter()
            .map(|p| {
                let stats = self.stats_of(p.id());
                (p, stats)
            })
            .collect()
    }

    pub fn stats(&self) -> Vec<(String, Arc<PluginStats>)> {
        let mut all: Vec<_> = self
            .stats
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// Refuses a component that imports a host interface its manifest does not grant, or
/// anything the host does not offer at all, naming the import.
fn check_imports(
    engine: &Engine,
    component: &wasmtime::component::Component,
    m: &Manifest,
) -> Result<(), PluginError> {
    for (name, _) in component.component_type().imports(engine) {
        let base = name.split('@').next().unwrap_or(name);
        // WASI is linked empty (no files, sockets or environment); `types` has no functions.
        if base.starts_with("wasi:") || base == "venue:edge/types" {
            continue;
        }
        let granted = m.grants.iter().any(|g| g.interface() == base);
        if !granted {
            let offered = [Grant::Log, Grant::Clock, Grant::Config, Grant::Kv]
                .iter()
                .any(|g| g.interface() == base);
            let message = if offered {
                format!(
                    "it imports {name}, which its manifest does not grant; add \"{}\" to grants if the plugin should have it",
                    base.trim_start_matches("venue:edge/")
                )
            } else {
                format!("it imports {name}, which this host does not provide")
            };
            return Err(PluginError::Link {
                id: m.id.clone(),
                message,
            });
        }
    }
    Ok(())
}

/// A linker with WASI (empty: no files, sockets or environment) and the granted host
/// imports only.
fn build_linker(engine: &Engine, grants: &[Grant]) -> wasmtime::Result<Linker<HostState>> {
    use bindings::{clock, config, kv, log, types};
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    for grant in grants {
        match grant {
            Grant::Log => log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?,
            Grant::Clock => {
                clock::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Grant::Config => {
                config::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Grant::Kv => kv::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?,
            // WASI is always linked; the grant decides what its random numbers are.
            Grant::Random => {}
        }
    }
    Ok(linker)
}

/// Runs `$body` against a warm instance from `$pool` (or a fresh one of `$pre`), bounded
/// and classified; the instance goes back to the pool only if the call succeeded.
macro_rules! call_warm {
    ($self:expr, $pre:expr, $pool:expr, |$store:ident, $inst:ident| $body:expr) => {{
        let _slot = $self.slots.acquire().await.map_err(|_| {
            $self.failed(FailureKind::Trap, "the plugin host is shutting down".into())
        })?;
        let started = Instant::now();
        let result = async {
            let mut warm = match $pool.take() {
                Some(mut warm) => {
                    $self.rearm(&mut warm.store, started);
                    warm
                }
                None => {
                    let mut store = $self.new_store(started);
                    let bindings = $pre.instantiate_async(&mut store).await?;
                    warm::Warm::new(store, bindings)
                }
            };
            let result = {
                let ($store, $inst) = (&mut warm.store, &warm.bindings);
                $body.await
            };
            if result.is_ok() {
                $pool.give_back(warm);
            }
            result
        }
        .await;
        $self.finish(result, started)
    }};
}

/// Runs `$body` against a fresh instance of `$pre`, bounded and classified.
macro_rules! call_plugin {
    ($self:expr, $pre:expr, |$store:ident, $inst:ident| $body:expr) => {{
        let _slot = $self.slots.acquire().await.map_err(|_| {
            $self.failed(FailureKind::Trap, "the plugin host is shutting down".into())
        })?;
        let started = Instant::now();
        let mut $store = $self.new_store(started);
        let result = async {
            let $inst = $pre.instantiate_async(&mut $store).await?;
            $body.await
        }
        .await;
        $self.finish(result, started)
    }};
}

mod calls;

impl Loaded {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn world(&self) -> World {
        self.manifest.world
    }

    /// Drops this version's idle adapter instances, so the next calls instantiate afresh
    /// (what a call costs cold, for the plugin-call benchmark).
    /// The linear memory of each idle device-adapter instance, bytes (the benchmarks'
    /// memory per instance).
    pub fn warm_memory_bytes(&self) -> Vec<usize> {
        match &self.kind {
            Kind::Gate(_, pool) => pool.memory_bytes(),
            Kind::Pos(_, pool) => pool.memory_bytes(),
            Kind::Pos1_0(_, pool) => pool.memory_bytes(),
            _ => Vec::new(),
        }
    }

    pub fn drop_warm(&self) {
        match &self.kind {
            Kind::Gate(_, pool) => pool.clear(),
            Kind::Pos(_, pool) => pool.clear(),
            Kind::Pos1_0(_, pool) => pool.clear(),
            _ => {}
        }
    }

    fn new_store(&self, started: Instant) -> Store<HostState> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(
                self.ctx.clone(),
                self.manifest.memory_bytes_max,
                &self.manifest.grants,
            ),
        );
        store.limiter(|s| s.limiter());
        self.rearm(&mut store, started);
        store
    }

    /// Gives a store the budgets of one call starting at `started`: fuel, the wall-time
    /// deadline, the log lines.
    fn rearm(&self, store: &mut Store<HostState>, started: Instant) {
        store.data_mut().new_call();
        // consume_fuel is on engine-wide; without a budget of its own a plugin gets all.
        let _ = store.set_fuel(self.manifest.fuel.unwrap_or(u64::MAX));
        let deadline = started + Duration::from_millis(self.manifest.deadline_ms as u64);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Let other tasks run, then check again at the next tick.
                Ok(UpdateDeadline::Yield(1))
            }
        });
    }

    fn finish<R>(&self, result: wasmtime::Result<R>, started: Instant) -> Result<R, PluginError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats
            .call_ns_total
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result.map_err(|e| {
            let (kind, detail) = classify(&e, &self.manifest);
            self.failed(kind, detail)
        })
    }

    /// Counts a failed call, raises an alert, and builds its error.
    fn failed(&self, kind: FailureKind, detail: String) -> PluginError {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        match kind {
            FailureKind::Timeout | FailureKind::OutOfFuel => &self.stats.timeouts,
            FailureKind::MemoryLimit => &self.stats.memory_limits,
            FailureKind::Trap | FailureKind::BadOutput => &self.stats.traps,
        }
        .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(plugin = %self.manifest.id, kind = kind.as_str(), "{detail}");
        let alert = Alert::new(
            "plugin_failure",
            self.clock.now_rfc3339(),
            serde_json::json!({ "plugin": self.manifest.id, "failure": kind.as_str(), "detail": detail }),
        );
        // Alerts are best effort: a burst of failures must not block calls.
        let _ = self.failures.try_send(alert);
        PluginError::Call {
            id: self.manifest.id.clone(),
            kind,
            detail,
        }
    }

    fn wrong_world(&self, expected: World) -> PluginError {
        PluginError::WrongWorld {
            id: self.manifest.id.clone(),
            expected: expected.as_str(),
            actual: self.manifest.world.as_str(),
        }
    }
}

pub use convert::Delta;

/// The payment-connector's HTTP shapes.
pub use bindings::payment::exports::venue::edge::connector;

/// Sorts a call's error into a kind and a message for people.
fn classify(e: &wasmtime::Error, m: &Manifest) -> (FailureKind, String) {
    if e.downcast_ref::<MemoryLimitHit>().is_some() {
        return (
            FailureKind::MemoryLimit,
            format!(
                "the call asked for more than memory_bytes_max = {} bytes; the instance was discarded",
                m.memory_bytes_max
            ),
        );
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            FailureKind::Timeout,
            format!(
                "the call ran past deadline_ms = {}; the instance was discarded",
                m.deadline_ms
            ),
        ),
        Some(Trap::OutOfFuel) => (
            FailureKind::OutOfFuel,
            format!(
                "the call used up its fuel ({}); the instance was discarded",
                m.fuel.unwrap_or(0)
            ),
        ),
        Some(trap) => (
            FailureKind::Trap,
            format!("the plugin trapped: {trap}; the instance was discarded"),
        ),
        None => (FailureKind::Trap, format!("the call failed: {e:#}")),
    }
}
