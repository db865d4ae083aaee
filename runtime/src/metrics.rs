//! `GET /metrics`: Prometheus text. Counters are updated where things happen; plugin
//! statistics are copied in at scrape time from the plugin host.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use venue_domain::admission::Verdict;
use venue_plugin_host::PluginHost;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    decision: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    status: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    scans: Family<ScanLabels, Counter>,
    scan_replays: Counter,
    scans_rejected: Counter,
    scan_latency: Histogram,
    dead_letters: Counter,
    devices_online: Family<DeviceLabels, Gauge>,
    orders: Counter,
    http_responses: Family<RouteLabels, Counter>,
    plugin_calls: Family<PluginLabels, Counter>,
    plugin_failures: Family<PluginLabels, Counter>,
    plugin_timeouts: Family<PluginLabels, Counter>,
    plugin_memory_limits: Family<PluginLabels, Counter>,
    sqlite_heap: Gauge,
    store_commits: Counter,
    store_jobs: Counter,
    store_wal_frames: Counter,
    uplink_pending: Gauge,
    uplink_oldest_seconds: Gauge,
    uplink_batches: Counter,
    uplink_records: Counter,
    uplink_duplicates: Counter,
    uplink_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("venue_edge")),
            scans: Family::default(),
            scan_replays: Counter::default(),
            scans_rejected: Counter::default(),
            // 50 µs .. ~0.8 s
            scan_latency: Histogram::new(exponential_buckets(0.000_05, 2.0, 15)),
            dead_letters: Counter::default(),
            devices_online: Family::default(),
            orders: Counter::default(),
            http_responses: Family::default(),
            plugin_calls: Family::default(),
            plugin_failures: Family::default(),
            plugin_timeouts: Family::default(),
            plugin_memory_limits: Family::default(),
            sqlite_heap: Gauge::default(),
            store_commits: Counter::default(),
            store_jobs: Counter::default(),
            store_wal_frames: Counter::default(),
            uplink_pending: Gauge::default(),
            uplink_oldest_seconds: Gauge::default(),
            uplink_batches: Counter::default(),
            uplink_records: Counter::default(),
            uplink_duplicates: Counter::default(),
            uplink_failures: Counter::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "scans",
                "Scans judged, by decision and reason",
                m.scans.clone(),
            );
            r.register(
                "scan_replays",
                "Scans answered again from the journal (same event_id)",
                m.scan_replays.clone(),
            );
            r.register(
                "scans_rejected",
                "Scan payloads that could not be decoded",
                m.scans_rejected.clone(),
            );
            r.register(
                "scan_seconds",
                "From receiving a scan to its verdict being decided",
                m.scan_latency.clone(),
            );
            r.register(
                "dead_letters",
                "Messages kept in the dead-letter table",
                m.dead_letters.clone(),
            );
            r.register(
                "device_online",
                "1 when the device's last status was online",
                m.devices_online.clone(),
            );
            r.register("orders", "Orders created", m.orders.clone());
            r.register(
                "http_responses",
                "HTTP responses by status",
                m.http_responses.clone(),
            );
            r.register("plugin_calls", "Plugin calls", m.plugin_calls.clone());
            r.register(
                "plugin_failures",
                "Plugin calls that failed (trap, timeout, memory)",
                m.plugin_failures.clone(),
            );
            r.register(
                "plugin_timeouts",
                "Plugin calls stopped at their deadline or fuel",
                m.plugin_timeouts.clone(),
            );
            r.register(
                "plugin_memory_limits",
                "Plugin calls stopped at their memory limit",
                m.plugin_memory_limits.clone(),
            );
            r.register(
                "sqlite_heap_bytes",
                "Memory held by SQLite's allocator",
                m.sqlite_heap.clone(),
            );
            r.register(
                "store_commits",
                "Group commits of the store's writer",
                m.store_commits.clone(),
            );
            r.register(
                "store_jobs",
                "Jobs committed by the store's writer (jobs / commits: the group size)",
                m.store_jobs.clone(),
            );
            r.register(
                "store_wal_frames",
                "Pages the store's writer appended to its write-ahead log (frames / jobs: pages a job writes)",
                m.store_wal_frames.clone(),
            );
            r.register(
                "uplink_pending_records",
                "Records in the outbox waiting for HQ",
                m.uplink_pending.clone(),
            );
            r.register(
                "uplink_oldest_record_seconds",
                "Age of the oldest record waiting for HQ",
                m.uplink_oldest_seconds.clone(),
            );
            r.register(
                "uplink_batches",
                "Batches HQ acknowledged",
                m.uplink_batches.clone(),
            );
            r.register(
                "uplink_records",
                "Records HQ acknowledged (new or duplicate)",
                m.uplink_records.clone(),
            );
            r.register(
                "uplink_duplicates",
                "Records HQ already had",
                m.uplink_duplicates.clone(),
            );
            r.register(
                "uplink_failures",
                "Upload attempts that failed (HQ away, refused, timed out)",
                m.uplink_failures.clone(),
            );
        }
        m
    }

    pub fn scan_judged(&self, v: &Verdict, latency: Duration, replay: bool) {
        if replay {
            self.scan_replays.inc();
            return;
        }
        self.scans
            .get_or_create(&ScanLabels {
                decision: v.decision.as_str().into(),
                reason: v.reason.as_str().into(),
            })
            .inc();
        self.scan_latency.observe(latency.as_secs_f64());
    }

    pub fn scan_rejected(&self) {
        self.scans_rejected.inc();
    }

    pub fn dead_letter(&self) {
        self.dead_letters.inc();
    }

    pub fn device_status(&self, device: &str, online: bool) {
        self.devices_online
            .get_or_create(&DeviceLabels {
                device: device.into(),
            })
            .set(online as i64);
    }

    /// Whether a device's last status was `online` (false when it never said).
    pub fn device_online(&self, device: &str) -> bool {
        self.devices_online
            .get_or_create(&DeviceLabels {
                device: device.into(),
            })
            .get()
            == 1
    }

    pub fn uplink_backlog(&self, records: i64, oldest_ms: i64) {
        self.uplink_pending.set(records);
        self.uplink_oldest_seconds.set(oldest_ms / 1000);
    }

    pub fn uplink_batch(&self, records: i64, _accepted: i64, duplicates: i64) {
        self.uplink_batches.inc();
        self.uplink_records.inc_by(records.max(0) as u64);
        self.uplink_duplicates.inc_by(duplicates.max(0) as u64);
    }

    pub fn uplink_failure(&self) {
        self.uplink_failures.inc();
    }

    pub fn order_created(&self) {
        self.orders.inc();
    }

    pub fn http_response(&self, status: u16) {
        self.http_responses
            .get_or_create(&RouteLabels {
                status: status.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition, plugin statistics included.
    pub fn render(&self, plugins: &PluginHost) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        for (id, s) in plugins.stats() {
            let l = PluginLabels { plugin: id };
            self.plugin_calls
                .get_or_create(&l)
                .inner()
                .store(s.calls.load(Relaxed), Relaxed);
            self.plugin_failures
                .get_or_create(&l)
                .inner()
                .store(s.failures.load(Relaxed), Relaxed);
            self.plugin_timeouts
                .get_or_create(&l)
                .inner()
                .store(s.timeouts.load(Relaxed), Relaxed);
            self.plugin_memory_limits
                .get_or_create(&l)
                .inner()
                .store(s.memory_limits.load(Relaxed), Relaxed);
        }
        // SAFETY: sqlite3_memory_used only reads SQLite's global allocation counter.
        self.sqlite_heap
            .set(unsafe { rusqlite::ffi::sqlite3_memory_used() });
        self.store_commits
            .inner()
            .store(venue_store::COMMITS.load(Relaxed), Relaxed);
        self.store_jobs
            .inner()
            .store(venue_store::COMMITTED_JOBS.load(Relaxed), Relaxed);
        self.store_wal_frames
            .inner()
            .store(venue_store::WAL_FRAMES_WRITTEN.load(Relaxed), Relaxed);
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}
