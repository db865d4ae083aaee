//! The `std-json` gate adapter: turnstiles that speak the venue's reference JSON
//! (protocol.md, section 1) as it is.
//!
//! Grants needed: `log` (to report payloads it refuses).

use serde::{Deserialize, Serialize};
use venue_plugin_sdk::gate::exports::venue::edge::gate::Guest;
use venue_plugin_sdk::gate::venue::edge::log;
use venue_plugin_sdk::gate::venue::edge::types::{
    Decision, DecodeError, Direction, Reason, Scan, Verdict, WhitelistDelta,
};
use venue_plugin_sdk::json::recover_event_id;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct StdJsonGate;

#[derive(Deserialize)]
struct ScanJson {
    event_id: String,
    code: String,
    #[serde(default = "default_direction")]
    direction: String,
    at: String,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    id_number: Option<String>,
    #[serde(default)]
    offline: bool,
}

fn default_direction() -> String {
    "in".into()
}
fn one() -> u32 {
    1
}

#[derive(Serialize)]
struct VerdictJson<'a> {
    event_id: &'a str,
    decision: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<&'a str>,
    admitted: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries_left: Option<u32>,
    message: &'a str,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    code: &'a str,
    ticket_id: &'a str,
    visit_date: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<u32>,
    party_size: u32,
}

#[derive(Serialize)]
struct DeltaJson<'a> {
    gate: &'a str,
    seq: u64,
    add: Vec<EntryJson<'a>>,
    remove: &'a [String],
}

pub fn decode(payload: &[u8]) -> Result<Scan, DecodeError> {
    let parsed: ScanJson = serde_json::from_slice(payload).map_err(|e| DecodeError {
        code: "bad_json".into(),
        message: format!("not a std-json scan: {e}"),
        event_id: recover_event_id(payload, "event_id"),
    })?;
    let direction = match parsed.direction.as_str() {
        "in" => Direction::In,
        "out" => Direction::Out,
        other => {
            return Err(DecodeError {
                code: "bad_direction".into(),
                message: format!("direction must be \"in\" or \"out\", not {other:?}"),
                event_id: Some(parsed.event_id),
            });
        }
    };
    Ok(Scan {
        event_id: parsed.event_id,
        code: parsed.code,
        direction,
        at: parsed.at,
        count: parsed.count,
        id_number: parsed.id_number,
        offline: parsed.offline,
    })
}

pub fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Ok => "ok",
        Reason::UnknownTicket => "unknown_ticket",
        Reason::AlreadyUsed => "already_used",
        Reason::NotValidToday => "not_valid_today",
        Reason::OutsideTimeSlot => "outside_time_slot",
        Reason::Refunded => "refunded",
        Reason::Rebooked => "rebooked",
        Reason::Passback => "passback",
        Reason::WrongArea => "wrong_area",
        Reason::CapacityFull => "capacity_full",
        Reason::RealnameMismatch => "realname_mismatch",
        Reason::BadRequest => "bad_request",
        Reason::PluginError => "plugin_error",
    }
}

pub fn encode(v: &Verdict) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&VerdictJson {
        event_id: &v.event_id,
        decision: match v.decision {
            Decision::Admit => "admit",
            Decision::Deny => "deny",
        },
        reason: reason_name(v.reason),
        ticket_id: v.ticket_id.as_deref(),
        admitted: v.admitted,
        entries_left: v.entries_left,
        message: &v.message,
    })
    .map_err(|e| e.to_string())
}

pub fn encode_delta(d: &WhitelistDelta) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&DeltaJson {
        gate: &d.gate,
        seq: d.seq,
        add: d
            .add
            .iter()
            .map(|e| EntryJson {
                code: &e.code,
                ticket_id: &e.ticket_id,
                visit_date: &e.visit_date,
                slot: e.slot.as_deref(),
                entries: e.entries,
                party_size: e.party_size,
            })
            .collect(),
        remove: &d.remove,
    })
    .map_err(|e| e.to_string())
}

impl Guest for StdJsonGate {
    fn decode_scan(device: String, payload: Vec<u8>) -> Result<Scan, DecodeError> {
        decode(&payload).inspect_err(|e| {
            log::log(
                log::Level::Debug,
                &format!("{device}: refused a scan: {}: {}", e.code, e.message),
            );
        })
    }

    fn encode_verdict(_device: String, verdict: Verdict) -> Result<Vec<u8>, String> {
        encode(&verdict)
    }

    fn encode_whitelist(_device: String, delta: WhitelistDelta) -> Result<Vec<u8>, String> {
        encode_delta(&delta)
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::gate::export_gate_adapter!(StdJsonGate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_scan_decodes_with_defaults() {
        let s =
            decode(br#"{"event_id":"g7-000123","code":"TK5Q3V","at":"2026-11-25T09:00:00+08:00"}"#)
                .unwrap();
        assert_eq!(
            (s.event_id.as_str(), s.count, s.offline),
            ("g7-000123", 1, false)
        );
        assert!(matches!(s.direction, Direction::In));
    }

    #[test]
    fn broken_json_keeps_its_event_id() {
        let e = decode(br#"{"event_id":"g7-9","code":"#).unwrap_err();
        assert_eq!(e.code, "bad_json");
        assert_eq!(e.event_id.as_deref(), Some("g7-9"));
    }

    #[test]
    fn a_bad_direction_is_refused() {
        let e = decode(br#"{"event_id":"x","code":"c","at":"a","direction":"up"}"#).unwrap_err();
        assert_eq!(e.code, "bad_direction");
    }

    #[test]
    fn verdicts_encode_to_the_reference_shape() {
        let v = Verdict {
            event_id: "g7-1".into(),
            decision: Decision::Deny,
            reason: Reason::AlreadyUsed,
            ticket_id: Some("t1".into()),
            admitted: 0,
            entries_left: Some(0),
            message: "m".into(),
        };
        let json: serde_json::Value = serde_json::from_slice(&encode(&v).unwrap()).unwrap();
        assert_eq!(json["decision"], "deny");
        assert_eq!(json["reason"], "already_used");
        assert_eq!(json["entries_left"], 0);
    }
}
