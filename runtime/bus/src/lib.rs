//! # venue-bus: the device bus
//!
//! Layer 5 of docs/architecture.md; it depends on no venue crate. Its map: [`topics`]
//! (the topic scheme, parsed once), [`broker`] (the embedded rmqtt broker), [`tls_front`]
//! (MQTT over TLS in front of it), [`attached`] (the runtime inside the embedded broker),
//! and this file (the MQTT client of an external broker, over TCP or TLS).
//!
//! The device bus: the topic scheme of protocol.md, the embedded broker, and the
//! runtime's two ways of reaching a broker.
//!
//! - An external broker (`mqtt.url`): the runtime is an MQTT client. Incoming QoS 1
//!   messages are acknowledged to the broker only after they have been handled
//!   (journaled, answered): a crash in between makes the broker deliver them again, and
//!   the journal's idempotency by `event_id` turns that into the same answer, never a
//!   second entry.
//! - The embedded broker: the runtime is attached inside the process ([`attached`]); the
//!   broker dies with the runtime, so there is no broker-side redelivery to keep, and
//!   devices' own resends (same `event_id`) do that work in both modes.

pub mod attached;
pub mod broker;
pub mod credentials;
pub mod tls_front;
pub mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, NetworkOptions, Publish, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use topics::Topic;

/// Messages received but not yet taken by the dispatcher. When full, the client stops
/// reading from the broker (which then holds back deliveries): backpressure, not loss.
pub const INBOX_MESSAGES_MAX: usize = 1024;

/// Requests (publishes, acks) queued towards the broker. Must stay above twice the
/// handlers in flight (each publishes an answer and an ack) plus the whitelist and alert
/// publishers, so that handlers never wait on this queue while the reader waits on them.
pub const OUTBOX_REQUESTS_MAX: usize = 8192;

/// MQTT packets larger than this are refused by the client.
pub const PACKET_BYTES_MAX: usize = 1024 * 1024;

const KEEP_ALIVE: Duration = Duration::from_secs(15);
const RECONNECT_DELAY_MIN: Duration = Duration::from_millis(100);
const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("mqtt url {0:?} is not of the form mqtt://host:port or mqtts://host:port")]
    BadUrl(String),
    #[error("the MQTT client has stopped")]
    Stopped,
    #[error("the embedded broker cannot route a message: {0}")]
    Route(String),
}

/// One message from a device.
pub struct Delivery {
    pub topic: Topic,
    pub payload: Bytes,
    /// What to acknowledge to an external broker once handled; none when attached.
    ack: Option<Publish>,
}

/// The runtime's connection to the broker. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    link: Link,
    zone: Arc<str>,
    connected: Arc<AtomicBool>,
}

#[derive(Clone)]
enum Link {
    Client(AsyncClient),
    Attached(attached::Attachment),
}

impl Bus {
    /// Attaches to the embedded broker in this process. Always connected.
    pub async fn attach(
        broker: &broker::EmbeddedBroker,
        zone: &str,
    ) -> (Bus, mpsc::Receiver<Delivery>) {
        let (attachment, rx) = attached::Attachment::attach(
            broker.context(),
            zone,
            INBOX_MESSAGES_MAX,
            broker.logins(),
        )
        .await;
        let bus = Bus {
            link: Link::Attached(attachment),
            zone: zone.into(),
            connected: Arc::new(AtomicBool::new(true)),
        };
        (bus, rx)
    }

