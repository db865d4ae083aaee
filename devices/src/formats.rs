//! The turnstile vendors' formats, as their devices put them on the wire.
//!
//! **std-json** (protocol.md, section 1): JSON scans and verdicts.
//!
//! **TP1**, the second vendor's compact line format: fields separated by `;`, ending in
//! `*` and a two-digit hex XOR checksum of every byte before the `*`:
//!
//! ```text
//! scan:      TP1;SCAN;<seq>;<code>;<I|O>;<unix ms>;<count>;<id number or ->;<0|1 offline>*CS
//! verdict:   TP1;RES;<seq>;<OPEN|SHUT>;<vendor code>;<admitted>;<entries left or ->;<text>*CS
//! whitelist: TP1;WL;<seq>;+<code>,<date>,<slot or ->,<entries or ->,<party>;-<code>;...*CS
//! ```
//! Vendor codes: 00 ok, 10 unknown, 11 used, 12 wrong day, 13 wrong time, 14 refunded,
//! 15 replaced, 16 passback, 17 wrong area, 20 full, 21 ID mismatch, 90 bad request,
//! 99 system fault.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    StdJson,
    Tp1,
}

/// A scan as a simulated visitor presents it.
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub event_id: String,
    pub code: String,
    pub direction_in: bool,
    /// RFC 3339 with offset.
    pub at: String,
    pub unix_ms: i64,
    pub count: u32,
    pub id_number: Option<String>,
    pub offline: bool,
}

/// A verdict as the turnstile understood it, in the unified vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimVerdict {
    pub event_id: String,
    pub decision: String,
    pub reason: String,
    #[serde(default)]
    pub ticket_id: Option<String>,
    #[serde(default)]
    pub admitted: u32,
    #[serde(default)]
    pub entries_left: Option<u32>,
    #[serde(default)]
    pub message: String,
}

impl SimVerdict {
    pub fn admitted(&self) -> bool {
        self.decision == "admit"
    }
}

/// A whitelist entry as the turnstile keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WlEntry {
    pub code: String,
    #[serde(default)]
    pub ticket_id: String,
    pub visit_date: String,
    #[serde(default)]
    pub slot: Option<String>,
    #[serde(default)]
    pub entries: Option<u32>,
    #[serde(default = "one")]
    pub party_size: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WlDelta {
    pub seq: u64,
    #[serde(default)]
    pub add: Vec<WlEntry>,
    #[serde(default)]
    pub remove: Vec<String>,
}

pub fn encode_scan(format: Format, s: &ScanInput) -> Vec<u8> {
    match format {
        Format::StdJson => {
            let mut v = serde_json::json!({
                "event_id": s.event_id, "code": s.code,
                "direction": if s.direction_in { "in" } else { "out" },
                "at": s.at, "count": s.count,
            });
            if let Some(id) = &s.id_number {
                v["id_number"] = serde_json::Value::String(id.clone());
            }
            if s.offline {
                v["offline"] = serde_json::Value::Bool(true);
            }
            v.to_string().into_bytes()
        }
        Format::Tp1 => seal(&format!(
            "TP1;SCAN;{};{};{};{};{};{};{}",
            s.event_id,
            s.code,
            if s.direction_in { "I" } else { "O" },
            s.unix_ms,
            s.count,
            s.id_number.as_deref().unwrap_or("-"),
            if s.offline { 1 } else { 0 }
        ))
        .into_bytes(),
    }
}

pub fn decode_verdict(format: Format, payload: &[u8]) -> Option<SimVerdict> {
    match format {
        Format::StdJson => serde_json::from_slice(payload).ok(),
        Format::Tp1 => {
            let body = unseal(std::str::from_utf8(payload).ok()?)?;
            let f: Vec<&str> = body.split(';').collect();
            if f.len() < 8 || f[0] != "TP1" || f[1] != "RES" {
                return None;
            }
            Some(SimVerdict {
                event_id: f[2].to_owned(),
                decision: if f[3] == "OPEN" { "admit" } else { "deny" }.to_owned(),
                reason: tp1_reason(f[4]).to_owned(),
                ticket_id: None,
                admitted: f[5].parse().ok()?,
                entries_left: f[6].parse().ok(),
                message: f[7..].join(";"),
            })
        }
    }
}

pub fn decode_whitelist(format: Format, payload: &[u8]) -> Option<WlDelta> {
    match format {
        Format::StdJson => serde_json::from_slice(payload).ok(),
        Format::Tp1 => {
            let body = unseal(std::str::from_utf8(payload).ok()?)?;
            let mut f = body.split(';');
            if f.next()? != "TP1" || f.next()? != "WL" {
                return None;
            }
            let mut delta = WlDelta {
                seq: f.next()?.parse().ok()?,
                ..Default::default()
            };
            for item in f {
                if let Some(code) = item.strip_prefix('-') {
                    delta.remove.push(code.to_owned());
                } else if let Some(add) = item.strip_prefix('+') {
                    let p: Vec<&str> = add.split(',').collect();
                    if p.len() != 5 {
                        return None;
                    }
                    delta.add.push(WlEntry {
                        code: p[0].to_owned(),
                        ticket_id: String::new(),
                        visit_date: p[1].to_owned(),
                        slot: (p[2] != "-").then(|| p[2].to_owned()),
                        entries: p[3].parse().ok(),
                        party_size: p[4].parse().ok()?,
                    });
                }
            }
            Some(delta)
        }
    }
}

/// The TP1 vendor code's meaning in the unified vocabulary.
pub fn tp1_reason(code: &str) -> &'static str {
    match code {
        "00" => "ok",
        "10" => "unknown_ticket",
        "11" => "already_used",
        "12" => "not_valid_today",
        "13" => "outside_time_slot",
        "14" => "refunded",
        "15" => "rebooked",
        "16" => "passback",
        "17" => "wrong_area",
        "20" => "capacity_full",
        "21" => "realname_mismatch",
        "90" => "bad_request",
        _ => "plugin_error",
    }
}

/// Appends `*` and the XOR checksum.
pub fn seal(body: &str) -> String {
    format!("{body}*{:02X}", checksum(body.as_bytes()))
}

/// Checks and strips the checksum.
pub fn unseal(line: &str) -> Option<&str> {
    let (body, cs) = line.trim_end().rsplit_once('*')?;
    (u8::from_str_radix(cs, 16).ok()? == checksum(body.as_bytes())).then_some(body)
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tp1_lines_carry_a_checksum() {
        let line = seal("TP1;RES;7;OPEN;00;1;0;ok");
        assert_eq!(unseal(&line), Some("TP1;RES;7;OPEN;00;1;0;ok"));
        assert_eq!(unseal(&line.replace("OPEN", "SHUT")), None);
        let v = decode_verdict(Format::Tp1, line.as_bytes()).unwrap();
        assert_eq!(
            (v.decision.as_str(), v.reason.as_str(), v.entries_left),
            ("admit", "ok", Some(0))
        );
    }
}
