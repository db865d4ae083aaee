//! {{name}}: a ticketing-adapter plugin. It reads a partner's order push as the venue's
//! unified order in JSON and answers the confirmation as JSON; replace both with your
//! format, and the samples in conformance.toml with pushes of it.

wit_bindgen::generate!({ world: "ticketing-adapter", path: "wit" });

use exports::venue::edge::ticketing::Guest;
use serde::Deserialize;
use venue::edge::types::{
    Channel, DecodeError, Order, OrderConfirmation, OrderItem, Payment, Visitor,
};

struct Plugin;

#[derive(Deserialize)]
struct OrderJson {
    order_ref: String,
    channel: String,
    visit_date: String,
    #[serde(default)]
    slot: Option<String>,
    items: Vec<ItemJson>,
    payment: PaymentJson,
}

#[derive(Deserialize)]
struct ItemJson {
    product: String,
    qty: u32,
    #[serde(default)]
    visitors: Vec<VisitorJson>,
}

#[derive(Deserialize)]
struct VisitorJson {
    name: String,
    id_type: String,
    id_number: String,
}

#[derive(Deserialize)]
struct PaymentJson {
    method: String,
    reference: String,
}

impl Guest for Plugin {
    fn decode_order(payload: Vec<u8>, _content_type: String) -> Result<Order, DecodeError> {
        let o: OrderJson = serde_json::from_slice(&payload).map_err(|e| DecodeError {
            code: "bad_json".into(),
            message: e.to_string(),
            event_id: None,
        })?;
        let channel = match o.channel.as_str() {
            "web" => Channel::Web,
            "window" => Channel::Window,
            "ota" => Channel::Ota,
            "group" => Channel::Group,
            other => {
                return Err(DecodeError {
                    code: "bad_channel".into(),
                    message: format!("channel must be web, window, ota or group, not {other:?}"),
                    event_id: Some(o.order_ref),
                });
            }
        };
        Ok(Order {
            order_ref: o.order_ref,
            channel,
            visit_date: o.visit_date,
            slot: o.slot,
            items: o
                .items
                .into_iter()
                .map(|i| OrderItem {
                    product: i.product,
                    qty: i.qty,
                    visitors: i
                        .visitors
                        .into_iter()
                        .map(|v| Visitor { name: v.name, id_type: v.id_type, id_number: v.id_number })
                        .collect(),
                })
                .collect(),
            payment: Payment { method: o.payment.method, reference: o.payment.reference },
        })
    }

    fn encode_confirmation(c: OrderConfirmation) -> Result<Vec<u8>, String> {
        let tickets: Vec<serde_json::Value> = c
            .tickets
            .iter()
            .map(|t| serde_json::json!({"ticket_id": t.ticket_id, "code": t.code, "product": t.product, "visit_date": t.visit_date}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "order_id": c.order_id, "order_ref": c.order_ref, "total_fen": c.total_fen,
            "tickets": tickets, "group_code": c.group_code,
        }))
        .map_err(|e| e.to_string())
    }
}

export!(Plugin);
