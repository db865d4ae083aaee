//! A POS load generator: many terminals, each on its own MQTT connection, each keeping a
//! fixed number of std-json sales in flight, counting the acks that come back.
//!
//! Why not [`crate::pos::PosTerminal`]: that terminal is built on rumqttc's client, whose
//! event loop, request channel and per-request futures cost about 30 µs of CPU a sale. On
//! a box whose cores the load generator shares with the runtime it measures, that time is
//! taken from the runtime. Here each terminal is one task that writes and reads MQTT 3.1.1
//! packets itself (rumqttc's packet codec), on a runtime of its own thread: what a real
//! terminal does, a few microseconds a sale.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, Packet, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::{self, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a terminal waits for an answer (CONNACK, SUBACK, an ack) before it gives up.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest packet a terminal accepts from the broker.
const PACKET_BYTES_MAX: usize = 64 * 1024;
/// Sales one terminal may have in flight at most (packet ids are 16 bits; a real
/// terminal waits for its ack long before this).
pub const WINDOW_MAX: usize = 1024;
/// MQTT keep-alive the terminals announce; a run is shorter, so no PINGREQ is needed.
const KEEP_ALIVE_S: u16 = 600;

#[derive(Debug, thiserror::Error)]
pub enum PosLoadError {
    #[error("terminal {terminal}: {what}")]
    Terminal { terminal: String, what: String },
    #[error("window must be 1 to {WINDOW_MAX}, got {0}")]
    Window(usize),
}

#[derive(Debug, Clone)]
pub struct PosLoadSpec {
    pub mqtt: String,
    pub zone: String,
    /// (device id, merchant) of each terminal.
    pub terminals: Vec<(String, String)>,
    /// Sales each terminal keeps in flight (sent, not yet acknowledged).
    pub window: usize,
    /// Time before counting starts.
    pub warmup: Duration,
    /// Time counted after the warm-up; then no new sale is sent and the last are awaited.
    pub duration: Duration,
    /// The terminals' UTC offset, for the sales' `at`.
    pub utc_offset_s: i32,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PosLoadReport {
    /// Sales sent, over the whole run.
    pub sent: u64,
    /// Acks with status `accepted`, over the whole run.
    pub accepted: u64,
    /// Acks with any other status, over the whole run.
    pub rejected: u64,
    /// Accepted acks that arrived within the counted window.
    pub accepted_counted: u64,
    /// Length of the counted window, in seconds.
    pub counted_s: f64,
    /// The first rejection's text, if any.
    pub first_rejection: Option<String>,
}

impl PosLoadReport {
    /// Accepted sales per second in the counted window.
    pub fn rate(&self) -> f64 {
        self.accepted_counted as f64 / self.counted_s.max(f64::MIN_POSITIVE)
    }

    fn add(&mut self, other: PosLoadReport) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.accepted_counted += other.accepted_counted;
        if self.first_rejection.is_none() {
            self.first_rejection = other.first_rejection;
        }
    }
}

/// Runs the load on a thread of its own (a current-thread runtime) and reports when every
/// terminal has its last ack, or fails with the first terminal that lost its connection or
/// waited longer than [`ANSWER_TIMEOUT`].
pub fn run_on_own_thread(
    spec: PosLoadSpec,
) -> std::thread::JoinHandle<Result<PosLoadReport, PosLoadError>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PosLoadError::Terminal {
                terminal: "-".into(),
                what: format!("cannot start a runtime: {e}"),
            })?;
        rt.block_on(run(spec))
    })
}

/// Runs the load on the current runtime.
pub async fn run(spec: PosLoadSpec) -> Result<PosLoadReport, PosLoadError> {
    if spec.window == 0 || spec.window > WINDOW_MAX {
        return Err(PosLoadError::Window(spec.window));
    }
    let run_id = rand::random::<u32>() % 100_000;
    let mut connected = Vec::new();
    for (id, merchant) in &spec.terminals {
        let t = Terminal::connect(&spec, id, merchant, run_id)
            .await
            .map_err(|what| PosLoadError::Terminal {
                terminal: id.clone(),
                what,
            })?;
        connected.push(t);
    }
    let start = Instant::now();
    let count_from = start + spec.warmup;
    let end = count_from + spec.duration;
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|t| tokio::spawn(t.drive(spec.window, count_from, end, spec.utc_offset_s)))
        .collect();
    let mut report = PosLoadReport {
        counted_s: spec.duration.as_secs_f64(),
        ..PosLoadReport::default()
    };
    for task in tasks {
        let one = task.await.map_err(|e| PosLoadError::Terminal {
            terminal: "-".into(),
            what: format!("task failed: {e}"),
        })??;
        report.add(one);
    }
    Ok(report)
}

