//! Rules about time, checked against the clock: keep alive, will delay, session expiry. Each waits about a second
//! of real time (the shortest interval MQTT can express), by waiting for the event itself with a deadline.

mod common;

use std::time::{Duration, Instant};

use common::*;
use roost_codec::{
    Bytes,
    ProtocolVersion::{V5, V311},
    QoS, ReasonCode, TopicName, Will,
};

/// How much earlier than the rule's time an event may be seen: the test's clock starts a little after the
/// broker's.
const SLACK: Duration = Duration::from_millis(100);

#[tokio::test]
async fn silent_clients_are_closed_after_one_and_a_half_keep_alives() {
    // 3.1.1 [MQTT-3.1.2-24], 5.0 [MQTT-3.1.2-22]: not before 1.5 × Keep Alive, and soon after.
    let broker = TestBroker::start().await;
    let silent = |version, id: &'static str| {
        let broker = &broker;
        async move {
            let mut connect = connect_packet(version, id);
            connect.keep_alive = 1;
            let (mut client, _) = RawClient::connect(broker, connect).await;
            let start = Instant::now();
            let reason = client.expect_close().await;
            (reason, start.elapsed())
        }
    };
    let ((reason5, after5), (reason3, after3)) = tokio::join!(silent(V5, "k5"), silent(V311, "k3"));
    assert_eq!((reason5, reason3), (Some(ReasonCode::KeepAliveTimeout), None));
    for after in [after5, after3] {
        assert!(after + SLACK >= Duration::from_millis(1500), "closed after {after:?}");
        assert!(after < Duration::from_secs(4), "closed only after {after:?}");
    }
    broker.stop().await;
}

/// A persistent MQTT 5 CONNECT with a will to `wills/{id}` delayed by `delay` seconds, and a session expiry of
/// `expiry` seconds.
fn delayed_will(id: &str, delay: u32, expiry: u32) -> roost_codec::Connect {
    let mut connect = connect_packet(V5, id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(expiry);
    let mut will = Will {
        topic: TopicName::new(format!("wills/{id}")).unwrap(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    will.properties.will_delay_interval = Some(delay);
    connect.will = Some(will);
    connect
}

#[tokio::test]
async fn a_delayed_will_is_published_when_its_delay_or_the_session_ends() {
    // 5.0 [MQTT-3.1.2-8]: after the Will Delay Interval (1 s, session 10 s), or when the session ends first
    // (delay 10 s, session 1 s); not before.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let (by_delay, _) = RawClient::connect(&broker, delayed_will("delay", 1, 10)).await;
    let (by_expiry, _) = RawClient::connect(&broker, delayed_will("expiry", 10, 1)).await;
    let start = Instant::now();
    drop((by_delay, by_expiry));
    let mut topics = Vec::new();
    for _ in 0..2 {
        let will = watcher.recv_publish().await;
        let after = start.elapsed();
        assert!(
            after + SLACK >= Duration::from_secs(1),
            "{} after {after:?}",
            will.topic
        );
        assert!(after < Duration::from_secs(5), "{} only after {after:?}", will.topic);
        topics.push(will.topic.to_string());
    }
    topics.sort();
    assert_eq!(topics, ["wills/delay", "wills/expiry"]);
    broker.stop().await;
}

#[tokio::test]
async fn a_session_ends_when_its_expiry_interval_has_passed() {
    // 5.0 [MQTT-4.1.0-2]: the session (here its subscription) lives on for its Session Expiry Interval after the
    // connection closes, and is discarded then. Seen from outside: a QoS 1 PUBLISH to its topic is acknowledged
    // 0x00 while the session exists and 0x10 No matching subscribers once it has gone.
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(V5, "expiring");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(1);
    let (mut client, _) = RawClient::connect(&broker, connect).await;
    client.subscribe("t", QoS::AtLeastOnce).await;
    drop(client);
    let start = Instant::now();
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(
        publisher.publish(publish("t", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::Success
    );
    let ended = within(async {
        loop {
            if publisher.publish(publish("t", QoS::AtLeastOnce, b"x")).await == ReasonCode::NoMatchingSubscribers {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(ended + SLACK >= Duration::from_secs(1), "ended after {ended:?}");
    assert!(ended < Duration::from_secs(5), "ended only after {ended:?}");
    broker.stop().await;
}

#[tokio::test]
async fn an_inbound_qos2_exchange_finishes_after_its_message_expired_mqtt_4_3_3_13() {
    // [MQTT-4.3.3-13]: the receiver continues the QoS 2 acknowledgement sequence even if it has applied message
    // expiry. The message is retained with a 1 s expiry, so a probe sees when the broker has expired it.
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut message = publish("x/t", QoS::ExactlyOnce, b"short-lived");
    message.retain = true;
    message.properties.message_expiry_interval = Some(1);
    let id = message.qos_pid.packet_id().unwrap();
    publisher.send(roost_codec::Packet::Publish(message)).await;
    assert!(matches!(publisher.recv().await, roost_codec::Packet::PubRec(ack) if ack.packet_id == id));
    let mut probe = RawClient::clean(&broker, V5, "probe").await;
    within(async {
        loop {
            // Subscribing again sends the retained message again while it lives (Retain Handling 0).
            probe.subscribe("x/t", QoS::AtMostOnce).await;
            probe.send(roost_codec::Packet::PingReq).await;
            match probe.recv().await {
                roost_codec::Packet::PingResp => return,
                roost_codec::Packet::Publish(_) => {
                    assert!(matches!(probe.recv().await, roost_codec::Packet::PingResp));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    // Expired: the exchange still completes, PUBCOMP 0x00 (not 0x92 Packet Identifier not found).
    publisher
        .send(roost_codec::Packet::PubRel(roost_codec::Ack::new(id)))
        .await;
    match publisher.recv().await {
        roost_codec::Packet::PubComp(ack) => assert_eq!((ack.packet_id, ack.reason_code), (id, ReasonCode::Success)),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
    broker.stop().await;
}