    /// Connects to `host:port` and starts reading. Deliveries arrive on the returned
    /// receiver; the client stops when `shutdown` is cancelled.
    /// With `tls`, the connection is TLS with that client configuration (which names the
    /// CAs it trusts).
    pub fn connect(
        host: &str,
        port: u16,
        client_id: &str,
        login: Option<(String, String)>,
        tls: Option<Arc<rustls::ClientConfig>>,
        zone: &str,
        shutdown: CancellationToken,
    ) -> (Bus, mpsc::Receiver<Delivery>) {
        let mut opts = MqttOptions::new(client_id, host, port);
        if let Some((user, password)) = login {
            opts.set_credentials(user, password);
        }
        if let Some(config) = tls {
            opts.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(config),
            ));
        }
        opts.set_clean_session(false)
            .set_keep_alive(KEEP_ALIVE)
            .set_manual_acks(true)
            .set_inflight(u16::MAX)
            .set_max_packet_size(PACKET_BYTES_MAX, PACKET_BYTES_MAX);
        let (client, mut eventloop) = AsyncClient::new(opts, OUTBOX_REQUESTS_MAX);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        let (tx, rx) = mpsc::channel(INBOX_MESSAGES_MAX);
        let bus = Bus {
            link: Link::Client(client.clone()),
            zone: zone.into(),
            connected: Arc::new(AtomicBool::new(false)),
        };
        let subscriptions = topics::subscriptions(zone);
        let connected = bus.connected.clone();
        let zone: Arc<str> = zone.into();
        tokio::spawn(async move {
            tokio::select! {
                _ = read_loop(&mut eventloop, &client, &zone, &subscriptions, &tx, &connected) => {}
                _ = shutdown.cancelled() => {
                    let _ = client.try_disconnect();
                    // Let the DISCONNECT reach the broker.
                    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
                }
            }
        });
        (bus, rx)
    }

    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// Waits until the client is connected, at most `timeout`; false if it is not.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Publishes with QoS 1. Returns once queued; the client retries until the broker
    /// acknowledges, across reconnects.
    pub async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), BusError> {
        match &self.link {
            Link::Client(client) => client
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
                .map_err(|_| BusError::Stopped),
            Link::Attached(attachment) => attachment.publish(topic, payload, retain).await,
        }
    }

    /// Acknowledges a delivery to the broker: it was handled and must not come again.
    pub async fn ack(&self, delivery: &Delivery) {
        if let (Link::Client(client), Some(publish)) = (&self.link, &delivery.ack)
            && let Err(e) = client.ack(publish).await
        {
            tracing::warn!(error = %e, "mqtt: cannot acknowledge a delivery; the broker will send it again");
        }
    }
}

async fn read_loop(
    eventloop: &mut EventLoop,
    client: &AsyncClient,
    zone: &str,
    subscriptions: &[String],
    inbox: &mpsc::Sender<Delivery>,
    connected: &AtomicBool,
) {
    let mut delay = RECONNECT_DELAY_MIN;
    // "Connected" means subscribed: a device message published between the CONNACK and
    // the SUBACKs would find no subscriber on a fresh broker and be dropped.
    let mut awaiting_subacks = 0usize;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                delay = RECONNECT_DELAY_MIN;
                awaiting_subacks = subscriptions.len();
                connected.store(awaiting_subacks == 0, Ordering::Relaxed);
                tracing::info!(session_present = ack.session_present, "mqtt: connected");
                for filter in subscriptions {
                    // try_: the request queue is drained by this very loop.
                    if let Err(e) = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce) {
                        tracing::error!(error = %e, filter, "mqtt: cannot subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Incoming::SubAck(_))) => {
                awaiting_subacks = awaiting_subacks.saturating_sub(1);
                if awaiting_subacks == 0 {
                    connected.store(true, Ordering::Relaxed);
                    tracing::info!(filters = subscriptions.len(), "mqtt: subscribed");
                }
            }
            Ok(Event::Incoming(Incoming::Publish(publish))) => {
                let Some(topic) = Topic::parse(zone, &publish.topic) else {
                    tracing::warn!(topic = %publish.topic, "mqtt: a message on a topic nobody handles; acknowledged and ignored");
                    let _ = client.try_ack(&publish);
                    continue;
                };
                let delivery = Delivery {
                    topic,
                    payload: publish.payload.clone(),
                    ack: Some(publish),
                };
                if inbox.send(delivery).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => return,
            Err(e) => {
                connected.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "mqtt: connection lost");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RECONNECT_DELAY_MAX);
            }
        }
    }
}

/// Splits `mqtt://host:port` (port defaults to 1883).
/// Where an external broker is: `mqtt://host:port` (or `tcp://`; port 1883 by default) or
/// `mqtts://host:port` (TLS; port 8883 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

pub fn parse_url(url: &str) -> Result<BrokerUrl, BusError> {
    let bad = || BusError::BadUrl(url.to_owned());
    let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (rest, true)
    } else {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(bad)?;
        (rest, false)
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            (host.to_owned(), port.parse().map_err(|_| bad())?)
        }
        None if !rest.is_empty() => (rest.to_owned(), if tls { 8883 } else { 1883 }),
        _ => return Err(bad()),
    };
    Ok(BrokerUrl { host, port, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_and_tls() {
        let url = |host: &str, port, tls| BrokerUrl {
            host: host.into(),
            port,
            tls,
        };
        let table = [
            ("mqtt://127.0.0.1:1883", url("127.0.0.1", 1883, false)),
            ("mqtt://broker", url("broker", 1883, false)),
            ("tcp://broker:1884/", url("broker", 1884, false)),
            ("mqtts://broker", url("broker", 8883, true)),
            ("mqtts://10.0.0.2:18883", url("10.0.0.2", 18883, true)),
        ];
        for (text, want) in table {
            assert_eq!(parse_url(text).unwrap(), want, "{text}");
        }
        for bad in [
            "http://x:1",
            "mqtt://x:notaport",
            "mqtts://",
            "mqtt://:1883",
            "ssl://x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
