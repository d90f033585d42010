//! Flow control: a publisher faster than its subscriber loses nothing it was told was accepted; a stuck
//! subscriber does not stop a healthy one, and what it cannot take is counted and, where MQTT lets us, said.
//!
//! Publishers are rumqttc (a third-party client); subscribers are rumqttc, raw TCP clients and raw WebSocket
//! clients. Slowness is a load shape (a subscriber pausing after every batch), never a synchronisation: every wait
//! in these tests is for a condition, bounded by [`STEP`] or by the whole test's deadline.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use roost_broker::Config;
use roost_codec::{Ack, Packet, ProtocolVersion, QoS, ReasonCode};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Messages each test publishes: many times the queue's high-water mark below.
const MESSAGES: u32 = 3_000;

/// A small queue, so that a subscriber falls behind within the first few hundred messages.
fn config() -> Config {
    Config {
        max_queued_messages: 50,
        slow_subscriber_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

/// A rumqttc 3.1.1 publisher sending `MESSAGES` QoS 1 messages to `topic` as fast as its in-flight window allows
/// (payload: the sequence number). Returns how many PUBACKs it got.
fn spawn_publisher(broker: &TestBroker, id: &str, topic: &'static str) -> JoinHandle<u32> {
    let mut options = rumqttc::MqttOptions::new(id, broker.mqtt.ip().to_string(), broker.mqtt.port());
    options.set_keep_alive(Duration::from_secs(30)).set_inflight(200);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 256);
    tokio::spawn(async move {
        let sender = tokio::spawn(async move {
            for i in 0..MESSAGES {
                client
                    .publish(topic, rumqttc::QoS::AtLeastOnce, false, i.to_string())
                    .await
                    .expect("queue a publish");
            }
            client
        });
        let mut acked = 0;
        while acked < MESSAGES {
            match tokio::time::timeout(STEP, events.poll()).await {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => acked += 1,
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("publisher connection failed after {acked} PUBACKs: {error}"),
                Err(_) => panic!("publisher got no PUBACK for {STEP:?} after {acked}"),
            }
        }
        drop(sender.await);
        acked
    })
}

/// Checks `payloads` are exactly 0..MESSAGES in order: nothing lost, nothing duplicated, nothing reordered.
fn assert_all_in_order(who: &str, payloads: &[u32]) {
    let missing = MESSAGES as usize - payloads.len().min(MESSAGES as usize);
    let first_wrong = payloads.iter().enumerate().find(|&(i, &p)| p != i as u32);
    assert!(
        payloads.len() == MESSAGES as usize && first_wrong.is_none(),
        "{who}: {} received, {missing} missing, first out of place: {first_wrong:?}",
        payloads.len()
    );
}

/// A raw TCP subscriber that acknowledges every QoS 1 message and pauses 2 ms after every 100: much slower
/// than the publisher. Returns the payloads in arrival order.
async fn slow_tcp_subscriber(broker: &TestBroker, id: &str, filter: &str) -> JoinHandle<Vec<u32>> {
    let mut client = RawClient::clean(broker, ProtocolVersion::V5, id).await;
    assert_eq!(client.subscribe(filter, QoS::AtLeastOnce).await, [ReasonCode::GrantedQoS1]);
    tokio::spawn(async move {
        let mut payloads = Vec::new();
        while payloads.len() < MESSAGES as usize {
            let publish = client.recv_publish().await;
            payloads.push(std::str::from_utf8(&publish.payload).unwrap().parse().unwrap());
            if let Some(id) = publish.qos_pid.packet_id() {
                client.send(Packet::PubAck(Ack::new(id))).await;
            }
            if payloads.len() % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        payloads
    })
}

#[tokio::test]
async fn a_qos1_publisher_faster_than_its_tcp_subscriber_loses_nothing() {
    let broker = TestBroker::start_with(config()).await;
    let subscriber = slow_tcp_subscriber(&broker, "slow", "fc/t").await;
    let publisher = spawn_publisher(&broker, "fast", "fc/t");
    let deadline = Duration::from_secs(60);
    let acked = tokio::time::timeout(deadline, publisher).await.expect("publisher finished").unwrap();
    assert_eq!(acked, MESSAGES, "every message acknowledged");
    let payloads = tokio::time::timeout(deadline, subscriber).await.expect("subscriber finished").unwrap();
    assert_all_in_order("slow TCP subscriber", &payloads);
    broker.stop().await;
}

/// Reads MQTT packets from WebSocket binary frames (frame boundaries carry no meaning, [MQTT-6.0.0-2]).
struct WsReader {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl WsReader {
    async fn next(&mut self) -> Packet {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, self.version, u32::MAX).expect("valid packet") {
                return packet;
            }
            match within(self.ws.next()).await.expect("open").expect("read") {
                Message::Binary(bytes) => self.buf.extend_from_slice(&bytes),
                other => panic!("[MQTT-6.0.0-1] expected a binary frame, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_qos1_publisher_faster_than_its_websocket_subscriber_loses_nothing() {
    let broker = TestBroker::start_with(config()).await;
    let mut request = format!("ws://{}/mqtt", broker.http).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
    let (mut ws, _) = within(tokio_tungstenite::connect_async(request)).await.expect("WebSocket handshake");
    let version = ProtocolVersion::V311;
    let encode = |packet: Packet| {
        let mut buf = BytesMut::new();
        packet.encode(version, &mut buf, u32::MAX).unwrap();
        Message::Binary(buf.freeze())
    };
    within(ws.send(encode(Packet::Connect(Box::new(connect_packet(version, "ws-slow"))))))
        .await
        .unwrap();
    let subscribe = roost_codec::Subscribe {
        packet_id: pid(1),
        properties: Default::default(),
        filters: vec![(
            Ok(roost_codec::TopicFilter::new("fc/ws").unwrap()),
            roost_codec::SubscriptionOptions::qos(QoS::AtLeastOnce),
        )],
    };
    within(ws.send(encode(Packet::Subscribe(subscribe)))).await.unwrap();
    let mut ws = WsReader {
        ws,
        buf: BytesMut::new(),
        version,
    };
    assert!(matches!(ws.next().await, Packet::ConnAck(_)));
    assert!(matches!(ws.next().await, Packet::SubAck(_)));
    let publisher = spawn_publisher(&broker, "fast-ws", "fc/ws");
    let receiving = async {
        let mut payloads = Vec::new();
        while payloads.len() < MESSAGES as usize {
            let Packet::Publish(publish) = ws.next().await else {
                continue;
            };
            payloads.push(std::str::from_utf8(&publish.payload).unwrap().parse::<u32>().unwrap());
            let id = publish.qos_pid.packet_id().expect("QoS 1");
            within(ws.ws.send(encode(Packet::PubAck(Ack::new(id))))).await.unwrap();
            if payloads.len() % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        payloads
    };
    let payloads = tokio::time::timeout(Duration::from_secs(60), receiving)
        .await
        .expect("subscriber finished");
    assert_all_in_order("slow WebSocket subscriber", &payloads);
    assert_eq!(publisher.await.unwrap(), MESSAGES);
    broker.stop().await;
}

#[tokio::test]
async fn a_stuck_mqtt5_subscriber_is_disconnected_with_0x97_and_a_healthy_one_gets_everything() {
    let broker = TestBroker::start_with(Config {
        slow_subscriber_timeout: Duration::from_millis(500),
        ..config()
    })
    .await;
    // The stuck one subscribes and then never reads again: its in-flight window fills, then its queue.
    let mut stuck = RawClient::clean(&broker, ProtocolVersion::V5, "stuck").await;
    assert_eq!(stuck.subscribe("fc/#", QoS::AtLeastOnce).await, [ReasonCode::GrantedQoS1]);
    let healthy = slow_tcp_subscriber(&broker, "healthy", "fc/#").await;
    let publisher = spawn_publisher(&broker, "pub", "fc/s");
    let deadline = Duration::from_secs(60);
    assert_eq!(
        tokio::time::timeout(deadline, publisher).await.expect("publisher finished").unwrap(),
        MESSAGES
    );
    let payloads = tokio::time::timeout(deadline, healthy).await.expect("healthy finished").unwrap();
    assert_all_in_order("healthy subscriber beside a stuck one", &payloads);
    // The stuck client finds, after the messages it never acknowledged, DISCONNECT Quota exceeded.
    let reason = within(async {
        loop {
            match stuck.recv().await {
                Packet::Publish(_) => {}
                Packet::Disconnect(d) => return d.reason_code,
                other => panic!("expected PUBLISH or DISCONNECT, got {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(reason, ReasonCode::QuotaExceeded);
    broker.stop().await;
}

/// The `$SYS` value of `topic`, read by subscribing until it satisfies `ok`.
async fn sys_value(client: &mut RawClient, topic: &str, ok: impl Fn(u64) -> bool) -> u64 {
    assert_eq!(client.subscribe(topic, QoS::AtMostOnce).await, [ReasonCode::GRANTED_QOS0]);
    within(async {
        loop {
            let publish = client.recv_publish().await;
            let value = std::str::from_utf8(&publish.payload).unwrap().parse().unwrap();
            if publish.topic.as_str() == topic && ok(value) {
                return value;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_stuck_mqtt311_subscriber_stays_its_drops_are_counted_and_an_mqtt5_publisher_hears_0x97() {
    let broker = TestBroker::start_with(Config {
        slow_subscriber_timeout: Duration::from_millis(300),
        sys_interval: Duration::from_secs(1),
        ..config()
    })
    .await;
    // MQTT 3.1.1 cannot be told: it stays connected, and what does not fit its queue is dropped and counted.
    let mut stuck = RawClient::clean(&broker, ProtocolVersion::V311, "stuck311").await;
    assert_eq!(stuck.subscribe("only/stuck", QoS::AtLeastOnce).await, [ReasonCode::GrantedQoS1]);
    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V5, "pub5").await;
    // In flight (32), then queued up to the mark (50): accepted. Then the publisher waits; after the timeout the
    // subscriber is stuck and the next message, which its full queue refuses, is answered 0x97.
    let mut reasons = Vec::new();
    for i in 0..200 {
        let mut p = publish("only/stuck", QoS::AtLeastOnce, b"x");
        p.qos_pid = roost_codec::QoSPid::new(QoS::AtLeastOnce, pid(i + 1));
        reasons.push(tokio::time::timeout(Duration::from_secs(30), publisher.publish(p)).await.expect("PUBACK"));
    }
    let accepted = reasons.iter().filter(|r| **r == ReasonCode::Success).count();
    assert!((82..200).contains(&accepted), "{accepted} accepted: {reasons:?}");
    assert!(
        reasons[accepted..].iter().all(|r| *r == ReasonCode::QuotaExceeded),
        "every later one is refused: {reasons:?}"
    );
    let mut watcher = RawClient::clean(&broker, ProtocolVersion::V5, "watcher").await;
    let refused = (200 - accepted) as u64;
    let counted = sys_value(&mut watcher, "$SYS/broker/messages/dropped/queue-full", |v| v >= refused).await;
    assert_eq!(counted, refused);
    // Still connected: it answers PINGREQ after reading what it was sent.
    stuck.send(Packet::PingReq).await;
    within(async {
        loop {
            if matches!(stuck.recv().await, Packet::PingResp) {
                break;
            }
        }
    })
    .await;
    broker.stop().await;
}
