//! SUBSCRIBE and UNSUBSCRIBE: acknowledgements matched by identifier and count, the set of active subscriptions,
//! and its restoration when a session is lost.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::NonZeroU32;

use super::*;
use crate::client::ClientError;
use crate::packet::{PacketType, SubAck, UnsubAck};
use crate::types::SubscriptionOptions;

fn suback(id: u16, reason_codes: Vec<ReasonCode>) -> Packet {
    Packet::SubAck(SubAck {
        packet_id: pid(id),
        properties: Properties::default(),
        reason_codes,
    })
}

fn unsuback(id: u16, reason_codes: Vec<ReasonCode>) -> Packet {
    Packet::UnsubAck(UnsubAck {
        packet_id: pid(id),
        properties: Properties::default(),
        reason_codes,
    })
}

/// Subscribes to `filters` at QoS 1 at `t0`.
fn subscribe(h: &mut Harness, filters: &[&str]) -> PacketId {
    let filters = filters
        .iter()
        .map(|f| (filter(f), SubscriptionOptions::qos(QoS::AtLeastOnce)))
        .collect();
    h.client.subscribe(filters, Properties::default(), h.t0).unwrap()
}

/// The active filters and their granted QoS.
fn active(h: &Harness) -> Vec<(String, QoS)> {
    h.client
        .subscriptions()
        .iter()
        .map(|(f, s)| (f.to_string(), s.granted_qos))
        .collect()
}

#[test]
fn suback_results_become_the_active_subscriptions() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let id = subscribe(&mut h, &["sensors/#", "forbidden/+"]);
        let [Packet::Subscribe(sent)] = &h.sent()[..] else {
            panic!("expected SUBSCRIBE");
        };
        assert_eq!(sent.packet_id, id);
        assert_eq!(sent.filters.len(), 2);
        assert!(active(&h).is_empty(), "nothing is active before SUBACK");

        let codes = vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError];
        h.server_sends(suback(id.get(), codes.clone()), h.at(1)).unwrap();
        assert_eq!(
            h.events(),
            vec![Event::Subscribed {
                packet_id: id,
                filters: vec![filter("sensors/#"), filter("forbidden/+")],
                reason_codes: codes,
                reason_string: None
            }]
        );
        assert_eq!(active(&h), [("sensors/#".to_owned(), QoS::AtLeastOnce)]);
    }
}

#[test]
fn a_suback_count_mismatch_is_a_protocol_error() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let id = subscribe(&mut h, &["a", "b"]);
        h.sent();
        assert_eq!(
            h.server_sends(suback(id.get(), vec![ReasonCode::GrantedQoS1]), h.at(1)),
            Err(ProtocolError::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: 2,
                received: 1
            })
        );
        let expected: &[&str] = if version.is_v5() { &["DISCONNECT 0x82"] } else { &[] };
        assert_eq!(summary(&h.sent()), expected);
        assert!(active(&h).is_empty());
    }
}

#[test]
fn a_suback_for_an_unknown_identifier_is_a_protocol_error() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    assert_eq!(
        h.server_sends(suback(9, vec![ReasonCode::Success]), h.at(1)),
        Err(ProtocolError::UnknownPacketId {
            packet: PacketType::SubAck,
            packet_id: pid(9)
        })
    );
}

#[test]
fn unsuback_removes_the_subscriptions() {
    for version in VERSIONS {
        let mut h = Harness::connected(version);
        let id = subscribe(&mut h, &["a", "b", "c"]);
        let granted = vec![ReasonCode::GrantedQoS1; 3];
        h.server_sends(suback(id.get(), granted), h.at(1)).unwrap();
        h.events();
        let id = h
            .client
            .unsubscribe(vec![filter("a"), filter("b")], Properties::default(), h.at(2))
            .unwrap();
        assert_eq!(
            summary(&h.sent()),
            ["SUBSCRIBE 1", format!("UNSUBSCRIBE {id}").as_str()]
        );
        // MQTT 5 reports per filter; 3.x has no reason codes and removes them all.
        let codes = if version.is_v5() {
            vec![ReasonCode::Success, ReasonCode::NotAuthorized]
        } else {
            vec![]
        };
        h.server_sends(unsuback(id.get(), codes), h.at(3)).unwrap();
        let [Event::Unsubscribed { reason_codes, .. }] = &h.events()[..] else {
            panic!("expected Unsubscribed");
        };
        if version.is_v5() {
            assert_eq!(reason_codes, &[ReasonCode::Success, ReasonCode::NotAuthorized]);
            assert_eq!(
                active(&h),
                [("b".to_owned(), QoS::AtLeastOnce), ("c".to_owned(), QoS::AtLeastOnce)]
            );
        } else {
            assert_eq!(reason_codes, &[ReasonCode::Success; 2]);
            assert_eq!(active(&h), [("c".to_owned(), QoS::AtLeastOnce)]);
        }
    }
}

