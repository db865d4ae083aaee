//! The scan path: a turnstile's payload through its vendor's plugin, admission, and back
//! as a verdict in the vendor's format (architecture.md, data flow 1).
//!
//! ```text
//! venue/{zone}/gate/{device}/scan ─► plugin.decode-scan ─► admission (one store job)
//!                                                               │ journaled, committed
//! venue/{zone}/gate/{device}/verdict ◄─ plugin.encode-verdict ◄─┘ ─► alerts, whitelist
//! ```
//!
//! Nothing is dropped: a payload that cannot be decoded, a device nobody configured, or a
//! plugin that fails is kept whole in the dead-letter table, announced on the alerts
//! topic, and answered with `bad_request` / `plugin_error` whenever an `event_id` is known.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::admission::{self, Alert, Lane, Reason, Verdict};
use crate::alerts;
use crate::bus::{Bus, topics};
use crate::plugin::{DecodeError, Loaded, PluginError, PluginHost};
use crate::store::{Store, StoreError};
use crate::ticketing::WhitelistChange;
use crate::venue::SharedVenue;

/// Everything the device paths need, shared by their tasks.
pub struct Devices {
    pub venue: SharedVenue,
    pub store: Store,
    pub bus: Bus,
    pub plugins: Arc<PluginHost>,
    pub alerts: mpsc::Sender<Alert>,
    pub whitelist: mpsc::Sender<Vec<WhitelistChange>>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// A message that could not be handled, kept for staff to inspect and replay.
pub struct DeadLetter<'a> {
    pub topic: String,
    pub device: &'a str,
    pub plugin: Option<&'a str>,
    pub payload: &'a [u8],
    pub reason: String,
    pub event_id: Option<String>,
}

