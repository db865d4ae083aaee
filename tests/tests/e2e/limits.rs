//! The HTTP door's limits: half-sent requests are cut off, the box serves on meanwhile.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use venue_edge::http::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT};
use venue_tests::{Edge, EdgeOptions};

/// Reads until the box closes the connection (or `within` passes); what it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_off_and_the_box_serves_on() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let token = edge.token("ticketing").to_owned();
    let mut half_sent = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&edge.http_addr).await.unwrap();
        s.write_all(b"GET /api/v1/products HTTP/1.1\r\nHost: box\r\n")
            .await
            .unwrap();
        half_sent.push(s);
    }
    // A body that never comes in full.
    let mut slow_body = TcpStream::connect(&edge.http_addr).await.unwrap();
    slow_body
        .write_all(
            format!(
                "POST /api/v1/orders HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"order_ref\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();

    // Meanwhile the box answers everyone else.
    let r = edge
        .api
        .get("/api/v1/products", Some(&token))
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    // Each half-sent request is closed once its headers are overdue.
    let started = std::time::Instant::now();
    let mut closed = 0;
    for s in &mut half_sent {
        let left =
            (HEADER_READ_TIMEOUT + Duration::from_secs(10)).saturating_sub(started.elapsed());
        if until_closed(s, left).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "every half-sent request was cut off");
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_secs(2));

    // The unfinished body is answered 408 and the connection closed.
    let answer = until_closed(&mut slow_body, BODY_READ_TIMEOUT + Duration::from_secs(10))
        .await
        .expect("the box closes a connection whose body never came");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    // And it serves on.
    let r = edge
        .api
        .get("/api/v1/products", Some(&token))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_packet_past_the_limit_ends_that_connection_and_the_box_answers_others() {
    use rumqttc::{Event, Incoming, QoS};
    use venue_devices::formats::Format;

    let edge = Edge::start(EdgeOptions::default()).await;
    // A device with its own login but a client that would send anything.
    let password = venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap();
    let (host, port) = venue_devices::mqtt::split_addr(&edge.mqtt_addr);
    let mut opts = rumqttc::MqttOptions::new("too-big", host, port);
    opts.set_credentials("g-north-1", password)
        .set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let topic = format!("venue/{}/gate/g-north-1/scan", edge.zone);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut sent = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) if !sent => {
                    sent = true;
                    let big = vec![b'x'; (venue_bus::broker::PACKET_BYTES_MAX as usize) * 2];
                    client
                        .publish(&topic, QoS::AtLeastOnce, false, big)
                        .await
                        .unwrap();
                }
                Ok(Event::Incoming(Incoming::PubAck(_))) => return "acknowledged",
                Ok(_) => {}
                Err(_) => return "disconnected",
            }
        }
    })
    .await
    .expect("the broker answers one way or the other");
    assert_eq!(
        ended, "disconnected",
        "a 2 MiB packet is refused, not taken"
    );

    // Every other device carries on.
    let gate = edge.turnstile("g-north-2", Format::StdJson).await;
    let v = gate
        .send_raw(
            "after-big",
            br#"{"event_id":"after-big","code":"TK-NONE","at":"2026-11-25T09:00:00+08:00"}"#
                .to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(v.decision, "deny");
}

/// Issue 26, part 7: the broker lets the runtime have at most `INFLIGHT_MAX` (1,024)
/// unacknowledged scans at once. A device that puts three times that many in flight
/// without waiting for a single acknowledgement is held to the window, its excess queued,
/// and every scan is answered exactly once; the other gates are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_inflight_window_is_queued_and_every_scan_answered_once() {
    use std::collections::HashSet;

    use rumqttc::{Event, Incoming, QoS};
    use venue_devices::formats::Format;

    const BURST: usize = 3 * 1024;
    let edge = Edge::start(EdgeOptions::default()).await;
    let password = venue_devices::mqtt::password_of(&edge.zone, "g-north-1").unwrap();
    let (host, port) = venue_devices::mqtt::split_addr(&edge.mqtt_addr);
    let mut opts = rumqttc::MqttOptions::new("burst", host, port);
    opts.set_credentials("g-north-1", password)
        .set_inflight(u16::MAX)
        .set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, BURST + 16);
    let verdicts = format!("venue/{}/gate/g-north-1/verdict", edge.zone);
    let scans = format!("venue/{}/gate/g-north-1/scan", edge.zone);
    client.subscribe(&verdicts, QoS::AtLeastOnce).await.unwrap();
    let at = Edge::now_at();
    for i in 0..BURST {
        let payload = format!(r#"{{"event_id":"burst-{i}","code":"TK-NONE-{i}","at":"{at}"}}"#);
        client
            .publish(&scans, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    let other = edge.turnstile("g-north-2", Format::StdJson).await;
    let answered = tokio::spawn(async move {
        let mut seen = HashSet::new();
        let mut repeats = 0usize;
        let ended = tokio::time::timeout(Duration::from_secs(60), async {
            while seen.len() < BURST {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                        let id = v["event_id"].as_str().unwrap_or_default().to_owned();
                        if !seen.insert(id) {
                            repeats += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the burst's connection failed: {e}"),
                }
            }
        })
        .await;
        (ended.is_ok(), seen.len(), repeats)
    });
    // Meanwhile another gate is answered.
    let v = other
        .send_raw(
            "beside-burst",
            format!(r#"{{"event_id":"beside-burst","code":"TK-NONE","at":"{at}"}}"#).into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(v.decision, "deny");
    let (finished, answered, repeats) = answered.await.unwrap();
    assert!(finished, "{answered} of {BURST} scans answered within 60 s");
    assert_eq!((answered, repeats), (BURST, 0), "each scan answered once");
}
