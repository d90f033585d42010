//! How the broker answers SUBSCRIBE and UNSUBSCRIBE filter by filter: an invalid filter fails on its own while the
//! others are served, over raw bytes so the broker sees exactly what a careless client sends (rumqttc and
//! mosquitto_sub check filters before sending, so they cannot express these packets).

mod common;

use common::*;
use roost_codec::{
    Packet,
    ProtocolVersion::{V5, V311},
    QoS, ReasonCode,
};

#[tokio::test]
async fn invalid_filters_fail_alone_in_suback_v311_raw_bytes_mqtt_3_8_4_5() {
    // [MQTT-3.8.4-5], [MQTT-3.8.4-6] (3.1.1 numbering [MQTT-3.8.4-4], -5): each filter is handled as if in a
    // SUBSCRIBE of its own; a filter breaking [MQTT-4.7.1-2] or [MQTT-4.8.2-1] gets 0x80 Failure, in order
    // ([MQTT-3.9.3-1]), and the connection stays up.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V311, "bad-filters").await;
    client
        .send_raw(&[
            0x82, 0x19, // SUBSCRIBE, remaining length 25
            0x00, 0x0B, // packet identifier 11
            0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x01, // a/#/b at QoS 1: `#` not last
            0x00, 0x01, b'c', 0x01, // c at QoS 1
            0x00, 0x08, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', 0x00, // $share/g: no filter
        ])
        .await;
    assert_eq!(
        read_n(&mut client.stream, 7).await,
        [0x90, 0x05, 0x00, 0x0B, 0x80, 0x01, 0x80]
    );
    // The valid filter was served: a QoS 0 PUBLISH to `c` comes back.
    client.send_raw(&[0x30, 0x04, 0x00, 0x01, b'c', b'x']).await;
    assert_eq!(
        read_n(&mut client.stream, 6).await,
        [0x30, 0x04, 0x00, 0x01, b'c', b'x']
    );
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn invalid_filters_fail_alone_in_suback_v5_with_0x8f() {
    // [MQTT-3.8.4-6], [MQTT-3.9.3-1], [MQTT-3.9.3-2]: 0x8F Topic Filter invalid for `a+` ([MQTT-4.7.1-2]) and for
    // a share name with a wildcard ([MQTT-4.8.2-2]); the filter between them is granted.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "bad-filters").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    client
        .send_raw(&[
            0x82, 0x1A, // SUBSCRIBE, remaining length 26
            0x00, 0x0C, // packet identifier 12
            0x00, // no properties
            0x00, 0x02, b'a', b'+', 0x01, // a+ at QoS 1
            0x00, 0x01, b'c', 0x02, // c at QoS 2
            0x00, 0x0B, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'+', b'/', b'x', 0x00,
        ])
        .await;
    match client.recv().await {
        Packet::SubAck(suback) => {
            assert_eq!(suback.packet_id, pid(12));
            assert_eq!(
                suback.reason_codes,
                [
                    ReasonCode::TopicFilterInvalid,
                    ReasonCode::GrantedQoS2,
                    ReasonCode::TopicFilterInvalid
                ]
            );
            assert_eq!(suback.properties.reason_string.as_deref(), Some("invalid topic filter"));
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
    publisher.publish(publish("c", QoS::AtLeastOnce, b"m")).await;
    let got = client.recv_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("c", &b"m"[..]));
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn invalid_filters_in_unsubscribe_get_0x8f_in_v5_and_a_plain_unsuback_in_v311() {
    // [MQTT-3.11.3-1]: one reason code per filter, in order; 0x8F for the invalid one; the valid one is removed
    // ([MQTT-3.10.4-1]). MQTT 3.1.1's UNSUBACK has no codes: it is sent all the same ([MQTT-3.10.4-5]).
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "unsub5").await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(client.subscribe("t", QoS::AtMostOnce).await, [ReasonCode::GRANTED_QOS0]);
    client
        .send_raw(&[
            0xA2, 0x0A, // UNSUBSCRIBE, remaining length 10
            0x00, 0x04, 0x00, // packet identifier 4, no properties
            0x00, 0x02, b'#', b'a', // #a: invalid
            0x00, 0x01, b't',
        ])
        .await;
    match client.recv().await {
        Packet::UnsubAck(unsuback) => {
            assert_eq!(unsuback.packet_id, pid(4));
            assert_eq!(
                unsuback.reason_codes,
                [ReasonCode::TopicFilterInvalid, ReasonCode::Success]
            );
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    publisher.publish(publish("t", QoS::AtMostOnce, b"x")).await;
    client.assert_nothing_pending().await;

    // 3.1.1: [MQTT-3.10.4-4] same packet id, [MQTT-3.10.4-6] one UNSUBACK for both filters.
    let mut client = RawClient::clean(&broker, V311, "unsub3").await;
    assert_eq!(client.subscribe("t", QoS::AtMostOnce).await, [ReasonCode::GRANTED_QOS0]);
    client
        .send_raw(&[0xA2, 0x09, 0x00, 0x05, 0x00, 0x02, b'a', b'+', 0x00, 0x01, b't'])
        .await;
    assert_eq!(read_n(&mut client.stream, 4).await, [0xB0, 0x02, 0x00, 0x05]);
    publisher.publish(publish("t", QoS::AtMostOnce, b"y")).await;
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn no_local_on_a_shared_subscription_is_still_a_protocol_error() {
    // [MQTT-3.8.3-4] calls this a Protocol Error (not a bad filter), and [MQTT-4.13.1-1] says to close: DISCONNECT
    // 0x82, then close.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "nl").await;
    client
        .send_raw(&[
            0x82, 0x10, 0x00, 0x01, 0x00, // SUBSCRIBE id 1, no properties
            0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'a', 0x04, // No Local
        ])
        .await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::ProtocolError));
    broker.stop().await;
}

#[tokio::test]
async fn a_malformed_filter_string_still_ends_the_connection() {
    // [MQTT-1.5.4-2], [MQTT-4.7.3-2]: U+0000 in a filter makes the packet malformed, not just the filter.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "nul").await;
    client
        .send_raw(&[
            0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00, 0x00, 0x01, 0x00, 0x00,
        ])
        .await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::MalformedPacket));
    broker.stop().await;
}

/// Publishes a retained QoS 1 message with `payload` to `topic`.
async fn retain(publisher: &mut RawClient, topic: &str, payload: &'static [u8]) {
    let mut message = publish(topic, QoS::AtLeastOnce, payload);
    message.retain = true;
    publisher.publish(message).await;
}

/// [MQTT-3.8.4-3] (3.1.1) / [MQTT-3.8.4-4] (5.0, Retain Handling 0): subscribing again to the same filter
/// replaces the subscription and sends the retained messages again; live messages keep flowing.
async fn repeated_filter_resends_retained(version: roost_codec::ProtocolVersion) {
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    retain(&mut publisher, "r/a", b"kept").await;
    let mut sub = RawClient::clean(&broker, version, "sub").await;
    for qos in [QoS::AtLeastOnce, QoS::AtMostOnce] {
        sub.subscribe("r/+", qos).await;
        let got = sub.recv_publish().await;
        assert_eq!(
            (got.topic.as_str(), &got.payload[..], got.retain),
            ("r/a", &b"kept"[..], true)
        );
        // At the QoS of the new subscription: it replaced the old one.
        assert_eq!(got.qos(), qos);
        sub.assert_nothing_pending().await;
    }
    publisher.publish(publish("r/b", QoS::AtLeastOnce, b"live")).await;
    let got = sub.recv_publish().await;
    assert_eq!((&got.payload[..], got.retain), (&b"live"[..], false));
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn repeated_filter_resends_retained_messages_v311_mqtt_3_8_4_3() {
    repeated_filter_resends_retained(V311).await;
}

#[tokio::test]
async fn repeated_filter_resends_retained_messages_with_retain_handling_0_v5_mqtt_3_8_4_4() {
    repeated_filter_resends_retained(V5).await;
}

#[tokio::test]
async fn shared_subscriptions_get_no_retained_messages_on_subscribe() {
    // MQTT 5 section 3.3.1.3: retained messages are sent "when a new Non-shared Subscription is made"; a shared
    // subscription gets the live messages only, whatever its Retain Handling.
    let broker = TestBroker::start().await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    retain(&mut publisher, "jobs/a", b"old").await;
    for version in [V311, V5] {
        let mut member = RawClient::clean(&broker, version, "member").await;
        member.subscribe("$share/g/jobs/+", QoS::AtLeastOnce).await;
        member.assert_nothing_pending().await;
        publisher.publish(publish("jobs/a", QoS::AtLeastOnce, b"new")).await;
        assert_eq!(&member.recv_publish().await.payload[..], b"new");
        member.assert_nothing_pending().await;
    }
    broker.stop().await;
}
