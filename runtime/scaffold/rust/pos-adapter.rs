//! {{name}}: a pos-adapter plugin. It reads the venue's unified sale as JSON and writes
//! acknowledgements as JSON; replace both with your terminals' format, and the samples in
//! conformance.toml with payloads of it.

wit_bindgen::generate!({ world: "pos-adapter", path: "wit" });

use exports::venue::edge::pos::Guest;
use serde::Deserialize;
use venue::edge::log;
use venue::edge::types::{Ack, AckStatus, DecodeError, Sale, SaleKind, SaleLine};

struct Plugin;

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
    /// The ticket the visitor paid with, in a park with a one-code wallet.
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

impl Guest for Plugin {
    fn decode_sale(device: String, payload: Vec<u8>) -> Result<Sale, DecodeError> {
        let s: SaleJson = serde_json::from_slice(&payload).map_err(|e| {
            log::log(log::Level::Debug, &format!("{device}: not a sale: {e}"));
            DecodeError { code: "bad_json".into(), message: e.to_string(), event_id: None }
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
                .map(|l| SaleLine { sku: l.sku, category: l.category, qty: l.qty, unit_price_fen: l.unit_price_fen })
                .collect(),
            total_fen: s.total_fen,
            ticket_code: s.ticket_code.filter(|c| !c.is_empty()),
        })
    }

    fn encode_ack(_device: String, ack: Ack) -> Result<Vec<u8>, String> {
        let json = match ack.status {
            AckStatus::Accepted => serde_json::json!({"event_id": ack.event_id, "status": "accepted"}),
            AckStatus::Rejected(e) => {
                serde_json::json!({"event_id": ack.event_id, "status": "rejected", "error": e})
            }
        };
        serde_json::to_vec(&json).map_err(|e| e.to_string())
    }
}

export!(Plugin);
