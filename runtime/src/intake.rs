//! Device intake: reads the bus's deliveries and hands each to the device pipeline of
//! its kind, in a task of its own, a bounded number at once.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::gate::Gate;
use crate::pipeline::Devices;
use crate::pos::Pos;

/// Deliveries being handled at once at most. With the client's outbox
/// (`venue_bus::OUTBOX_REQUESTS_MAX`) this bounds what a burst of scans can queue.
pub const HANDLERS_IN_FLIGHT_MAX: usize = 1024;

/// Reads deliveries and handles each in its own task, at most
/// [`HANDLERS_IN_FLIGHT_MAX`] at once; acknowledges each to the broker when handled.
pub async fn dispatch(
    devices: Arc<Devices>,
    mut inbox: mpsc::Receiver<venue_bus::Delivery>,
    handlers: tokio_util::task::TaskTracker,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(HANDLERS_IN_FLIGHT_MAX));
    while let Some(delivery) = inbox.recv().await {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let devices = devices.clone();
        handlers.spawn(async move {
            match &delivery.topic {
                venue_bus::Topic::Scan { device } => {
                    devices.handle::<Gate>(device, &delivery.payload).await
                }
                venue_bus::Topic::Sale { device } => {
                    devices.handle::<Pos>(device, &delivery.payload).await
                }
                venue_bus::Topic::Status { device } => {
                    devices.device_status(device, &delivery.payload)
                }
            }
            devices.bus.ack(&delivery).await;
            drop(permit);
        });
    }
}
