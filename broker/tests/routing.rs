//! SUBSCRIBE, UNSUBSCRIBE and PUBLISH routing against a real in-process broker, over raw TCP. Each test names the
//! rule it checks.

mod common;

use common::*;
use roost_codec::{
    Ack, Packet,
    ProtocolVersion::{V5, V311},
    QoS, QoSPid, ReasonCode, RetainHandling, SubscriptionOptions, TopicFilter, Unsubscribe,
};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn suback_grants_each_requested_qos_raw_bytes_v311() {
    // [MQTT-3.8.4-6], [MQTT-3.9.3-1]: one return code per filter, in order.
    let broker = TestBroker::start().await;
    let mut stream = within(tokio::net::TcpStream::connect(broker.mqtt)).await.unwrap();
    stream.write_all(CONNECT_V311).await.unwrap();
    assert_eq!(read_n(&mut stream, 4).await, CONNACK_V311);
    // SUBSCRIBE id 10: "a/+" QoS 0, "b/#" QoS 2.
    let subscribe = [
        0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'+', 0x00, 0x00, 0x03, b'b', b'/', b'#', 0x02,
    ];
    stream.write_all(&subscribe).await.unwrap();
    assert_eq!(read_n(&mut stream, 6).await, [0x90, 0x04, 0x00, 0x0A, 0x00, 0x02]);
    // PUBLISH QoS 1 id 5 to "b/c" "hi": PUBACK, then the message back at QoS 1 with our own packet id 1.
    stream
        .write_all(&[0x32, 0x09, 0x00, 0x03, b'b', b'/', b'c', 0x00, 0x05, b'h', b'i'])
        .await
        .unwrap();
    assert_eq!(read_n(&mut stream, 4).await, [0x40, 0x02, 0x00, 0x05]);
    assert_eq!(
        read_n(&mut stream, 11).await,
        [0x32, 0x09, 0x00, 0x03, b'b', b'/', b'c', 0x00, 0x01, b'h', b'i']
    );
    broker.stop().await;
}

#[tokio::test]
async fn qos0_goes_to_matching_subscribers_only() {
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V311, "sub").await;
    let mut other = RawClient::clean(&broker, V311, "other").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    sub.subscribe("sensors/+/temp", QoS::AtMostOnce).await;
    other.subscribe("sensors/x", QoS::AtMostOnce).await;
    publisher
        .publish(publish("sensors/k/temp", QoS::AtMostOnce, b"21"))
        .await;
    let got = sub.recv_publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos()),
        ("sensors/k/temp", &b"21"[..], QoS::AtMostOnce)
    );
    other.assert_nothing_pending().await;
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn delivered_qos_is_min_of_published_and_granted() {
    // [MQTT-3.8.4-8]: delivered QoS = min(publish QoS, granted QoS).
    let broker = TestBroker::start().await;
    let mut q1 = RawClient::clean(&broker, V5, "q1").await;
    let mut q2 = RawClient::clean(&broker, V5, "q2").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(q1.subscribe("t", QoS::AtLeastOnce).await, [ReasonCode::GrantedQoS1]);
    assert_eq!(q2.subscribe("t", QoS::ExactlyOnce).await, [ReasonCode::GrantedQoS2]);
    assert_eq!(
        publisher.publish(publish("t", QoS::ExactlyOnce, b"x")).await,
        ReasonCode::Success
    );
    assert_eq!(q1.recv_publish().await.qos(), QoS::AtLeastOnce);
    assert_eq!(q2.recv_publish().await.qos(), QoS::ExactlyOnce);
    publisher.publish(publish("t", QoS::AtMostOnce, b"y")).await;
    assert_eq!(q2.recv_publish().await.qos(), QoS::AtMostOnce);
    broker.stop().await;
}

