//! The OTA ticketing adapter: decodes an online travel agency's order push (its own JSON
//! shape and product codes) into the venue's order, and answers in the agency's shape.
//!
//! The agency's order push:
//! ```json
//! {"otaOrderNo":"OTA-778812","travelDate":"20261125","timeSlot":"09:00",
//!  "items":[{"skuCode":"YUNSHAN-DAY-ADULT","quantity":2,
//!            "guests":[{"fullName":"张三","certType":"ID","certNo":"110101199001011234"}]}],
//!  "payAmountCent":24000,"payChannel":"ALIPAY","payNo":"2026112522001"}
//! ```
//! Product codes map to the venue's products through the plugin's config:
//! `product.<skuCode> = "<product id>"`. An unmapped code is refused with its name.
//! The answer:
//! `{"code":0,"otaOrderNo":...,"venueOrderId":...,"vouchers":[{"voucherCode","ticketId","sku"}]}`.
//!
//! Grants needed: `log`, `config`.

use serde::Deserialize;
use venue_plugin_sdk::json::recover_event_id;
use venue_plugin_sdk::ticketing::exports::venue::edge::ticketing::Guest;
use venue_plugin_sdk::ticketing::venue::edge::types::{
    Channel, DecodeError, Order, OrderConfirmation, OrderItem, Payment, Visitor,
};
use venue_plugin_sdk::ticketing::venue::edge::{config, log};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct OtaOrders;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtaOrder {
    ota_order_no: String,
    travel_date: String,
    #[serde(default)]
    time_slot: Option<String>,
    items: Vec<OtaItem>,
    #[serde(default)]
    pay_channel: String,
    #[serde(default)]
    pay_no: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtaItem {
    sku_code: String,
    quantity: u32,
    #[serde(default)]
    guests: Vec<OtaGuest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtaGuest {
    full_name: String,
    #[serde(default)]
    cert_type: String,
    cert_no: String,
}

fn err(code: &str, message: String, order_no: Option<String>) -> DecodeError {
    DecodeError {
        code: code.into(),
        message,
        event_id: order_no,
    }
}

/// `20261125` -> `2026-11-25`.
fn iso_date(d: &str) -> Option<String> {
    (d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]))
}

fn id_type(cert: &str) -> String {
    match cert {
        "ID" | "" => "id_card",
        "PP" => "passport",
        "HM" => "hk_macao_permit",
        other => other,
    }
    .to_lowercase()
}

/// Decodes with `map` resolving the agency's product codes.
pub fn decode(payload: &[u8], map: impl Fn(&str) -> Option<String>) -> Result<Order, DecodeError> {
    let o: OtaOrder = serde_json::from_slice(payload).map_err(|e| {
        err(
            "bad_json",
            format!("not an OTA order push: {e}"),
            recover_event_id(payload, "otaOrderNo"),
        )
    })?;
    let no = Some(o.ota_order_no.clone());
    let visit_date = iso_date(&o.travel_date).ok_or_else(|| {
        err(
            "bad_date",
            format!("travelDate {:?} is not YYYYMMDD", o.travel_date),
            no.clone(),
        )
    })?;
    let mut items = Vec::with_capacity(o.items.len());
    for item in o.items {
        let product = map(&item.sku_code).ok_or_else(|| {
            err(
                "unknown_sku",
                format!(
                    "skuCode {:?} is not mapped to a venue product",
                    item.sku_code
                ),
                no.clone(),
            )
        })?;
        items.push(OrderItem {
            product,
            qty: item.quantity,
            visitors: item
                .guests
                .into_iter()
                .map(|g| Visitor {
                    name: g.full_name,
                    id_type: id_type(&g.cert_type),
                    id_number: g.cert_no,
                })
                .collect(),
        });
    }
    Ok(Order {
        order_ref: format!("ota:{}", o.ota_order_no),
        channel: Channel::Ota,
        visit_date,
        slot: o.time_slot,
        items,
        payment: Payment {
            method: format!("ota-{}", o.pay_channel.to_lowercase()),
            reference: o.pay_no,
        },
    })
}

pub fn encode(c: &OrderConfirmation) -> Result<Vec<u8>, String> {
    let vouchers: Vec<serde_json::Value> = c
        .tickets
        .iter()
        .map(|t| serde_json::json!({ "voucherCode": t.code, "ticketId": t.ticket_id, "sku": t.product, "travelDate": t.visit_date.replace('-', "") }))
        .collect();
    let ota_no = c.order_ref.strip_prefix("ota:").unwrap_or(&c.order_ref);
    serde_json::to_vec(&serde_json::json!({
        "code": 0, "otaOrderNo": ota_no, "venueOrderId": c.order_id,
        "totalCent": c.total_fen, "vouchers": vouchers,
    }))
    .map_err(|e| e.to_string())
}

impl Guest for OtaOrders {
    fn decode_order(payload: Vec<u8>, _content_type: String) -> Result<Order, DecodeError> {
        decode(&payload, |sku| config::get(&format!("product.{sku}"))).inspect_err(|e| {
            log::log(
                log::Level::Info,
                &format!("refused an order push: {}: {}", e.code, e.message),
            );
        })
    }

    fn encode_confirmation(confirmation: OrderConfirmation) -> Result<Vec<u8>, String> {
        encode(&confirmation)
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::ticketing::export_ticketing_adapter!(OtaOrders);

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &[u8] = r#"{"otaOrderNo":"OTA-1","travelDate":"20261125","items":[{"skuCode":"YUNSHAN-DAY-ADULT","quantity":1,
        "guests":[{"fullName":"张三","certType":"ID","certNo":"110101199001011234"}]}],"payChannel":"ALIPAY","payNo":"p1"}"#
        .as_bytes();

    #[test]
    fn a_push_maps_to_a_venue_order() {
        let o = decode(PUSH, |sku| {
            (sku == "YUNSHAN-DAY-ADULT").then(|| "park-day".to_owned())
        })
        .unwrap();
        assert_eq!(
            (o.order_ref.as_str(), o.visit_date.as_str()),
            ("ota:OTA-1", "2026-11-25")
        );
        assert_eq!(o.items[0].product, "park-day");
        assert_eq!(o.items[0].visitors[0].id_type, "id_card");
    }

    #[test]
    fn an_unmapped_sku_is_refused_by_name() {
        let e = decode(PUSH, |_| None).unwrap_err();
        assert_eq!(e.code, "unknown_sku");
        assert!(e.message.contains("YUNSHAN-DAY-ADULT"));
    }
}
