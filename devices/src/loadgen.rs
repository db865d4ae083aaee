//! A load generator: many devices at a fixed total rate, measuring each request's round
//! trip (publish to answer) in a histogram.
//!
//! Two modes share everything but the far end:
//! - `gate`: turnstiles scanning codes through the edge box (scan -> verdict);
//! - `echo`: the same clients against a bare MQTT echo responder through the same broker,
//!   the baseline the gate round trip is compared with.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rumqttc::{Event, Incoming, QoS};

use crate::formats::{self, Format, ScanInput};

/// Highest latency the histogram records (longer ones are clamped to it).
const LATENCY_US_MAX: u64 = 60_000_000;
/// How long to wait for the last answers after the run.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Gate,
    Echo,
}

#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub mqtt: String,
    pub zone: String,
    pub mode: Mode,
    /// Device ids to simulate (gate ids for `Gate`).
    pub devices: Vec<String>,
    /// Codes to scan, cycled.
    pub codes: Vec<String>,
    pub rate_per_s: u32,
    pub duration: Duration,
    /// Seconds before measuring starts (connections settle, caches warm).
    pub warmup: Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub mode: String,
    pub devices: usize,
    pub rate_per_s: u32,
    pub seconds: f64,
    pub sent: u64,
    pub answered: u64,
    pub lost: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

struct Shared {
    sent_at: Mutex<HashMap<String, (Instant, bool)>>,
    histogram: Mutex<Histogram<u64>>,
    answered: Mutex<u64>,
}

/// Runs the load and reports. In `Echo` mode it also runs the echo responder.
pub async fn run(spec: LoadSpec) -> LoadReport {
    let shared = Arc::new(Shared {
        sent_at: Mutex::new(HashMap::new()),
        histogram: Mutex::new(
            Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds"),
        ),
        answered: Mutex::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let echo = match spec.mode {
        Mode::Echo => Some(start_echo(&spec.mqtt, &spec.zone, stop.clone()).await),
        Mode::Gate => None,
    };
    // Client ids unique to this run: a broker disconnects an older session with the same id.
    let run_id: u32 = rand::random::<u32>() % 1_000_000;
    let mut clients = Vec::new();
    for (i, device) in spec.devices.iter().enumerate() {
        let (client, mut eventloop) = crate::mqtt::connect(
            &spec.mqtt,
            &format!("load-{run_id}-{i}"),
            None,
            Some((&spec.zone, device)),
        );
        let answer_topic = match spec.mode {
            Mode::Gate => format!("venue/{}/gate/{device}/verdict", spec.zone),
            Mode::Echo => format!("bench/{}/echo/{device}/resp", spec.zone),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = shared.clone();
        let sub_client = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = sub_client.try_subscribe(answer_topic.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let now = Instant::now();
                        let Some(id) = answer_id(&p.payload) else {
                            continue;
                        };
                        let sent = shared.sent_at.lock().ok().and_then(|mut m| m.remove(&id));
                        if let Some((at, measured)) = sent
                            && measured
                        {
                            let us = now
                                .duration_since(at)
                                .as_micros()
                                .clamp(1, LATENCY_US_MAX as u128)
                                as u64;
                            if let Ok(mut h) = shared.histogram.lock() {
                                let _ = h.record(us);
                            }
                            if let Ok(mut a) = shared.answered.lock() {
                                *a += 1;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) if stop.load(Ordering::Relaxed) => return,
                    Err(rumqttc::ConnectionError::RequestsDone) => return,
                    Err(e) => {
                        eprintln!("load client: connection error: {e}; reconnecting");
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                }
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
        clients.push((device.clone(), client));
    }

    let interval = Duration::from_secs_f64(1.0 / spec.rate_per_s.max(1) as f64);
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let mut next = start;
    let mut n: u64 = 0;
    let mut sent_measured: u64 = 0;
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    while Instant::now() < end {
        let (device, client) = &clients[(n as usize) % clients.len()];
        let event_id = format!("{device}-{}-{n}", std::process::id());
        let measured = Instant::now() >= measure_from;
        let payload = match spec.mode {
            Mode::Gate => {
                let now = chrono::Utc::now().with_timezone(&offset);
                let code = &spec.codes[(n as usize) % spec.codes.len().max(1)];
                formats::encode_scan(
                    Format::StdJson,
                    &ScanInput {
                        event_id: event_id.clone(),
                        code: code.clone(),
                        direction_in: n.is_multiple_of(2),
                        at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
                        unix_ms: now.timestamp_millis(),
                        count: 1,
                        id_number: None,
                        offline: false,
                    },
                )
            }
            Mode::Echo => serde_json::json!({ "event_id": event_id })
                .to_string()
                .into_bytes(),
        };
        let topic = match spec.mode {
            Mode::Gate => format!("venue/{}/gate/{device}/scan", spec.zone),
            Mode::Echo => format!("bench/{}/echo/{device}/req", spec.zone),
        };
        if let Ok(mut m) = shared.sent_at.lock() {
            m.insert(event_id, (Instant::now(), measured));
        }
        let _ = client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await;
        if measured {
            sent_measured += 1;
        }
        n += 1;
        next += interval;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        }
    }
    tokio::time::sleep(DRAIN).await;
    stop.store(true, Ordering::Relaxed);
    for (_, client) in &clients {
        let _ = client.try_disconnect();
    }
    if let Some(echo) = echo {
        let _ = echo.try_disconnect();
    }
    let h = shared.histogram.lock().expect("histogram lock").clone();
    let answered = *shared.answered.lock().expect("counter lock");
    LoadReport {
        mode: format!("{:?}", spec.mode).to_lowercase(),
        devices: clients.len(),
        rate_per_s: spec.rate_per_s,
        seconds: spec.duration.as_secs_f64(),
        sent: sent_measured,
        answered,
        lost: sent_measured.saturating_sub(answered),
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
    }
}

fn answer_id(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    v["event_id"].as_str().map(str::to_owned)
}

/// A bare echo responder: answers `bench/{zone}/echo/{device}/req` on `.../resp` with the
/// same payload, as fast as the client library allows, until `stop` is set.
pub async fn start_echo(mqtt: &str, zone: &str, stop: Arc<AtomicBool>) -> rumqttc::AsyncClient {
    let id = format!("echo-{}", rand::random::<u32>() % 1_000_000);
    let (client, mut eventloop) = crate::mqtt::connect(mqtt, &id, None, None);
    let filter = format!("bench/{zone}/echo/+/req");
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let responder = client.clone();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    let _ = responder.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Incoming::SubAck(_))) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    let topic = p.topic.replace("/req", "/resp");
                    let client = responder.clone();
                    tokio::spawn(async move {
                        let _ = client
                            .publish(topic, QoS::AtLeastOnce, false, p.payload.to_vec())
                            .await;
                    });
                }
                Ok(_) => {}
                Err(_) if stop.load(Ordering::Relaxed) => return,
                Err(rumqttc::ConnectionError::RequestsDone) => return,
                Err(e) => {
                    eprintln!("echo responder: connection error: {e}; reconnecting");
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
    client
}
