//! The demo's traffic: a ticket office selling tickets for today, visitors walking through
//! the demo's turnstiles (both vendors' formats), in and out again, and POS terminals selling
//! tea, souvenirs and ride photos. It prints one
//! line per scan so a newcomer sees admissions as they happen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::formats::Format;
use crate::http::HttpClient;
use crate::turnstile::Turnstile;

/// Pause between two visitors.
const VISITOR_INTERVAL: Duration = Duration::from_millis(1500);

pub struct DemoTraffic {
    pub http: SocketAddr,
    pub mqtt: String,
    pub zone: String,
    pub ticketing_token: String,
}

/// What a till sells: sku, category, unit price in fen.
type MenuItem = (&'static str, &'static str, i64);

impl DemoTraffic {
    /// Runs until the process stops.
    pub async fn run(self) {
        let api = HttpClient::new(self.http);
        let gates = [
            ("g-north-2", Format::StdJson, "park-day"),
            ("g-south-1", Format::Tp1, "park-day"),
            ("g-coaster-1", Format::StdJson, "coaster-ride"),
            ("g-shuttle-1", Format::StdJson, "shuttle-day"),
        ];
        // One terminal per till, each selling from its own menu.
        let shops: [(&str, &str, &[MenuItem]); 3] = [
            (
                "pos-tea-1",
                "m-tea-house",
                &[("tea-01", "food", 1800), ("oolong", "drink", 2200)],
            ),
            ("pos-gift-1", "m-gift-shop", &[("fan", "souvenir", 3500)]),
            (
                "pos-photo-1",
                "m-coaster-photo",
                &[("photo", "photo", 2500)],
            ),
        ];
        let mut tills = Vec::new();
        for (id, merchant, menu) in shops {
            tills.push((
                crate::pos::PosTerminal::connect(&self.mqtt, &self.zone, id, merchant).await,
                menu,
            ));
        }
        let mut turnstiles: Vec<(Arc<Turnstile>, &str)> = Vec::new();
        for (id, format, product) in gates {
            turnstiles.push((
                Turnstile::connect(&self.mqtt, &self.zone, id, format).await,
                product,
            ));
        }
        let today = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
            .date_naive()
            .to_string();
        let mut n: u64 = 0;
        loop {
            n += 1;
            let (turnstile, product) = {
                let i = rand::rng().random_range(0..turnstiles.len());
                (turnstiles[i].0.clone(), turnstiles[i].1)
            };
            let visitor = serde_json::json!({"name": format!("游客{n}"), "id_type": "id_card",
                "id_number": format!("1101011990{:08}", rand::rng().random_range(0..100_000_000u32))});
            let order = serde_json::json!({
                "order_ref": format!("demo-{}-{n}", std::process::id()),
                "channel": "web", "visit_date": today,
                "items": [{"product": product, "qty": 1, "visitors": [visitor]}],
                "payment": {"method": "wechat", "ref": format!("wx-demo-{n}")},
            });
            match api
                .post_json("/api/v1/orders", Some(&self.ticketing_token), &order)
                .await
            {
                Ok(r) if r.status == 201 => {
                    let code = r.json()["tickets"][0]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let verdict = turnstile.scan(&code, true, 1, None).await;
                    match verdict {
                        Ok(v) => println!(
                            "  {:<12} {}  in   {:<5} {}",
                            turnstile.id, code, v.decision, v.reason
                        ),
                        Err(e) => println!("  {:<12} {}  in   no answer: {e}", turnstile.id, code),
                    }
                    let again = turnstile.scan(&code, true, 1, None).await;
                    if let Ok(v) = again {
                        println!(
                            "  {:<12} {}  in   {:<5} {} (second try)",
                            turnstile.id, code, v.decision, v.reason
                        );
                    }
                    if let Ok(v) = turnstile.scan(&code, false, 1, None).await {
                        println!(
                            "  {:<12} {}  out  {:<5} {}",
                            turnstile.id, code, v.decision, v.reason
                        );
                    }
                }
                Ok(r) => println!("  ticket office: order refused {}: {}", r.status, r.text()),
                Err(e) => println!("  ticket office: {e}"),
            }
            // Someone buys something.
            let (till, menu) = &tills[rand::rng().random_range(0..tills.len())];
            let (sku, category, price) = &menu[rand::rng().random_range(0..menu.len())];
            let at = chrono::Utc::now()
                .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            let qty = rand::rng().random_range(1..4);
            let sale = till.message(
                "sale",
                None,
                &at,
                "wechat",
                &[crate::pos::line(sku, category, qty, *price)],
            );
            match till.send(&sale).await {
                Ok(ack) => println!(
                    "  {:<12} sale {:>3} x {:<8} {:>6} fen  {}",
                    till.id,
                    qty,
                    sku,
                    *price * qty as i64,
                    ack.status
                ),
                Err(e) => println!("  {:<12} sale: {e}", till.id),
            }
            tokio::time::sleep(VISITOR_INTERVAL).await;
        }
    }
}
