//! Alerts to `venue/{zone}/alerts`: capacity thresholds, plugin failures, dead letters,
//! offline conflicts. Producers `try_send` into a bounded queue and never wait; one task
//! publishes. An alert dropped because the queue is full is counted in the log.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use venue_bus::{Bus, topics};
use venue_model::alert::Alert;

/// Alerts waiting to be published at most.
pub const ALERT_QUEUE_MAX: usize = 1024;

pub fn channel() -> (mpsc::Sender<Alert>, mpsc::Receiver<Alert>) {
    mpsc::channel(ALERT_QUEUE_MAX)
}

/// Publishes alerts until `shutdown`.
pub async fn run(bus: Bus, mut rx: mpsc::Receiver<Alert>, shutdown: CancellationToken) {
    let topic = topics::alerts(bus.zone());
    loop {
        let alert = tokio::select! {
            a = rx.recv() => match a { Some(a) => a, None => return },
            _ = shutdown.cancelled() => return,
        };
        tracing::info!(kind = %alert.kind, "alert");
        match serde_json::to_vec(&alert) {
            Ok(payload) => {
                if bus.publish(topic.clone(), payload, false).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode an alert"),
        }
    }
}

/// Sends an alert without waiting; a full queue drops it with a log line.
pub fn raise(tx: &mpsc::Sender<Alert>, alert: Alert) {
    if let Err(e) = tx.try_send(alert) {
        tracing::warn!(error = %e, "alert queue full; alert dropped");
    }
}
