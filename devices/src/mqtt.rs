//! Connecting a simulated device: TCP_NODELAY on, as every device of ours does (without
//! it Nagle's algorithm adds ~40 ms to a request/response over MQTT).

use std::time::Duration;

use rumqttc::{AsyncClient, EventLoop, LastWill, MqttOptions, NetworkOptions, QoS};

/// Requests a simulated device may queue towards its broker.
pub const OUTBOX_MAX: usize = 1024;
/// QoS 1 messages a simulated device may have unacknowledged at once. rumqttc's default
/// (100) throttles a busy echo responder into queueing, which would measure the client's
/// window instead of the broker.
pub const INFLIGHT_MAX: u16 = 1000;

/// Splits `host:port`, with or without `mqtt://`.
pub fn split_addr(addr: &str) -> (String, u16) {
    let addr = addr.strip_prefix("mqtt://").unwrap_or(addr);
    match addr.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(1883)),
        None => (addr.to_owned(), 1883),
    }
}

/// A client with a retained `offline` last will on the device's status topic.
pub fn connect(
    addr: &str,
    client_id: &str,
    status_topic: Option<&str>,
) -> (AsyncClient, EventLoop) {
    let (host, port) = split_addr(addr);
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(15))
        .set_clean_session(true)
        .set_inflight(INFLIGHT_MAX)
        .set_max_packet_size(1024 * 1024, 1024 * 1024);
    if let Some(topic) = status_topic {
        opts.set_last_will(LastWill::new(topic, "offline", QoS::AtLeastOnce, true));
    }
    let (client, mut eventloop) = AsyncClient::new(opts, OUTBOX_MAX);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    (client, eventloop)
}
