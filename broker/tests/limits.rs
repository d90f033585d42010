//! Configurable limits on what clients may send: the maximum QoS, the depth of topics, and the Payload Format
//! Indicator's promise of UTF-8. Raw clients against a real in-process broker.

mod common;

use common::*;
use roost_broker::Config;
use roost_codec::{
    Bytes, Packet,
    ProtocolVersion::{self, V5, V311},
    QoS, ReasonCode, TopicName, Will,
};

/// A clean CONNECT with a will to `topic` at `qos`.
fn with_will(
    version: ProtocolVersion,
    id: &str,
    topic: &str,
    qos: QoS,
    payload: &'static [u8],
) -> roost_codec::Connect {
    let mut connect = connect_packet(version, id);
    connect.will = Some(Will {
        topic: TopicName::new(topic).unwrap(),
        payload: Bytes::from_static(payload),
        qos,
        retain: false,
        properties: Default::default(),
    });
    connect
}

/// Connects and expects a refusal with `reason` (in the version's own form), then a close.
async fn refused(broker: &TestBroker, connect: roost_codec::Connect, reason: ReasonCode) {
    let (mut client, connack) = RawClient::connect(broker, connect).await;
    assert_eq!(connack.reason_code, reason);
    assert!(!connack.session_present);
    assert_eq!(client.expect_close().await, None);
}

