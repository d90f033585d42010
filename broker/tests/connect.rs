//! CONNECT edge cases: client identifiers, Clean Start over an existing session, malformed and refused CONNECTs
//! (nothing after a refused CONNECT is processed), against a real in-process broker.

mod common;

use common::*;
use roost_codec::{
    Packet,
    ProtocolVersion::{self, V5, V31, V311},
    QoS, ReasonCode,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn open(broker: &TestBroker) -> TcpStream {
    within(TcpStream::connect(broker.mqtt)).await.expect("connect")
}

#[tokio::test]
async fn a_23_character_alphanumeric_client_id_is_accepted_mqtt_3_1_3_5() {
    // [MQTT-3.1.3-5]: 1 to 23 bytes of [0-9a-zA-Z] must be accepted, in every version.
    let broker = TestBroker::start().await;
    let id = "aZ09bY18cX27dW36eV45fU5";
    assert_eq!(id.len(), 23);
    for version in [V31, V311, V5] {
        let (mut client, connack) = RawClient::connect(&broker, connect_packet(version, id)).await;
        assert_eq!(connack.reason_code, ReasonCode::Success, "{version:?}");
        client.assert_nothing_pending().await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn empty_client_ids_are_assigned_unique_ones() {
    // 3.1.1 [MQTT-3.1.3-6]; 5.0 [MQTT-3.1.3-6], [MQTT-3.2.2-16]: each connection gets an id no session uses, so
    // two such clients live side by side (the second does not take the first over).
    let broker = TestBroker::start().await;
    let mut assigned = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (client, connack) = RawClient::connect(&broker, connect_packet(V5, "")).await;
        assert_eq!(connack.reason_code, ReasonCode::Success);
        assigned.push(
            connack
                .properties
                .assigned_client_identifier
                .expect("an assigned identifier"),
        );
        clients.push(client);
    }
    assert_ne!(assigned[0], assigned[1]);
    for _ in 0..2 {
        let (client, connack) = RawClient::connect(&broker, connect_packet(V311, "")).await;
        assert_eq!(connack.reason_code, ReasonCode::Success);
        clients.push(client);
    }
    // All four are still connected and each gets its own copy.
    for client in &mut clients {
        client.subscribe("t", QoS::AtMostOnce).await;
    }
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::AtMostOnce, b"x")).await;
    for client in &mut clients {
        assert_eq!(&client.recv_publish().await.payload[..], b"x");
    }
    broker.stop().await;
}

#[tokio::test]
async fn empty_client_id_without_clean_session_is_rejected_0x02_mqtt_3_1_3_8() {
    // 3.1.1 [MQTT-3.1.3-8]; MQTT 3.1 needs 1 to 23 characters, so it rejects any empty id ([MQTT-3.1.3-9] 3.1.1's
    // "rejected ClientId": CONNACK 0x02, then close). [MQTT-3.2.2-4] Session Present 0, [MQTT-3.2.2-5] close.
    let broker = TestBroker::start().await;
    let mut persistent = connect_packet(V311, "");
    persistent.clean_start = false;
    let (mut client, connack) = RawClient::connect(&broker, persistent).await;
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert!(!connack.session_present);
    assert_eq!(client.expect_close().await, None);
    let (mut client, connack) = RawClient::connect(&broker, connect_packet(V31, "")).await;
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert!(!connack.session_present);
    assert_eq!(client.expect_close().await, None);
    broker.stop().await;
}

