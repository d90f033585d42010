//! Sessions across connections: resending in order with DUP, losing the session, and ending connections.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::NonZeroU16;

use super::*;
use crate::client::{ClientError, Disconnected, PublishFailure};
use crate::packet::Disconnect;

/// A client with a resumable session and four publications in different states when its connection is lost:
/// 1 (QoS 1) and 3 (QoS 2) unacknowledged, 2 (QoS 2) released with PUBREL, 4 (QoS 1) unacknowledged.
fn four_in_flight_then_lost(version: ProtocolVersion) -> Harness {
    let mut options = ClientOptions::new(version, "c");
    options.clean_start = false;
    options.session_expiry_interval = Some(600);
    let mut h = Harness::connected_with(options, Properties::default());
    h.publish(message("a", QoS::AtLeastOnce, "1"));
    h.publish(message("a", QoS::ExactlyOnce, "2"));
    h.publish(message("a", QoS::ExactlyOnce, "3"));
    h.publish(message("a", QoS::AtLeastOnce, "4"));
    h.server_sends(Packet::PubRec(Ack::new(pid(2))), h.at(1)).unwrap();
    assert_eq!(
        summary(&h.sent()),
        ["PUBLISH 1", "PUBLISH 2", "PUBLISH 3", "PUBLISH 4", "PUBREL 2"]
    );
    h.client.connection_lost();
    assert_eq!(h.client.state(), State::Disconnected);
    h
}

#[test]
fn a_resumed_session_resends_publish_with_dup_and_pubrel_in_order() {
    for version in VERSIONS {
        let mut h = four_in_flight_then_lost(version);
        h.client.connect(h.at(1000)).unwrap();
        assert_eq!(summary(&h.sent()), ["Connect"], "nothing is resent before CONNACK");
        h.server_sends(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)), h.at(1001))
            .unwrap();
        let [Event::Connected(connected)] = &h.events()[..] else {
            panic!("expected Connected");
        };
        assert!(connected.session_present);
        let resent = h.sent();
        assert_eq!(
            summary(&resent),
            ["PUBLISH 1 dup", "PUBREL 2", "PUBLISH 3 dup", "PUBLISH 4 dup"],
            "{version}"
        );
        let Packet::Publish(p3) = &resent[2] else {
            unreachable!()
        };
        assert_eq!(&p3.payload[..], b"3", "the original message, not a copy of another");
        // The flows finish as usual.
        h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(1002)).unwrap();
        h.server_sends(Packet::PubComp(Ack::new(pid(2))), h.at(1002)).unwrap();
        h.server_sends(Packet::PubRec(Ack::new(pid(3))), h.at(1002)).unwrap();
        h.server_sends(Packet::PubComp(Ack::new(pid(3))), h.at(1002)).unwrap();
        h.server_sends(Packet::PubAck(Ack::new(pid(4))), h.at(1002)).unwrap();
        assert_eq!(h.events().len(), 4);
        assert_eq!(h.client.in_flight(), 0);
    }
}

#[test]
fn a_lost_session_reports_sent_publications_failed() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = four_in_flight_then_lost(version);
        h.client.connect(h.at(1000)).unwrap();
        h.sent();
        h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(1001))
            .unwrap();
        let events = h.events();
        assert!(matches!(&events[0], Event::Connected(c) if !c.session_present));
        let failed: Vec<_> = events[1..]
            .iter()
            .map(|e| match e {
                Event::PublishFailed {
                    packet_id,
                    reason: PublishFailure::SessionLost,
                } => packet_id.get(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(failed, [1, 2, 3, 4]);
        assert!(h.sent().is_empty(), "{version}: nothing of the old session is resent");
        assert_eq!(h.client.in_flight(), 0);
        // Their identifiers are free again.
        h.client.packet_ids.next = pid(1);
        assert_eq!(h.publish(message("a", QoS::AtLeastOnce, "new")), pid(1));
    }
}

#[test]
fn clean_start_discards_the_session_at_connect_but_sends_what_never_left() {
    let properties = Properties {
        receive_maximum: NonZeroU16::new(1),
        ..Properties::default()
    };
    let mut h = Harness::connected_with(ClientOptions::new(ProtocolVersion::V5, "c"), properties);
    h.publish(message("a", QoS::AtLeastOnce, "sent"));
    h.publish(message("a", QoS::AtLeastOnce, "waiting"));
    assert_eq!(summary(&h.sent()), ["PUBLISH 1"]);
    h.client.connection_lost();
    h.client.connect(h.at(10)).unwrap();
    assert_eq!(
        h.events(),
        vec![Event::PublishFailed {
            packet_id: pid(1),
            reason: PublishFailure::SessionLost
        }]
    );
    h.sent();
    h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(11))
        .unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 2"], "sent fresh, without DUP");
}

