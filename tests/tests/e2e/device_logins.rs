//! Devices log in to the embedded broker with their own credentials and reach only their
//! own topics; whatever else they try is refused and announced.

use std::time::Duration;

use rumqttc::{ConnectReturnCode, Event, EventLoop, Incoming, QoS, SubscribeReasonCode};
use venue_devices::formats::Format;
use venue_tests::{Edge, EdgeOptions};

/// Connects as `user`/`password` and says how the broker answered.
async fn login(
    edge: &Edge,
    user: Option<(&str, &str)>,
) -> Result<(rumqttc::AsyncClient, EventLoop), String> {
    let (host, port) = venue_devices::mqtt::split_addr(&edge.mqtt_addr);
    let mut opts = rumqttc::MqttOptions::new(format!("probe-{}", rand_id()), host, port);
    if let Some((u, p)) = user {
        opts.set_credentials(u, p);
    }
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(a))) => return Ok(a.code),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(|_| "no answer".to_owned())?;
    match answer {
        Ok(ConnectReturnCode::Success) => Ok((client, eventloop)),
        Ok(code) => Err(format!("{code:?}")),
        Err(e) => Err(e),
    }
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_devices_with_their_credentials_get_in() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let out = edge.cli(&["device", "add", "--id", "g-north-1"], None);
    assert!(out.status.success());
    let issued: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let password = issued["g-north-1"]["password"].as_str().unwrap().to_owned();
    assert_eq!(issued["g-north-1"]["username"], "g-north-1");

    // (who, answer)
    let refused = login(&edge, None).await.err();
    assert!(refused.is_some(), "an anonymous client is refused");
    let wrong = login(&edge, Some(("g-north-1", "not-the-password")))
        .await
        .err();
    assert!(wrong.is_some(), "a wrong password is refused");
    let other = login(&edge, Some(("g-north-2", &password))).await.err();
    assert!(other.is_some(), "one device's password is not another's");
    let unknown = login(&edge, Some(("g-unheard-of", &password))).await.err();
    assert!(unknown.is_some(), "an unknown device is refused");
    assert!(login(&edge, Some(("g-north-1", &password))).await.is_ok());

    // A revoked device is refused at its next login.
    assert!(
        edge.cli(&["device", "revoke", "--id", "g-north-1"], None)
            .status
            .success()
    );
    assert!(login(&edge, Some(("g-north-1", &password))).await.is_err());
    let listed = String::from_utf8_lossy(&edge.cli(&["device", "list"], None).stdout).into_owned();
    assert!(
        listed.contains("g-north-1") && listed.contains("revoked"),
        "{listed}"
    );
    assert!(!listed.contains(&password), "a password is never listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_on_another_devices_topic_is_not_processed_and_is_announced() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let alerts = edge.alerts().await;
    // A real gate works as before.
    let north2 = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = north2
        .send_raw(
            "own-1",
            br#"{"event_id":"own-1","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(v.decision, "deny", "its own scan is judged");

    // g-north-1 logs in with its own credentials, then writes on g-north-2's scan topic
    // and asks for g-north-2's whitelist.
    let password = venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap();
    let (client, mut eventloop) = login(&edge, Some(("g-north-1", &password))).await.unwrap();
    let topic = format!("venue/{}/gate/g-north-2/scan", edge.zone);
    client
        .publish(
            &topic,
            QoS::AtLeastOnce,
            false,
            br#"{"event_id":"spoof-1","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}"#.to_vec(),
        )
        .await
        .unwrap();
    client
        .subscribe(
            format!("venue/{}/gate/g-north-2/whitelist", edge.zone),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let suback = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Incoming::SubAck(a))) = eventloop.poll().await {
                return a.return_codes;
            }
        }
    })
    .await
    .expect("a SubAck");
    assert_eq!(
        suback,
        vec![SubscribeReasonCode::Failure],
        "another gate's whitelist is refused"
    );

    let refused = alerts
        .wait_for(Duration::from_secs(10), |a| {
            a["kind"] == "topic_refused"
                && a["device"] == "g-north-1"
                && a["other_device"] == "g-north-2"
        })
        .await;
    assert!(
        refused.is_some(),
        "the alert names both devices: {:?}",
        alerts.all()
    );
    // Nothing of the spoofed scan reached the journal.
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let journaled: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM scans WHERE event_id = 'spoof-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(journaled, 0);
}

/// A mosquitto of the test's own with the files `venue-edge device export --mosquitto`
/// wrote; killed when dropped.
struct Mosquitto(std::process::Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_mosquitto_lets_in_the_same_devices_and_refuses_the_same_things() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // The box starts first and keeps trying the broker it cannot reach yet.
    let edge = Edge::start(EdgeOptions {
        broker: venue_tests::Broker::External(addr.clone()),
        mqtt_login: true,
        ..EdgeOptions::default()
    })
    .await;
    let folder = edge.dir.path().join("mosquitto");
    let out = edge.cli(
        &[
            "device",
            "export",
            "--mosquitto",
            folder.to_str().unwrap(),
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            // The tests run as root; mosquitto would drop to its own user and fail to read
            // the owner-only password file.
            "--mosquitto-user",
            &whoami(),
            "--runtime-password-file",
            edge.mqtt_password_file().to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(folder.join("passwd")).unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("venue-edge:$7$101$")),
        "{passwd}"
    );
    assert!(
        passwd.lines().any(|l| l.starts_with("g-north-1:$7$101$")),
        "{passwd}"
    );
    let _mosquitto = Mosquitto(
        std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(folder.join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto is installed"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The box logs in as venue-edge and answers a gate that logs in as itself.
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let mut verdict = None;
    for i in 0..50 {
        let id = format!("mq-{i}");
        let payload =
            format!(r#"{{"event_id":"{id}","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}}"#);
        if let Ok(v) = tokio::time::timeout(
            Duration::from_secs(1),
            gate.send_raw(&id, payload.into_bytes()),
        )
        .await
        {
            verdict = v.ok();
            break;
        }
    }
    let verdict = verdict.expect("a verdict through the exported mosquitto");
    assert_eq!(verdict.decision, "deny");

    // The same refusals as the embedded broker's.
    assert!(login(&edge, None).await.is_err(), "anonymous");
    assert!(
        login(&edge, Some(("g-north-1", "wrong"))).await.is_err(),
        "wrong password"
    );
    let password = venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap();
    let (client, mut eventloop) = login(&edge, Some(("g-north-1", &password))).await.unwrap();
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
        .publish(
            format!("venue/{}/gate/g-north-2/scan", edge.zone),
            QoS::AtLeastOnce,
            false,
            br#"{"event_id":"spoof-2","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}"#.to_vec(),
        )
        .await
        .unwrap();
    // A scan of g-north-2's own after it: once it is journaled, so would the spoof be.
    let v = gate
        .send_raw(
            "mq-after",
            br#"{"event_id":"mq-after","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}"#
                .to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(v.decision, "deny");
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let spoofed: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM scans WHERE event_id = 'spoof-2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        spoofed, 0,
        "mosquitto's ACL dropped the publish on another gate's topic"
    );
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