#[tokio::test]
async fn clean_start_1_discards_an_existing_v5_session() {
    // 5.0 [MQTT-3.1.2-4], [MQTT-3.1.4-4]: Clean Start 1 discards the session; [MQTT-3.2.2-2] Session Present 0.
    let broker = TestBroker::start().await;
    let mut persistent = connect_packet(V5, "cs");
    persistent.clean_start = false;
    persistent.properties.session_expiry_interval = Some(300);
    let (mut client, _) = RawClient::connect(&broker, persistent.clone()).await;
    client.subscribe("t", QoS::AtLeastOnce).await;
    drop(client);
    let mut clean = persistent.clone();
    clean.clean_start = true;
    let (mut client, connack) = RawClient::connect(&broker, clean).await;
    assert!(!connack.session_present, "a session existed, but Clean Start 1 says 0");
    // The old subscription is gone with the session.
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    assert_eq!(
        publisher.publish(publish("t", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    client.assert_nothing_pending().await;
    broker.stop().await;
}

/// CONNECT bytes of `version` ("MQTT" unless `name` says otherwise) with connect flags `flags`, keep alive 60 and
/// client id "c".
fn raw_connect(version: ProtocolVersion, name: &[u8; 4], flags: u8) -> Vec<u8> {
    let level = match version {
        V5 => 5,
        _ => 4,
    };
    let mut body = vec![0x00, 0x04];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0x00, 0x3C]);
    if version == V5 {
        body.push(0x00);
    }
    body.extend_from_slice(&[0x00, 0x01, b'c']);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

#[tokio::test]
async fn malformed_connect_is_closed_with_nothing_sent() {
    // [MQTT-3.1.4-1] a CONNECT that is not well-formed closes the connection; [MQTT-3.1.2-1] a protocol name other
    // than MQTT is not served as MQTT; [MQTT-3.1.2-3] the reserved flag must be 0. Nothing is sent: 3.1.1 has no
    // fitting return code ([MQTT-3.2.2-6]) and MQTT 5 allows no DISCONNECT before CONNACK ([MQTT-3.14.0-1]).
    let broker = TestBroker::start().await;
    for version in [V311, V5] {
        for bytes in [raw_connect(version, b"MQTX", 0x02), raw_connect(version, b"MQTT", 0x03)] {
            let mut stream = open(&broker).await;
            stream.write_all(&bytes).await.unwrap();
            assert_closed(&mut stream).await;
        }
        // The same bytes with a good name and flags connect.
        let mut stream = open(&broker).await;
        stream.write_all(&raw_connect(version, b"MQTT", 0x02)).await.unwrap();
        assert!(
            matches!(read_packet(&mut stream, version).await, Packet::ConnAck(c) if c.reason_code == ReasonCode::Success)
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn nothing_sent_after_a_refused_connect_is_processed() {
    // 3.1.1 [MQTT-3.1.4-5], 5.0 [MQTT-3.1.4-6]: a retained PUBLISH right behind a refused CONNECT, in the same
    // write, must not be stored.
    let broker = TestBroker::start().await;
    // MQTT 5: an Authentication Method we do not support (CONNACK 0x8C), then PUBLISH retain "r" "x".
    let mut bytes = vec![0x10, 0x1C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C];
    bytes.extend_from_slice(&[0x0E, 0x15, 0x00, 0x0B]);
    bytes.extend_from_slice(b"SCRAM-SHA-1");
    bytes.extend_from_slice(&[0x00, 0x01, b'c']);
    bytes.extend_from_slice(&[0x31, 0x05, 0x00, 0x01, b'r', 0x00, b'x']);
    let mut stream = open(&broker).await;
    stream.write_all(&bytes).await.unwrap();
    match read_packet(&mut stream, V5).await {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::BadAuthenticationMethod),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_closed(&mut stream).await;
    // MQTT 3.1.1: an empty client id with Clean Session 0 (CONNACK 0x02), then PUBLISH retain "r" "y".
    let mut stream = open(&broker).await;
    let bytes = [
        0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x3C, 0x00, 0x00, //
        0x31, 0x04, 0x00, 0x01, b'r', b'y',
    ];
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(read_n(&mut stream, 4).await, [0x20, 0x02, 0x00, 0x02]);
    assert_closed(&mut stream).await;
    // Nothing was retained.
    let mut sub = RawClient::clean(&broker, V5, "sub").await;
    sub.subscribe("r", QoS::AtMostOnce).await;
    sub.assert_nothing_pending().await;
    broker.stop().await;
}
