//! One pipeline for every device message (architecture.md, data flows 1 and 2):
//!
//! ```text
//! venue/{zone}/{kind}/{device}/{in} ─► plugin decode ─► decide in one store job
//!                                                          │ journaled, committed
//! venue/{zone}/{kind}/{device}/{out} ◄─ plugin encode ◄────┘ ─► alerts, whitelist, metrics
//! ```
//!
//! A turnstile's scan and a POS terminal's sale are two [`DeviceKind`]s of this one
//! pipeline ([`crate::gate`], [`crate::pos`]); a third kind (a shuttle fare box, a locker)
//! is a new decision, not a third copy of the path. The caller acknowledges the MQTT
//! delivery only after [`Devices::handle`] returns, so an answer always follows the commit.
//!
//! Nothing is dropped: a payload that cannot be decoded, a device nobody configured, a
//! plugin that fails, or an answer that cannot be encoded is kept whole in the dead-letter
//! table, announced on the alerts topic, and answered with a refusal whenever an
//! `event_id` is known.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::alerts;
use venue_bus::Bus;
use venue_domain::ticketing::WhitelistChange;
use venue_domain::venue::{SharedVenue, Venue};
use venue_model::alert::Alert;
use venue_plugin_host::{DecodeError, Loaded, PluginError, PluginHost};
use venue_store::{Store, StoreError};

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

/// A kind of device: what its messages decode into, how the box decides on one inside a
/// store job, and what goes back.
pub trait DeviceKind: Send + Sync + 'static {
    /// The unified message a plugin decodes (a scan, a sale).
    type Message: Send + 'static;
    /// Where a configured device's messages go: its area, its merchant.
    type Route: Send + 'static;
    /// What the store job decided and wrote.
    type Outcome: Send + 'static;
    /// What the device gets back (a verdict, an ack).
    type Answer: Send;

    /// The config section that lists devices of this kind, for error messages.
    const SECTION: &'static str;

    fn inbound_topic(zone: &str, device: &str) -> String;
    fn answer_topic(zone: &str, device: &str) -> String;

    /// The plugin id and route of a configured device; `None` for a device nobody
    /// configured.
    fn route(venue: &Venue, device: &str) -> Option<(String, Self::Route)>;

    fn decode(
        plugin: &Loaded,
        device: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<Result<Self::Message, DecodeError>, PluginError>> + Send;

    /// The answer for a message that could not be decoded but named its `event_id`.
    fn refusal(event_id: String, reason: String) -> Self::Answer;

    /// The decision and its writes, in one store job: journaled before anything is
    /// answered. `now` is the box's clock.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        conn: &Connection,
        venue: &Venue,
        device: &str,
        route: &Self::Route,
        message: &Self::Message,
        received: Instant,
        now: DateTime<FixedOffset>,
    ) -> rusqlite::Result<Self::Outcome>;

    /// What follows the commit (metrics, alerts, whitelist changes); returns the answer.
    fn committed(
        devices: &Devices,
        device: &str,
        outcome: Self::Outcome,
        received: Instant,
    ) -> impl Future<Output = Self::Answer> + Send;

    fn encode(
        plugin: &Loaded,
        device: &str,
        answer: &Self::Answer,
    ) -> impl Future<Output = Result<Vec<u8>, PluginError>> + Send;

    /// The answer's event id and what it said, kept when it cannot be encoded.
    fn describe(answer: &Self::Answer) -> (String, serde_json::Value);

    /// A message this kind's plugin could not decode (for the kind's own metrics).
    fn undecodable(_devices: &Devices) {}
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
    /// Handles one delivery of kind `K` end to end. Returns once the answer is published
    /// (or the payload is dead-lettered); the caller then acknowledges the delivery.
    pub async fn handle<K: DeviceKind>(&self, device: &str, payload: &[u8]) {
        let received = Instant::now();
        let topic = K::inbound_topic(self.venue.zone(), device);
        let letter = |plugin, reason, event_id| DeadLetter {
            topic: topic.clone(),
            device,
            plugin,
            payload,
            reason,
            event_id,
        };
        let Some((plugin_id, route)) = K::route(&self.venue, device) else {
            let reason = format!("unknown_device: no {} entry has id {device:?}", K::SECTION);
            self.dead_letter(letter(None, reason, None)).await;
            return;
        };
        let plugin = match self.plugins.get(&plugin_id) {
            Ok(p) => p,
            Err(e) => {
                self.dead_letter(letter(Some(&plugin_id), e.to_string(), None))
                    .await;
                return;
            }
        };
        let message = match K::decode(&plugin, device, payload).await {
            Ok(Ok(message)) => message,
            Ok(Err(DecodeError {
                code,
                message,
                event_id,
            })) => {
                K::undecodable(self);
                let reason = format!("{code}: {message}");
                self.dead_letter(letter(Some(plugin.id()), reason.clone(), event_id.clone()))
                    .await;
                if let Some(event_id) = event_id {
                    self.answer::<K>(&plugin, device, K::refusal(event_id, reason))
                        .await;
                }
                return;
            }
            Err(e) => {
                K::undecodable(self);
                self.dead_letter(letter(Some(plugin.id()), e.to_string(), None))
                    .await;
                return;
            }
        };
        let venue = self.venue.clone();
        let device_id = device.to_owned();
        let decided = self
            .store
            .write_rerunnable(move |c| -> Result<K::Outcome, StoreError> {
                let now = venue.clock.now();
                Ok(K::decide(
                    c, &venue, &device_id, &route, &message, received, now,
                )?)
            })
            .await;
        let outcome = match decided {
            Ok(outcome) => outcome,
            Err(e) => {
                // The store is failing: nothing is answered, so the device sends the
                // message again with the same event_id (protocol.md, delivery rules) and
                // gets its answer once the store is back.
                tracing::error!(error = %e, device, "device message not journaled");
                return;
            }
        };
        let answer = K::committed(self, device, outcome, received).await;
        self.answer::<K>(&plugin, device, answer).await;
    }

    /// Encodes an answer with the device's plugin and publishes it.
    async fn answer<K: DeviceKind>(&self, plugin: &Loaded, device: &str, answer: K::Answer) {
        let topic = K::answer_topic(self.venue.zone(), device);
        match K::encode(plugin, device, &answer).await {
            Ok(bytes) => {
                if let Err(e) = self.bus.publish(topic, bytes, false).await {
                    tracing::error!(error = %e, device, "answer not published");
                }
            }
            Err(e) => {
                // The message is journaled; the device gets no answer it could read. Keep
                // what it would have got, and say so.
                let (event_id, kept) = K::describe(&answer);
                let reason = format!("answer for {event_id} not encoded: {e}");
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload: kept.to_string().as_bytes(),
                    reason,
                    event_id: Some(event_id),
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

    pub fn device_status(&self, device: &str, payload: &[u8]) {
        let status = String::from_utf8_lossy(payload);
        self.metrics
            .device_status(device, status.trim() == "online");
        tracing::info!(device, status = %status.trim(), "device status");
    }
}