impl Devices {
    /// Handles one scan delivery end to end. Returns once the verdict is published (or
    /// the payload is dead-lettered); the caller then acknowledges the MQTT delivery.
    pub async fn handle_scan(&self, device: &str, payload: &[u8]) {
        let received = Instant::now();
        let zone = self.venue.zone().to_owned();
        let topic = topics::scan(&zone, device);
        let Some(gate) = self.venue.config.gate(device) else {
            self.dead_letter(DeadLetter {
                topic,
                device,
                plugin: None,
                payload,
                reason: format!("unknown_device: no [[gates]] entry has id {device:?}"),
                event_id: None,
            })
            .await;
            return;
        };
        let plugin = match self.plugins.get(&gate.plugin) {
            Ok(p) => p,
            Err(e) => {
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(&gate.plugin),
                    payload,
                    reason: e.to_string(),
                    event_id: None,
                })
                .await;
                return;
            }
        };
        let scan = match plugin.decode_scan(device, payload).await {
            Ok(Ok(scan)) => scan,
            Ok(Err(DecodeError {
                code,
                message,
                event_id,
            })) => {
                self.metrics.scan_rejected();
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload,
                    reason: format!("{code}: {message}"),
                    event_id: event_id.clone(),
                })
                .await;
                if let Some(event_id) = event_id {
                    self.answer(
                        &plugin,
                        device,
                        Verdict::deny(&event_id, Reason::BadRequest, None),
                    )
                    .await;
                }
                return;
            }
            Err(e) => {
                self.metrics.scan_rejected();
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload,
                    reason: e.to_string(),
                    event_id: None,
                })
                .await;
                return;
            }
        };
        let lane = Lane {
            device: device.to_owned(),
            area: gate.area.clone(),
            realname: gate.realname,
        };
        let venue = self.venue.clone();
        let judged = self
            .store
            .write_rerunnable(move |c| -> Result<admission::Admission, StoreError> {
                Ok(admission::admit(c, &venue, &lane, &scan, received)?)
            })
            .await;
        let admitted = match judged {
            Ok(a) => a,
            Err(e) => {
                // The store is failing: no verdict is sent, so the turnstile retries with
                // the same event_id (protocol.md, delivery rules) and gets its answer once
                // the store is back.
                tracing::error!(error = %e, device, "scan not journaled");
                return;
            }
        };
        self.metrics
            .scan_judged(&admitted.verdict, received.elapsed(), admitted.replay);
        for alert in admitted.alerts {
            alerts::raise(&self.alerts, alert);
        }
        if !admitted.whitelist.is_empty() {
            let _ = self.whitelist.send(admitted.whitelist).await;
        }
        self.answer(&plugin, device, admitted.verdict).await;
    }

    /// Encodes a verdict with the gate's plugin and publishes it.
    async fn answer(&self, plugin: &Loaded, device: &str, verdict: Verdict) {
        let topic = topics::verdict(self.venue.zone(), device);
        match plugin.encode_verdict(device, &verdict).await {
            Ok(bytes) => {
                if let Err(e) = self.bus.publish(topic, bytes, false).await {
                    tracing::error!(error = %e, device, "verdict not published");
                }
            }
            Err(e) => {
                // The scan is journaled; the turnstile gets no answer it could read. Keep
                // what it would have got, and say so.
                let reason = format!("verdict for {} not encoded: {e}", verdict.event_id);
                let kept = serde_json::json!({
                    "event_id": verdict.event_id, "decision": verdict.decision.as_str(),
                    "reason": verdict.reason.as_str(),
                });
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload: kept.to_string().as_bytes(),
                    reason,
                    event_id: Some(verdict.event_id.clone()),
                })
                .await;
            }
        }
    }

    /// Keeps a message in the dead-letter table and raises an alert.
    pub async fn dead_letter(&self, letter: DeadLetter<'_>) {
        self.metrics.dead_letter();
        let at = self.venue.clock.now_rfc3339();
        tracing::warn!(device = letter.device, reason = %letter.reason, "dead letter");
        alerts::raise(
            &self.alerts,
            Alert::new(
                "dead_letter",
                at.clone(),
                serde_json::json!({
                    "device": letter.device, "topic": letter.topic, "plugin": letter.plugin,
                    "event_id": letter.event_id, "reason": letter.reason,
                }),
            ),
        );
        let row = (
            letter.topic,
            letter.device.to_owned(),
            letter.plugin.map(str::to_owned),
            letter.payload.to_vec(),
            letter.reason,
            letter.event_id,
            at,
        );
        let kept = self
            .store
            .write(move |c| -> Result<(), StoreError> {
                c.execute(
                    "INSERT INTO dead_letters (topic, device, plugin, payload, reason, event_id, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![row.0, row.1, row.2, row.3, row.4, row.5, row.6],
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = kept {
            tracing::error!(error = %e, "a dead letter could not be stored");
        }
    }
}

/// Reads deliveries and handles each in its own task, at most
/// [`HANDLERS_IN_FLIGHT_MAX`] at once; acknowledges each to the broker when handled.
pub async fn dispatch(
    devices: Arc<Devices>,
    mut inbox: mpsc::Receiver<crate::bus::Delivery>,
    handlers: tokio_util::task::TaskTracker,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(HANDLERS_IN_FLIGHT_MAX));
    while let Some(delivery) = inbox.recv().await {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let devices = devices.clone();
        handlers.spawn(async move {
            match &delivery.topic {
                crate::bus::Topic::Scan { device } => {
                    devices.handle_scan(device, &delivery.payload).await
                }
                crate::bus::Topic::Sale { device } => {
                    devices.handle_sale(device, &delivery.payload).await
                }
                crate::bus::Topic::Status { device } => {
                    devices.device_status(device, &delivery.payload)
                }
            }
            devices.bus.ack(&delivery).await;
            drop(permit);
        });
    }
}

/// Deliveries being handled at once at most. With the client's outbox
/// (`bus::OUTBOX_REQUESTS_MAX`) this bounds what a burst of scans can queue.
pub const HANDLERS_IN_FLIGHT_MAX: usize = 1024;

impl Devices {
    fn device_status(&self, device: &str, payload: &[u8]) {
        let status = String::from_utf8_lossy(payload);
        self.metrics
            .device_status(device, status.trim() == "online");
        tracing::info!(device, status = %status.trim(), "device status");
    }
}

impl From<PluginError> for crate::error::ApiError {
    fn from(e: PluginError) -> crate::error::ApiError {
        match e {
            PluginError::NotFound(_) => {
                crate::error::ApiError::not_found("plugin_not_found", e.to_string())
            }
            PluginError::WrongWorld { .. } => {
                crate::error::ApiError::bad_request("wrong_plugin", e.to_string())
            }
            PluginError::Call { .. } => {
                crate::error::ApiError::new(502, "plugin_error", e.to_string())
            }
            other => crate::error::ApiError::bad_request("plugin_invalid", other.to_string()),
        }
    }
}
