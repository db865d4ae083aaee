//! Connecting a simulated device: TCP_NODELAY on, as every device of ours does (without
//! it Nagle's algorithm adds ~40 ms to a request/response over MQTT).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
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

/// Devices' MQTT passwords this process knows, by (zone, device id): read from the file
/// `venue-edge device add` prints (the demo's `demo-devices.json`) or given by a test.
fn logins() -> &'static Mutex<HashMap<(String, String), String>> {
    static LOGINS: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    LOGINS.get_or_init(Default::default)
}

/// Remembers a device's password for its next connections.
pub fn remember_login(zone: &str, device: &str, password: &str) {
    if let Ok(mut map) = logins().lock() {
        map.insert((zone.to_owned(), device.to_owned()), password.to_owned());
    }
}

/// Remembers every device's password in `json` (`{"g-1":{"username":"g-1","password":"..."}}`);
/// returns how many.
pub fn remember_logins(zone: &str, json: &serde_json::Value) -> usize {
    let Some(devices) = json.as_object() else {
        return 0;
    };
    let mut n = 0;
    for (id, login) in devices {
        if let Some(password) = login["password"].as_str() {
            remember_login(zone, id, password);
            n += 1;
        }
    }
    n
}

/// Reads a credentials file (see [`remember_logins`]).
pub fn load_logins(zone: &str, path: &Path) -> std::io::Result<usize> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(remember_logins(zone, &json))
}

/// The password of `device` in `zone` (or in any zone: remembered with zone ""), if this
/// process knows it.
pub fn password_of(zone: &str, device: &str) -> Option<String> {
    let map = logins().lock().ok()?;
    map.get(&(zone.to_owned(), device.to_owned()))
        .or_else(|| map.get(&(String::new(), device.to_owned())))
        .cloned()
}

/// A client with a retained `offline` last will on the device's status topic, logged in
/// as `device` of `zone` when its password is known.
pub fn connect(
    addr: &str,
    client_id: &str,
    status_topic: Option<&str>,
    device: Option<(&str, &str)>,
) -> (AsyncClient, EventLoop) {
    let (host, port) = split_addr(addr);
    let mut opts = MqttOptions::new(client_id, host, port);
    if let Some((zone, device)) = device
        && let Some(password) = password_of(zone, device)
    {
        opts.set_credentials(device, password);
    }
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
