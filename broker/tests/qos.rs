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
    let mut refused = publish("$SYS/t", QoS::ExactlyOnce, b"refused");
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

#[tokio::test]
async fn unsubscribing_finishes_deliveries_already_started() {
    // [MQTT-3.10.4-3]: QoS 1 and 2 messages already on their way when the subscription goes are completed.
    for version in [V5, roost_codec::ProtocolVersion::V311] {
        let broker = TestBroker::start().await;
        let mut sub = RawClient::clean(&broker, version, "sub").await;
        sub.subscribe("t", QoS::ExactlyOnce).await;
        let mut publisher = RawClient::clean(&broker, V5, "pub").await;
        publisher.publish(publish("t", QoS::ExactlyOnce, b"x")).await;
        let got = sub.recv_publish().await;
        sub.send(Packet::Unsubscribe(roost_codec::Unsubscribe {
            packet_id: pid(8),
            properties: Default::default(),
            filters: vec![Ok(roost_codec::TopicFilter::new("t").unwrap())],
        }))
        .await;
        assert!(matches!(sub.recv().await, Packet::UnsubAck(_)));
        let id = got.qos_pid.packet_id().unwrap();
        sub.send(Packet::PubRec(Ack::new(id))).await;
        match sub.recv().await {
            Packet::PubRel(ack) => assert_eq!((ack.packet_id, ack.reason_code), (id, ReasonCode::Success)),
            other => panic!("expected PUBREL, got {other:?}"),
        }
        sub.send(Packet::PubComp(Ack::new(id))).await;
        sub.assert_nothing_pending().await;
        broker.stop().await;
    }
}

#[tokio::test]
async fn a_shared_member_that_drops_mid_qos2_gets_the_message_on_reconnect() {
    // [MQTT-4.8.2-4]: the delivery is completed to the member chosen, when it reconnects; no other member gets it.
    let broker = TestBroker::start().await;
    let (mut a, _) = RawClient::connect(&broker, persistent("a")).await;
    let (mut b, _) = RawClient::connect(&broker, persistent("b")).await;
    a.subscribe("$share/g/jobs", QoS::ExactlyOnce).await;
    b.subscribe("$share/g/jobs", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("jobs", QoS::ExactlyOnce, b"j")).await;
    let (to_a, job) = either(&mut a, &mut b).await;
    let (chosen_id, chosen, mut other) = if to_a { ("a", a, b) } else { ("b", b, a) };
    // The chosen member's connection breaks before PUBREC.
    drop(chosen);
    let (mut again, connack) = RawClient::connect(&broker, persistent(chosen_id)).await;
    assert!(connack.session_present);
    let resent = again.recv_publish().await;
    assert!(resent.dup);
    assert_eq!((resent.qos_pid, &resent.payload[..]), (job.qos_pid, &b"j"[..]));
    other.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn a_shared_member_whose_session_ends_mid_delivery_takes_the_message_with_it() {
    // [MQTT-4.8.2-5]: if the chosen member's session ends before it reconnects, no other member gets the message.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    // Session Expiry 0: the session ends with the connection. The will says when that has happened: the broker
    // ends the session before it publishes the will.
    let member = |id: &str| {
        let mut connect = connect_packet(V5, id);
        connect.will = Some(roost_codec::Will {
            topic: roost_codec::TopicName::new(format!("wills/{id}")).unwrap(),
            payload: roost_codec::Bytes::from_static(b"gone"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        });
        connect
    };
    let (mut a, _) = RawClient::connect(&broker, member("a")).await;
    let (mut b, _) = RawClient::connect(&broker, member("b")).await;
    a.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("jobs", QoS::AtLeastOnce, b"j")).await;
    let (to_a, _) = either(&mut a, &mut b).await;
    let (gone, mut other) = if to_a { (a, b) } else { (b, a) };
    drop(gone);
    assert_eq!(&watcher.recv_publish().await.payload[..], b"gone");
    other.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn qos2_messages_are_queued_for_an_offline_v311_session() {
    // 3.1.1 [MQTT-3.1.2-5]: while a persistent session is disconnected, QoS 1 and QoS 2 messages are stored for it.
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(roost_codec::ProtocolVersion::V311, "offline");
    connect.clean_start = false;
    let (mut sub, _) = RawClient::connect(&broker, connect.clone()).await;
    sub.subscribe("t", QoS::ExactlyOnce).await;
    sub.send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    assert_eq!(sub.expect_close().await, None);
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::ExactlyOnce, b"two")).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"one")).await;
    let (mut sub, connack) = RawClient::connect(&broker, connect).await;
    assert!(connack.session_present);
    let first = sub.recv_publish().await;
    assert_eq!((first.qos(), &first.payload[..]), (QoS::ExactlyOnce, &b"two"[..]));
    let second = sub.recv_publish().await;
    assert_eq!((second.qos(), &second.payload[..]), (QoS::AtLeastOnce, &b"one"[..]));
    broker.stop().await;
}
