//! CONNECT and CONNACK: accepted, refused in words, assigned client identifier, and what may not come first.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;

use super::*;
use crate::client::{ClientError, Connected, Refused};
use crate::packet::{Disconnect, Will};

#[test]
fn connect_carries_the_options() {
    for version in VERSIONS {
        let mut options = ClientOptions::new(version, "dash-1");
        options.keep_alive = 30;
        options.clean_start = false;
        options.username = Some("ann".into());
        options.password = Some(Bytes::from_static(b"secret"));
        options.will = Some(Will {
            topic: topic("status/dash-1"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        });
        options.session_expiry_interval = Some(300);
        options.receive_maximum = NonZeroU16::new(10);
        options.maximum_packet_size = NonZeroU32::new(4096);
        options.topic_alias_maximum = 5;
        options.request_problem_information = Some(false);
        options.user_properties = vec![("app".into(), "roost".into())];
        let mut h = Harness::new(options);
        h.client.connect(h.t0).unwrap();
        assert_eq!(h.client.state(), State::Connecting);
        let [Packet::Connect(connect)] = &h.sent()[..] else {
            panic!("expected CONNECT");
        };
        assert_eq!(connect.protocol, version);
        assert_eq!(connect.client_id, "dash-1");
        assert_eq!(connect.keep_alive, 30);
        assert!(!connect.clean_start);
        assert_eq!(connect.username.as_deref(), Some("ann"));
        assert_eq!(connect.password.as_deref(), Some(&b"secret"[..]));
        assert_eq!(connect.will.as_ref().unwrap().topic, topic("status/dash-1"));
        let p = &connect.properties;
        if version.is_v5() {
            assert_eq!(p.session_expiry_interval, Some(300));
            assert_eq!(p.receive_maximum, NonZeroU16::new(10));
            assert_eq!(p.maximum_packet_size, NonZeroU32::new(4096));
            assert_eq!(p.topic_alias_maximum, Some(5));
            assert_eq!(p.request_problem_information, Some(false));
            assert_eq!(p.user_properties, vec![("app".into(), "roost".into())]);
        } else {
            assert!(p.is_empty(), "MQTT 3.x has no properties");
        }
    }
}

#[test]
fn accepted_connack_reports_connected_with_the_servers_limits() {
    for version in VERSIONS {
        let mut h = Harness::new(ClientOptions::new(version, "c"));
        h.client.connect(h.t0).unwrap();
        h.sent();
        let mut connack = ConnAck::new(false, ReasonCode::Success);
        if version.is_v5() {
            connack.properties.receive_maximum = NonZeroU16::new(7);
            connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
            connack.properties.retain_available = Some(false);
        }
        h.server_sends(Packet::ConnAck(connack.clone()), h.at(20)).unwrap();
        assert_eq!(h.client.state(), State::Connected);
        assert_eq!(
            h.events(),
            vec![Event::Connected(Connected {
                session_present: false,
                client_id: "c".into(),
                keep_alive: 60,
                properties: connack.properties,
            })]
        );
        let limits = h.client.server_limits();
        if version.is_v5() {
            assert_eq!(
                (limits.receive_maximum, limits.maximum_qos, limits.retain_available),
                (7, QoS::AtLeastOnce, false)
            );
        } else {
            assert_eq!(*limits, Default::default());
        }
    }
}

#[test]
fn refused_connack_is_reported_in_words() {
    // MQTT 5: the reason code and the server's reason string.
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V5, "c"));
    h.client.connect(h.t0).unwrap();
    let mut connack = ConnAck::new(false, ReasonCode::NotAuthorized);
    connack.properties.reason_string = Some("no access to this broker".into());
    h.server_sends(Packet::ConnAck(connack), h.at(5)).unwrap();
    assert_eq!(h.client.state(), State::Disconnected);
    let [Event::ConnectionRefused(refused)] = &h.events()[..] else {
        panic!("expected ConnectionRefused");
    };
    assert_eq!(
        refused.to_string(),
        "connection refused: Not authorized (0x87): no access to this broker"
    );
    assert_eq!(h.client.poll_timeout(), None, "no timer runs once refused");

    // MQTT 3.1.1: return code 4 reads as its MQTT 5 equivalent.
    for version in [ProtocolVersion::V31, ProtocolVersion::V311] {
        let mut h = Harness::new(ClientOptions::new(version, "c"));
        h.client.connect(h.t0).unwrap();
        h.server_sends(
            Packet::ConnAck(ConnAck::new(false, ReasonCode::BadUserNameOrPassword)),
            h.at(5),
        )
        .unwrap();
        assert_eq!(
            h.events(),
            vec![Event::ConnectionRefused(Refused {
                reason_code: ReasonCode::BadUserNameOrPassword,
                reason_string: None,
                server_reference: None,
            })]
        );
        assert_eq!(h.client.state(), State::Disconnected);
    }
}

