//! Instances of the device adapters kept between calls.
//!
//! Instantiating from an `InstancePre` and resetting the slot afterwards cost about as
//! much as a decode itself; a device message takes two such calls (decode, then encode the
//! answer). So an adapter instance whose call succeeded is kept and serves the next call
//! of the same plugin version, up to [`CALLS_PER_INSTANCE_MAX`] calls. A failed call
//! (trap, timeout, memory limit) never gives its instance back. Every call still gets its
//! own fuel, deadline and log budget (`Loaded::rearm`).
//!
//! What a plugin sees: its own memory as its last call left it, as a long-lived process
//! would. Nothing of another plugin, and nothing that outlives a replacement (the pool
//! belongs to one loaded version).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use wasmtime::Store;

use super::HostState;

/// Idle instances one plugin version keeps. Calls yield only at epoch ticks, so about as
/// many run at once as there are worker threads.
pub const IDLE_PER_PLUGIN_MAX: usize = 4;

/// Calls one instance serves before it is retired: whatever a plugin accumulates between
/// calls (a growing cache, a leak) is bounded by this many calls.
pub const CALLS_PER_INSTANCE_MAX: u32 = 10_000;

/// An instance with its store.
pub struct Warm<B> {
    pub store: Store<HostState>,
    pub bindings: B,
    calls: u32,
}

impl<B> Warm<B> {
    pub fn new(store: Store<HostState>, bindings: B) -> Warm<B> {
        Warm {
            store,
            bindings,
            calls: 0,
        }
    }
}

/// Idle instances across all plugins at most: each holds a slot of the pooling allocator
/// (sized for these plus the calls in flight) and its linear memory.
pub struct WarmBudget {
    idle: AtomicU32,
    max: u32,
}

impl WarmBudget {
    pub fn new(max: u32) -> WarmBudget {
        WarmBudget {
            idle: AtomicU32::new(0),
            max,
        }
    }

    fn reserve(&self) -> bool {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        self.idle.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The idle instances of one plugin version.
pub struct WarmPool<B> {
    idle: Mutex<Vec<Warm<B>>>,
    budget: Arc<WarmBudget>,
}

impl<B> WarmPool<B> {
    pub fn new(budget: Arc<WarmBudget>) -> WarmPool<B> {
        WarmPool {
            idle: Mutex::new(Vec::with_capacity(IDLE_PER_PLUGIN_MAX)),
            budget,
        }
    }

    /// An idle instance, if there is one.
    pub fn take(&self) -> Option<Warm<B>> {
        let warm = self.idle.lock().ok()?.pop()?;
        self.budget.release();
        Some(warm)
    }

    /// The linear memory of each idle instance, bytes.
    pub fn memory_bytes(&self) -> Vec<usize> {
        self.idle
            .lock()
            .map(|idle| idle.iter().map(|w| w.store.data().memory_bytes()).collect())
            .unwrap_or_default()
    }

    /// Drops every idle instance: the next calls instantiate afresh.
    pub fn clear(&self) {
        let drained: Vec<Warm<B>> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => return,
        };
        for _ in &drained {
            self.budget.release();
        }
    }

    /// Keeps an instance whose call succeeded, unless it has served its calls or the pool
    /// or the host's budget is full (then it is dropped and its slot freed).
    pub fn give_back(&self, mut warm: Warm<B>) {
        warm.calls += 1;
        if warm.calls >= CALLS_PER_INSTANCE_MAX {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() < IDLE_PER_PLUGIN_MAX && self.budget.reserve() {
            idle.push(warm);
        }
    }
}

impl<B> Drop for WarmPool<B> {
    fn drop(&mut self) {
        if let Ok(idle) = self.idle.get_mut() {
            for _ in idle.drain(..) {
                self.budget.release();
            }
        }
    }
}