#[tokio::test]
async fn puback_says_no_matching_subscribers_in_v5() {
    // Section 3.4.2.1: 0x10 No matching subscribers.
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(
        publisher.publish(publish("nobody", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    broker.stop().await;
}

#[tokio::test]
async fn inbound_qos2_is_routed_exactly_once() {
    // [MQTT-4.3.3-10]: until PUBREL, a PUBLISH with the same packet id is not a new message.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V311, "sub").await;
    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    sub.subscribe("t", QoS::AtMostOnce).await;
    let mut message = publish("t", QoS::ExactlyOnce, b"once");
    message.qos_pid = QoSPid::ExactlyOnce(pid(7));
    publisher.send(Packet::Publish(message.clone())).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(a) if a.packet_id == pid(7)));
    message.dup = true;
    publisher.send(Packet::Publish(message.clone())).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(a) if a.packet_id == pid(7)));
    publisher.send(Packet::PubRel(Ack::new(pid(7)))).await;
    assert!(matches!(publisher.recv().await, Packet::PubComp(a) if a.packet_id == pid(7)));
    assert_eq!(&sub.recv_publish().await.payload[..], b"once");
    sub.assert_nothing_pending().await;
    // After PUBREL the id is free: the same id is a new message.
    message.dup = false;
    publisher.publish(message).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"once");
    broker.stop().await;
}

