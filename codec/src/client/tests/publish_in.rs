//! The server's publications to us: delivery, acknowledgement, exactly once, our Receive Maximum.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::NonZeroU16;

use super::*;

/// The payloads of the delivered messages among `events`.
fn delivered(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(p) => Some(String::from_utf8_lossy(&p.payload).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn qos0_and_qos1_are_delivered_and_qos1_acknowledged() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let p0 = server_publish("t/0", QoSPid::AtMostOnce, "zero");
        h.server_sends(Packet::Publish(p0.clone()), h.at(1)).unwrap();
        assert_eq!(h.events(), vec![Event::Message(p0)]);
        assert!(h.sent().is_empty());

        let p1 = server_publish("t/1", QoSPid::AtLeastOnce(pid(300)), "one");
        h.server_sends(Packet::Publish(p1.clone()), h.at(2)).unwrap();
        assert_eq!(h.events(), vec![Event::Message(p1)]);
        assert_eq!(summary(&h.sent()), ["PUBACK 300"]);
    }
}

#[test]
fn qos2_is_delivered_exactly_once_despite_repeats() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let p = server_publish("t", QoSPid::ExactlyOnce(pid(9)), "first");
        h.server_sends(Packet::Publish(p.clone()), h.at(1)).unwrap();
        assert_eq!(delivered(&h.events()), ["first"]);
        assert_eq!(summary(&h.sent()), ["PUBREC 9"]);
        assert_eq!(h.client.awaiting_release(), 1);

        // The server repeats it, with DUP and even without: acknowledged again, not delivered again.
        let mut repeat = p.clone();
        repeat.dup = true;
        h.server_sends(Packet::Publish(repeat), h.at(2)).unwrap();
        h.server_sends(Packet::Publish(p.clone()), h.at(3)).unwrap();
        assert!(h.events().is_empty());
        assert_eq!(summary(&h.sent()), ["PUBREC 9", "PUBREC 9"]);

        assert_eq!(h.client.awaiting_release(), 1, "a repeat is the same exchange");
        h.server_sends(Packet::PubRel(Ack::new(pid(9))), h.at(4)).unwrap();
        assert_eq!(summary(&h.sent()), ["PUBCOMP 9"]);
        assert_eq!(h.client.awaiting_release(), 0);
        // After PUBCOMP the identifier names a new message ([MQTT-4.3.3-12]).
        let next = server_publish("t", QoSPid::ExactlyOnce(pid(9)), "second");
        h.server_sends(Packet::Publish(next), h.at(5)).unwrap();
        assert_eq!(delivered(&h.events()), ["second"]);
    }
}

#[test]
fn a_pubrel_for_an_unknown_identifier_still_gets_its_pubcomp() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        h.server_sends(Packet::PubRel(Ack::new(pid(4))), h.at(1)).unwrap();
        let sent = h.sent();
        let [Packet::PubComp(pubcomp)] = &sent[..] else {
            panic!("expected PUBCOMP, got {sent:?}");
        };
        let expected = if version.is_v5() {
            ReasonCode::PacketIdentifierNotFound
        } else {
            ReasonCode::Success
        };
        assert_eq!((pubcomp.packet_id, pubcomp.reason_code), (pid(4), expected));
        assert_eq!(h.client.state(), State::Connected);
    }
}

