//! {{name}}: a gate-adapter plugin. It reads the venue's unified scan as JSON and writes
//! verdicts and whitelist changes as JSON; replace both with your turnstiles' format, and
//! the samples in conformance.toml with payloads of it.

wit_bindgen::generate!({ world: "gate-adapter", path: "wit" });

use exports::venue::edge::gate::Guest;
use serde::Deserialize;
use venue::edge::log;
use venue::edge::types::{Decision, DecodeError, Direction, Reason, Scan, Verdict, WhitelistDelta};

struct Plugin;

#[derive(Deserialize)]
struct ScanJson {
    event_id: String,
    code: String,
    direction: String,
    at: String,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    id_number: Option<String>,
    #[serde(default)]
    offline: bool,
}

fn one() -> u32 {
    1
}

/// The host's limit on a ticket code; refusing a longer one here is cheaper than copying it out.
const CODE_BYTES_MAX: usize = 128;

fn reason_name(r: Reason) -> &'static str {
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

impl Guest for Plugin {
    fn decode_scan(device: String, payload: Vec<u8>) -> Result<Scan, DecodeError> {
        let s: ScanJson = serde_json::from_slice(&payload).map_err(|e| {
            log::log(log::Level::Debug, &format!("{device}: not a scan: {e}"));
            DecodeError { code: "bad_json".into(), message: e.to_string(), event_id: None }
        })?;
        let direction = match s.direction.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => {
                return Err(DecodeError {
                    code: "bad_direction".into(),
                    message: format!("direction must be in or out, not {other:?}"),
                    event_id: Some(s.event_id),
                });
            }
        };
        if s.code.is_empty() || s.code.len() > CODE_BYTES_MAX {
            return Err(DecodeError {
                code: "bad_code".into(),
                message: format!("code must be 1 to {CODE_BYTES_MAX} bytes"),
                event_id: Some(s.event_id),
            });
        }
        Ok(Scan {
            event_id: s.event_id,
            code: s.code,
            direction,
            at: s.at,
            count: s.count,
            id_number: s.id_number,
            offline: s.offline,
        })
    }

    fn encode_verdict(_device: String, v: Verdict) -> Result<Vec<u8>, String> {
        let json = serde_json::json!({
            "event_id": v.event_id,
            "decision": match v.decision {
                Decision::Admit => "admit",
                Decision::Deny => "deny",
            },
            "reason": reason_name(v.reason),
            "ticket_id": v.ticket_id,
            "admitted": v.admitted,
            "entries_left": v.entries_left,
            "message": v.message,
        });
        serde_json::to_vec(&json).map_err(|e| e.to_string())
    }

    fn encode_whitelist(_device: String, d: WhitelistDelta) -> Result<Vec<u8>, String> {
        let add: Vec<serde_json::Value> = d
            .add
            .iter()
            .map(|e| serde_json::json!({"code": e.code, "ticket_id": e.ticket_id, "visit_date": e.visit_date, "slot": e.slot, "entries": e.entries, "party_size": e.party_size}))
            .collect();
        serde_json::to_vec(&serde_json::json!({"gate": d.gate, "seq": d.seq, "add": add, "remove": d.remove}))
            .map_err(|e| e.to_string())
    }
}

export!(Plugin);