#[test]
fn an_assigned_client_identifier_is_adopted_for_the_next_connection() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "");
    options.session_expiry_interval = Some(3600);
    let mut h = Harness::new(options);
    h.client.connect(h.t0).unwrap();
    let [Packet::Connect(connect)] = &h.sent()[..] else {
        panic!("expected CONNECT");
    };
    assert_eq!(connect.client_id, "");
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.assigned_client_identifier = Some("auto-7f3a".into());
    h.server_sends(Packet::ConnAck(connack), h.at(1)).unwrap();
    let [Event::Connected(connected)] = &h.events()[..] else {
        panic!("expected Connected");
    };
    assert_eq!(connected.client_id, "auto-7f3a");
    assert_eq!(h.client.client_id(), "auto-7f3a");

    h.client.connection_lost();
    h.client.options_mut().clean_start = false;
    h.client.connect(h.at(1000)).unwrap();
    let [Packet::Connect(connect)] = &h.sent()[..] else {
        panic!("expected CONNECT");
    };
    assert_eq!(
        connect.client_id, "auto-7f3a",
        "the session is found again by the assigned identifier"
    );
}

#[test]
fn a_clean_start_without_our_own_identifier_asks_for_a_new_one() {
    // After a broker restart the identifier it assigned before may be another client's: reusing it with a clean
    // start could take that client's connection over ([MQTT-3.1.4-3]).
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V5, ""));
    h.client.connect(h.t0).unwrap();
    h.sent();
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.assigned_client_identifier = Some("auto-1".into());
    h.server_sends(Packet::ConnAck(connack), h.at(1)).unwrap();
    assert_eq!(h.client.client_id(), "auto-1");
    h.client.connection_lost();
    h.client.connect(h.at(1000)).unwrap();
    let [Packet::Connect(connect)] = &h.sent()[..] else {
        panic!("expected CONNECT");
    };
    assert_eq!(connect.client_id, "", "a new identifier is requested");
}

#[test]
fn mqtt3_refuses_an_empty_client_identifier_without_clean_session() {
    for version in [ProtocolVersion::V31, ProtocolVersion::V311] {
        let mut options = ClientOptions::new(version, "");
        options.clean_start = false;
        let mut client = Client::new(options);
        assert_eq!(
            client.connect(Instant::now()),
            Err(ClientError::EmptyClientIdWithoutCleanStart)
        );
        assert_eq!(client.state(), State::Disconnected);
    }
}

#[test]
fn connect_twice_is_refused() {
    let mut h = Harness::connected(ProtocolVersion::V311);
    assert_eq!(h.client.connect(h.at(1)), Err(ClientError::AlreadyConnected));
}

