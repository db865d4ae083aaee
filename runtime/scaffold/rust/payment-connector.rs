//! {{name}}: a payment-connector plugin. It asks a provider's JSON API to pay a bill's
//! payout and reads its answers; the host makes the HTTP calls, only to the hosts the
//! manifest's `allowed_hosts` lists. Replace the requests and the answers with your
//! provider's API; `base_url` comes from the manifest's config.

wit_bindgen::generate!({ world: "payment-connector", path: "wit" });

use exports::venue::edge::connector::{Guest, Header, HttpRequest, HttpResponse, PayoutStatus};
use venue::edge::config;
use venue::edge::types::Payout;

struct Plugin;

fn base_url() -> String {
    config::get("base_url").unwrap_or_else(|| "https://bank.example".into())
}

fn json_request(method: &str, url: String, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url,
        headers: vec![Header { name: "content-type".into(), value: "application/json".into() }],
        body,
    }
}

impl Guest for Plugin {
    fn build_payout(p: Payout) -> Result<HttpRequest, String> {
        let body = serde_json::to_vec(&serde_json::json!({
            "idempotency_key": p.payout_id, "account": p.account,
            "amount_fen": p.amount_fen, "memo": p.memo,
        }))
        .map_err(|e| e.to_string())?;
        Ok(json_request("POST", format!("{}/payouts", base_url()), body))
    }

    fn build_status_query(p: Payout) -> Result<HttpRequest, String> {
        Ok(json_request("GET", format!("{}/payouts/{}", base_url(), p.payout_id), Vec::new()))
    }

    fn read_response(_p: Payout, r: HttpResponse) -> Result<PayoutStatus, String> {
        if r.status == 404 {
            return Ok(PayoutStatus::Unknown);
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        Ok(match v["status"].as_str() {
            Some("succeeded") => PayoutStatus::Succeeded(v["reference"].as_str().unwrap_or("").into()),
            Some("failed") => PayoutStatus::Failed(v["reason"].as_str().unwrap_or("failed").into()),
            _ => PayoutStatus::Pending,
        })
    }
}

export!(Plugin);