#[test]
fn a_smaller_receive_maximum_on_resume_resends_the_rest_as_quota_frees() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.clean_start = false;
    let mut h = Harness::connected_with(options, Properties::default());
    for payload in ["1", "2", "3"] {
        h.publish(message("a", QoS::AtLeastOnce, payload));
    }
    h.sent();
    h.reconnect(false, h.at(100));
    let mut connack = ConnAck::new(true, ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    h.server_sends(Packet::ConnAck(connack), h.at(101)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 1 dup"]);
    assert_eq!((h.client.in_flight(), h.client.queued()), (1, 2));
    h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(102)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 2 dup"]);
    h.server_sends(Packet::PubAck(Ack::new(pid(2))), h.at(103)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 3 dup"]);
}

#[test]
fn session_present_after_clean_start_is_a_protocol_error() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = Harness::new(ClientOptions::new(version, "c"));
        h.client.connect(h.t0).unwrap();
        h.sent();
        assert_eq!(
            h.server_sends(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)), h.at(1)),
            Err(ProtocolError::SessionPresentWithCleanStart)
        );
        assert_eq!(h.client.state(), State::Disconnected);
    }
}

#[test]
fn disconnect_sends_disconnect_and_keeps_the_session() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        h.publish(message("a", QoS::AtLeastOnce, "x"));
        assert_eq!(
            h.client.disconnect(ReasonCode::GrantedQoS1),
            Err(ClientError::InvalidReasonCode(ReasonCode::GrantedQoS1))
        );
        h.client.disconnect(ReasonCode::DisconnectWithWillMessage).unwrap();
        let expected = if version.is_v5() {
            "DISCONNECT 0x04"
        } else {
            "DISCONNECT 0x00"
        };
        assert_eq!(summary(&h.sent()), ["PUBLISH 1", expected]);
        assert_eq!(h.client.state(), State::Disconnected);
        let [Event::Disconnected(d)] = &h.events()[..] else {
            panic!("expected Disconnected");
        };
        assert!(!d.by_server);
        assert_eq!(h.client.in_flight(), 1, "the session outlives the connection");
        assert_eq!(h.client.disconnect(ReasonCode::Success), Err(ClientError::NotConnected));
        assert_eq!(h.client.poll_timeout(), None);
    }
}

#[test]
fn the_servers_disconnect_is_reported_with_its_reason() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let mut disconnect = Disconnect::new(ReasonCode::ServerShuttingDown);
    disconnect.properties.reason_string = Some("maintenance until 14:00".into());
    h.server_sends(Packet::Disconnect(disconnect), h.at(5)).unwrap();
    assert_eq!(h.client.state(), State::Disconnected);
    let events = h.events();
    assert_eq!(
        events,
        vec![Event::Disconnected(Disconnected {
            reason_code: ReasonCode::ServerShuttingDown,
            reason_string: Some("maintenance until 14:00".into()),
            server_reference: None,
            by_server: true,
        })]
    );
    let Event::Disconnected(d) = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        d.to_string(),
        "disconnected by the server: Server shutting down (0x8B): maintenance until 14:00"
    );
    assert!(h.sent().is_empty());
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn publications_that_no_longer_fit_the_new_server_fail_when_due() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.clean_start = false;
    let mut h = Harness::new(options);
    // Accepted while disconnected: the server's limits are unknown.
    let id = h.publish(Message::new(topic("big"), vec![0u8; 500]).with_qos(QoS::AtLeastOnce));
    h.client.connect(h.t0).unwrap();
    h.sent();
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.maximum_packet_size = std::num::NonZeroU32::new(128);
    h.server_sends(Packet::ConnAck(connack), h.at(1)).unwrap();
    let events = h.events();
    assert!(
        matches!(
            &events[1],
            Event::PublishFailed { packet_id, reason: PublishFailure::PacketTooLarge { max: 128, .. } }
                if *packet_id == id
        ),
        "{events:?}"
    );
    assert!(h.sent().is_empty());
}
