//! The `[uplink]` section: where and how the outbox goes to HQ.

use std::path::PathBuf;

use serde::Deserialize;

/// Where and how the outbox is uploaded to HQ (protocol.md, section 3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// HQ's base URL, `http://host:port` or `https://host:port`.
    pub url: String,
    /// This box's bearer token at HQ (`venue-hq token add --edge ID`).
    pub token: String,
    /// A batch is sent when it holds this many records...
    #[serde(default = "default_batch_records")]
    pub batch_records: u32,
    /// ...or when its oldest record has waited this long.
    #[serde(default = "default_batch_age_ms")]
    pub batch_age_ms: u64,
    /// First retry delay after a failure; doubles up to `backoff_max_ms`, with jitter.
    #[serde(default = "default_backoff_min_ms")]
    pub backoff_min_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// How long one upload may take before it counts as failed.
    #[serde(default = "default_upload_timeout_s")]
    pub timeout_s: u64,
    /// For `https://`: a PEM file with the one CA HQ's certificate must chain to (pinned;
    /// the system's roots are not used).
    pub ca_file: Option<PathBuf>,
    /// Alert `uplink_backlog` when more records than this wait...
    #[serde(default = "default_backlog_alert_records")]
    pub backlog_alert_records: u64,
    /// ...or when the oldest has waited longer than this. Nothing is ever dropped.
    #[serde(default = "default_backlog_alert_age_s")]
    pub backlog_alert_age_s: u64,
}

fn default_batch_records() -> u32 {
    2000
}
fn default_batch_age_ms() -> u64 {
    1000
}
fn default_backoff_min_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    60_000
}
fn default_upload_timeout_s() -> u64 {
    30
}
fn default_backlog_alert_records() -> u64 {
    1_000_000
}
fn default_backlog_alert_age_s() -> u64 {
    6 * 3600
}
