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
    assert_eq!(
        disconnect.properties.reason_string.as_deref(),
        Some("the broker is stopping; try again later")
    );
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

#[tokio::test]
async fn unsupported_protocol_level_gets_connack_0x01_then_close() {
    // [MQTT-3.1.2-2]: a protocol level the server does not speak gets CONNACK return code 0x01 (3.1.1's form),
    // then the connection is closed. Level 6 does not exist yet.
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    let connect_level_6 = [
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c',
    ];
    stream.write_all(&connect_level_6).await.unwrap();
    assert_eq!(read_n(&mut stream, 4).await, [0x20, 0x02, 0x00, 0x01]);
    assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn unknown_authentication_method_is_refused_with_0x8c_then_close() {
    // [MQTT-4.12.0-1]: an Authentication Method the server does not support: CONNACK 0x8C, then close.
    let broker = TestBroker::start().await;
    let mut stream = connect(&broker).await;
    // MQTT 5 CONNECT, properties: Authentication Method (0x15) "SCRAM-SHA-1", client id "c".
    let mut connect_with_method = vec![0x10, 0x1C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C];
    connect_with_method.extend_from_slice(&[0x0E, 0x15, 0x00, 0x0B]);
    connect_with_method.extend_from_slice(b"SCRAM-SHA-1");
    connect_with_method.extend_from_slice(&[0x00, 0x01, b'c']);
    assert_eq!(connect_with_method.len(), 2 + 0x1C);
    stream.write_all(&connect_with_method).await.unwrap();
    // CONNACK: no session, 0x8C, and in words why.
    match read_packet(&mut stream, roost_codec::ProtocolVersion::V5).await {
        roost_codec::Packet::ConnAck(connack) => {
            assert_eq!(connack.reason_code, roost_codec::ReasonCode::BadAuthenticationMethod);
            assert!(!connack.session_present);
            assert_eq!(
                connack.properties.reason_string.as_deref(),
                Some("no authentication method is supported")
            );
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_closed(&mut stream).await;
    broker.stop().await;
}
