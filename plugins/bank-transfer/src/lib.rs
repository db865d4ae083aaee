//! The `bank-transfer` payment connector: pays a party's bill through a bank's payout API
//! over HTTP (the simulator in `devices/src/bank.rs` speaks it). The host performs the
//! requests, only to the hosts the manifest's `allowed_hosts` lists.
//!
//! Config: `base_url` (e.g. `http://bank.example:8443`).
//! Grants needed: `config`.

use venue_plugin_sdk::payment::exports::venue::edge::connector::{
    Guest, Header, HttpRequest, HttpResponse, PayoutStatus,
};
use venue_plugin_sdk::payment::venue::edge::config;
use venue_plugin_sdk::payment::venue::edge::types::Payout;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct BankTransfer;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn base_url() -> Result<String, String> {
    config::get("base_url")
        .map(|u| u.trim_end_matches('/').to_owned())
        .ok_or_else(|| "config base_url is not set".into())
}

pub fn payout_request(base: &str, p: &Payout) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: format!("{base}/payouts"),
        headers: vec![
            Header { name: "content-type".into(), value: "application/json".into() },
            Header { name: "idempotency-key".into(), value: p.payout_id.clone() },
        ],
        body: serde_json::json!({
            "payout_id": p.payout_id, "account": p.account, "amount_fen": p.amount_fen, "memo": p.memo,
        })
        .to_string()
        .into_bytes(),
    }
}

pub fn status_request(base: &str, p: &Payout) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: format!("{base}/payouts/{}", p.payout_id),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

pub fn read(r: &HttpResponse) -> Result<PayoutStatus, String> {
    let body: serde_json::Value =
        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    match (r.status, body["status"].as_str()) {
        (200, Some("succeeded")) => Ok(PayoutStatus::Succeeded(text("reference"))),
        (200 | 202, Some("pending")) => Ok(PayoutStatus::Pending),
        (422 | 200, Some("failed")) => Ok(PayoutStatus::Failed(text("reason"))),
        (404, _) => Ok(PayoutStatus::Unknown),
        (status, _) => Err(format!(
            "unexpected bank answer {status}: {}",
            String::from_utf8_lossy(&r.body)
        )),
    }
}

impl Guest for BankTransfer {
    fn build_payout(payout: Payout) -> Result<HttpRequest, String> {
        Ok(payout_request(&base_url()?, &payout))
    }

    fn build_status_query(payout: Payout) -> Result<HttpRequest, String> {
        Ok(status_request(&base_url()?, &payout))
    }

    fn read_response(_payout: Payout, response: HttpResponse) -> Result<PayoutStatus, String> {
        read(&response)
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::payment::export_payment_connector!(BankTransfer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_answers_map_to_payout_statuses() {
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: br#"{"status":"succeeded","reference":"R1"}"#.to_vec(),
        };
        assert!(matches!(read(&ok), Ok(PayoutStatus::Succeeded(r)) if r == "R1"));
        let failed = HttpResponse {
            status: 422,
            headers: vec![],
            body: br#"{"status":"failed","reason":"account closed"}"#.to_vec(),
        };
        assert!(matches!(read(&failed), Ok(PayoutStatus::Failed(r)) if r == "account closed"));
        let unknown = HttpResponse {
            status: 404,
            headers: vec![],
            body: vec![],
        };
        assert!(matches!(read(&unknown), Ok(PayoutStatus::Unknown)));
        assert!(
            read(&HttpResponse {
                status: 500,
                headers: vec![],
                body: vec![]
            })
            .is_err()
        );
    }
}
