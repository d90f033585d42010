//! The MQTT service layer's protocol state, driven with bytes alone (runs in headless Chromium).

use roost_codec::{BytesMut, Packet, ProtocolVersion, ReasonCode};
use roost_web::mqtt::{ConnectionState, Session, mqtt_url};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// CONNACK success, MQTT 5, Assigned Client Identifier "roost-7".
const CONNACK_ASSIGNED: &[u8] = &[
    0x20, 0x0D, 0x00, 0x00, 0x0A, 0x12, 0x00, 0x07, b'r', b'o', b'o', b's', b't', b'-', b'7',
];

#[wasm_bindgen_test]
fn sends_an_mqtt5_connect_asking_for_an_assigned_client_id() {
    let mut session = Session::new();
    let mut bytes = BytesMut::from(&session.opened()[..]);
    let Some(Packet::Connect(connect)) = Packet::decode(&mut bytes, ProtocolVersion::V5, u32::MAX).unwrap() else {
        panic!("expected CONNECT");
    };
    assert_eq!(connect.protocol, ProtocolVersion::V5);
    assert!(connect.client_id.is_empty());
    assert!(connect.clean_start);
    assert!(bytes.is_empty(), "exactly one packet");
}

#[wasm_bindgen_test]
fn connack_makes_it_connected_even_when_split() {
    let mut session = Session::new();
    session.opened();
    let (head, tail) = CONNACK_ASSIGNED.split_at(4);
    assert_eq!(session.received(head), None);
    assert_eq!(
        session.received(tail),
        Some(ConnectionState::Connected {
            reason_code: ReasonCode::Success,
            client_id: "roost-7".into()
        })
    );
    // PINGRESP changes nothing.
    assert_eq!(session.received(&[0xD0, 0x00]), None);
}

#[wasm_bindgen_test]
fn refusal_and_disconnect_say_why() {
    let mut refused = Session::new();
    refused.opened();
    // CONNACK 0x87 Not authorized.
    let Some(ConnectionState::Disconnected { why }) = refused.received(&[0x20, 0x03, 0x00, 0x87, 0x00]) else {
        panic!("expected disconnected");
    };
    assert!(why.contains("refused") && why.contains("Not authorized"), "{why}");
    // The WebSocket closing afterwards keeps the more specific reason.
    assert_eq!(refused.closed(1000, ""), None);

    let mut dropped = Session::new();
    dropped.opened();
    dropped.received(CONNACK_ASSIGNED).unwrap();
    // DISCONNECT 0x8B Server shutting down.
    let Some(ConnectionState::Disconnected { why }) = dropped.received(&[0xE0, 0x02, 0x8B, 0x00]) else {
        panic!("expected disconnected");
    };
    assert!(why.contains("Server shutting down"), "{why}");
}

#[wasm_bindgen_test]
fn garbage_and_early_close_end_the_session() {
    let mut session = Session::new();
    session.opened();
    assert!(session.received(&[0x00, 0x00]).unwrap().is_disconnected());

    let mut unreachable = Session::new();
    let Some(ConnectionState::Disconnected { why }) = unreachable.closed(1006, "") else {
        panic!("expected disconnected");
    };
    assert!(why.contains("Cannot reach"), "{why}");
}

#[wasm_bindgen_test]
fn websocket_url_follows_the_page() {
    assert_eq!(mqtt_url("http:", "pi.local:8080"), "ws://pi.local:8080/mqtt");
    assert_eq!(mqtt_url("https:", "roost.example"), "wss://roost.example/mqtt");
}
