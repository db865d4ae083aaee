//! A simulated POS terminal: publishes sales, refunds and voids and waits for each ack.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, QoS};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

/// How long a terminal waits for an ack.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PosError {
    #[error("no ack for {0} within {ACK_TIMEOUT:?}")]
    Timeout(String),
    #[error("the MQTT client stopped")]
    Stopped,
}

/// An ack as the terminal understood it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PosAck {
    pub event_id: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
}

impl PosAck {
    pub fn accepted(&self) -> bool {
        self.status == "accepted"
    }
}

/// One line of a std-json sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub sku: String,
    pub category: String,
    pub qty: u32,
    pub unit_price_fen: i64,
}

pub fn line(sku: &str, category: &str, qty: u32, unit_price_fen: i64) -> Line {
    Line {
        sku: sku.into(),
        category: category.into(),
        qty,
        unit_price_fen,
    }
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<PosAck>>>>;

pub struct PosTerminal {
    pub id: String,
    pub zone: String,
    pub merchant: String,
    client: AsyncClient,
    pending: Pending,
    next: AtomicU64,
    instance: u32,
}

impl PosTerminal {
    /// Connects and subscribes to its ack topic.
    pub async fn connect(addr: &str, zone: &str, id: &str, merchant: &str) -> Arc<PosTerminal> {
        let instance = rand::random::<u32>() % 100_000;
        let status = format!("venue/{zone}/device/{id}/status");
        let (client, mut eventloop) = crate::mqtt::connect(
            addr,
            &format!("sim-{zone}-{id}-{instance}"),
            Some(&status),
            Some((zone, id)),
        );
        let pending: Pending = Arc::default();
        let ack_topic = format!("venue/{zone}/pos/{id}/ack");
        let (ready, subscribed) = (Arc::new(AtomicBool::new(false)), Arc::new(Notify::new()));
        let (p, r, n, c) = (
            pending.clone(),
            ready.clone(),
            subscribed.clone(),
            client.clone(),
        );
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = c.try_subscribe(ack_topic.clone(), QoS::AtLeastOnce);
                        let _ = c.try_publish(status.clone(), QoS::AtLeastOnce, true, "online");
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        r.store(true, Ordering::Release);
                        n.notify_waiters();
                    }
                    Ok(Event::Incoming(Incoming::Publish(msg))) => {
                        if let Ok(ack) = serde_json::from_slice::<PosAck>(&msg.payload) {
                            let waiter = p.lock().ok().and_then(|mut m| m.remove(&ack.event_id));
                            if let Some(tx) = waiter {
                                let _ = tx.send(ack);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::RequestsDone) => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        for _ in 0..100 {
            if ready.load(Ordering::Acquire) {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), subscribed.notified()).await;
        }
        Arc::new(PosTerminal {
            id: id.to_owned(),
            zone: zone.to_owned(),
            merchant: merchant.to_owned(),
            client,
            pending,
            next: AtomicU64::new(1),
            instance,
        })
    }

    pub fn next_event_id(&self) -> String {
        format!(
            "{}-{:05}-{:06}",
            self.id,
            self.instance,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A std-json message of `kind` (`sale`, `refund`, `void`) stamped `at`.
    pub fn message(
        &self,
        kind: &str,
        refers_to: Option<&str>,
        at: &str,
        payment: &str,
        lines: &[Line],
    ) -> serde_json::Value {
        let total: i64 = lines.iter().map(|l| l.unit_price_fen * l.qty as i64).sum();
        serde_json::json!({
            "event_id": self.next_event_id(), "merchant": self.merchant, "kind": kind, "refers_to": refers_to,
            "at": at, "payment": payment, "lines": lines, "total_fen": total,
        })
    }

    /// Publishes a message and waits for its ack.
    pub async fn send(&self, message: &serde_json::Value) -> Result<PosAck, PosError> {
        let event_id = message["event_id"].as_str().unwrap_or_default().to_owned();
        self.send_raw(&event_id, message.to_string().into_bytes())
            .await
    }

    /// Publishes `payload` and waits for an ack carrying `event_id`.
    pub async fn send_raw(&self, event_id: &str, payload: Vec<u8>) -> Result<PosAck, PosError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(event_id.to_owned(), tx);
        }
        self.publish(payload).await?;
        match tokio::time::timeout(ACK_TIMEOUT, rx).await {
            Ok(Ok(a)) => Ok(a),
            _ => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(event_id);
                }
                Err(PosError::Timeout(event_id.to_owned()))
            }
        }
    }

    pub async fn publish(&self, payload: Vec<u8>) -> Result<(), PosError> {
        self.client
            .publish(
                format!("venue/{}/pos/{}/sale", self.zone, self.id),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .map_err(|_| PosError::Stopped)
    }
}