#[test]
fn a_packet_before_connack_is_a_protocol_error() {
    for version in VERSIONS {
        let mut h = Harness::new(ClientOptions::new(version, "c"));
        h.client.connect(h.t0).unwrap();
        h.sent();
        let publish = server_publish("a", QoSPid::AtMostOnce, "early");
        assert_eq!(
            h.server_sends(Packet::Publish(publish), h.at(1)),
            Err(ProtocolError::BeforeConnAck(crate::packet::PacketType::Publish))
        );
        assert_eq!(h.client.state(), State::Disconnected);
        // MQTT 5 says why before closing; MQTT 3.x can only close.
        let expected: &[&str] = if version.is_v5() { &["DISCONNECT 0x82"] } else { &[] };
        assert_eq!(summary(&h.sent()), expected);
        let [Event::Disconnected(d)] = &h.events()[..] else {
            panic!("expected Disconnected");
        };
        assert_eq!((d.reason_code, d.by_server), (ReasonCode::ProtocolError, false));
    }
}

#[test]
fn a_second_connack_is_a_protocol_error() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let connack = Packet::ConnAck(ConnAck::new(false, ReasonCode::Success));
    assert_eq!(h.server_sends(connack, h.at(1)), Err(ProtocolError::SecondConnAck));
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x82"]);
}

#[test]
fn malformed_bytes_are_answered_with_0x81() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        // Packet type 0 is reserved.
        let err = h.client.handle_bytes(&[0x00, 0x00], h.at(1)).unwrap_err();
        assert!(matches!(err, ProtocolError::Malformed(_)), "{err:?}");
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
        let expected: &[&str] = if version.is_v5() { &["DISCONNECT 0x81"] } else { &[] };
        assert_eq!(summary(&h.sent()), expected);
        assert_eq!(h.client.state(), State::Disconnected);
        // Whatever comes after is ignored.
        assert_eq!(h.client.handle_bytes(&[0xD0, 0x00], h.at(2)), Ok(()));
        assert!(h.sent().is_empty());
    }
}

#[test]
fn a_packet_larger_than_our_maximum_is_refused_from_its_header() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.maximum_packet_size = NonZeroU32::new(64);
    let mut h = Harness::connected_with(options, Properties::default());
    // A PUBLISH header announcing 1000 bytes; the body never needs to arrive.
    let err = h.client.handle_bytes(&[0x30, 0xE8, 0x07], h.at(1)).unwrap_err();
    assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x95"]);
}

#[test]
fn packets_split_anywhere_are_reassembled() {
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V5, "c"));
    h.client.connect(h.t0).unwrap();
    h.sent();
    let mut bytes = BytesMut::new();
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.reason_string = Some("welcome".into());
    Packet::ConnAck(connack)
        .encode(ProtocolVersion::V5, &mut bytes, MAX_PACKET_SIZE)
        .unwrap();
    Packet::Publish(server_publish("a/b", QoSPid::AtMostOnce, "hello"))
        .encode(ProtocolVersion::V5, &mut bytes, MAX_PACKET_SIZE)
        .unwrap();
    for byte in bytes.iter() {
        h.client.handle_bytes(&[*byte], h.at(1)).unwrap();
    }
    let events = h.events();
    assert!(
        matches!(events[..], [Event::Connected(_), Event::Message(_)]),
        "{events:?}"
    );
}

#[test]
fn no_connack_in_time_abandons_the_attempt() {
    let mut options = ClientOptions::new(ProtocolVersion::V311, "c");
    options.connect_timeout = Duration::from_secs(5);
    let mut h = Harness::new(options);
    h.client.connect(h.t0).unwrap();
    assert_eq!(h.client.poll_timeout(), Some(h.at(5000)));
    h.client.handle_timeout(h.at(4999));
    assert_eq!(h.client.state(), State::Connecting);
    h.client.handle_timeout(h.at(5000));
    assert_eq!(h.client.state(), State::Disconnected);
    assert_eq!(h.events(), vec![Event::ConnectTimeout]);
}

#[test]
fn a_server_disconnect_before_connack_is_surfaced() {
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V5, "c"));
    h.client.connect(h.t0).unwrap();
    h.sent();
    h.server_sends(Packet::Disconnect(Disconnect::new(ReasonCode::ServerBusy)), h.at(1))
        .unwrap();
    let [Event::Disconnected(d)] = &h.events()[..] else {
        panic!("expected Disconnected");
    };
    assert_eq!((d.reason_code, d.by_server), (ReasonCode::ServerBusy, true));
}
