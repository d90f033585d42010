//! The server's topic aliases (MQTT 5): resolved within our maximum, anything else is 0x94.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::num::NonZeroU16;

use super::*;

/// A connected MQTT 5 client that accepts topic aliases up to `maximum`.
fn accepting_aliases(maximum: u16) -> Harness {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.topic_alias_maximum = maximum;
    Harness::connected_with(options, Properties::default())
}

/// A QoS 0 PUBLISH to `t` (empty for alias only) with `alias`.
fn aliased(t: &str, alias: u16, payload: &'static str) -> Packet {
    let mut publish = Publish::new(TopicName::empty(), payload);
    if !t.is_empty() {
        publish.topic = topic(t);
    }
    publish.properties.topic_alias = NonZeroU16::new(alias);
    Packet::Publish(publish)
}

/// The topics of the delivered messages, checking the alias property is gone.
fn topics(events: Vec<Event>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Message(p) => {
                assert_eq!(p.properties.topic_alias, None);
                p.topic.to_string()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn aliases_are_set_and_resolved() {
    let mut h = accepting_aliases(10);
    h.server_sends(aliased("sensors/kitchen/temp", 3, "21.5"), h.at(1))
        .unwrap();
    h.server_sends(aliased("", 3, "21.6"), h.at(2)).unwrap();
    h.server_sends(aliased("sensors/hall/temp", 10, "19.0"), h.at(3))
        .unwrap();
    // An alias can be pointed at another topic.
    h.server_sends(aliased("sensors/attic/temp", 3, "15.2"), h.at(4))
        .unwrap();
    h.server_sends(aliased("", 3, "15.3"), h.at(5)).unwrap();
    h.server_sends(aliased("", 10, "19.1"), h.at(6)).unwrap();
    assert_eq!(
        topics(h.events()),
        [
            "sensors/kitchen/temp",
            "sensors/kitchen/temp",
            "sensors/hall/temp",
            "sensors/attic/temp",
            "sensors/attic/temp",
            "sensors/hall/temp"
        ]
    );
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn an_alias_above_our_maximum_is_0x94() {
    let mut h = accepting_aliases(2);
    assert_eq!(
        h.server_sends(aliased("a", 3, "x"), h.at(1)),
        Err(ProtocolError::TopicAliasInvalid { alias: 3, maximum: 2 })
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x94"]);
    let [Event::Disconnected(d)] = &h.events()[..] else {
        panic!("expected Disconnected");
    };
    assert_eq!(d.reason_code, ReasonCode::TopicAliasInvalid);
    assert!(
        d.to_string()
            .starts_with("disconnected by the client: Topic Alias invalid (0x94)"),
        "{d}"
    );
}

#[test]
fn without_a_maximum_no_alias_is_accepted() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    assert_eq!(
        h.server_sends(aliased("a", 1, "x"), h.at(1)),
        Err(ProtocolError::TopicAliasInvalid { alias: 1, maximum: 0 })
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x94"]);
}

#[test]
fn an_unknown_alias_is_0x94() {
    let mut h = accepting_aliases(5);
    assert_eq!(
        h.server_sends(aliased("", 4, "x"), h.at(1)),
        Err(ProtocolError::TopicAliasInvalid { alias: 4, maximum: 5 })
    );
    assert_eq!(summary(&h.sent()), ["DISCONNECT 0x94"]);
    assert!(h.events().iter().all(|e| !matches!(e, Event::Message(_))));
}

#[test]
fn aliases_do_not_outlive_the_connection() {
    let mut h = accepting_aliases(5);
    h.server_sends(aliased("a/b", 1, "x"), h.at(1)).unwrap();
    h.events();
    h.reconnect(true, h.at(10));
    h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(11))
        .unwrap();
    assert_eq!(
        h.server_sends(aliased("", 1, "y"), h.at(12)),
        Err(ProtocolError::TopicAliasInvalid { alias: 1, maximum: 5 })
    );
}