#[test]
fn an_unsuback_count_mismatch_is_a_protocol_error() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let id = h
        .client
        .unsubscribe(vec![filter("a")], Properties::default(), h.t0)
        .unwrap();
    h.sent();
    assert_eq!(
        h.server_sends(unsuback(id.get(), vec![]), h.at(1)),
        Err(ProtocolError::ReasonCodeCount {
            packet: PacketType::UnsubAck,
            expected: 1,
            received: 0
        })
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x82"]);
}

#[test]
fn requests_need_a_connection_and_a_filter() {
    let mut h = Harness::new(ClientOptions::new(ProtocolVersion::V5, "c"));
    let one = vec![(filter("a"), SubscriptionOptions::default())];
    let result = h.client.subscribe(one, Properties::default(), h.t0);
    assert_eq!(result, Err(ClientError::NotConnected));
    let mut h = Harness::connected(ProtocolVersion::V5);
    let result = h.client.subscribe(vec![], Properties::default(), h.t0);
    assert_eq!(result, Err(ClientError::NoTopicFilters));
    let result = h.client.unsubscribe(vec![], Properties::default(), h.t0);
    assert_eq!(result, Err(ClientError::NoTopicFilters));
}

#[test]
fn subscriptions_are_restored_when_the_session_is_lost() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut options = ClientOptions::new(version, "c");
        options.clean_start = false;
        let mut h = Harness::connected_with(options, Properties::default());
        let mut properties = Properties::default();
        if version.is_v5() {
            properties.subscription_identifiers = vec![NonZeroU32::new(42).unwrap()];
        }
        let filters = vec![
            (filter("a/#"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
            (filter("b"), SubscriptionOptions::qos(QoS::AtMostOnce)),
        ];
        let id = h.client.subscribe(filters, properties.clone(), h.t0).unwrap();
        let granted = vec![ReasonCode::GrantedQoS2, ReasonCode::GRANTED_QOS0];
        h.server_sends(suback(id.get(), granted), h.at(1)).unwrap();
        h.sent();
        h.events();

        h.reconnect(false, h.at(100));
        // The server kept nothing.
        h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(101))
            .unwrap();
        let sent = h.sent();
        let restored: Vec<_> = sent
            .iter()
            .map(|p| match p {
                Packet::Subscribe(s) => (s.packet_id, s.filters.clone(), s.properties.clone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        // One SUBSCRIBE per filter, so each keeps its own subscription identifier.
        assert_eq!(
            restored,
            [
                (
                    pid(2),
                    vec![(Ok(filter("a/#")), SubscriptionOptions::qos(QoS::ExactlyOnce))],
                    properties.clone()
                ),
                (
                    pid(3),
                    vec![(Ok(filter("b")), SubscriptionOptions::qos(QoS::AtMostOnce))],
                    properties.clone()
                ),
            ]
        );
        h.server_sends(suback(2, vec![ReasonCode::GrantedQoS1]), h.at(102))
            .unwrap();
        h.server_sends(suback(3, vec![ReasonCode::NotAuthorized]), h.at(102))
            .unwrap();
        assert_eq!(active(&h), [("a/#".to_owned(), QoS::AtLeastOnce)]);
    }
}

#[test]
fn nothing_is_restored_when_the_session_is_present() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.clean_start = false;
    let mut h = Harness::connected_with(options, Properties::default());
    let id = subscribe(&mut h, &["a"]);
    h.server_sends(suback(id.get(), vec![ReasonCode::GrantedQoS1]), h.at(1))
        .unwrap();
    h.sent();
    h.reconnect(false, h.at(100));
    h.server_sends(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)), h.at(101))
        .unwrap();
    assert!(h.sent().is_empty());
    assert_eq!(active(&h), [("a".to_owned(), QoS::AtLeastOnce)]);
}

#[test]
fn unanswered_requests_are_sent_again_on_the_next_connection() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.clean_start = false;
    let mut h = Harness::connected_with(options, Properties::default());
    let sub = subscribe(&mut h, &["a"]);
    let unsub = h
        .client
        .unsubscribe(vec![filter("z")], Properties::default(), h.t0)
        .unwrap();
    h.sent();
    h.reconnect(false, h.at(100));
    h.server_sends(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)), h.at(101))
        .unwrap();
    assert_eq!(
        summary(&h.sent()),
        [format!("SUBSCRIBE {sub}"), format!("UNSUBSCRIBE {unsub}")]
    );
    h.server_sends(suback(sub.get(), vec![ReasonCode::GrantedQoS1]), h.at(102))
        .unwrap();
    assert_eq!(active(&h), [("a".to_owned(), QoS::AtLeastOnce)]);
}
