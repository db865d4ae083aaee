//! Issue 26, part 6: MQTT over TLS. The embedded broker takes devices over TLS on
//! `[mqtt] tls_listen` with the box's certificate, their logins and topic rules unchanged;
//! the runtime reaches an external broker at `mqtts://` trusting only `[mqtt] ca_file`.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Event, Incoming, QoS};
use venue_devices::formats::Format;
use venue_tests::{Edge, EdgeOptions};

use crate::certs::{Certs, certificates};

fn tls_config(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
    Arc::new(venue_domain::https::client_config(Some(ca), "test CA").unwrap())
}

/// A gate's TLS client to `addr` trusting `ca`, logged in as `device`: a verdict for one
/// scan, or why there is none.
async fn scan_over_tls(
    edge: &Edge,
    addr: &str,
    ca: &std::path::Path,
    device: &str,
    id: &str,
) -> Result<serde_json::Value, String> {
    let (host, port) = venue_devices::mqtt::split_addr(addr);
    let mut opts = rumqttc::MqttOptions::new(format!("tls-{id}"), host, port);
    let password = venue_devices::mqtt::password_of(&edge.zone, device).unwrap();
    opts.set_credentials(device, password);
    opts.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(tls_config(ca)),
    ));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let verdicts = format!("venue/{}/gate/{device}/verdict", edge.zone);
    let scans = format!("venue/{}/gate/{device}/scan", edge.zone);
    let payload = format!(
        r#"{{"event_id":"{id}","code":"TK-NONE","at":"{}"}}"#,
        Edge::now_at()
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    client.subscribe(&verdicts, QoS::AtLeastOnce).await.unwrap();
                }
                Ok(Event::Incoming(Incoming::SubAck(_))) => {
                    client
                        .publish(&scans, QoS::AtLeastOnce, false, payload.clone())
                        .await
                        .unwrap();
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    return serde_json::from_slice(&p.payload).map_err(|e| e.to_string());
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(|_| "no verdict within 10 s".to_owned())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_reach_the_embedded_broker_over_tls_and_only_with_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let Certs { ca, cert, key } = certificates(dir.path(), "edge-mqtt");
    let stranger = certificates(dir.path(), "stranger");
    let edge = Edge::start(EdgeOptions {
        mqtt_toml: format!(
            "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            cert.display(),
            key.display()
        ),
        ..EdgeOptions::default()
    })
    .await;
    let tls_addr = edge
        .mqtt_tls_addr
        .clone()
        .expect("the box says where MQTT over TLS is");

    let v = scan_over_tls(&edge, &tls_addr, &ca, "g-north-1", "tls-1")
        .await
        .unwrap();
    assert_eq!(
        (v["event_id"].as_str(), v["decision"].as_str()),
        (Some("tls-1"), Some("deny")),
        "{v}"
    );

    // A client that trusts another CA does not get in.
    let refused = scan_over_tls(&edge, &tls_addr, &stranger.ca, "g-north-1", "tls-2").await;
    assert!(refused.is_err(), "{refused:?}");
    // Plain MQTT on the TLS port gets nowhere either.
    let (host, port) = venue_devices::mqtt::split_addr(&tls_addr);
    let mut opts = rumqttc::MqttOptions::new("plain-on-tls", host, port);
    opts.set_credentials(
        "g-north-1",
        venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap(),
    );
    let (_client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let plain = tokio::time::timeout(Duration::from_secs(12), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => return "connected",
                Ok(_) => {}
                Err(_) => return "refused",
            }
        }
    })
    .await
    .unwrap_or("refused");
    assert_eq!(plain, "refused");
    // Over TLS the topic rules hold as on the plain port: g-north-1 cannot scan for g-north-2.
    let (host, port) = venue_devices::mqtt::split_addr(&tls_addr);
    let mut opts = rumqttc::MqttOptions::new("tls-foreign", host, port);
    opts.set_credentials(
        "g-north-1",
        venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap(),
    );
    opts.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(tls_config(&ca)),
    ));
    let alerts = edge.alerts().await;
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let foreign = format!("venue/{}/gate/g-north-2/scan", edge.zone);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
        .publish(
            &foreign,
            QoS::AtLeastOnce,
            false,
            r#"{"event_id":"tls-x","code":"TK-NONE"}"#,
        )
        .await
        .unwrap();
    let alert = alerts
        .wait_for(Duration::from_secs(10), |a| a["kind"] == "topic_refused")
        .await
        .expect("a topic_refused alert");
    assert!(alert.to_string().contains("g-north-2"), "{alert}");

    // The plain port still serves the other devices.
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate
        .send_raw(
            "plain-1",
            format!(
                r#"{{"event_id":"plain-1","code":"TK-NONE","at":"{}"}}"#,
                Edge::now_at()
            )
            .into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(v.decision, "deny");
}

/// A mosquitto of the test's own, killed when dropped.
struct Mosquitto(std::process::Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_box_reaches_an_external_broker_over_tls_trusting_only_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let Certs { ca, cert, key } = certificates(dir.path(), "broker");
    let (tls_port, plain_port) = (free_port(), free_port());
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\nset_tcp_nodelay true\n\
             listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
             listener {plain_port} 127.0.0.1\n",
            ca.display(),
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let _mosquitto = Mosquitto(
        std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto is installed"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The runtime over TLS; the turnstile on the broker's plain listener.
    let edge = Edge::start(EdgeOptions {
        broker: venue_tests::Broker::External(format!("mqtts://127.0.0.1:{tls_port}")),
        mqtt_toml: format!("ca_file = \"{}\"", ca.display()),
        ..EdgeOptions::default()
    })
    .await;
    let h = edge.api.get("/healthz", None).await.unwrap().json();
    assert_eq!(h["broker"], "connected", "{h}");
    let gate = venue_devices::turnstile::Turnstile::connect(
        &format!("127.0.0.1:{plain_port}"),
        &edge.zone,
        "g-north-2",
        Format::StdJson,
    )
    .await;
    let mut verdict = None;
    for i in 0..50 {
        let id = format!("mqtts-{i}");
        let payload = format!(
            r#"{{"event_id":"{id}","code":"TK-NONE","at":"{}"}}"#,
            Edge::now_at()
        );
        if let Ok(Ok(v)) = tokio::time::timeout(
            Duration::from_secs(1),
            gate.send_raw(&id, payload.into_bytes()),
        )
        .await
        {
            verdict = Some(v);
            break;
        }
    }
    assert_eq!(verdict.expect("a verdict through mqtts").decision, "deny");
}
