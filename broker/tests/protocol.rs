//! Protocol errors and CONNACK limits against a real in-process broker, over raw TCP.

mod common;

use common::*;
use roost_broker::Config;
use roost_codec::{
    Packet,
    ProtocolVersion::{V5, V311},
    QoS, QoSPid, ReasonCode, SubAck,
};

#[tokio::test]
async fn more_qos2_awaiting_pubrel_than_our_receive_maximum_is_0x93() {
    // [MQTT-3.3.4-7]: the client may not exceed the Receive Maximum we sent in CONNACK.
    let broker = TestBroker::start_with(Config {
        receive_maximum: 1,
        ..Config::default()
    })
    .await;
    let (mut client, connack) = RawClient::connect(&broker, connect_packet(V5, "c")).await;
    assert_eq!(connack.properties.receive_maximum.map(|m| m.get()), Some(1));
    let mut first = publish("t", QoS::ExactlyOnce, b"1");
    first.qos_pid = QoSPid::ExactlyOnce(pid(1));
    client.send(Packet::Publish(first)).await;
    assert!(matches!(client.recv().await, Packet::PubRec(_)));
    let mut second = publish("t", QoS::ExactlyOnce, b"2");
    second.qos_pid = QoSPid::ExactlyOnce(pid(2));
    client.send(Packet::Publish(second)).await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::ReceiveMaximumExceeded));
    broker.stop().await;
}

#[tokio::test]
async fn a_packet_only_servers_send_is_a_protocol_error() {
    // MQTT 5: DISCONNECT 0x82 ([MQTT-4.13.2-1]); MQTT 3.1.1: the connection is closed ([MQTT-4.8.0-1]).
    let broker = TestBroker::start().await;
    let suback = Packet::SubAck(SubAck {
        packet_id: pid(1),
        properties: Default::default(),
        reason_codes: vec![ReasonCode::GRANTED_QOS0],
    });
    let mut v5 = RawClient::clean(&broker, V5, "a").await;
    v5.send(suback.clone()).await;
    assert_eq!(v5.expect_close().await, Some(ReasonCode::ProtocolError));
    let mut v3 = RawClient::clean(&broker, V311, "b").await;
    v3.send(suback).await;
    assert_eq!(v3.expect_close().await, None);
    broker.stop().await;
}

#[tokio::test]
async fn session_expiry_above_our_maximum_is_lowered_and_connack_says_so() {
    // Section 3.2.2.3.2: the server's Session Expiry Interval in CONNACK replaces the client's.
    let broker = TestBroker::start_with(Config {
        max_session_expiry: 100,
        ..Config::default()
    })
    .await;
    let mut connect = connect_packet(V5, "c");
    connect.properties.session_expiry_interval = Some(1000);
    let (_client, connack) = RawClient::connect(&broker, connect).await;
    assert_eq!(connack.properties.session_expiry_interval, Some(100));
    let mut connect = connect_packet(V5, "d");
    connect.properties.session_expiry_interval = Some(50);
    let (_client, connack) = RawClient::connect(&broker, connect).await;
    assert_eq!(connack.properties.session_expiry_interval, None);
    broker.stop().await;
}

#[tokio::test]
async fn disconnect_may_not_set_an_expiry_when_connect_had_none() {
    // Section 3.14.2.2.2 (a rule without an id): a DISCONNECT may not set a Session Expiry Interval when
    // CONNECT set 0; a protocol error. ([MQTT-3.14.2-2] is about the server never sending one.)
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "c").await;
    let mut disconnect = roost_codec::Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(10);
    client.send(Packet::Disconnect(disconnect)).await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::ProtocolError));
    broker.stop().await;
}

#[tokio::test]
async fn publish_to_an_unknown_topic_alias_is_a_protocol_error() {
    // Section 3.3.2.3.4: an empty topic needs an alias the client set up earlier.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "c").await;
    let mut message = publish("t", QoS::AtMostOnce, b"x");
    message.topic = roost_codec::TopicName::empty();
    message.properties.topic_alias = std::num::NonZeroU16::new(2);
    client.send(Packet::Publish(message)).await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::ProtocolError));
    broker.stop().await;
}

