//! The `TP1` gate adapter: the second turnstile vendor's compact line format with its
//! own reason codes (the format is described in docs/vendor-formats.md).
//!
//! ```text
//! scan:      TP1;SCAN;<seq>;<code>;<I|O>;<unix ms>;<count>;<id number or ->;<0|1 offline>*CS
//! verdict:   TP1;RES;<seq>;<OPEN|SHUT>;<vendor code>;<admitted>;<entries left or ->;<text>*CS
//! whitelist: TP1;WL;<seq>;+<code>,<date>,<slot or ->,<entries or ->,<party>;-<code>;...*CS
//! ```
//! `CS` is the XOR of every byte before `*`, as two hex digits. The device's `seq` is its
//! event id.
//!
//! Grants needed: `log`.

use venue_plugin_sdk::gate::exports::venue::edge::gate::Guest;
use venue_plugin_sdk::gate::venue::edge::log;
use venue_plugin_sdk::gate::venue::edge::types::{
    Decision, DecodeError, Direction, Reason, Scan, Verdict, WhitelistDelta,
};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct LineGate;

fn err(code: &str, message: String, event_id: Option<&str>) -> DecodeError {
    DecodeError {
        code: code.into(),
        message,
        event_id: event_id.filter(|s| !s.is_empty()).map(str::to_owned),
    }
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

fn seal(body: &str) -> Vec<u8> {
    format!("{body}*{:02X}", checksum(body.as_bytes())).into_bytes()
}

/// Text fields may not carry the format's separators.
fn clean(text: &str) -> String {
    text.replace([';', '*', '\n', '\r'], " ")
}

pub fn decode(payload: &[u8]) -> Result<Scan, DecodeError> {
    let line = std::str::from_utf8(payload)
        .map_err(|_| err("not_text", "a TP1 line is ASCII text".into(), None))?;
    let line = line.trim_end();
    let fields: Vec<&str> = line.split(';').collect();
    let seq = fields.get(2).copied();
    let Some((body, cs)) = line.rsplit_once('*') else {
        return Err(err(
            "bad_format",
            "a TP1 line ends in *<checksum>".into(),
            seq,
        ));
    };
    if u8::from_str_radix(cs, 16).ok() != Some(checksum(body.as_bytes())) {
        return Err(err(
            "bad_checksum",
            format!("checksum {cs} does not match the line"),
            seq,
        ));
    }
    let f: Vec<&str> = body.split(';').collect();
    if f.len() != 9 || f[0] != "TP1" || f[1] != "SCAN" {
        return Err(err(
            "bad_format",
            format!("expected TP1;SCAN with 9 fields, got {} fields", f.len()),
            seq,
        ));
    }
    let direction = match f[4] {
        "I" => Direction::In,
        "O" => Direction::Out,
        other => {
            return Err(err(
                "bad_direction",
                format!("direction must be I or O, not {other:?}"),
                seq,
            ));
        }
    };
    let at = f[5]
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| {
            err(
                "bad_time",
                format!("{:?} is not a unix time in ms", f[5]),
                seq,
            )
        })?;
    let count = f[6]
        .parse::<u32>()
        .map_err(|_| err("bad_count", format!("{:?} is not a count", f[6]), seq))?;
    Ok(Scan {
        event_id: f[2].to_owned(),
        code: f[3].to_owned(),
        direction,
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        count,
        id_number: (f[7] != "-").then(|| f[7].to_owned()),
        offline: f[8] == "1",
    })
}

/// The vendor's code for each of the venue's reasons.
pub fn vendor_code(r: Reason) -> &'static str {
    match r {
        Reason::Ok => "00",
        Reason::UnknownTicket => "10",
        Reason::AlreadyUsed => "11",
        Reason::NotValidToday => "12",
        Reason::OutsideTimeSlot => "13",
        Reason::Refunded => "14",
        Reason::Rebooked => "15",
        Reason::Passback => "16",
        Reason::WrongArea => "17",
        Reason::CapacityFull => "20",
        Reason::RealnameMismatch => "21",
        Reason::BadRequest => "90",
        Reason::PluginError => "99",
    }
}

pub fn encode(v: &Verdict) -> Vec<u8> {
    seal(&format!(
        "TP1;RES;{};{};{};{};{};{}",
        clean(&v.event_id),
        match v.decision {
            Decision::Admit => "OPEN",
            Decision::Deny => "SHUT",
        },
        vendor_code(v.reason),
        v.admitted,
        v.entries_left
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        clean(&v.message)
    ))
}

pub fn encode_delta(d: &WhitelistDelta) -> Vec<u8> {
    let mut body = format!("TP1;WL;{}", d.seq);
    for e in &d.add {
        body.push_str(&format!(
            ";+{},{},{},{},{}",
            clean(&e.code),
            e.visit_date,
            e.slot.as_deref().unwrap_or("-"),
            e.entries
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            e.party_size
        ));
    }
    for code in &d.remove {
        body.push_str(&format!(";-{}", clean(code)));
    }
    seal(&body)
}

impl Guest for LineGate {
    fn decode_scan(device: String, payload: Vec<u8>) -> Result<Scan, DecodeError> {
        decode(&payload).inspect_err(|e| {
            log::log(
                log::Level::Debug,
                &format!("{device}: refused a TP1 line: {}: {}", e.code, e.message),
            );
        })
    }

    fn encode_verdict(_device: String, verdict: Verdict) -> Result<Vec<u8>, String> {
        Ok(encode(&verdict))
    }

    fn encode_whitelist(_device: String, delta: WhitelistDelta) -> Result<Vec<u8>, String> {
        Ok(encode_delta(&delta))
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::gate::export_gate_adapter!(LineGate);

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str) -> Vec<u8> {
        seal(body)
    }

    #[test]
    fn a_scan_line_decodes() {
        let s = decode(&line("TP1;SCAN;000042;TKABC;I;1795568400000;1;-;0")).unwrap();
        assert_eq!(s.event_id, "000042");
        assert_eq!(s.at, "2026-11-25T01:00:00.000Z");
        assert!(s.id_number.is_none() && !s.offline);
    }

    #[test]
    fn a_bad_checksum_is_refused_with_the_event_id() {
        let mut l = line("TP1;SCAN;000042;TKABC;I;1795568400000;1;-;0");
        let n = l.len();
        l[n - 1] = if l[n - 1] == b'0' { b'1' } else { b'0' };
        let e = decode(&l).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.event_id.as_deref()),
            ("bad_checksum", Some("000042"))
        );
    }

    #[test]
    fn verdicts_use_the_vendor_codes() {
        let v = Verdict {
            event_id: "7".into(),
            decision: Decision::Deny,
            reason: Reason::Refunded,
            ticket_id: None,
            admitted: 0,
            entries_left: None,
            message: "a;b".into(),
        };
        assert_eq!(
            String::from_utf8(encode(&v)).unwrap().split('*').next(),
            Some("TP1;RES;7;SHUT;14;0;-;a b")
        );
    }
}
