//! Alerts to `venue/{zone}/alerts`: capacity thresholds, plugin failures, dead letters,
//! offline conflicts. Producers `try_send` into a bounded queue and never wait; one task
//! publishes. An alert dropped because the queue is full is counted in the log. The last
//! alerts published are kept in memory ([`Recent`]) for the console's Today page.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use venue_bus::{Bus, topics};
use venue_model::alert::Alert;

/// Alerts waiting to be published at most.
pub const ALERT_QUEUE_MAX: usize = 1024;

pub fn channel() -> (mpsc::Sender<Alert>, mpsc::Receiver<Alert>) {
    mpsc::channel(ALERT_QUEUE_MAX)
}

/// Alerts the console shows at most (the newest).
pub const RECENT_MAX: usize = 100;

/// The newest alerts published, newest first.
#[derive(Default)]
pub struct Recent(std::sync::Mutex<std::collections::VecDeque<Alert>>);

impl Recent {
    fn push(&self, alert: Alert) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.push_front(alert);
        q.truncate(RECENT_MAX);
    }

    /// The newest first.
    pub fn list(&self) -> Vec<Alert> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().cloned().collect()
    }
}

/// Publishes alerts until `shutdown`, keeping the newest in `recent`.
pub async fn run(
    bus: Bus,
    mut rx: mpsc::Receiver<Alert>,
    recent: std::sync::Arc<Recent>,
    shutdown: CancellationToken,
) {
    let topic = topics::alerts(bus.zone());
    loop {
        let alert = tokio::select! {
            a = rx.recv() => match a { Some(a) => a, None => return },
            _ = shutdown.cancelled() => return,
        };
        tracing::info!(kind = %alert.kind, "alert");
        recent.push(alert.clone());
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
