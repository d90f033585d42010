//! Our publications: QoS 1 and 2 flows, the server's Receive Maximum, its limits, packet identifiers.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::{NonZeroU16, NonZeroU32};

use super::*;
use crate::client::{ClientError, PublishFailure};
use crate::packet::PacketType;

/// A connected MQTT 5 client whose server announced `receive_maximum`.
fn connected_with_receive_maximum(receive_maximum: u16) -> Harness {
    let properties = Properties {
        receive_maximum: NonZeroU16::new(receive_maximum),
        ..Properties::default()
    };
    Harness::connected_with(ClientOptions::new(ProtocolVersion::V5, "c"), properties)
}

#[test]
fn qos1_publish_is_complete_on_puback() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let id = h.publish(message("a/b", QoS::AtLeastOnce, "one"));
        assert_eq!(id, pid(1));
        let sent = h.sent();
        let [Packet::Publish(p)] = &sent[..] else {
            panic!("expected PUBLISH, got {sent:?}");
        };
        assert_eq!(
            (p.qos_pid, p.dup, p.topic.as_str()),
            (QoSPid::AtLeastOnce(id), false, "a/b")
        );
        assert_eq!(&p.payload[..], b"one");
        assert_eq!(h.client.in_flight(), 1);
        h.server_sends(Packet::PubAck(Ack::new(id)), h.at(1)).unwrap();
        assert_eq!(
            h.events(),
            vec![Event::Published {
                packet_id: id,
                reason_code: ReasonCode::Success
            }]
        );
        assert_eq!(h.client.in_flight(), 0);
        assert!(h.sent().is_empty());
    }
}

#[test]
fn qos2_publish_goes_through_pubrec_pubrel_pubcomp() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let id = h.publish(message("a", QoS::ExactlyOnce, "two"));
        assert_eq!(summary(&h.sent()), ["PUBLISH 1"]);
        h.server_sends(Packet::PubRec(Ack::new(id)), h.at(1)).unwrap();
        assert_eq!(summary(&h.sent()), ["PUBREL 1"]);
        assert!(h.events().is_empty(), "not complete before PUBCOMP");
        assert_eq!(
            h.client.in_flight(),
            1,
            "a released flow still counts against the quota"
        );
        h.server_sends(Packet::PubComp(Ack::new(id)), h.at(2)).unwrap();
        assert_eq!(
            h.events(),
            vec![Event::Published {
                packet_id: id,
                reason_code: ReasonCode::Success
            }]
        );
        assert_eq!(h.client.in_flight(), 0);
    }
}

#[test]
fn a_repeated_pubrec_gets_its_pubrel_again() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let id = h.publish(message("a", QoS::ExactlyOnce, "x"));
    h.server_sends(Packet::PubRec(Ack::new(id)), h.at(1)).unwrap();
    h.server_sends(Packet::PubRec(Ack::new(id)), h.at(2)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 1", "PUBREL 1", "PUBREL 1"]);
    h.server_sends(Packet::PubComp(Ack::new(id)), h.at(3)).unwrap();
    assert_eq!(h.events().len(), 1);
}

#[test]
fn a_failed_pubrec_ends_the_flow_without_pubrel() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let id = h.publish(message("a", QoS::ExactlyOnce, "x"));
    h.sent();
    let mut pubrec = ack_with(1, ReasonCode::QuotaExceeded);
    pubrec.properties.reason_string = Some("too many messages today".into());
    h.server_sends(Packet::PubRec(pubrec), h.at(1)).unwrap();
    assert!(h.sent().is_empty(), "no PUBREL after a failure code");
    let [Event::PublishFailed { packet_id, reason }] = &h.events()[..] else {
        panic!("expected PublishFailed");
    };
    assert_eq!(*packet_id, id);
    assert_eq!(
        reason.to_string(),
        "rejected by the server: Quota exceeded (0x97): too many messages today"
    );
    assert_eq!(h.client.in_flight(), 0);
}

#[test]
fn a_failed_puback_reports_the_rejection() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let id = h.publish(message("a", QoS::AtLeastOnce, "x"));
    h.sent();
    h.server_sends(Packet::PubAck(ack_with(1, ReasonCode::NotAuthorized)), h.at(1))
        .unwrap();
    assert_eq!(
        h.events(),
        vec![Event::PublishFailed {
            packet_id: id,
            reason: PublishFailure::Rejected {
                reason_code: ReasonCode::NotAuthorized,
                reason_string: None
            }
        }]
    );
    // "No matching subscribers" is a success.
    let id = h.publish(message("a", QoS::AtLeastOnce, "x"));
    h.sent();
    let puback = ack_with(id.get(), ReasonCode::NoMatchingSubscribers);
    h.server_sends(Packet::PubAck(puback), h.at(2)).unwrap();
    assert_eq!(
        h.events(),
        vec![Event::Published {
            packet_id: id,
            reason_code: ReasonCode::NoMatchingSubscribers
        }]
    );
}

