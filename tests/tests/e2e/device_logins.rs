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