/// A PUBLISH and the acknowledgement's reason code (`None` for QoS 0, after proving it was handled).
async fn publish_reason(client: &mut RawClient, publish: roost_codec::Publish) -> Option<ReasonCode> {
    let qos = publish.qos();
    client.send(Packet::Publish(publish)).await;
    if qos == QoS::AtMostOnce {
        // Answered in order: the PINGRESP comes after the PUBLISH was handled.
        client.send(Packet::PingReq).await;
    }
    match (qos, client.recv().await) {
        (QoS::AtMostOnce, Packet::PingResp) => None,
        (QoS::AtLeastOnce, Packet::PubAck(ack)) | (QoS::ExactlyOnce, Packet::PubRec(ack)) => Some(ack.reason_code),
        (_, other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn maximum_qos_is_announced_granted_and_enforced() {
    let broker = TestBroker::start_with(Config {
        maximum_qos: QoS::AtLeastOnce,
        ..Config::default()
    })
    .await;
    // [MQTT-3.2.2-9]: CONNACK says Maximum QoS 1.
    let (mut client, connack) = RawClient::connect(&broker, connect_packet(V5, "max5")).await;
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    // [MQTT-3.2.2-10]: a SUBSCRIBE asking for QoS 2 is accepted, granted 1; deliveries follow the grant.
    assert_eq!(client.subscribe("t", QoS::ExactlyOnce).await, [ReasonCode::GrantedQoS1]);
    assert_eq!(
        client.publish(publish("t", QoS::AtLeastOnce, b"ok")).await,
        ReasonCode::Success
    );
    assert_eq!(client.recv_publish().await.qos(), QoS::AtLeastOnce);
    // Section 3.2.2.3.4: a PUBLISH above it is a protocol error, DISCONNECT 0x9B.
    client
        .send(Packet::Publish(publish("t", QoS::ExactlyOnce, b"no")))
        .await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::QoSNotSupported));

    // MQTT 3.1.1: SUBACK grants 1 (3.1.1 [MQTT-3.8.4-6]); a QoS 2 PUBLISH closes the connection.
    let mut client = RawClient::clean(&broker, V311, "max3").await;
    assert_eq!(client.subscribe("t", QoS::ExactlyOnce).await, [ReasonCode::GrantedQoS1]);
    client
        .send(Packet::Publish(publish("t", QoS::ExactlyOnce, b"no")))
        .await;
    assert_eq!(client.expect_close().await, None);

    // [MQTT-3.2.2-12]: a Will QoS above it refuses the CONNECT (0x9B; 3.1.1 has no such code: 3), then close.
    refused(
        &broker,
        with_will(V5, "w5", "w", QoS::ExactlyOnce, b"x"),
        ReasonCode::QoSNotSupported,
    )
    .await;
    refused(
        &broker,
        with_will(V311, "w3", "w", QoS::ExactlyOnce, b"x"),
        ReasonCode::ServerUnavailable,
    )
    .await;
    let (_fine, connack) = RawClient::connect(&broker, with_will(V5, "w1", "w", QoS::AtLeastOnce, b"x")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    broker.stop().await;
}

#[tokio::test]
async fn topics_deeper_than_max_topic_levels_are_refused() {
    let broker = TestBroker::start_with(Config {
        max_topic_levels: 3,
        ..Config::default()
    })
    .await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    assert_eq!(
        watcher.subscribe("#", QoS::AtMostOnce).await,
        [ReasonCode::GRANTED_QOS0]
    );
    let mut client = RawClient::clean(&broker, V5, "deep5").await;
    assert_eq!(
        client.subscribe("a/b/c/d", QoS::AtMostOnce).await,
        [ReasonCode::TopicFilterInvalid]
    );
    assert_eq!(
        client.subscribe("a/b/+", QoS::AtMostOnce).await,
        [ReasonCode::GRANTED_QOS0]
    );
    // The `$share/{group}/` prefix does not count: only the filter matched against topics.
    assert_eq!(
        client.subscribe("$share/g/a/b/c", QoS::AtMostOnce).await,
        [ReasonCode::GRANTED_QOS0]
    );
    assert_eq!(
        publish_reason(&mut client, publish("a/b/c/d", QoS::AtLeastOnce, b"x")).await,
        Some(ReasonCode::TopicNameInvalid)
    );
    assert_eq!(
        publish_reason(&mut client, publish("a/b/c/d", QoS::ExactlyOnce, b"x")).await,
        Some(ReasonCode::TopicNameInvalid)
    );
    // MQTT 3.1.1: a plain PUBACK, not routed.
    let mut old = RawClient::clean(&broker, V311, "deep3").await;
    assert_eq!(
        old.publish(publish("a/b/c/d", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::Success
    );
    watcher.assert_nothing_pending().await;
    // Three levels are fine.
    assert_eq!(
        client.publish(publish("a/b/c", QoS::AtLeastOnce, b"y")).await,
        ReasonCode::Success
    );
    assert_eq!(watcher.recv_publish().await.topic.as_str(), "a/b/c");
    // A will to a deeper topic refuses the CONNECT.
    refused(
        &broker,
        with_will(V5, "w", "a/b/c/d", QoS::AtMostOnce, b"x"),
        ReasonCode::TopicNameInvalid,
    )
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn payload_format_indicator_1_with_a_payload_that_is_not_utf8_is_refused_0x99() {
    // Section 3.3.2.3.2: the receiver may check the payload against its Payload Format Indicator and refuse it
    // with PUBACK, PUBREC or DISCONNECT 0x99. Roost refuses it in the acknowledgement and does not route it; a
    // QoS 0 one is dropped.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    watcher.subscribe("t", QoS::AtMostOnce).await;
    let mut client = RawClient::clean(&broker, V5, "p").await;
    let claims_text = |qos, payload: &'static [u8]| {
        let mut message = publish("t", qos, payload);
        message.properties.payload_format_indicator = Some(true);
        message
    };
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_eq!(
            publish_reason(&mut client, claims_text(qos, b"\xFF\xFE")).await,
            Some(ReasonCode::PayloadFormatInvalid)
        );
    }
    assert_eq!(
        publish_reason(&mut client, claims_text(QoS::AtMostOnce, b"\xC3")).await,
        None
    );
    watcher.assert_nothing_pending().await;
    // Text that is UTF-8, and bytes that do not claim to be text, are routed.
    client.publish(claims_text(QoS::AtLeastOnce, "grüße".as_bytes())).await;
    assert_eq!(&watcher.recv_publish().await.payload[..], "grüße".as_bytes());
    client.publish(publish("t", QoS::AtLeastOnce, b"\xFF")).await;
    assert_eq!(&watcher.recv_publish().await.payload[..], b"\xFF");
    // A will that claims text it is not refuses the CONNECT (0x99 is a CONNACK code too).
    let mut connect = with_will(V5, "w", "t", QoS::AtMostOnce, b"\xFF");
    connect.will.as_mut().unwrap().properties.payload_format_indicator = Some(true);
    refused(&broker, connect, ReasonCode::PayloadFormatInvalid).await;
    broker.stop().await;
}

#[tokio::test]
async fn every_topic_alias_up_to_our_maximum_is_accepted_mqtt_3_3_2_12() {
    // [MQTT-3.3.2-12]: aliases 1 to our Topic Alias Maximum (16 by default) all work; 17 is DISCONNECT 0x94.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("a/#", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let max = Config::default().topic_alias_maximum;
    for alias in 1..=max {
        let mut first = publish(&format!("a/{alias}"), QoS::AtMostOnce, b"set");
        first.properties.topic_alias = std::num::NonZeroU16::new(alias);
        publisher.publish(first).await;
    }
    for alias in (1..=max).rev() {
        let mut aliased = publish("a/x", QoS::AtMostOnce, b"use");
        aliased.topic = TopicName::empty();
        aliased.properties.topic_alias = std::num::NonZeroU16::new(alias);
        publisher.publish(aliased).await;
    }
    for alias in 1..=max {
        assert_eq!(sub.recv_publish().await.topic.to_string(), format!("a/{alias}"));
    }
    for alias in (1..=max).rev() {
        let got = sub.recv_publish().await;
        assert_eq!(
            (got.topic.to_string(), &got.payload[..]),
            (format!("a/{alias}"), &b"use"[..])
        );
    }
    let mut over = publish("a/y", QoS::AtMostOnce, b"no");
    over.properties.topic_alias = std::num::NonZeroU16::new(max + 1);
    publisher.send(Packet::Publish(over)).await;
    assert_eq!(publisher.expect_close().await, Some(ReasonCode::TopicAliasInvalid));
    broker.stop().await;
}

/// A QoS `qos` PUBLISH to `topic` carrying `size` bytes of user property (the attack that grew a broker's memory
/// by 789 MB through a stuck subscriber), with packet id `id`.
fn heavy(topic: &str, qos: QoS, id: u16, size: usize) -> roost_codec::Publish {
    let mut publish = publish(topic, qos, b"x");
    publish.qos_pid = match qos {
        QoS::AtMostOnce => roost_codec::QoSPid::AtMostOnce,
        QoS::AtLeastOnce => roost_codec::QoSPid::AtLeastOnce(pid(id)),
        QoS::ExactlyOnce => roost_codec::QoSPid::ExactlyOnce(pid(id)),
    };
    // A user property's value is at most 65,535 bytes: as many as it takes, of at most 50,000 each.
    let mut left = size;
    while left > 0 {
        let chunk = left.min(50_000);
        publish
            .properties
            .user_properties
            .push(("k".into(), "v".repeat(chunk).into()));
        left -= chunk;
    }
    publish
}

#[tokio::test]
async fn max_memory_refuses_publishes_before_anything_is_lost() {
    // Each message costs 200,028 bytes (topic 3, payload 1, four user properties of 1 + 2 + 1 + 2 + 50,000): four
    // fit in 1,000,000, the fifth does not. The per-session bounds are far above, so only max_memory stops them.
    let broker = TestBroker::start_with(Config {
        max_memory: 1_000_000,
        ..Config::default()
    })
    .await;
    let (mut subscriber, _) = RawClient::connect(&broker, persistent(V5, "stuck")).await;
    assert_eq!(
        subscriber.subscribe("t/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );
    drop(subscriber);
    // Offline: its session keeps what it is sent, and holds it in memory.
    let (mut publisher, _) = RawClient::connect(&broker, connect_packet(V5, "heavy")).await;
    for id in 1..=4 {
        let reason = publisher.publish(heavy("t/1", QoS::AtLeastOnce, id, 200_000)).await;
        assert_eq!(reason, ReasonCode::Success, "message {id} fits");
    }
    // Full: refused with 0x97 before it is kept, at QoS 1 and 2 (section 3.4.2.1); nothing was acknowledged.
    let full = publish_reason(&mut publisher, heavy("t/1", QoS::AtLeastOnce, 5, 200_000)).await;
    assert_eq!(full, Some(ReasonCode::QuotaExceeded));
    let full = publish_reason(&mut publisher, heavy("t/1", QoS::ExactlyOnce, 6, 200_000)).await;
    assert_eq!(full, Some(ReasonCode::QuotaExceeded));
    // A small message still fits in what is left.
    assert_eq!(
        publish_reason(&mut publisher, heavy("t/1", QoS::AtLeastOnce, 7, 10)).await,
        Some(ReasonCode::Success)
    );
    // MQTT 3.1.1 cannot be told: the publisher is disconnected without a PUBACK, so it sends the message again.
    let (mut old, _) = RawClient::connect(&broker, connect_packet(V311, "old")).await;
    // (3.1.1 has no properties: the weight is in the payload.)
    let mut big = heavy("t/1", QoS::AtLeastOnce, 8, 0);
    big.payload = Bytes::from(vec![b'p'; 200_000]);
    old.send(Packet::Publish(big)).await;
    assert_eq!(old.expect_close().await, None, "closed, no PUBACK before it");

    // The subscriber comes back and takes its five messages: the room is given back, publishing works again.
    let (mut subscriber, connack) = RawClient::connect(&broker, persistent(V5, "stuck")).await;
    assert!(connack.session_present);
    for _ in 0..5 {
        let message = subscriber.recv_publish().await;
        let id = message.qos_pid.packet_id().expect("QoS 1");
        subscriber.send(Packet::PubAck(roost_codec::Ack::new(id))).await;
    }
    subscriber.assert_nothing_pending().await;
    for id in 9..=12 {
        let reason = publisher.publish(heavy("t/1", QoS::AtLeastOnce, id, 200_000)).await;
        assert_eq!(reason, ReasonCode::Success, "message {id} fits again");
        let message = subscriber.recv_publish().await;
        subscriber
            .send(Packet::PubAck(roost_codec::Ack::new(
                message.qos_pid.packet_id().unwrap(),
            )))
            .await;
    }
    broker.stop().await;
}
