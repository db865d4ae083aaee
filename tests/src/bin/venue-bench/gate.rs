//! Gate round trip: turnstiles through the runtime against a bare echo, on both brokers.

use super::*;

/// A config fragment with `n` extra std-json gates in the park, `b-0001`...
pub(crate) fn bench_gates(n: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (1..=n).map(|i| format!("b-{i:04}")).collect();
    let toml = ids
        .iter()
        .map(|id| {
            format!("\n[[gates]]\nid = \"{id}\"\narea = \"park\"\nplugin = \"std-json-gate\"\n")
        })
        .collect();
    (toml, ids)
}

/// Buys `n` park-day tickets for today, 100 to an order; returns their codes.
pub(crate) async fn park_tickets(edge: &Edge, n: u32) -> anyhow::Result<Vec<String>> {
    let mut codes = Vec::new();
    let mut k = 0;
    while (codes.len() as u32) < n {
        k += 1;
        let qty = (n - codes.len() as u32).min(100);
        let r = edge
            .api
            .post_json(
                "/api/v1/orders",
                Some(edge.token("ticketing")),
                &order(
                    &format!("bench-{k}"),
                    "web",
                    &Edge::today(),
                    "park-day",
                    qty,
                    true,
                ),
            )
            .await?;
        anyhow::ensure!(r.status == 201, "order refused: {}", r.text());
        for t in r.json()["tickets"].as_array().into_iter().flatten() {
            codes.push(t["code"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(codes)
}

/// The brokers the gate round trip runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BrokerKind {
    /// The runtime's own, in process.
    Embedded,
    /// A mosquitto the benchmark starts with Nagle off.
    Mosquitto,
}

impl BrokerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BrokerKind::Embedded => "embedded",
            BrokerKind::Mosquitto => "mosquitto",
        }
    }
}

pub(crate) async fn gate(
    seconds: u64,
    rate: u32,
    turnstiles: usize,
    only: Option<BrokerKind>,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let brokers = [BrokerKind::Embedded, BrokerKind::Mosquitto];
    for kind in brokers.into_iter().filter(|b| only.is_none_or(|o| o == *b)) {
        let broker_name = kind.name();
        let mut mosquitto = None;
        let broker = if kind == BrokerKind::Embedded {
            Broker::Embedded
        } else {
            let (child, addr) = start_mosquitto()?;
            mosquitto = Some(child);
            Broker::External(addr)
        };
        let (extra, ids) = bench_gates(turnstiles);
        let edge = Edge::start(EdgeOptions {
            broker,
            extra_toml: extra,
            clock_check: true,
            // The echo baseline publishes on bench topics no device owns.
            device_logins: false,
            ..Default::default()
        })
        .await;
        let codes = park_tickets(&edge, 2000).await?;
        let spec = |mode| LoadSpec {
            mqtt: edge.mqtt_addr.clone(),
            zone: edge.zone.clone(),
            mode,
            devices: ids.clone(),
            codes: codes.clone(),
            rate_per_s: rate,
            duration: Duration::from_secs(seconds),
            warmup: Duration::from_secs(3),
        };
        let before = crate::sales::store_counters(&edge).await;
        let cpu = host::CpuTimes::now();
        let gate = loadgen::run(spec(Mode::Gate)).await;
        let gate_stolen = host::stolen_since(cpu);
        let after = crate::sales::store_counters(&edge).await;
        let inside = decision_quantiles(&edge.api.get("/metrics", None).await?.text());
        eprintln!("runtime's own scan decision latency ({broker_name}): {inside}");
        eprintln!("store ({broker_name}): {}", after.since(before));
        let cpu = host::CpuTimes::now();
        let echo = loadgen::run(spec(Mode::Echo)).await;
        let echo_stolen = host::stolen_since(cpu);
        eprintln!("gate  ({broker_name}): {}", serde_json::to_string(&gate)?);
        eprintln!("echo  ({broker_name}): {}", serde_json::to_string(&echo)?);
        eprintln!(
            "host  ({broker_name}): {} of the machine's CPU time stolen during the gate's run, {} during the echo's",
            host::percent(gate_stolen),
            host::percent(echo_stolen)
        );
        for (measure, g, e) in [
            ("p50", gate.p50_us, echo.p50_us),
            ("p99", gate.p99_us, echo.p99_us),
        ] {
            rows.push(Row {
                bench: format!(
                    "gate round trip, {broker_name}, {turnstiles} turnstiles, {rate}/s, {seconds} s"
                ),
                measure: format!("{measure} (lost {} of {})", gate.lost, gate.sent),
                value: g as f64 / 1000.0,
                unit: "ms".into(),
                baseline: "bare MQTT echo".into(),
                baseline_value: e as f64 / 1000.0,
                ratio: g as f64 / e.max(1) as f64,
                // One rate is a look, not the target (that is `gate-curve`).
                target: String::new(),
            });
        }
        check_loss(&gate, &echo);
        drop(edge);
        if let Some(mut child) = mosquitto {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(rows)
}

/// p50 and p99 of the runtime's `venue_edge_scan_seconds` histogram (bucket upper bounds).
pub(crate) fn decision_quantiles(metrics: &str) -> String {
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with("venue_edge_scan_seconds_bucket"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((le.parse().unwrap_or(f64::INFINITY), count))
        })
        .collect();
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    let q = |p: f64| {
        buckets
            .iter()
            .find(|b| b.1 >= total * p)
            .map(|b| b.0 * 1000.0)
            .unwrap_or(f64::NAN)
    };
    format!(
        "p50 <= {:.2} ms, p99 <= {:.2} ms over {total} scans",
        q(0.5),
        q(0.99)
    )
}

pub(crate) fn check_loss(gate: &LoadReport, echo: &LoadReport) {
    if gate.lost > 0 || echo.lost > 0 {
        eprintln!(
            "warning: unanswered requests: gate {} of {}, echo {} of {}",
            gate.lost, gate.sent, echo.lost, echo.sent
        );
    }
}

/// Starts a mosquitto of our own on a free loopback port, with Nagle off.
pub(crate) fn start_mosquitto() -> anyhow::Result<(Child, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = tempfile::tempdir()?.keep();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nset_tcp_nodelay true\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 100000\n"
        ),
    )?;
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return Ok((child, addr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("mosquitto did not start on {addr}")
}