struct Terminal {
    id: String,
    merchant: String,
    instance: u32,
    stream: TcpStream,
    sale_topic: String,
    inbound: BytesMut,
}

impl Terminal {
    async fn connect(
        spec: &PosLoadSpec,
        id: &str,
        merchant: &str,
        run_id: u32,
    ) -> Result<Terminal, String> {
        let (host, port) = crate::mqtt::split_addr(&spec.mqtt);
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", spec.mqtt))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut t = Terminal {
            id: id.to_owned(),
            merchant: merchant.to_owned(),
            instance: run_id,
            stream,
            sale_topic: format!("venue/{}/pos/{id}/sale", spec.zone),
            inbound: BytesMut::with_capacity(16 * 1024),
        };
        let mut connect = Connect::new(format!("load-pos-{}-{id}-{run_id}", spec.zone));
        connect.keep_alive = KEEP_ALIVE_S;
        if let Some(password) = crate::mqtt::password_of(&spec.zone, id) {
            connect.set_login(id, password);
        }
        t.send(&Packet::Connect(connect)).await?;
        match t.next_packet().await? {
            Packet::ConnAck(a) if a.code == rumqttc::ConnectReturnCode::Success => {}
            other => return Err(format!("connection refused: {other:?}")),
        }
        let ack_topic = format!("venue/{}/pos/{id}/ack", spec.zone);
        let mut subscribe = Subscribe::new(ack_topic.as_str(), QoS::AtLeastOnce);
        subscribe.pkid = 1;
        t.send(&Packet::Subscribe(subscribe)).await?;
        loop {
            match t.next_packet().await? {
                Packet::SubAck(a) => {
                    if a.return_codes
                        .iter()
                        .any(|c| matches!(c, rumqttc::mqttbytes::v4::SubscribeReasonCode::Failure))
                    {
                        return Err(format!(
                            "the broker refused the subscription to {ack_topic}"
                        ));
                    }
                    break;
                }
                // A retained message or a late ack of an earlier run: not ours to count.
                Packet::Publish(p) => t.puback_now(&p).await?,
                _ => {}
            }
        }
        Ok(t)
    }

    async fn send(&mut self, packet: &Packet) -> Result<(), String> {
        let mut out = BytesMut::new();
        packet
            .write(&mut out, PACKET_BYTES_MAX)
            .map_err(|e| e.to_string())?;
        self.flush(&mut out).await
    }

    async fn puback_now(&mut self, p: &Publish) -> Result<(), String> {
        if p.qos == QoS::AtLeastOnce {
            self.send(&Packet::PubAck(PubAck::new(p.pkid))).await?;
        }
        Ok(())
    }

    /// The next whole packet from the broker, waiting [`ANSWER_TIMEOUT`] at most.
    async fn next_packet(&mut self) -> Result<Packet, String> {
        loop {
            match Packet::read(&mut self.inbound, PACKET_BYTES_MAX) {
                Ok(p) => return Ok(p),
                Err(mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => return Err(format!("bad packet from the broker: {e}")),
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        match tokio::time::timeout(ANSWER_TIMEOUT, self.stream.read_buf(&mut self.inbound)).await {
            Ok(Ok(0)) => Err("the broker closed the connection".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("read failed: {e}")),
            Err(_) => Err(format!("no answer within {ANSWER_TIMEOUT:?}")),
        }
    }

    /// Keeps `window` sales in flight until `end`, then waits for the last acks.
    async fn drive(
        mut self,
        window: usize,
        count_from: Instant,
        end: Instant,
        utc_offset_s: i32,
    ) -> Result<PosLoadReport, PosLoadError> {
        let id = self.id.clone();
        self.drive_inner(window, count_from, end, utc_offset_s)
            .await
            .map_err(|what| PosLoadError::Terminal { terminal: id, what })
    }

    async fn drive_inner(
        &mut self,
        window: usize,
        count_from: Instant,
        end: Instant,
        utc_offset_s: i32,
    ) -> Result<PosLoadReport, String> {
        let offset = chrono::FixedOffset::east_opt(utc_offset_s)
            .ok_or_else(|| format!("bad UTC offset {utc_offset_s}"))?;
        let mut report = PosLoadReport::default();
        let mut in_flight: Vec<u64> = Vec::with_capacity(window);
        let mut seq: u64 = 0;
        let mut pkid: u16 = 1;
        let mut out = BytesMut::with_capacity(8 * 1024);
        for _ in 0..window {
            seq += 1;
            self.write_sale(&mut out, seq, &mut pkid, offset)?;
            in_flight.push(seq);
        }
        report.sent += window as u64;
        while !in_flight.is_empty() {
            self.flush(&mut out).await?;
            self.fill().await?;
            loop {
                let packet = match Packet::read(&mut self.inbound, PACKET_BYTES_MAX) {
                    Ok(p) => p,
                    Err(mqttbytes::Error::InsufficientBytes(_)) => break,
                    Err(e) => return Err(format!("bad packet from the broker: {e}")),
                };
                let Packet::Publish(p) = packet else {
                    continue; // PUBACKs of our sales
                };
                if p.qos == QoS::AtLeastOnce {
                    Packet::PubAck(PubAck::new(p.pkid))
                        .write(&mut out, PACKET_BYTES_MAX)
                        .map_err(|e| e.to_string())?;
                }
                let Some((n, accepted)) = self.read_ack(&p.payload) else {
                    continue;
                };
                let Some(at) = in_flight.iter().position(|s| *s == n) else {
                    continue; // a redelivered ack
                };
                in_flight.swap_remove(at);
                let now = Instant::now();
                if accepted {
                    report.accepted += 1;
                    if now >= count_from && now < end {
                        report.accepted_counted += 1;
                    }
                } else {
                    report.rejected += 1;
                    report
                        .first_rejection
                        .get_or_insert_with(|| String::from_utf8_lossy(&p.payload).into_owned());
                }
                if now < end {
                    seq += 1;
                    self.write_sale(&mut out, seq, &mut pkid, offset)?;
                    in_flight.push(seq);
                    report.sent += 1;
                }
            }
        }
        self.flush(&mut out).await?;
        let _ = self.stream.write_all(&[0xe0, 0x00]).await; // DISCONNECT
        Ok(report)
    }

    async fn flush(&mut self, out: &mut BytesMut) -> Result<(), String> {
        if !out.is_empty() {
            match tokio::time::timeout(ANSWER_TIMEOUT, self.stream.write_all(out)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("write failed: {e}")),
                Err(_) => return Err(format!("the broker read nothing for {ANSWER_TIMEOUT:?}")),
            }
            out.clear();
        }
        Ok(())
    }

    fn event_id(&self, seq: u64) -> String {
        format!("{}-{:05}-{seq:06}", self.id, self.instance)
    }

    /// A std-json sale (protocol.md, section 1): two lines, the total their sum.
    fn write_sale(
        &self,
        out: &mut BytesMut,
        seq: u64,
        pkid: &mut u16,
        offset: chrono::FixedOffset,
    ) -> Result<(), String> {
        let at = chrono::Utc::now()
            .with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        let (tea, juice) = (1800 + (seq % 50) as i64, 900i64);
        let payment = if seq.is_multiple_of(2) {
            "cash"
        } else {
            "wechat"
        };
        let payload = format!(
            r#"{{"event_id":"{}","merchant":"{}","kind":"sale","refers_to":null,"at":"{at}","payment":"{payment}","lines":[{{"sku":"tea-01","category":"food","qty":1,"unit_price_fen":{tea}}},{{"sku":"juice","category":"drink","qty":2,"unit_price_fen":{juice}}}],"total_fen":{}}}"#,
            self.event_id(seq),
            self.merchant,
            tea + 2 * juice
        );
        let mut publish = Publish::new(self.sale_topic.as_str(), QoS::AtLeastOnce, payload);
        publish.pkid = *pkid;
        *pkid = pkid.checked_add(1).unwrap_or(1);
        Packet::Publish(publish)
            .write(out, PACKET_BYTES_MAX)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// (sequence number, accepted) of an ack for this terminal's run.
    fn read_ack(&self, payload: &[u8]) -> Option<(u64, bool)> {
        #[derive(serde::Deserialize)]
        struct Ack<'a> {
            event_id: &'a str,
            status: &'a str,
        }
        let ack: Ack = serde_json::from_slice(payload).ok()?;
        let (run, n) = ack
            .event_id
            .strip_prefix(self.id.as_str())?
            .strip_prefix('-')?
            .split_once('-')?;
        if run.parse::<u32>().ok()? != self.instance {
            return None;
        }
        Some((n.parse().ok()?, ack.status == "accepted"))
    }
}