#[test]
fn a_server_exceeding_our_receive_maximum_is_disconnected_with_0x93() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.receive_maximum = NonZeroU16::new(2);
    let mut h = Harness::connected_with(options, Properties::default());
    for id in [1, 2] {
        let p = server_publish("t", QoSPid::ExactlyOnce(pid(id)), "m");
        h.server_sends(Packet::Publish(p), h.at(1)).unwrap();
    }
    // A repeat of one already counted is fine; QoS 1 is acknowledged at once and never counts.
    let repeat = server_publish("t", QoSPid::ExactlyOnce(pid(2)), "m");
    h.server_sends(Packet::Publish(repeat), h.at(2)).unwrap();
    let qos1 = server_publish("t", QoSPid::AtLeastOnce(pid(3)), "m");
    h.server_sends(Packet::Publish(qos1), h.at(2)).unwrap();
    // Releasing one makes room for one more.
    h.server_sends(Packet::PubRel(Ack::new(pid(1))), h.at(3)).unwrap();
    let p = server_publish("t", QoSPid::ExactlyOnce(pid(4)), "m");
    h.server_sends(Packet::Publish(p), h.at(4)).unwrap();
    assert_eq!(
        summary(&h.sent()),
        ["PUBREC 1", "PUBREC 2", "PUBREC 2", "PUBACK 3", "PUBCOMP 1", "PUBREC 4"]
    );

    let third = server_publish("t", QoSPid::ExactlyOnce(pid(5)), "too many");
    assert_eq!(
        h.server_sends(Packet::Publish(third), h.at(5)),
        Err(ProtocolError::ReceiveMaximumExceeded(2))
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x93"]);
    assert_eq!(h.client.state(), State::Disconnected);
    let events = h.events();
    assert_eq!(
        delivered(&events),
        ["m", "m", "m", "m"],
        "the excess message is not delivered"
    );
    let Some(Event::Disconnected(d)) = events.last() else {
        panic!("expected Disconnected last, got {events:?}");
    };
    assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn qos2_state_survives_a_lost_connection() {
    for version in VERSIONS {
        let mut options = ClientOptions::new(version, "c");
        options.clean_start = false;
        let mut h = Harness::connected_with(options, Properties::default());
        let p = server_publish("t", QoSPid::ExactlyOnce(pid(5)), "once");
        h.server_sends(Packet::Publish(p.clone()), h.at(1)).unwrap();
        assert_eq!(delivered(&h.events()), ["once"]);
        // The PUBREC is lost with the connection.
        h.reconnect(false, h.at(100));
        h.server_sends(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)), h.at(101))
            .unwrap();
        h.events();
        let mut repeat = p;
        repeat.dup = true;
        h.server_sends(Packet::Publish(repeat), h.at(102)).unwrap();
        assert!(delivered(&h.events()).is_empty(), "{version}: delivered twice");
        h.server_sends(Packet::PubRel(Ack::new(pid(5))), h.at(103)).unwrap();
        assert_eq!(summary(&h.sent()), ["PUBREC 5", "PUBCOMP 5"]);
    }
}

#[test]
fn a_client_only_packet_from_the_server_is_a_protocol_error() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    assert_eq!(
        h.server_sends(Packet::PingReq, h.at(1)),
        Err(ProtocolError::UnexpectedPacket(crate::packet::PacketType::PingReq))
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x82"]);
}

#[test]
fn manual_acks_wait_for_the_application() {
    for version in VERSIONS {
        let mut options = ClientOptions::new(version, "bridge");
        options.manual_acks = true;
        let mut h = Harness::connected_with(options, Properties::default());
        let p1 = server_publish("t/1", QoSPid::AtLeastOnce(pid(1)), "one");
        h.server_sends(Packet::Publish(p1), h.at(1)).unwrap();
        assert_eq!(delivered(&h.events()), ["one"]);
        assert!(h.sent().is_empty(), "no PUBACK before the application says so");
        h.client.acknowledge(pid(1), QoS::AtLeastOnce, h.at(2));
        assert_eq!(summary(&h.sent()), ["PUBACK 1"]);

        let p2 = server_publish("t/2", QoSPid::ExactlyOnce(pid(2)), "two");
        h.server_sends(Packet::Publish(p2.clone()), h.at(3)).unwrap();
        assert_eq!(delivered(&h.events()), ["two"]);
        assert!(h.sent().is_empty(), "no PUBREC before the application says so");
        // [MQTT-4.3.3-10] a repeat is not delivered again, and not answered before the application answers.
        let mut repeat = p2.clone();
        repeat.dup = true;
        h.server_sends(Packet::Publish(repeat.clone()), h.at(4)).unwrap();
        assert!(h.events().is_empty());
        assert!(h.sent().is_empty());
        h.client.acknowledge(pid(2), QoS::ExactlyOnce, h.at(5));
        assert_eq!(summary(&h.sent()), ["PUBREC 2"]);
        // Acknowledged once: a repeat now gets its PUBREC at once, and PUBREL its PUBCOMP.
        h.server_sends(Packet::Publish(repeat), h.at(6)).unwrap();
        assert!(h.events().is_empty());
        assert_eq!(summary(&h.sent()), ["PUBREC 2"]);
        h.client.acknowledge(pid(2), QoS::ExactlyOnce, h.at(7));
        assert!(h.sent().is_empty(), "a second acknowledgement sends nothing");
        h.server_sends(Packet::PubRel(Ack::new(pid(2))), h.at(8)).unwrap();
        assert_eq!(summary(&h.sent()), ["PUBCOMP 2"]);
    }
}

#[test]
fn a_bridge_marks_its_3x_connect() {
    for version in VERSIONS {
        let mut options = ClientOptions::new(version, "bridge");
        options.bridge = true;
        let mut h = Harness::new(options);
        h.client.connect(h.t0).unwrap();
        let [Packet::Connect(connect)] = &h.sent()[..] else {
            panic!("CONNECT expected")
        };
        // On the wire only MQTT 3.x has the mark.
        assert_eq!(connect.bridge, !version.is_v5());
    }
}
