//! QoS 1 and 2 exchanges that end early: acknowledgements with an error reason code, in both directions, and in
//! shared subscriptions. Raw MQTT 5 clients against a real in-process broker.

mod common;

use common::*;
use roost_codec::{Ack, Packet, ProtocolVersion::V5, QoS, QoSPid, ReasonCode};

/// A persistent MQTT 5 CONNECT (Clean Start 0, session expiry 300 s).
fn persistent(id: &str) -> roost_codec::Connect {
    let mut connect = connect_packet(V5, id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    connect
}

/// An acknowledgement of `id` with `reason`.
fn ack(id: roost_codec::PacketId, reason: ReasonCode) -> Ack {
    Ack {
        reason_code: reason,
        ..Ack::new(id)
    }
}

/// The next PUBLISH either client gets, and which one got it (`true` for `a`).
async fn either(a: &mut RawClient, b: &mut RawClient) -> (bool, roost_codec::Publish) {
    tokio::select! {
        publish = a.recv_publish() => (true, publish),
        publish = b.recv_publish() => (false, publish),
    }
}

#[tokio::test]
async fn error_puback_and_pubrec_end_the_delivery_and_nothing_is_resent() {
    // [MQTT-4.4.0-2]: a PUBACK or PUBREC with a reason code of 0x80 or more acknowledges the PUBLISH; it is not
    // sent again, and ([MQTT-4.3.3-4] only for PUBREC below 0x80) no PUBREL follows.
    let broker = TestBroker::start().await;
    let (mut sub, _) = RawClient::connect(&broker, persistent("e")).await;
    sub.subscribe("t", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"one")).await;
    publisher.publish(publish("t", QoS::ExactlyOnce, b"two")).await;
    let one = sub.recv_publish().await;
    let two = sub.recv_publish().await;
    assert_eq!((one.qos(), two.qos()), (QoS::AtLeastOnce, QoS::ExactlyOnce));
    // [MQTT-4.3.2-2], [MQTT-4.3.3-2]: a first send has DUP 0.
    assert!(!one.dup && !two.dup);
    sub.send(Packet::PubAck(ack(
        one.qos_pid.packet_id().unwrap(),
        ReasonCode::UnspecifiedError,
    )))
    .await;
    sub.send(Packet::PubRec(ack(
        two.qos_pid.packet_id().unwrap(),
        ReasonCode::ImplementationSpecificError,
    )))
    .await;
    // No PUBREL: the next packet is the PINGRESP.
    sub.assert_nothing_pending().await;
    drop(sub);

    let (mut sub, connack) = RawClient::connect(&broker, persistent("e")).await;
    assert!(connack.session_present);
    // [MQTT-4.4.0-1] would resend unacknowledged messages here: these two were acknowledged.
    sub.assert_nothing_pending().await;
    // The session still delivers.
    publisher.publish(publish("t", QoS::AtLeastOnce, b"three")).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"three");
    broker.stop().await;
}

#[tokio::test]
async fn after_an_error_pubrec_the_packet_id_is_new_again() {
    // [MQTT-4.3.3-9]: once the broker answered a QoS 2 PUBLISH with PUBREC 0x80 or more, the same packet id
    // starts a new message: routed, not taken for a duplicate.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("t", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let id = pid(7);
    let mut refused = publish("$x/t", QoS::ExactlyOnce, b"refused");
    refused.qos_pid = QoSPid::ExactlyOnce(id);
    publisher.send(Packet::Publish(refused)).await;
    match publisher.recv().await {
        Packet::PubRec(ack) => assert_eq!((ack.packet_id, ack.reason_code), (id, ReasonCode::TopicNameInvalid)),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    let mut fresh = publish("t", QoS::ExactlyOnce, b"fresh");
    fresh.qos_pid = QoSPid::ExactlyOnce(id);
    assert_eq!(publisher.publish(fresh).await, ReasonCode::Success);
    assert_eq!(&sub.recv_publish().await.payload[..], b"fresh");
    broker.stop().await;
}

#[tokio::test]
async fn a_shared_member_refusing_a_message_ends_it_for_the_group() {
    // [MQTT-4.8.2-6]: a member's PUBACK with 0x80 or more discards the message; no other member gets it.
    let broker = TestBroker::start().await;
    let mut a = RawClient::clean(&broker, V5, "a").await;
    let mut b = RawClient::clean(&broker, V5, "b").await;
    a.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("jobs", QoS::AtLeastOnce, b"j")).await;
    let (to_a, job) = either(&mut a, &mut b).await;
    let (member, other) = if to_a { (&mut a, &mut b) } else { (&mut b, &mut a) };
    member
        .send(Packet::PubAck(ack(
            job.qos_pid.packet_id().unwrap(),
            ReasonCode::NotAuthorized,
        )))
        .await;
    member.assert_nothing_pending().await;
    other.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn shared_members_get_messages_at_their_own_granted_qos() {
    // [MQTT-4.8.2-3]: each member of a group receives at min(published QoS, the QoS it was granted).
    let broker = TestBroker::start().await;
    let mut a = RawClient::clean(&broker, V5, "a").await;
    let mut b = RawClient::clean(&broker, V5, "b").await;
    a.subscribe("$share/g/jobs", QoS::AtMostOnce).await;
    b.subscribe("$share/g/jobs", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut got = Vec::new();
    for _ in 0..2 {
        publisher.publish(publish("jobs", QoS::ExactlyOnce, b"j")).await;
        let (to_a, job) = either(&mut a, &mut b).await;
        got.push((to_a, job.qos()));
    }
    got.sort();
    // Round robin: one each.
    assert_eq!(got, [(false, QoS::ExactlyOnce), (true, QoS::AtMostOnce)]);
    broker.stop().await;
}
