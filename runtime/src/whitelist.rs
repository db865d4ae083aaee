//! Whitelist deltas: after an order, a refund, a rebooking or an entry that uses a ticket
//! up, every gate of the affected areas learns which codes to add or remove, so it can
//! admit from its own list while it cannot reach the box (protocol.md, section 1).
//!
//! Changes are batched for [`FLUSH_INTERVAL`] or [`ENTRIES_PER_DELTA_MAX`] entries,
//! whichever comes first, then encoded by each gate's own plugin. Each gate's `seq` is
//! kept in the store and grows by one per delta, so a turnstile can tell it missed one
//! (and then ask staff to resync it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use venue_bus::{Bus, topics};
use venue_domain::ticketing::WhitelistChange;
use venue_domain::venue::SharedVenue;
use venue_plugin_host::{Delta, PluginHost};
use venue_store::{Store, StoreError};

/// Changes waiting to be batched at most; senders wait beyond it.
pub const QUEUE_CHANGES_MAX: usize = 4096;
/// A delta carries at most this many added plus removed codes.
pub const ENTRIES_PER_DELTA_MAX: usize = 500;
/// How long a change may wait for others to share its delta.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

pub fn channel() -> (
    mpsc::Sender<Vec<WhitelistChange>>,
    mpsc::Receiver<Vec<WhitelistChange>>,
) {
    mpsc::channel(QUEUE_CHANGES_MAX)
}

pub struct Publisher {
    pub venue: SharedVenue,
    pub bus: Bus,
    pub plugins: Arc<PluginHost>,
    pub store: Store,
}

impl Publisher {
    /// Batches and publishes until `shutdown`; flushes what it holds before returning.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<Vec<WhitelistChange>>,
        shutdown: CancellationToken,
    ) {
        let mut pending: BTreeMap<String, WhitelistChange> = BTreeMap::new();
        let mut size = 0usize;
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        loop {
            tokio::select! {
                changes = rx.recv() => {
                    let Some(changes) = changes else { break };
                    for c in changes {
                        size += c.add.len() + c.remove.len();
                        let slot = pending.entry(c.area.clone()).or_insert_with(|| WhitelistChange { area: c.area.clone(), ..Default::default() });
                        slot.add.extend(c.add);
                        slot.remove.extend(c.remove);
                    }
                    if size >= ENTRIES_PER_DELTA_MAX {
                        self.flush(&mut pending).await;
                        size = 0;
                    }
                }
                _ = tick.tick() => {
                    if !pending.is_empty() {
                        self.flush(&mut pending).await;
                        size = 0;
                    }
                }
                _ = shutdown.cancelled() => break,
            }
        }
        self.flush(&mut pending).await;
    }

    async fn flush(&self, pending: &mut BTreeMap<String, WhitelistChange>) {
        let changes = std::mem::take(pending);
        let gates_by_area = self.venue.config.gates_by_area();
        for (area, change) in changes {
            let Some(gates) = gates_by_area.get(area.as_str()) else {
                continue;
            };
            for chunk in chunks(&change) {
                let ids: Vec<String> = gates.iter().map(|g| g.id.clone()).collect();
                let seqs = match self.next_seqs(ids).await {
                    Ok(seqs) => seqs,
                    Err(e) => {
                        tracing::error!(error = %e, area, "cannot number whitelist deltas; not sent");
                        continue;
                    }
                };
                for (gate, seq) in gates.iter().zip(seqs) {
                    let delta = Delta {
                        gate: gate.id.clone(),
                        seq,
                        add: chunk.add.clone(),
                        remove: chunk.remove.clone(),
                    };
                    let payload = match self.plugins.get(&gate.plugin) {
                        Ok(plugin) => plugin.encode_whitelist(&gate.id, &delta).await,
                        Err(e) => Err(e),
                    };
                    match payload {
                        Ok(bytes) => {
                            let _ = self
                                .bus
                                .publish(topics::whitelist(self.bus.zone(), &gate.id), bytes, false)
                                .await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, gate = %gate.id, "whitelist delta not sent")
                        }
                    }
                    // A delta for every gate of an area is a burst of plugin calls and
                    // publishes; scans waiting for a worker go first between two gates.
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    /// The next delta number of each gate, in one store job.
    async fn next_seqs(&self, gates: Vec<String>) -> Result<Vec<u64>, StoreError> {
        self.store
            .write(move |c| -> Result<Vec<u64>, StoreError> {
                let mut stmt = c.prepare_cached(
                    "INSERT INTO whitelist_seq (gate, seq) VALUES (?1, 1)
                     ON CONFLICT (gate) DO UPDATE SET seq = seq + 1 RETURNING seq",
                )?;
                let mut out = Vec::with_capacity(gates.len());
                for gate in &gates {
                    out.push(stmt.query_row([gate], |r| r.get::<_, i64>(0))? as u64);
                }
                Ok(out)
            })
            .await
    }
}

/// Splits one area's change into deltas of at most [`ENTRIES_PER_DELTA_MAX`] entries.
fn chunks(change: &WhitelistChange) -> Vec<WhitelistChange> {
    let mut out = Vec::new();
    let mut current = WhitelistChange {
        area: change.area.clone(),
        ..Default::default()
    };
    for entry in &change.add {
        if current.add.len() + current.remove.len() >= ENTRIES_PER_DELTA_MAX {
            out.push(std::mem::replace(
                &mut current,
                WhitelistChange {
                    area: change.area.clone(),
                    ..Default::default()
                },
            ));
        }
        current.add.push(entry.clone());
    }
    for code in &change.remove {
        if current.add.len() + current.remove.len() >= ENTRIES_PER_DELTA_MAX {
            out.push(std::mem::replace(
                &mut current,
                WhitelistChange {
                    area: change.area.clone(),
                    ..Default::default()
                },
            ));
        }
        current.remove.push(code.clone());
    }
    if !current.add.is_empty() || !current.remove.is_empty() {
        out.push(current);
    }
    out
}