#[tokio::test]
async fn outbound_qos2_handshake_and_qos1_puback() {
    // Section 4.3.3: PUBLISH → PUBREC → PUBREL → PUBCOMP from the server's side.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    sub.subscribe("t", QoS::ExactlyOnce).await;
    publisher.publish(publish("t", QoS::ExactlyOnce, b"a")).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"b")).await;
    let a = sub.recv_publish().await;
    let b = sub.recv_publish().await;
    let (QoSPid::ExactlyOnce(a_id), QoSPid::AtLeastOnce(b_id)) = (a.qos_pid, b.qos_pid) else {
        panic!("unexpected QoS: {a:?} {b:?}");
    };
    assert_ne!(a_id, b_id, "[MQTT-2.2.1-4] distinct packet ids while in flight");
    sub.send(Packet::PubAck(Ack::new(b_id))).await;
    sub.send(Packet::PubRec(Ack::new(a_id))).await;
    assert!(matches!(sub.recv().await, Packet::PubRel(r) if r.packet_id == a_id));
    sub.send(Packet::PubComp(Ack::new(a_id))).await;
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn repeated_filter_replaces_the_subscription() {
    // [MQTT-3.8.4-3]
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V311, "sub").await;
    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    sub.subscribe("t", QoS::AtMostOnce).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"x")).await;
    assert_eq!(sub.recv_publish().await.qos(), QoS::AtMostOnce);
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn overlapping_subscriptions_deliver_once_at_max_qos_with_all_identifiers() {
    // [MQTT-3.3.4-2], [MQTT-3.3.4-3]
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    sub.subscribe_with("a/+", SubscriptionOptions::qos(QoS::AtMostOnce), Some(3))
        .await;
    sub.subscribe_with("a/#", SubscriptionOptions::qos(QoS::AtLeastOnce), Some(4))
        .await;
    publisher.publish(publish("a/b", QoS::ExactlyOnce, b"x")).await;
    let got = sub.recv_publish().await;
    assert_eq!(got.qos(), QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    ids.sort();
    assert_eq!(ids, [3, 4]);
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn unsubscribe_v5_reason_codes_and_no_more_delivery() {
    // [MQTT-3.10.4-1], [MQTT-3.11.3-1]: 0x00 for a removed subscription, 0x11 when none existed.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    sub.subscribe("t", QoS::AtMostOnce).await;
    sub.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(3),
        properties: Default::default(),
        filters: vec![Ok(TopicFilter::new("t").unwrap()), Ok(TopicFilter::new("u").unwrap())],
    }))
    .await;
    match sub.recv().await {
        Packet::UnsubAck(ack) => {
            assert_eq!(ack.packet_id, pid(3));
            assert_eq!(
                ack.reason_codes,
                [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
            );
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    publisher.publish(publish("t", QoS::AtMostOnce, b"x")).await;
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn clients_cannot_publish_to_dollar_topics() {
    // Section 4.7.2 (a SHOULD without an id): clients may not use `$` topics; MQTT 5 PUBACK 0x90 Topic Name
    // invalid.
    // The broker's own `$SYS` updates are off, so `$SYS/#` could only see what a client slipped through.
    let broker = TestBroker::start_with(roost_broker::Config {
        sys_interval: std::time::Duration::ZERO,
        ..roost_broker::Config::default()
    })
    .await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    sub.subscribe("$SYS/#", QoS::AtMostOnce).await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    assert_eq!(
        publisher.publish(publish("$SYS/x", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::TopicNameInvalid
    );
    assert_eq!(
        publisher.publish(publish("$SYS", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::TopicNameInvalid
    );
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn dollar_topics_other_than_sys_are_routed_but_not_to_first_level_wildcards() {
    // Cloud brokers people bridge to use `$aws/...`, `$iothub/...`: section 4.7.2 only keeps them from `#` and `+`
    // at the first level ([MQTT-4.7.2-1]); only `$SYS/` is the broker's own (Mosquitto does the same).
    let broker = TestBroker::start().await;
    let topic = "$aws/things/x/shadow/update";
    let mut exact = RawClient::clean(&broker, V5, "exact").await;
    exact.subscribe(topic, QoS::AtLeastOnce).await;
    let mut wild = RawClient::clean(&broker, V5, "wild").await;
    wild.subscribe("#", QoS::AtMostOnce).await;
    wild.subscribe("+/things/x/shadow/update", QoS::AtMostOnce).await;
    let mut rooted = RawClient::clean(&broker, V5, "rooted").await;
    rooted.subscribe("$aws/things/+/shadow/#", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(
        publisher.publish(publish(topic, QoS::AtLeastOnce, b"{}")).await,
        ReasonCode::Success
    );
    let got = exact.recv_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), (topic, &b"{}"[..]));
    assert_eq!(rooted.recv_publish().await.topic.as_str(), topic);
    wild.assert_nothing_pending().await;
    for other in ["$iothub/twin/PATCH/properties/reported", "$devices/d1/messages/events"] {
        assert_eq!(
            publisher.publish(publish(other, QoS::AtLeastOnce, b"x")).await,
            ReasonCode::NoMatchingSubscribers,
            "{other}"
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn pubacks_are_as_short_as_they_can_be_raw_bytes() {
    // A successful PUBACK is the 4-byte form (section 3.4.2.1: reason 0x00 and no properties may be left out),
    // which some clients insist on; a refusal adds its reason code and, unless the client asked for no problem
    // information ([MQTT-3.1.2-29]), a Reason String and nothing else.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("$aws/t", QoS::AtMostOnce).await;
    let mut raw = tokio::net::TcpStream::connect(broker.mqtt).await.unwrap();
    // CONNECT 5.0, client id "p", Request Problem Information 0.
    raw.write_all(&[
        0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x02, 0x17, 0x00, 0x00, 0x01, b'p',
    ])
    .await
    .unwrap();
    assert!(matches!(read_packet(&mut raw, V5).await, Packet::ConnAck(_)));
    // PUBLISH QoS 1 `$aws/t`, packet id 1, no properties: routed to `sub`.
    raw.write_all(&[
        0x32, 0x0C, 0x00, 0x06, b'$', b'a', b'w', b's', b'/', b't', 0x00, 0x01, 0x00, b'x',
    ])
    .await
    .unwrap();
    assert_eq!(read_n(&mut raw, 4).await, [0x40, 0x02, 0x00, 0x01]);
    // PUBLISH QoS 1 `$SYS/x`, packet id 2: refused, reason code only.
    raw.write_all(&[
        0x32, 0x0C, 0x00, 0x06, b'$', b'S', b'Y', b'S', b'/', b'x', 0x00, 0x02, 0x00, b'x',
    ])
    .await
    .unwrap();
    assert_eq!(read_n(&mut raw, 5).await, [0x40, 0x03, 0x00, 0x02, 0x90]);
    raw.write_all(PINGREQ).await.unwrap();
    assert_eq!(read_n(&mut raw, 2).await, PINGRESP);
    broker.stop().await;
}

#[tokio::test]
async fn no_local_skips_the_clients_own_messages() {
    // No Local [MQTT-3.8.3-3]. (The first-level wildcard rule [MQTT-4.7.2-1] is tested at the matcher.)
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "me").await;
    let options = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    client.subscribe_with("t", options, None).await;
    client.publish(publish("t", QoS::AtLeastOnce, b"x")).await;
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn retain_flag_cleared_on_normal_delivery_kept_with_retain_as_published() {
    // [MQTT-3.3.1-12], [MQTT-3.3.1-13]
    let broker = TestBroker::start().await;
    let mut plain = RawClient::clean(&broker, V5, "plain").await;
    let mut rap = RawClient::clean(&broker, V5, "rap").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    plain.subscribe("t", QoS::AtMostOnce).await;
    let options = SubscriptionOptions {
        retain_as_published: true,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    rap.subscribe_with("t", options, None).await;
    let mut message = publish("t", QoS::AtMostOnce, b"x");
    message.retain = true;
    publisher.publish(message).await;
    assert!(!plain.recv_publish().await.retain);
    assert!(rap.recv_publish().await.retain);
    broker.stop().await;
}

#[tokio::test]
async fn retained_messages_stored_replaced_deleted_and_sent_on_subscribe() {
    // [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-9] (RETAIN set on subscribe), [MQTT-3.3.1-10].
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    for (topic, payload) in [
        ("r/a", &b"1"[..]),
        ("r/a", b"2"),
        ("r/b", b"3"),
        ("r/c", b"4"),
        ("r/c", b""),
    ] {
        let mut message = publish(topic, QoS::AtLeastOnce, b"");
        message.payload = roost_codec::Bytes::from_static(payload);
        message.retain = true;
        publisher.publish(message).await;
    }
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("r/#", QoS::AtLeastOnce).await;
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    assert_eq!(
        (first.topic.as_str(), &first.payload[..], first.retain),
        ("r/a", &b"2"[..], true)
    );
    assert_eq!(
        (second.topic.as_str(), &second.payload[..], second.retain),
        ("r/b", &b"3"[..], true)
    );
    assert_eq!(first.qos(), QoS::AtLeastOnce);
    sub.assert_nothing_pending().await;

    // Retain Handling 1: only for a new subscription; 2: never.
    let send_if_new = SubscriptionOptions {
        retain_handling: RetainHandling::SendIfNew,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    sub.subscribe_with("r/#", send_if_new, None).await;
    sub.assert_nothing_pending().await;
    sub.subscribe_with("r/b", send_if_new, None).await;
    assert_eq!(sub.recv_publish().await.topic.as_str(), "r/b");
    let never = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    sub.subscribe_with("r/+", never, None).await;
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn shared_subscription_round_robins_across_members_v311_and_v5() {
    // Section 4.8.2: each message goes to one member of the group.
    let broker = TestBroker::start().await;
    let mut a = RawClient::clean(&broker, V311, "a").await;
    let mut b = RawClient::clean(&broker, V5, "b").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    a.subscribe("$share/g/jobs/+", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/jobs/+", QoS::AtLeastOnce).await;
    for _ in 0..4 {
        publisher.publish(publish("jobs/1", QoS::AtMostOnce, b"j")).await;
    }
    for client in [&mut a, &mut b] {
        client.recv_publish().await;
        client.recv_publish().await;
        client.assert_nothing_pending().await;
    }
    broker.stop().await;
}

/// [MQTT-3.3.1-12] (3.1.1) / [MQTT-3.3.1-8] (5.0): a RETAIN 0 PUBLISH neither stores nor replaces nor removes
/// the retained message of its topic, even with an empty payload.
async fn retain_0_leaves_the_retained_message(version: roost_codec::ProtocolVersion) {
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, version, "pub").await;
    let mut kept = publish("r", QoS::AtLeastOnce, b"kept");
    kept.retain = true;
    publisher.publish(kept).await;
    publisher.publish(publish("r", QoS::AtLeastOnce, b"live")).await;
    publisher.publish(publish("r", QoS::AtMostOnce, b"")).await;
    publisher.publish(publish("other", QoS::AtLeastOnce, b"not kept")).await;

    let mut sub = RawClient::clean(&broker, version, "sub").await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    let got = sub.recv_publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.retain),
        ("r", &b"kept"[..], true)
    );
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn retain_0_publish_leaves_the_retained_message_v311_mqtt_3_3_1_12() {
    retain_0_leaves_the_retained_message(V311).await;
}

#[tokio::test]
async fn retain_0_publish_leaves_the_retained_message_v5_mqtt_3_3_1_8() {
    retain_0_leaves_the_retained_message(V5).await;
}

#[tokio::test]
async fn incoming_dup_is_not_propagated_raw_bytes_mqtt_3_3_1_3() {
    // [MQTT-3.3.1-3] the DUP flag of an outgoing PUBLISH depends only on our own retransmission: a PUBLISH
    // received with DUP 1 goes to the subscriber with DUP 0.
    let broker = TestBroker::start().await;
    let mut sub = within(tokio::net::TcpStream::connect(broker.mqtt)).await.unwrap();
    sub.write_all(CONNECT_V311).await.unwrap();
    assert_eq!(read_n(&mut sub, 4).await, CONNACK_V311);
    // SUBSCRIBE id 1, "d" at QoS 1 → SUBACK granting 1.
    sub.write_all(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'd', 0x01])
        .await
        .unwrap();
    assert_eq!(read_n(&mut sub, 5).await, [0x90, 0x03, 0x00, 0x01, 0x01]);

    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    // PUBLISH, DUP 1, QoS 1, id 7, topic "d", payload "x" → PUBACK 7.
    publisher
        .stream
        .write_all(&[0x3A, 0x06, 0x00, 0x01, b'd', 0x00, 0x07, b'x'])
        .await
        .unwrap();
    assert!(matches!(publisher.recv().await, Packet::PubAck(a) if a.packet_id == pid(7)));

    let got = read_n(&mut sub, 8).await;
    // DUP 0, QoS 1, RETAIN 0; the packet id is ours to choose.
    assert_eq!(got[0], 0x32, "fixed header of {got:02X?}");
    assert_eq!((&got[1..5], &got[7..]), (&[0x06, 0x00, 0x01, b'd'][..], &[b'x'][..]));
    broker.stop().await;
}

#[tokio::test]
async fn publish_properties_forwarded_unaltered_mqtt_3_3_2_4_15_16() {
    // [MQTT-3.3.2-4] Payload Format Indicator, [MQTT-3.3.2-15] Response Topic, [MQTT-3.3.2-16] Correlation Data:
    // forwarded unaltered to an MQTT 5 subscriber.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("req", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut request = publish("req", QoS::AtLeastOnce, b"{}");
    request.properties.payload_format_indicator = Some(true);
    request.properties.response_topic = Some(roost_codec::TopicName::new("resp/pub").unwrap());
    request.properties.correlation_data = Some(roost_codec::Bytes::from_static(&[0x00, 0xFF, 0x10]));
    publisher.publish(request).await;
    let got = sub.recv_publish().await;
    assert_eq!(got.properties.payload_format_indicator, Some(true));
    assert_eq!(
        got.properties.response_topic.as_ref().map(|t| t.as_str()),
        Some("resp/pub")
    );
    assert_eq!(
        got.properties.correlation_data.as_deref(),
        Some(&[0x00, 0xFF, 0x10][..])
    );

    // Payload Format Indicator 0 is forwarded as sent too, not dropped as a default.
    let mut bytes = publish("req", QoS::AtMostOnce, b"\xFF");
    bytes.properties.payload_format_indicator = Some(false);
    publisher.publish(bytes).await;
    sub.send(Packet::PubAck(Ack::new(got.qos_pid.packet_id().unwrap())))
        .await;
    let got = sub.recv_publish().await;
    assert_eq!(got.properties.payload_format_indicator, Some(false));
    broker.stop().await;
}
