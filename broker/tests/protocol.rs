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
    // [MQTT-3.14.2-2]
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
