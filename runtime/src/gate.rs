//! The scan path: a turnstile's payload through its vendor's plugin, admission, and back
//! as a verdict in the vendor's format (architecture.md, data flow 1), as a
//! [`DeviceKind`] of the one device pipeline ([`crate::pipeline`]).

use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;

use crate::alerts;
use crate::pipeline::{DeviceKind, Devices};
use venue_bus::topics;
use venue_domain::admission::{self, Admission, Lane, Reason, Scan, Verdict};
use venue_domain::venue::Venue;
use venue_plugin_host::{DecodeError, Loaded, PluginError};

/// Turnstiles and ride-entrance gates (`[[gates]]`).
pub struct Gate;

impl DeviceKind for Gate {
    type Message = Scan;
    type Route = Lane;
    type Outcome = Admission;
    type Answer = Verdict;

    const SECTION: &'static str = "[[gates]]";

    fn inbound_topic(zone: &str, device: &str) -> String {
        topics::scan(zone, device)
    }

    fn answer_topic(zone: &str, device: &str) -> String {
        topics::verdict(zone, device)
    }

    fn route(venue: &Venue, device: &str) -> Option<(String, Lane)> {
        let gate = venue.config.gate(device)?;
        let lane = Lane {
            device: device.to_owned(),
            area: gate.area.clone(),
            realname: gate.realname,
        };
        Some((gate.plugin.clone(), lane))
    }

    async fn decode(
        plugin: &Loaded,
        device: &str,
        payload: &[u8],
    ) -> Result<Result<Scan, DecodeError>, PluginError> {
        plugin.decode_scan(device, payload).await
    }

    fn refusal(event_id: String, _reason: String) -> Verdict {
        Verdict::deny(&event_id, Reason::BadRequest, None)
    }

    fn decide(
        conn: &Connection,
        venue: &Venue,
        _device: &str,
        lane: &Lane,
        scan: &Scan,
        received: Instant,
        now: DateTime<FixedOffset>,
    ) -> rusqlite::Result<Admission> {
        admission::admit(conn, venue, lane, scan, received, now)
    }

    async fn committed(
        devices: &Devices,
        _device: &str,
        admitted: Admission,
        received: Instant,
    ) -> Verdict {
        devices
            .metrics
            .scan_judged(&admitted.verdict, received.elapsed(), admitted.replay);
        for alert in admitted.alerts {
            alerts::raise(&devices.alerts, alert);
        }
        if !admitted.whitelist.is_empty() {
            let _ = devices.whitelist.send(admitted.whitelist).await;
        }
        admitted.verdict
    }

    async fn encode(
        plugin: &Loaded,
        device: &str,
        verdict: &Verdict,
    ) -> Result<Vec<u8>, PluginError> {
        plugin.encode_verdict(device, verdict).await
    }

    fn describe(verdict: &Verdict) -> (String, serde_json::Value) {
        let kept = serde_json::json!({
            "event_id": verdict.event_id, "decision": verdict.decision.as_str(),
            "reason": verdict.reason.as_str(),
        });
        (verdict.event_id.clone(), kept)
    }

    fn undecodable(devices: &Devices) {
        devices.metrics.scan_rejected();
    }
}
