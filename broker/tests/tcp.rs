//! MQTT over TCP against a real in-process broker, with raw bytes.

mod common;

use std::time::Duration;

use common::*;
use roost_broker::Config;
use roost_codec::{Packet, ProtocolVersion, ReasonCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn connect(broker: &TestBroker) -> TcpStream {
    within(TcpStream::connect(broker.mqtt)).await.expect("connect")
}

#[tokio::test]
async fn connect_v311_gets_connack_and_pingresp() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V311).await.unwrap();
    assert_eq!(read_n(&mut stream, 4).await, CONNACK_V311);
    stream.write_all(PINGREQ).await.unwrap();
    assert_eq!(read_n(&mut stream, 2).await, PINGRESP);
    // DISCONNECT: the broker closes.
    stream.write_all(&[0xE0, 0x00]).await.unwrap();
    assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn connect_v5_gets_connack_with_our_limits() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V5).await.unwrap();
    assert_eq!(read_n(&mut stream, CONNACK_V5.len()).await, CONNACK_V5);
    broker.stop().await;
}

#[tokio::test]
async fn connect_v5_without_client_id_is_assigned_one() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V5_NO_ID).await.unwrap();
    let Packet::ConnAck(connack) = read_packet(&mut stream, ProtocolVersion::V5).await else {
        panic!("expected CONNACK");
    };
    assert_eq!(connack.reason_code, ReasonCode::Success);
    let assigned = connack
        .properties
        .assigned_client_identifier
        .expect("[MQTT-3.2.2-16] an assigned client id");
    assert!(!assigned.is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn first_packet_other_than_connect_closes() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(PINGREQ).await.unwrap();
    assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn malformed_packet_after_connect_v5_gets_disconnect_with_reason() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V5).await.unwrap();
    assert_eq!(read_n(&mut stream, CONNACK_V5.len()).await, CONNACK_V5);
    // PINGREQ with a flag bit set breaks [MQTT-2.1.3-1].
    stream.write_all(&[0xC1, 0x00]).await.unwrap();
    let Packet::Disconnect(disconnect) = read_packet(&mut stream, ProtocolVersion::V5).await else {
        panic!("expected DISCONNECT");
    };
    assert_eq!(disconnect.reason_code, ReasonCode::MalformedPacket);
    assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn malformed_packet_after_connect_v311_just_closes() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V311).await.unwrap();
    assert_eq!(read_n(&mut stream, 4).await, CONNACK_V311);
    stream.write_all(&[0xC1, 0x00]).await.unwrap();
    assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn shutdown_tells_v5_clients_why() {
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    stream.write_all(CONNECT_V5).await.unwrap();
    assert_eq!(read_n(&mut stream, CONNACK_V5.len()).await, CONNACK_V5);
    broker.stop().await;
    let Packet::Disconnect(disconnect) = read_packet(&mut stream, ProtocolVersion::V5).await else {
        panic!("expected DISCONNECT");
    };
    assert_eq!(disconnect.reason_code, ReasonCode::ServerShuttingDown);
    assert_closed(&mut stream).await;
}

#[tokio::test]
async fn silent_socket_is_closed_after_the_connect_timeout() {
    // A short timeout instead of the default 10 s; the close itself is what the test waits for.
    let config = Config {
        connect_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let mut stream = connect(&broker).await;
    assert_closed(&mut stream).await;
    broker.stop().await;
}