#[test]
fn the_servers_receive_maximum_queues_publications_in_order() {
    let mut h = connected_with_receive_maximum(2);
    let qos = [
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
    ];
    for (i, qos) in qos.into_iter().enumerate() {
        assert_eq!(h.publish(message("q", qos, "m")), pid(i as u16 + 1));
    }
    assert_eq!(summary(&h.sent()), ["PUBLISH 1", "PUBLISH 2"]);
    assert_eq!((h.client.in_flight(), h.client.queued()), (2, 3));

    // QoS 0 and the other packets are not held back ([MQTT-3.3.4-8]).
    h.client.publish(message("q", QoS::AtMostOnce, "now"), h.at(1)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 0"]);

    h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(2)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 3"]);
    // A PUBREC does not free quota; the PUBCOMP does.
    h.server_sends(Packet::PubRec(Ack::new(pid(2))), h.at(3)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBREL 2"]);
    h.server_sends(Packet::PubComp(Ack::new(pid(2))), h.at(4)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 4"]);
    // A failed PUBREC frees it too.
    let pubrec = ack_with(4, ReasonCode::UnspecifiedError);
    h.server_sends(Packet::PubRec(pubrec), h.at(5)).unwrap();
    assert_eq!(summary(&h.sent()), ["PUBLISH 5"]);
    assert_eq!((h.client.in_flight(), h.client.queued()), (2, 0));
    h.server_sends(Packet::PubAck(Ack::new(pid(3))), h.at(6)).unwrap();
    h.server_sends(Packet::PubAck(Ack::new(pid(5))), h.at(6)).unwrap();
    let done: Vec<u16> = h
        .events()
        .iter()
        .map(|e| match e {
            Event::Published { packet_id, .. } | Event::PublishFailed { packet_id, .. } => packet_id.get(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(done, [1, 2, 4, 3, 5]);
}

#[test]
fn a_full_queue_refuses_the_publication() {
    let properties = Properties {
        receive_maximum: NonZeroU16::new(1),
        ..Properties::default()
    };
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.max_queued_publications = 2;
    let mut h = Harness::connected_with(options, properties);
    h.publish(message("q", QoS::AtLeastOnce, "1"));
    h.publish(message("q", QoS::AtLeastOnce, "2"));
    h.publish(message("q", QoS::AtLeastOnce, "3"));
    assert_eq!(
        h.client.publish(message("q", QoS::AtLeastOnce, "4"), h.at(1)),
        Err(ClientError::QueueFull { limit: 2 })
    );
    assert_eq!((h.client.in_flight(), h.client.queued()), (1, 2));
    // Room again once the first is acknowledged.
    h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(2)).unwrap();
    assert_eq!(h.publish(message("q", QoS::AtLeastOnce, "4")), pid(4));
}

#[test]
fn the_servers_maximum_packet_size_refuses_a_big_publication() {
    let properties = Properties {
        maximum_packet_size: NonZeroU32::new(100),
        ..Properties::default()
    };
    let mut h = Harness::connected_with(ClientOptions::new(ProtocolVersion::V5, "c"), properties);
    let big = Message::new(topic("big"), vec![0u8; 200]);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let result = h.client.publish(big.clone().with_qos(qos), h.at(1));
        let Err(ClientError::PacketTooLarge { size, max: 100 }) = result else {
            panic!("expected PacketTooLarge, got {result:?}");
        };
        assert!(size > 200, "{size}");
    }
    assert!(h.sent().is_empty());
    // The refused publications took no packet identifier.
    assert_eq!(h.publish(message("small", QoS::AtLeastOnce, "ok")), pid(1));
    assert_eq!(summary(&h.sent()), ["PUBLISH 1"]);
}

#[test]
fn the_servers_maximum_qos_and_retain_available_are_respected() {
    let properties = Properties {
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        ..Properties::default()
    };
    let mut h = Harness::connected_with(ClientOptions::new(ProtocolVersion::V5, "c"), properties);
    assert_eq!(
        h.client.publish(message("a", QoS::ExactlyOnce, "x"), h.at(1)),
        Err(ClientError::QoSNotSupported {
            requested: QoS::ExactlyOnce,
            maximum: QoS::AtLeastOnce
        })
    );
    let retained = message("a", QoS::AtMostOnce, "x").with_retain(true);
    assert_eq!(
        h.client.publish(retained, h.at(1)),
        Err(ClientError::RetainNotSupported)
    );
    assert!(h.sent().is_empty());
}

#[test]
fn packet_identifiers_wrap_and_skip_those_in_use() {
    let mut h = Harness::connected(ProtocolVersion::V311);
    assert_eq!(h.publish(message("a", QoS::AtLeastOnce, "held")), pid(1));
    let sub = h
        .client
        .subscribe(vec![(filter("s"), Default::default())], Properties::default(), h.at(1))
        .unwrap();
    assert_eq!(sub, pid(2), "SUBSCRIBE shares the identifier space");
    // Jump near the end of the space rather than publishing 65,531 times; `packet_ids` tests the full cycle.
    h.client.packet_ids.next = pid(65534);
    assert_eq!(h.publish(message("a", QoS::ExactlyOnce, "x")), pid(65534));
    assert_eq!(h.publish(message("a", QoS::AtLeastOnce, "y")), pid(65535));
    // 0 is never an identifier; 1 (the publication) and 2 (the SUBSCRIBE) are in use.
    assert_eq!(h.publish(message("a", QoS::AtLeastOnce, "z")), pid(3));
    h.sent();
    h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(2)).unwrap();
    h.client.packet_ids.next = pid(65535);
    // 65535 is still in flight, 1 is free again.
    assert_eq!(h.publish(message("a", QoS::AtLeastOnce, "w")), pid(1));
}

#[test]
fn qos0_needs_a_connection_but_qos1_waits_for_one() {
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V311, "c"));
    assert_eq!(
        h.client.publish(message("a", QoS::AtMostOnce, "x"), h.t0),
        Err(ClientError::NotConnected)
    );
    let id = h.publish(message("a", QoS::AtLeastOnce, "early"));
    assert_eq!((h.client.in_flight(), h.client.queued()), (0, 1));
    h.client.connect(h.at(1)).unwrap();
    assert_eq!(summary(&h.sent()), ["Connect"], "nothing but CONNECT before CONNACK");
    h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(2))
        .unwrap();
    assert_eq!(summary(&h.sent()), [format!("PUBLISH {id}")]);
}

