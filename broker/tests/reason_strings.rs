//! Reason Strings: a few words on error acknowledgements, refusals and DISCONNECTs for MQTT 5 clients, left out
//! where the client asked for no problem information or where they would make a packet too large for it.

mod common;

use std::num::NonZeroU32;

use common::*;
use roost_codec::{Ack, Packet, ProtocolVersion::V5, QoS, QoSPid, ReasonCode};

/// The next packet, which must be `$variant`, with its reason code checked; evaluates to its Reason String.
macro_rules! reason_string_of {
    ($client:expr, $variant:ident, $code:expr) => {
        match $client.recv().await {
            Packet::$variant(ack) => {
                assert_eq!(ack.reason_code, $code);
                ack.properties.reason_string.map(|s| s.to_string())
            }
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

/// Sends the requests the broker refuses with an acknowledgement: a SUBSCRIBE and an UNSUBSCRIBE with an invalid
/// filter (`a+`, raw bytes: the codec will not encode them), a QoS 1 and a QoS 2 PUBLISH to a `$` topic, a PUBREC
/// and a PUBREL for unknown packet ids. Returns the Reason Strings of the SUBACK, UNSUBACK, PUBACK, PUBREC,
/// PUBREL and PUBCOMP, after checking their codes.
async fn refused_acks(client: &mut RawClient) -> [Option<String>; 6] {
    client
        .send_raw(&[0x82, 0x08, 0x00, 0x02, 0x00, 0x00, 0x02, b'a', b'+', 0x00])
        .await;
    let suback = match client.recv().await {
        Packet::SubAck(ack) => {
            assert_eq!(ack.reason_codes, [ReasonCode::TopicFilterInvalid]);
            ack.properties.reason_string.map(|s| s.to_string())
        }
        other => panic!("expected SUBACK, got {other:?}"),
    };
    client
        .send_raw(&[0xA2, 0x07, 0x00, 0x03, 0x00, 0x00, 0x02, b'a', b'+'])
        .await;
    let unsuback = match client.recv().await {
        Packet::UnsubAck(ack) => {
            assert_eq!(ack.reason_codes, [ReasonCode::TopicFilterInvalid]);
            ack.properties.reason_string.map(|s| s.to_string())
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    };
    let mut dollar = publish("$SYS/t", QoS::AtLeastOnce, b"x");
    dollar.qos_pid = QoSPid::AtLeastOnce(pid(3));
    client.send(Packet::Publish(dollar.clone())).await;
    let puback = reason_string_of!(client, PubAck, ReasonCode::TopicNameInvalid);
    dollar.qos_pid = QoSPid::ExactlyOnce(pid(4));
    client.send(Packet::Publish(dollar)).await;
    let pubrec = reason_string_of!(client, PubRec, ReasonCode::TopicNameInvalid);
    client.send(Packet::PubRec(Ack::new(pid(5)))).await;
    let pubrel = reason_string_of!(client, PubRel, ReasonCode::PacketIdentifierNotFound);
    client.send(Packet::PubRel(Ack::new(pid(6)))).await;
    let pubcomp = reason_string_of!(client, PubComp, ReasonCode::PacketIdentifierNotFound);
    [suback, unsuback, puback, pubrec, pubrel, pubcomp]
}

/// Sends a second CONNECT (a protocol error) and returns the DISCONNECT's Reason String, after checking its code
/// and that the connection closes.
async fn protocol_error_disconnect(client: &mut RawClient) -> Option<String> {
    client
        .send(Packet::Connect(Box::new(connect_packet(V5, "again"))))
        .await;
    let disconnect = match client.recv().await {
        Packet::Disconnect(disconnect) => disconnect,
        other => panic!("expected DISCONNECT, got {other:?}"),
    };
    assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError);
    // [MQTT-3.14.2-2] the server never sends a Session Expiry Interval on DISCONNECT.
    assert_eq!(disconnect.properties.session_expiry_interval, None);
    assert_eq!(client.expect_close().await, None);
    disconnect.properties.reason_string.map(|s| s.to_string())
}

#[tokio::test]
async fn error_acknowledgements_and_disconnect_say_why() {
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "why").await;
    let [suback, unsuback, puback, pubrec, pubrel, pubcomp] = refused_acks(&mut client).await;
    assert_eq!(suback.as_deref(), Some("invalid topic filter"));
    assert_eq!(unsuback.as_deref(), Some("invalid topic filter"));
    assert_eq!(puback.as_deref(), Some("$SYS topics are the broker's own"));
    assert_eq!(pubrec.as_deref(), Some("$SYS topics are the broker's own"));
    assert_eq!(pubrel.as_deref(), Some("unknown packet identifier"));
    assert_eq!(pubcomp.as_deref(), Some("unknown packet identifier"));
    assert_eq!(
        protocol_error_disconnect(&mut client).await.as_deref(),
        Some("a second CONNECT")
    );
    broker.stop().await;
}

#[tokio::test]
async fn request_problem_information_0_keeps_reason_strings_to_disconnect_mqtt_3_1_2_29() {
    // [MQTT-3.1.2-29]: with Request Problem Information 0, no Reason String (or User Property) on anything but
    // PUBLISH, CONNACK and DISCONNECT.
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(V5, "quiet");
    connect.properties.request_problem_information = Some(false);
    let (mut client, _) = RawClient::connect(&broker, connect).await;
    assert_eq!(refused_acks(&mut client).await, [None, None, None, None, None, None]);
    assert_eq!(
        protocol_error_disconnect(&mut client).await.as_deref(),
        Some("a second CONNECT")
    );
    broker.stop().await;
}

#[tokio::test]
async fn reason_strings_are_dropped_rather_than_the_packet_over_the_maximum_packet_size() {
    // [MQTT-3.9.2-1], [MQTT-3.11.2-1], [MQTT-3.4.2-2], [MQTT-3.5.2-2], [MQTT-3.6.2-2], [MQTT-3.7.2-2],
    // [MQTT-3.14.2-3]: a Reason String that would take the packet over the client's Maximum Packet Size is left
    // out; the packet itself is sent ([MQTT-3.1.2-24] holds).
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(V5, "small");
    // Room for the CONNACK with our limits (16 bytes) and the bare acknowledgements, not for their words.
    connect.properties.maximum_packet_size = NonZeroU32::new(20);
    let (mut client, _) = RawClient::connect(&broker, connect).await;
    assert_eq!(refused_acks(&mut client).await, [None, None, None, None, None, None]);
    assert_eq!(protocol_error_disconnect(&mut client).await, None);
    broker.stop().await;
}

#[tokio::test]
async fn a_refusing_connack_says_why() {
    // CONNACK may carry a Reason String even with Request Problem Information 0 ([MQTT-3.1.2-29]).
    let broker = TestBroker::start_with(roost_broker::Config {
        max_connections: 1,
        ..roost_broker::Config::default()
    })
    .await;
    let (_first, _) = RawClient::connect(&broker, connect_packet(V5, "first")).await;
    let mut connect = connect_packet(V5, "second");
    connect.properties.request_problem_information = Some(false);
    let (mut refused, connack) = RawClient::connect(&broker, connect).await;
    assert_eq!(connack.reason_code, ReasonCode::ServerBusy);
    assert_eq!(
        connack.properties.reason_string.as_deref(),
        Some("too many clients connected")
    );
    assert_eq!(refused.expect_close().await, None);
    broker.stop().await;
}
