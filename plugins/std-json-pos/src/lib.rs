//! The `std-json` POS adapter: terminals that speak the venue's reference sale JSON
//! (protocol.md, section 1) as it is.
//!
//! Grants needed: `log`.

use serde::Deserialize;
use venue_plugin_sdk::json::recover_event_id;
use venue_plugin_sdk::pos::exports::venue::edge::pos::Guest;
use venue_plugin_sdk::pos::venue::edge::log;
use venue_plugin_sdk::pos::venue::edge::types::{
    Ack, AckStatus, DecodeError, Sale, SaleKind, SaleLine,
};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct StdJsonPos;

#[derive(Deserialize)]
struct SaleJson {
    event_id: String,
    merchant: String,
    kind: String,
    #[serde(default)]
    refers_to: Option<String>,
    at: String,
    #[serde(default)]
    payment: String,
    #[serde(default)]
    lines: Vec<LineJson>,
    total_fen: i64,
    /// The ticket the visitor paid with, in a park with a one-code wallet (contract 1.1.0).
    #[serde(default)]
    ticket_code: Option<String>,
}

#[derive(Deserialize)]
struct LineJson {
    sku: String,
    category: String,
    qty: u32,
    unit_price_fen: i64,
}

pub fn decode(payload: &[u8]) -> Result<Sale, DecodeError> {
    let s: SaleJson = serde_json::from_slice(payload).map_err(|e| DecodeError {
        code: "bad_json".into(),
        message: format!("not a std-json sale: {e}"),
        event_id: recover_event_id(payload, "event_id"),
    })?;
    let kind = match s.kind.as_str() {
        "sale" => SaleKind::Sale,
        "refund" => SaleKind::Refund,
        "void" => SaleKind::Void,
        other => {
            return Err(DecodeError {
                code: "bad_kind".into(),
                message: format!("kind must be sale, refund or void, not {other:?}"),
                event_id: Some(s.event_id),
            });
        }
    };
    Ok(Sale {
        event_id: s.event_id,
        merchant: s.merchant,
        kind,
        refers_to: s.refers_to,
        at: s.at,
        payment: s.payment,
        lines: s
            .lines
            .into_iter()
            .map(|l| SaleLine {
                sku: l.sku,
                category: l.category,
                qty: l.qty,
                unit_price_fen: l.unit_price_fen,
            })
            .collect(),
        total_fen: s.total_fen,
        // An empty code is a terminal that has none to give, not a code.
        ticket_code: s.ticket_code.filter(|c| !c.is_empty()),
    })
}

pub fn encode(ack: &Ack) -> Vec<u8> {
    let v = match &ack.status {
        AckStatus::Accepted => {
            serde_json::json!({ "event_id": ack.event_id, "status": "accepted" })
        }
        AckStatus::Rejected(error) => {
            serde_json::json!({ "event_id": ack.event_id, "status": "rejected", "error": error })
        }
    };
    v.to_string().into_bytes()
}

impl Guest for StdJsonPos {
    fn decode_sale(device: String, payload: Vec<u8>) -> Result<Sale, DecodeError> {
        decode(&payload).inspect_err(|e| {
            log::log(
                log::Level::Debug,
                &format!("{device}: refused a sale: {}: {}", e.code, e.message),
            );
        })
    }

    fn encode_ack(_device: String, ack: Ack) -> Result<Vec<u8>, String> {
        Ok(encode(&ack))
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::pos::export_pos_adapter!(StdJsonPos);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_sale_decodes() {
        let s = decode(
            br#"{"event_id":"pos12-88812","merchant":"m-tea-house","kind":"sale","refers_to":null,
                 "at":"2026-11-25T12:31:09+08:00","payment":"wechat",
                 "lines":[{"sku":"tea-01","category":"food","qty":2,"unit_price_fen":1800}],"total_fen":3600}"#,
        )
        .unwrap();
        assert_eq!((s.lines.len(), s.total_fen), (1, 3600));
        assert_eq!(s.ticket_code, None);
    }

    #[test]
    fn a_one_code_wallet_sale_keeps_its_ticket_code() {
        let sale = |code: &str| {
            decode(
                format!(
                    r#"{{"event_id":"e","merchant":"m","kind":"sale","at":"2026-11-25T12:31:09+08:00",
                        "lines":[],"total_fen":0{code}}}"#
                )
                .as_bytes(),
            )
            .unwrap()
            .ticket_code
        };
        assert_eq!(sale(r#","ticket_code":"T-8F2K""#), Some("T-8F2K".into()));
        assert_eq!(sale(r#","ticket_code":"""#), None);
        assert_eq!(sale(r#","ticket_code":null"#), None);
        assert_eq!(sale(""), None);
    }

    #[test]
    fn acks_encode_to_the_reference_shape() {
        let a = Ack {
            event_id: "e".into(),
            status: AckStatus::Rejected("total_mismatch: x".into()),
        };
        let v: serde_json::Value = serde_json::from_slice(&encode(&a)).unwrap();
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["error"], "total_mismatch: x");
    }
}
