//! rumqttc, a third-party Rust MQTT client, against a real in-process broker in 3.1.1 and 5.0.

mod common;

use std::time::Duration;

use common::*;

/// Polls a 3.1.1 event loop until `pick` returns something.
async fn next_v4<T>(events: &mut rumqttc::EventLoop, mut pick: impl FnMut(rumqttc::Packet) -> Option<T>) -> T {
    within(async {
        loop {
            if let rumqttc::Event::Incoming(packet) = events.poll().await.expect("rumqttc connection")
                && let Some(found) = pick(packet)
            {
                return found;
            }
        }
    })
    .await
}

/// Polls a 5.0 event loop until `pick` returns something.
async fn next_v5<T>(
    events: &mut rumqttc::v5::EventLoop,
    mut pick: impl FnMut(rumqttc::v5::mqttbytes::v5::Packet) -> Option<T>,
) -> T {
    within(async {
        loop {
            if let rumqttc::v5::Event::Incoming(packet) = events.poll().await.expect("rumqttc connection")
                && let Some(found) = pick(packet)
            {
                return found;
            }
        }
    })
    .await
}

#[tokio::test]
async fn rumqttc_v5_publishes_qos2_to_a_rumqttc_v311_subscriber_at_its_granted_qos1() {
    use rumqttc::v5::mqttbytes::v5::Packet as P5;
    use rumqttc::{Packet as P4, QoS as Q4};
    let broker = TestBroker::start().await;
    let (host, port) = (broker.mqtt.ip().to_string(), broker.mqtt.port());

    let mut options = rumqttc::MqttOptions::new("rumq-sub", host.clone(), port);
    options.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_events) = rumqttc::AsyncClient::new(options, 10);
    sub.subscribe("rq/#", Q4::AtLeastOnce).await.unwrap();
    let granted = next_v4(&mut sub_events, |p| match p {
        P4::SubAck(ack) => Some(ack.return_codes),
        _ => None,
    })
    .await;
    assert_eq!(granted, [rumqttc::SubscribeReasonCode::Success(Q4::AtLeastOnce)]);

    let options = rumqttc::v5::MqttOptions::new("rumq-pub", host, port);
    let (publisher, mut pub_events) = rumqttc::v5::AsyncClient::new(options, 10);
    publisher
        .publish("rq/a", rumqttc::v5::mqttbytes::QoS::ExactlyOnce, false, "payload")
        .await
        .unwrap();
    next_v5(&mut pub_events, |p| matches!(p, P5::PubComp(_)).then_some(())).await;

    let publish = next_v4(&mut sub_events, |p| match p {
        P4::Publish(publish) => Some(publish),
        _ => None,
    })
    .await;
    assert_eq!(
        (publish.topic.as_str(), &publish.payload[..]),
        ("rq/a", &b"payload"[..])
    );
    assert_eq!(publish.qos, Q4::AtLeastOnce);
    broker.stop().await;
}

#[tokio::test]
async fn rumqttc_v311_persistent_session_gets_what_was_published_while_away() {
    // [MQTT-3.1.2-4], [MQTT-3.2.2-2]
    use rumqttc::{Packet as P4, QoS as Q4};
    let broker = TestBroker::start().await;
    let (host, port) = (broker.mqtt.ip().to_string(), broker.mqtt.port());
    let options = || {
        let mut options = rumqttc::MqttOptions::new("rumq-persist", host.clone(), port);
        options.set_clean_session(false);
        options
    };

    let (client, mut events) = rumqttc::AsyncClient::new(options(), 10);
    client.subscribe("away", Q4::AtLeastOnce).await.unwrap();
    next_v4(&mut events, |p| matches!(p, P4::SubAck(_)).then_some(())).await;
    drop(client);
    drop(events);

    let mut publisher = RawClient::clean(&broker, roost_codec::ProtocolVersion::V311, "pub").await;
    publisher
        .publish(publish("away", roost_codec::QoS::AtLeastOnce, b"while away"))
        .await;

    let (_client, mut events) = rumqttc::AsyncClient::new(options(), 10);
    let session_present = next_v4(&mut events, |p| match p {
        P4::ConnAck(ack) => Some(ack.session_present),
        _ => None,
    })
    .await;
    assert!(session_present);
    let publish = next_v4(&mut events, |p| match p {
        P4::Publish(publish) => Some(publish),
        _ => None,
    })
    .await;
    assert_eq!(&publish.payload[..], b"while away");
    broker.stop().await;
}