#[tokio::test]
async fn max_connections_refuses_with_server_busy_until_a_client_leaves() {
    let broker = TestBroker::start_with(Config {
        max_connections: 1,
        ..Config::default()
    })
    .await;
    let (mut first, connack) = RawClient::connect(&broker, connect_packet(V5, "first")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    // MQTT 5: CONNACK 0x89 Server busy, then close ([MQTT-3.2.2-7]: a refusing CONNACK is followed by a close).
    let (mut refused, connack) = RawClient::connect(&broker, connect_packet(V5, "second")).await;
    assert_eq!(connack.reason_code, ReasonCode::ServerBusy);
    assert!(!connack.session_present);
    assert_eq!(refused.expect_close().await, None);
    // MQTT 3.1.1 says the same with return code 3, Server unavailable.
    let (mut refused, connack) = RawClient::connect(&broker, connect_packet(V311, "third")).await;
    assert_eq!(connack.reason_code, ReasonCode::ServerUnavailable);
    assert_eq!(refused.expect_close().await, None);
    // A takeover of a connected client id replaces a client rather than adding one: accepted at the limit
    // ([MQTT-3.1.4-3]; 3.1.1 [MQTT-3.1.4-2]), and the old connection is told why and closed.
    let (mut first_again, connack) = RawClient::connect(&broker, connect_packet(V5, "first")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(first.expect_close().await, Some(ReasonCode::SessionTakenOver));
    let first = &mut first_again;
    // Still one client: another id is still refused.
    let (mut refused, connack) = RawClient::connect(&broker, connect_packet(V311, "fourth")).await;
    assert_eq!(connack.reason_code, ReasonCode::ServerUnavailable);
    assert_eq!(refused.expect_close().await, None);
    // Once the first client leaves, there is room again.
    first
        .send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    assert_eq!(first.expect_close().await, None);
    let (_again, connack) = RawClient::connect(&broker, connect_packet(V311, "again")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    broker.stop().await;
}

#[tokio::test]
async fn max_keep_alive_is_imposed_on_v5_and_refuses_v3_asking_for_more() {
    let broker = TestBroker::start_with(Config {
        max_keep_alive: 30,
        ..Config::default()
    })
    .await;
    // MQTT 5 asking for 60 s is told 30 s ([MQTT-3.2.2-21]: the client must then use the Server Keep Alive).
    let (_v5, connack) = RawClient::connect(&broker, connect_packet(V5, "v5-60")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(connack.properties.server_keep_alive, Some(30));
    // Asking for none while a bound is set gets the bound too.
    let mut no_keep_alive = connect_packet(V5, "v5-0");
    no_keep_alive.keep_alive = 0;
    let (_v5, connack) = RawClient::connect(&broker, no_keep_alive).await;
    assert_eq!(connack.properties.server_keep_alive, Some(30));
    // Within the bound: no Server Keep Alive in the CONNACK.
    let mut short = connect_packet(V5, "v5-10");
    short.keep_alive = 10;
    let (_v5, connack) = RawClient::connect(&broker, short).await;
    assert_eq!(connack.properties.server_keep_alive, None);
    // MQTT 3.1.1 cannot be told: asking for more is refused (0x02, as Mosquitto does), within it is accepted.
    let (mut v3, connack) = RawClient::connect(&broker, connect_packet(V311, "v3-60")).await;
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert_eq!(v3.expect_close().await, None);
    let mut short = connect_packet(V311, "v3-10");
    short.keep_alive = 10;
    let (_v3, connack) = RawClient::connect(&broker, short).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    broker.stop().await;
}

#[tokio::test]
async fn a_publish_from_a_client_with_a_subscription_identifier_is_a_protocol_error_mqtt_3_3_4_6() {
    // [MQTT-3.3.4-6]: only the server puts Subscription Identifiers in a PUBLISH; from a client it is a Protocol
    // Error, DISCONNECT 0x82 and close ([MQTT-4.13.1-1]), and the message reaches nobody.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("t", QoS::AtMostOnce).await;
    let mut client = RawClient::clean(&broker, V5, "c").await;
    let mut bad = publish("t", QoS::AtLeastOnce, b"x");
    bad.properties.subscription_identifiers = vec![std::num::NonZeroU32::new(7).unwrap()];
    client.send(Packet::Publish(bad)).await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::ProtocolError));
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn a_client_still_writing_reads_the_disconnect_and_a_clean_close() {
    // [MQTT-3.3.4-7] / [MQTT-4.13.2-1]: exceeding our Receive Maximum gets DISCONNECT 0x93 and a close. A client
    // that is still writing (PUBRELs here, left unread in the broker's buffer) must be able to read that
    // DISCONNECT and then an orderly end of stream, and keep writing for a moment without a reset: the broker
    // shuts down its side, then reads and discards what still comes for up to a second.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = TestBroker::start_with(Config {
        receive_maximum: 1,
        ..Config::default()
    })
    .await;
    let (mut client, _) = RawClient::connect(&broker, connect_packet(V5, "c")).await;
    let mut first = publish("t", QoS::ExactlyOnce, b"1");
    first.qos_pid = QoSPid::ExactlyOnce(pid(1));
    client.send(Packet::Publish(first)).await;
    assert!(matches!(client.recv().await, Packet::PubRec(_)));
    let pubrel = [0x62, 0x02, 0x00, 0x01];
    let pubrels: Vec<u8> = pubrel.iter().copied().cycle().take(pubrel.len() * 256).collect();
    // The second QoS 2 PUBLISH exceeds the maximum; the PUBRELs behind it are never read as packets.
    let mut burst = vec![0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x02, 0x00];
    burst.extend_from_slice(&pubrels);
    let stream = &mut client.stream;
    within(stream.write_all(&burst)).await.expect("write the burst");
    let mut buf = roost_codec::BytesMut::new();
    let disconnect = loop {
        if let Some(packet) = Packet::decode(&mut buf, V5, u32::MAX).expect("valid packet") {
            break packet;
        }
        let n = within(stream.read_buf(&mut buf))
            .await
            .expect("read the DISCONNECT, not a reset");
        assert_ne!(n, 0, "closed before the DISCONNECT");
    };
    match disconnect {
        Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    let n = within(stream.read_buf(&mut buf))
        .await
        .expect("an orderly end of stream, not a reset");
    assert_eq!(n, 0, "nothing after DISCONNECT ([MQTT-3.14.4-1])");
    // Still writing for a moment (well within the broker's linger): no broken pipe, no reset.
    let writing = std::time::Instant::now();
    while writing.elapsed() < std::time::Duration::from_millis(300) {
        within(stream.write_all(&pubrels))
            .await
            .expect("writes during the linger are drained, not reset");
        tokio::task::yield_now().await;
    }
    stream.shutdown().await.expect("close our side");
    broker.stop().await;
}
