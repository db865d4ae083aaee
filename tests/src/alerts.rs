//! The harness's listener on a zone's alerts topic.

use super::*;

/// Collects the JSON alerts published on a topic.
pub struct AlertListener {
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl AlertListener {
    /// Listens as `login` (zone, device), whose credentials the harness holds.
    pub(crate) async fn start(
        addr: &str,
        topic: &str,
        login: Option<(&str, &str)>,
    ) -> AlertListener {
        let (client, mut eventloop) =
            venue_devices::mqtt::connect(addr, &format!("alerts-{}", unique_zone()), None, login);
        let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let sink = received.clone();
        let topic = topic.to_owned();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        if let Ok(v) = serde_json::from_slice(&p.payload)
                            && let Ok(mut s) = sink.lock()
                        {
                            s.push(v);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
        AlertListener { received }
    }

    /// Waits until an alert matches, up to `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self
                .received
                .lock()
                .ok()
                .and_then(|r| r.iter().find(|a| pred(a)).cloned())
            {
                return Some(found);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn all(&self) -> Vec<serde_json::Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