#[tokio::test]
async fn rumqttc_subscribing_to_a_share_without_a_filter_is_refused_alone() {
    // [MQTT-4.8.2-2]: `$share/g` lacks the `/` and filter after the share name. rumqttc does not check share
    // syntax, so it sends it beside a good filter: that filter alone is refused ([MQTT-3.8.4-6], [MQTT-3.9.3-1];
    // 5.0 0x8F with a Reason String, 3.1.1 0x80) and the good one is granted and delivers.
    use rumqttc::v5::mqttbytes::v5::{Filter, Packet as P5, SubscribeReasonCode as R5};
    use rumqttc::{Packet as P4, QoS as Q4, SubscribeFilter, SubscribeReasonCode as R4};
    let broker = TestBroker::start().await;
    let (host, port) = (broker.mqtt.ip().to_string(), broker.mqtt.port());

    let options = rumqttc::v5::MqttOptions::new("rumq-share5", host.clone(), port);
    let (client5, mut events5) = rumqttc::v5::AsyncClient::new(options, 10);
    let q1 = rumqttc::v5::mqttbytes::QoS::AtLeastOnce;
    client5
        .subscribe_many(vec![Filter::new("$share/g", q1), Filter::new("rq/ok", q1)])
        .await
        .unwrap();
    let suback = next_v5(&mut events5, |p| match p {
        P5::SubAck(ack) => Some(ack),
        _ => None,
    })
    .await;
    assert_eq!(suback.return_codes, [R5::TopicFilterInvalid, R5::Success(q1)]);
    let why = suback.properties.and_then(|p| p.reason_string);
    assert_eq!(why.as_deref(), Some("invalid topic filter"));

    let options = rumqttc::MqttOptions::new("rumq-share3", host, port);
    let (client3, mut events3) = rumqttc::AsyncClient::new(options, 10);
    client3
        .subscribe_many(vec![
            SubscribeFilter::new("$share/g".into(), Q4::AtLeastOnce),
            SubscribeFilter::new("rq/ok".into(), Q4::AtLeastOnce),
        ])
        .await
        .unwrap();
    let suback = next_v4(&mut events3, |p| match p {
        P4::SubAck(ack) => Some(ack),
        _ => None,
    })
    .await;
    assert_eq!(suback.return_codes, [R4::Failure, R4::Success(Q4::AtLeastOnce)]);

    let mut publisher = RawClient::clean(&broker, roost_codec::ProtocolVersion::V5, "pub").await;
    publisher
        .publish(publish("rq/ok", roost_codec::QoS::AtLeastOnce, b"served"))
        .await;
    let got5 = next_v5(&mut events5, |p| match p {
        P5::Publish(publish) => Some(publish),
        _ => None,
    })
    .await;
    let got3 = next_v4(&mut events3, |p| match p {
        P4::Publish(publish) => Some(publish),
        _ => None,
    })
    .await;
    assert_eq!((&got5.payload[..], &got3.payload[..]), (&b"served"[..], &b"served"[..]));
    broker.stop().await;
}

#[tokio::test]
async fn rumqttc_publishes_to_a_cloud_style_dollar_topic_but_not_to_sys() {
    // Section 4.7.2: `$` topics are kept from first-level wildcards ([MQTT-4.7.2-1]), not from clients; only
    // `$SYS` is the broker's own (PUBACK 0x90 with a Reason String rumqttc parses).
    use rumqttc::v5::mqttbytes::QoS as Q5;
    use rumqttc::v5::mqttbytes::v5::{Packet as P5, PubAckReason};
    let broker = TestBroker::start().await;
    let (host, port) = (broker.mqtt.ip().to_string(), broker.mqtt.port());
    let topic = "$aws/things/x/shadow/update";

    let options = rumqttc::v5::MqttOptions::new("rumq-shadow-sub", host.clone(), port);
    let (sub, mut sub_events) = rumqttc::v5::AsyncClient::new(options, 10);
    sub.subscribe(topic, Q5::AtLeastOnce).await.unwrap();
    next_v5(&mut sub_events, |p| matches!(p, P5::SubAck(_)).then_some(())).await;
    let mut wild = RawClient::clean(&broker, roost_codec::ProtocolVersion::V5, "wild").await;
    wild.subscribe("#", roost_codec::QoS::AtMostOnce).await;

    let options = rumqttc::v5::MqttOptions::new("rumq-shadow-pub", host, port);
    let (publisher, mut pub_events) = rumqttc::v5::AsyncClient::new(options, 10);
    publisher
        .publish(topic, Q5::AtLeastOnce, false, r#"{"state":{}}"#)
        .await
        .unwrap();
    let ack = next_v5(&mut pub_events, |p| match p {
        P5::PubAck(ack) => Some(ack),
        _ => None,
    })
    .await;
    assert_eq!(ack.reason, PubAckReason::Success);
    let got = next_v5(&mut sub_events, |p| match p {
        P5::Publish(publish) => Some(publish),
        _ => None,
    })
    .await;
    assert_eq!(
        (&got.topic[..], &got.payload[..]),
        (topic.as_bytes(), &br#"{"state":{}}"#[..])
    );
    wild.assert_nothing_pending().await;

    publisher.publish("$SYS/x", Q5::AtLeastOnce, false, "x").await.unwrap();
    let ack = next_v5(&mut pub_events, |p| match p {
        P5::PubAck(ack) => Some(ack),
        _ => None,
    })
    .await;
    assert_eq!(ack.reason, PubAckReason::TopicNameInvalid);
    wild.assert_nothing_pending().await;
    broker.stop().await;
}
