//! The sale path: a POS terminal's payload through its vendor's plugin into the sales
//! journal, and back as an ack in the vendor's format, sent only after the commit
//! (architecture.md, data flow 2), as a [`DeviceKind`] of the one device pipeline
//! ([`crate::pipeline`]).

use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;

use crate::pipeline::{DeviceKind, Devices};
use venue_bus::topics;
use venue_domain::sales::{self, Ack, Recorded, Sale};
use venue_domain::venue::Venue;
use venue_plugin_host::{DecodeError, Loaded, PluginError};

/// POS terminals, front desks, fare boxes (`[[pos]]`).
pub struct Pos;

impl DeviceKind for Pos {
    type Message = Sale;
    /// The terminal's merchant.
    type Route = String;
    type Outcome = Recorded;
    type Answer = Ack;

    const SECTION: &'static str = "[[pos]]";

    fn inbound_topic(zone: &str, device: &str) -> String {
        topics::sale(zone, device)
    }

    fn answer_topic(zone: &str, device: &str) -> String {
        topics::ack(zone, device)
    }

    fn route(venue: &Venue, device: &str) -> Option<(String, String)> {
        let pos = venue.config.pos_device(device)?;
        Some((pos.plugin.clone(), pos.merchant.clone()))
    }

    async fn decode(
        plugin: &Loaded,
        device: &str,
        payload: &[u8],
    ) -> Result<Result<Sale, DecodeError>, PluginError> {
        plugin.decode_sale(device, payload).await
    }

    fn refusal(event_id: String, reason: String) -> Ack {
        Ack {
            event_id,
            error: Some(reason),
        }
    }

    fn decide(
        conn: &Connection,
        venue: &Venue,
        device: &str,
        merchant: &String,
        sale: &Sale,
        _received: Instant,
        now: DateTime<FixedOffset>,
    ) -> rusqlite::Result<Recorded> {
        sales::record(conn, venue, device, merchant, sale, now)
    }

    async fn committed(
        _devices: &Devices,
        device: &str,
        recorded: Recorded,
        _received: Instant,
    ) -> Ack {
        if let Some(error) = &recorded.ack.error {
            tracing::info!(device, event_id = %recorded.ack.event_id, error, "sale rejected");
        }
        recorded.ack
    }

    async fn encode(plugin: &Loaded, device: &str, ack: &Ack) -> Result<Vec<u8>, PluginError> {
        plugin.encode_ack(device, ack).await
    }

    fn describe(ack: &Ack) -> (String, serde_json::Value) {
        let kept = serde_json::json!({ "event_id": ack.event_id, "error": ack.error });
        (ack.event_id.clone(), kept)
    }
}