#[test]
fn an_acknowledgement_for_nothing_in_flight_is_a_protocol_error() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let err = h.server_sends(Packet::PubAck(Ack::new(pid(7))), h.at(1)).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::UnknownPacketId {
                packet: PacketType::PubAck,
                packet_id: pid(7)
            }
        );
        let expected: &[&str] = if version.is_v5() { &["DISCONNECT 0x82"] } else { &[] };
        assert_eq!(summary(&h.sent()), expected);
        assert_eq!(h.client.state(), State::Disconnected);
    }
}

#[test]
fn an_acknowledgement_of_the_wrong_kind_is_a_protocol_error() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    h.publish(message("a", QoS::ExactlyOnce, "x"));
    h.sent();
    assert_eq!(
        h.server_sends(Packet::PubComp(Ack::new(pid(1))), h.at(1)),
        Err(ProtocolError::AckOutOfOrder {
            packet: PacketType::PubComp,
            packet_id: pid(1)
        }),
        "PUBCOMP before PUBREC"
    );
    let mut h = Harness::connected(ProtocolVersion::V5);
    h.publish(message("a", QoS::ExactlyOnce, "x"));
    assert_eq!(
        h.server_sends(Packet::PubAck(Ack::new(pid(1))), h.at(1)),
        Err(ProtocolError::AckOutOfOrder {
            packet: PacketType::PubAck,
            packet_id: pid(1)
        }),
        "PUBACK for QoS 2"
    );
}

#[test]
fn properties_the_client_owns_are_refused() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let mut m = message("a", QoS::AtMostOnce, "x");
    m.properties.topic_alias = NonZeroU16::new(1);
    assert!(matches!(h.client.publish(m, h.at(1)), Err(ClientError::Encode(_))));
    let mut m = message("a", QoS::AtMostOnce, "x");
    m.properties.subscription_identifiers = vec![NonZeroU32::new(1).unwrap()];
    assert!(matches!(h.client.publish(m, h.at(1)), Err(ClientError::Encode(_))));
}

#[test]
fn a_preferred_packet_id_is_used_when_free() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let first = h
            .client
            .publish_preferring_id(message("t", QoS::ExactlyOnce, "a"), pid(700), h.at(1))
            .unwrap();
        assert_eq!(first, Some(pid(700)));
        // In use: another identifier, never a second packet with the same one ([MQTT-2.2.1-3]).
        let second = h
            .client
            .publish_preferring_id(message("t", QoS::AtLeastOnce, "b"), pid(700), h.at(2))
            .unwrap();
        assert_ne!(second, Some(pid(700)));
        assert!(second.is_some());
        assert_eq!(summary(&h.sent()).len(), 2);
    }
}
