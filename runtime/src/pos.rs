//! The sale path: a POS terminal's payload through its vendor's plugin into the sales
//! journal, and back as an ack in the vendor's format, sent only after the commit
//! (architecture.md, data flow 2).

use crate::bus::topics;
use crate::gate::{DeadLetter, Devices};
use crate::plugin::{DecodeError, Loaded};
use crate::sales::{self, Ack};
use crate::store::StoreError;

impl Devices {
    /// Handles one sale delivery end to end.
    pub async fn handle_sale(&self, device: &str, payload: &[u8]) {
        let topic = topics::sale(self.venue.zone(), device);
        let Some(pos) = self.venue.config.pos_device(device) else {
            self.dead_letter(DeadLetter {
                topic,
                device,
                plugin: None,
                payload,
                reason: format!("unknown_device: no [[pos]] entry has id {device:?}"),
                event_id: None,
            })
            .await;
            return;
        };
        let plugin = match self.plugins.get(&pos.plugin) {
            Ok(p) => p,
            Err(e) => {
                let reason = e.to_string();
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(&pos.plugin),
                    payload,
                    reason,
                    event_id: None,
                })
                .await;
                return;
            }
        };
        let sale = match plugin.decode_sale(device, payload).await {
            Ok(Ok(sale)) => sale,
            Ok(Err(DecodeError {
                code,
                message,
                event_id,
            })) => {
                let reason = format!("{code}: {message}");
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload,
                    reason: reason.clone(),
                    event_id: event_id.clone(),
                })
                .await;
                if let Some(event_id) = event_id {
                    self.acknowledge(
                        &plugin,
                        device,
                        Ack {
                            event_id,
                            error: Some(reason),
                        },
                    )
                    .await;
                }
                return;
            }
            Err(e) => {
                let reason = e.to_string();
                self.dead_letter(DeadLetter {
                    topic,
                    device,
                    plugin: Some(plugin.id()),
                    payload,
                    reason,
                    event_id: None,
                })
                .await;
                return;
            }
        };
        let venue = self.venue.clone();
        let (device_id, merchant) = (device.to_owned(), pos.merchant.clone());
        let recorded = self
            .store
            .write_rerunnable(move |c| -> Result<sales::Recorded, StoreError> {
                Ok(sales::record(c, &venue, &device_id, &merchant, &sale)?)
            })
            .await;
        match recorded {
            Ok(r) => {
                if let Some(error) = &r.ack.error {
                    tracing::info!(device, event_id = %r.ack.event_id, error, "sale rejected");
                }
                self.acknowledge(&plugin, device, r.ack).await;
            }
            // Not journaled: no ack, so the terminal sends it again (same event_id).
            Err(e) => tracing::error!(error = %e, device, "sale not journaled"),
        }
    }

    async fn acknowledge(&self, plugin: &Loaded, device: &str, ack: Ack) {
        let topic = topics::ack(self.venue.zone(), device);
        match plugin.encode_ack(device, &ack).await {
            Ok(bytes) => {
                if let Err(e) = self.bus.publish(topic, bytes, false).await {
                    tracing::error!(error = %e, device, "ack not published");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, device, event_id = %ack.event_id, "ack not encoded")
            }
        }
    }
}
