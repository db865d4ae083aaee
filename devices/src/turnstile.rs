//! A simulated turnstile. Online, it publishes a scan and waits for its verdict. It keeps
//! the whitelist the edge box sends it; while it cannot reach the box it admits from that
//! list itself and queues the scans, which it publishes with `"offline": true` when it is
//! back, as protocol.md describes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, QoS};
use tokio::sync::{Notify, oneshot};

use crate::formats::{self, Format, ScanInput, SimVerdict, WlEntry};

/// How long a turnstile waits for a verdict before it counts the box as unreachable.
pub const VERDICT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TurnstileError {
    #[error("no verdict for {0} within {VERDICT_TIMEOUT:?}")]
    Timeout(String),
    #[error("the MQTT client stopped")]
    Stopped,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<SimVerdict>>>>;

pub struct Turnstile {
    pub id: String,
    pub zone: String,
    pub format: Format,
    client: AsyncClient,
    pending: Pending,
    whitelist: Arc<Mutex<HashMap<String, WlEntry>>>,
    whitelist_seq: Arc<AtomicU64>,
    subscribed: Arc<Notify>,
    ready: Arc<AtomicBool>,
    next_seq: AtomicU64,
    /// Distinguishes this run's event ids from an earlier run's (a real turnstile keeps
    /// its sequence number across restarts).
    instance: u32,
    offline: AtomicBool,
    offline_queue: Mutex<Vec<Vec<u8>>>,
    /// Uses of each code while offline, to admit a single-entry code only once.
    offline_uses: Mutex<HashMap<String, u32>>,
}

impl Turnstile {
    /// Connects and subscribes to its verdict and whitelist topics.
    pub async fn connect(addr: &str, zone: &str, id: &str, format: Format) -> Arc<Turnstile> {
        let status = format!("venue/{zone}/device/{id}/status");
        let instance = rand::random::<u32>() % 100_000;
        // Unique per zone and run: a broker disconnects an older session with the same id.
        let client_id = format!("sim-{zone}-{id}-{instance}");
        let (client, mut eventloop) =
            crate::mqtt::connect(addr, &client_id, Some(&status), Some((zone, id)));
        let t = Arc::new(Turnstile {
            id: id.to_owned(),
            zone: zone.to_owned(),
            format,
            client: client.clone(),
            pending: Arc::default(),
            whitelist: Arc::default(),
            whitelist_seq: Arc::default(),
            subscribed: Arc::new(Notify::new()),
            ready: Arc::new(AtomicBool::new(false)),
            next_seq: AtomicU64::new(1),
            instance,
            offline: AtomicBool::new(false),
            offline_queue: Mutex::new(Vec::new()),
            offline_uses: Mutex::new(HashMap::new()),
        });
        let verdict_topic = format!("venue/{zone}/gate/{id}/verdict");
        let whitelist_topic = format!("venue/{zone}/gate/{id}/whitelist");
        let (pending, whitelist, wl_seq, subscribed, ready) = (
            t.pending.clone(),
            t.whitelist.clone(),
            t.whitelist_seq.clone(),
            t.subscribed.clone(),
            t.ready.clone(),
        );
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = client.try_subscribe(verdict_topic.clone(), QoS::AtLeastOnce);
                        let _ = client.try_subscribe(whitelist_topic.clone(), QoS::AtLeastOnce);
                        let _ =
                            client.try_publish(status.clone(), QoS::AtLeastOnce, true, "online");
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        ready.store(true, Ordering::Release);
                        subscribed.notify_waiters();
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        if p.topic == verdict_topic {
                            if let Some(v) = formats::decode_verdict(format, &p.payload) {
                                let waiter =
                                    pending.lock().ok().and_then(|mut m| m.remove(&v.event_id));
                                if let Some(tx) = waiter {
                                    let _ = tx.send(v);
                                }
                            }
                        } else if p.topic == whitelist_topic
                            && let Some(delta) = formats::decode_whitelist(format, &p.payload)
                            && let Ok(mut wl) = whitelist.lock()
                        {
                            wl_seq.fetch_max(delta.seq, Ordering::Relaxed);
                            for e in delta.add {
                                wl.insert(e.code.clone(), e);
                            }
                            for code in delta.remove {
                                wl.remove(&code);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::RequestsDone) => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        t.wait_subscribed().await;
        t
    }

    async fn wait_subscribed(&self) {
        for _ in 0..100 {
            if self.ready.load(Ordering::Acquire) {
                return;
            }
            let _ =
                tokio::time::timeout(Duration::from_millis(100), self.subscribed.notified()).await;
        }
    }

    /// A fresh event id for this device.
    pub fn next_event_id(&self) -> String {
        let n = self.next_seq.fetch_add(1, Ordering::Relaxed);
        match self.format {
            Format::StdJson => format!("{}-{:05}-{n:06}", self.id, self.instance),
            // TP1 devices number their scans; the number is their event id.
            Format::Tp1 => format!("{:05}{n:06}", self.instance),
        }
    }

    /// Builds a scan of `code` stamped now.
    pub fn scan_input(
        &self,
        code: &str,
        direction_in: bool,
        count: u32,
        id_number: Option<&str>,
    ) -> ScanInput {
        let now = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"));
        ScanInput {
            event_id: self.next_event_id(),
            code: code.to_owned(),
            direction_in,
            at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            unix_ms: now.timestamp_millis(),
            count,
            id_number: id_number.map(str::to_owned),
            offline: false,
        }
    }

    /// Presents a code: online, asks the box; offline, decides from the whitelist.
    pub async fn scan(
        &self,
        code: &str,
        direction_in: bool,
        count: u32,
        id_number: Option<&str>,
    ) -> Result<SimVerdict, TurnstileError> {
        let input = self.scan_input(code, direction_in, count, id_number);
        if self.offline.load(Ordering::Relaxed) {
            return Ok(self.admit_offline(input));
        }
        self.send(&input).await
    }

    /// Publishes a scan exactly as given (also for replays and malformed payloads) and
    /// waits for the verdict of `input.event_id`.
    pub async fn send(&self, input: &ScanInput) -> Result<SimVerdict, TurnstileError> {
        self.send_raw(&input.event_id, formats::encode_scan(self.format, input))
            .await
    }

    /// Publishes `payload` and waits for a verdict carrying `event_id`.
    pub async fn send_raw(
        &self,
        event_id: &str,
        payload: Vec<u8>,
    ) -> Result<SimVerdict, TurnstileError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(event_id.to_owned(), tx);
        }
        self.publish_scan(payload).await?;
        match tokio::time::timeout(VERDICT_TIMEOUT, rx).await {
            Ok(Ok(v)) => Ok(v),
            _ => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(event_id);
                }
                Err(TurnstileError::Timeout(event_id.to_owned()))
            }
        }
    }

    /// Publishes a payload on the scan topic without waiting for anything.
    pub async fn publish_scan(&self, payload: Vec<u8>) -> Result<(), TurnstileError> {
        self.client
            .publish(
                format!("venue/{}/gate/{}/scan", self.zone, self.id),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .map_err(|_| TurnstileError::Stopped)
    }

    /// Cuts the turnstile off from the box (as if its link were down).
    pub fn go_offline(&self) {
        self.offline.store(true, Ordering::Relaxed);
    }

    /// Reconnects to the box and reports every scan it admitted offline; returns their
    /// verdicts.
    pub async fn go_online(&self) -> Vec<Result<SimVerdict, TurnstileError>> {
        self.offline.store(false, Ordering::Relaxed);
        let queued = std::mem::take(&mut *self.offline_queue.lock().expect("queue lock"));
        let mut out = Vec::new();
        for (event_id, payload) in queued
            .into_iter()
            .map(|p| (extract_event_id(self.format, &p), p))
        {
            out.push(self.send_raw(&event_id, payload).await);
        }
        out
    }

    fn admit_offline(&self, mut input: ScanInput) -> SimVerdict {
        input.offline = true;
        let entry = self
            .whitelist
            .lock()
            .ok()
            .and_then(|w| w.get(&input.code).cloned());
        let uses = {
            let mut u = self.offline_uses.lock().expect("uses lock");
            let n = u.entry(input.code.clone()).or_default();
            *n += 1;
            *n
        };
        let admit = match &entry {
            Some(e) => !input.direction_in || e.entries.is_none_or(|n| uses <= n),
            None => false,
        };
        if admit && let Ok(mut q) = self.offline_queue.lock() {
            q.push(formats::encode_scan(self.format, &input));
        }
        SimVerdict {
            event_id: input.event_id,
            decision: if admit { "admit" } else { "deny" }.into(),
            reason: if admit { "ok" } else { "unknown_ticket" }.into(),
            ticket_id: entry.map(|e| e.ticket_id),
            admitted: if admit { input.count } else { 0 },
            entries_left: None,
            message: "offline".into(),
        }
    }

    /// The codes this turnstile would admit offline.
    pub fn whitelist(&self) -> HashMap<String, WlEntry> {
        self.whitelist.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// The highest whitelist delta number received.
    pub fn whitelist_seq(&self) -> u64 {
        self.whitelist_seq.load(Ordering::Relaxed)
    }
}

fn extract_event_id(format: Format, payload: &[u8]) -> String {
    match format {
        Format::StdJson => serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["event_id"].as_str().map(str::to_owned))
            .unwrap_or_default(),
        Format::Tp1 => String::from_utf8_lossy(payload)
            .split(';')
            .nth(2)
            .unwrap_or_default()
            .to_owned(),
    }
}
