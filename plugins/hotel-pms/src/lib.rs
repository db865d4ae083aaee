//! The hotel PMS adapter: folio postings from the lodge's property-management system, so
//! lodging revenue lands in the same books as every other sale.
//!
//! ```json
//! {"msgType":"FOLIO_POST","postingId":"P000123","hotelCode":"YS-LODGE","folioNo":"F2026112500012",
//!  "room":"1208","postDate":"2026-11-25","postTime":"12:31:09",
//!  "charges":[{"code":"RN","desc":"Room night","qty":2,"amountCent":58000},
//!             {"code":"MB","desc":"Minibar","qty":1,"amountCent":3500}],
//!  "settlement":{"method":"CARD"}}
//! ```
//! `msgType`: `FOLIO_POST` (charges posted), `CHECKOUT` (the checkout's final charges),
//! `FOLIO_ADJUST` (a refund of `origPostingId`), `FOLIO_VOID` (cancels `origPostingId` the
//! same day). `amountCent` is a line's total; `qty` must divide it. Charge codes map to
//! categories: `RN` lodging, `MB` minibar, `FB` food, `LD` laundry; others `other`. Times
//! are the lodge's local time (+08:00). The posting id is the event id.
//! Ack: `{"postingId","result":"OK"}` or `{"postingId","result":"ERR","errMsg"}`.
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
struct HotelPms;

/// The merchant id the lodge's postings belong to.
const MERCHANT: &str = "m-hotel";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Posting {
    msg_type: String,
    posting_id: String,
    #[serde(default)]
    orig_posting_id: Option<String>,
    post_date: String,
    post_time: String,
    #[serde(default)]
    charges: Vec<Charge>,
    #[serde(default)]
    settlement: Option<Settlement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Charge {
    code: String,
    #[serde(default)]
    desc: String,
    qty: u32,
    amount_cent: i64,
}

#[derive(Deserialize)]
struct Settlement {
    method: String,
}

fn category(code: &str) -> &'static str {
    match code {
        "RN" => "lodging",
        "MB" => "minibar",
        "FB" => "food",
        "LD" => "laundry",
        _ => "other",
    }
}

pub fn decode(payload: &[u8]) -> Result<Sale, DecodeError> {
    let p: Posting = serde_json::from_slice(payload).map_err(|e| DecodeError {
        code: "bad_json".into(),
        message: format!("not a folio posting: {e}"),
        event_id: recover_event_id(payload, "postingId"),
    })?;
    let bad = |code: &str, message: String| DecodeError {
        code: code.into(),
        message,
        event_id: Some(p.posting_id.clone()),
    };
    let kind = match p.msg_type.as_str() {
        "FOLIO_POST" | "CHECKOUT" => SaleKind::Sale,
        "FOLIO_ADJUST" => SaleKind::Refund,
        "FOLIO_VOID" => SaleKind::Void,
        other => {
            return Err(bad(
                "bad_msg_type",
                format!("msgType {other:?} is not a folio posting"),
            ));
        }
    };
    let mut lines = Vec::with_capacity(p.charges.len());
    for (i, c) in p.charges.iter().enumerate() {
        if c.qty == 0 || c.amount_cent % c.qty as i64 != 0 {
            return Err(bad(
                "bad_charge",
                format!(
                    "charge {i} ({}): amountCent {} is not qty {} times a whole price",
                    c.desc, c.amount_cent, c.qty
                ),
            ));
        }
        lines.push(SaleLine {
            sku: c.code.clone(),
            category: category(&c.code).into(),
            qty: c.qty,
            unit_price_fen: c.amount_cent / c.qty as i64,
        });
    }
    let total = p.charges.iter().map(|c| c.amount_cent).sum();
    Ok(Sale {
        event_id: p.posting_id.clone(),
        merchant: MERCHANT.into(),
        kind,
        refers_to: p.orig_posting_id.clone(),
        at: format!("{}T{}+08:00", p.post_date, p.post_time),
        payment: p
            .settlement
            .map(|s| s.method.to_lowercase())
            .unwrap_or_else(|| "room-charge".into()),
        lines,
        total_fen: total,
        ticket_code: None,
    })
}

pub fn encode(ack: &Ack) -> Vec<u8> {
    match &ack.status {
        AckStatus::Accepted => serde_json::json!({"postingId": ack.event_id, "result": "OK"}),
        AckStatus::Rejected(e) => {
            serde_json::json!({"postingId": ack.event_id, "result": "ERR", "errMsg": e})
        }
    }
    .to_string()
    .into_bytes()
}

impl Guest for HotelPms {
    fn decode_sale(device: String, payload: Vec<u8>) -> Result<Sale, DecodeError> {
        decode(&payload).inspect_err(|e| {
            log::log(
                log::Level::Debug,
                &format!("{device}: refused a posting: {}: {}", e.code, e.message),
            )
        })
    }

    fn encode_ack(_device: String, ack: Ack) -> Result<Vec<u8>, String> {
        Ok(encode(&ack))
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::pos::export_pos_adapter!(HotelPms);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folio_posting_becomes_a_lodging_sale() {
        let s = decode(
            br#"{"msgType":"FOLIO_POST","postingId":"P1","postDate":"2026-11-25","postTime":"12:31:09",
                 "charges":[{"code":"RN","qty":2,"amountCent":58000},{"code":"MB","qty":1,"amountCent":3500}],
                 "settlement":{"method":"CARD"}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                s.total_fen,
                s.lines[0].unit_price_fen,
                s.lines[0].category.as_str()
            ),
            (61500, 29000, "lodging")
        );
        assert_eq!(
            (s.at.as_str(), s.payment.as_str()),
            ("2026-11-25T12:31:09+08:00", "card")
        );
    }

    #[test]
    fn an_indivisible_charge_is_refused_with_the_posting_id() {
        let e = decode(br#"{"msgType":"FOLIO_POST","postingId":"P2","postDate":"2026-11-25","postTime":"1:00:00",
            "charges":[{"code":"RN","qty":3,"amountCent":1000}]}"#)
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.event_id.as_deref()),
            ("bad_charge", Some("P2"))
        );
    }
}
