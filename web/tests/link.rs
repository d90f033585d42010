//! The MQTT service layer without I/O: [`Link`] driven with broker bytes and explicit time (headless Chromium).
//! Each test checks what the person sees ([`ConnectionState`]) and what the driver is told to do.

use std::time::Duration;

use roost_codec::{
    BytesMut, ConnAck, Disconnect, Packet, ProtocolVersion, Publish, QoS, ReasonCode, SubAck, TopicFilter, TopicName,
};
use roost_web::explorer::{MessageProperties, Payload, TopicMessage};
use roost_web::mqtt::{
    Action, ConnectionSettings, ConnectionState, Link, Outgoing, dashboard_options, mqtt_url, topic_message,
};
use wasm_bindgen_test::*;
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

const SEC: Duration = Duration::from_secs(1);

/// A packet from the broker, as bytes.
fn server(packet: Packet) -> Vec<u8> {
    let mut bytes = BytesMut::new();
    packet.encode(ProtocolVersion::V5, &mut bytes, u32::MAX).unwrap();
    bytes.to_vec()
}

/// CONNACK Success assigning `client_id`.
fn connack_assigning(client_id: &str) -> Vec<u8> {
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties.assigned_client_identifier = Some(client_id.into());
    server(Packet::ConnAck(connack))
}

/// Everything the link wants sent, decoded.
fn sent(link: &mut Link) -> Vec<Packet> {
    sent_as(link, ProtocolVersion::V5)
}

fn actions(link: &mut Link) -> Vec<Action> {
    std::iter::from_fn(|| link.poll_action()).collect()
}

/// The reason shown, and the countdown, of a disconnected link.
fn disconnected(link: &Link) -> (String, Option<u64>) {
    match link.state() {
        ConnectionState::Disconnected { why, reconnect_in } => (why.clone(), *reconnect_in),
        other => panic!("expected disconnected, is {other:?}"),
    }
}

/// A link whose socket opened at `t0` and whose CONNECT was sent; actions and bytes drained.
fn opened(t0: Instant) -> Link {
    let mut link = Link::new(dashboard_options());
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(t0);
    assert!(matches!(sent(&mut link)[..], [Packet::Connect(_)]));
    link
}

/// A link connected at `t0` as "roost-7".
fn connected(t0: Instant) -> Link {
    let mut link = opened(t0);
    link.received(&connack_assigning("roost-7"), t0);
    assert!(
        matches!(link.state(), ConnectionState::Connected { .. }),
        "{:?}",
        link.state()
    );
    let [Packet::Subscribe(subscribe)] = &sent(&mut link)[..] else {
        panic!("expected one SUBSCRIBE after the CONNACK");
    };
    let filters: Vec<_> = subscribe
        .filters
        .iter()
        .map(|(filter, options)| {
            (
                filter.as_ref().map(|f| f.as_str()),
                options.qos,
                options.retain_as_published,
            )
        })
        .collect();
    // Retain As Published: the explorer sees which live messages were published retained ([MQTT-3.3.1-12]).
    assert_eq!(
        filters,
        [
            (Ok("#"), QoS::AtMostOnce, true),
            (Ok("$SYS/broker/#"), QoS::AtMostOnce, true)
        ]
    );
    link
}

#[wasm_bindgen_test]
fn received_messages_are_handed_out_as_plain_values() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    let mut retained = Publish::new(TopicName::new("kitchen/temp").unwrap(), &b"21.5"[..]);
    retained.retain = true;
    let binary = Publish::new(TopicName::new("door").unwrap(), &[0xff, 0x00, 0x10][..]);
    let mut frame = server(Packet::Publish(retained));
    frame.extend(server(Packet::Publish(binary)));
    link.received(&frame, t0);

    let first = topic_message(&link.poll_message().expect("a message"), 1_700_000_000_000);
    assert_eq!(
        first,
        TopicMessage {
            topic: "kitchen/temp".into(),
            payload: Payload::Text("21.5".into()),
            size: 4,
            qos: 0,
            retain: true,
            received_ms: 1_700_000_000_000,
            properties: MessageProperties::default(),
        }
    );
    let second = topic_message(&link.poll_message().expect("a second message"), 0);
    assert_eq!(second.payload, Payload::Hex("ff 00 10".into()));
    assert!(!second.retain);
    assert_eq!(link.poll_message(), None);
}

#[wasm_bindgen_test]
fn received_properties_are_handed_out_as_plain_values_in_order() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    let mut publish = Publish::new(TopicName::new("kitchen/light").unwrap(), &br#"{"on":true}"#[..]);
    publish.properties.content_type = Some("application/json".into());
    publish.properties.response_topic = Some(TopicName::new("kitchen/light/reply").unwrap());
    publish.properties.correlation_data = Some(bytes::Bytes::from_static(&[0xff, 0x00]));
    publish.properties.message_expiry_interval = Some(30);
    publish.properties.payload_format_indicator = Some(true);
    publish.properties.user_properties = vec![
        ("z".into(), "1".into()),
        ("a".into(), "2".into()),
        ("z".into(), "3".into()),
    ];
    link.received(&server(Packet::Publish(publish)), t0);
    let message = topic_message(&link.poll_message().expect("a message"), 0);
    assert_eq!(
        message.properties,
        MessageProperties {
            content_type: Some("application/json".into()),
            response_topic: Some("kitchen/light/reply".into()),
            correlation_data: Some(Payload::Hex("ff 00".into())),
            message_expiry: Some(30),
            payload_utf8: Some(true),
            // [MQTT-3.3.2-18]: in the order received, a repeated name kept.
            user_properties: vec![
                ("z".into(), "1".into()),
                ("a".into(), "2".into()),
                ("z".into(), "3".into())
            ],
        }
    );
}

#[wasm_bindgen_test]
fn publishes_plain_values_as_a_publish_with_its_properties() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    let mut outgoing = Outgoing::new("kitchen/light/set", "ON");
    outgoing.qos = 1;
    outgoing.retain = true;
    outgoing.content_type = "text/plain".to_owned();
    outgoing.response_topic = "kitchen/light/reply".to_owned();
    outgoing.correlation_data = "42".to_owned();
    outgoing.message_expiry = Some(60);
    outgoing.user_properties = vec![("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())];
    link.publish(&outgoing, t0).unwrap();
    let [Packet::Publish(publish)] = &sent(&mut link)[..] else {
        panic!("expected one PUBLISH");
    };
    assert_eq!(publish.topic.as_str(), "kitchen/light/set");
    assert_eq!(&publish.payload[..], b"ON");
    assert_eq!(publish.qos(), QoS::AtLeastOnce);
    assert!(publish.retain);
    let properties = &publish.properties;
    assert_eq!(properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        properties.response_topic.as_ref().map(TopicName::as_str),
        Some("kitchen/light/reply")
    );
    assert_eq!(properties.correlation_data.as_deref(), Some(&b"42"[..]));
    assert_eq!(properties.message_expiry_interval, Some(60));
    let users: Vec<_> = properties.user_properties.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(users, [("b", "2"), ("a", "1")], "user properties keep their order");
}

#[wasm_bindgen_test]
fn mqtt_311_refuses_properties_instead_of_dropping_them() {
    let t0 = Instant::now();
    let mut link = Link::new(roost_codec::client::ClientOptions::new(ProtocolVersion::V311, "dash"));
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(t0);
    sent_as(&mut link, ProtocolVersion::V311);
    let mut connack = BytesMut::new();
    Packet::ConnAck(ConnAck::new(false, ReasonCode::Success))
        .encode(ProtocolVersion::V311, &mut connack, u32::MAX)
        .unwrap();
    link.received(&connack, t0);
    assert!(
        matches!(link.state(), ConnectionState::Connected { .. }),
        "{:?}",
        link.state()
    );
    sent_as(&mut link, ProtocolVersion::V311);
    let mut outgoing = Outgoing::new("a/b", "x");
    outgoing.content_type = "text/plain".to_owned();
    let error = link.publish(&outgoing, t0).unwrap_err();
    assert!(error.contains("MQTT 3.1.1 cannot carry message properties"), "{error}");
    assert!(sent_as(&mut link, ProtocolVersion::V311).is_empty(), "nothing goes out");
    // Without properties the same message goes.
    link.publish(&Outgoing::new("a/b", "x"), t0).unwrap();
    assert!(matches!(
        sent_as(&mut link, ProtocolVersion::V311)[..],
        [Packet::Publish(_)]
    ));
}

/// Everything the link wants sent, decoded in `version`.
fn sent_as(link: &mut Link, version: ProtocolVersion) -> Vec<Packet> {
    let mut bytes = BytesMut::new();
    while link.poll_transmit(&mut bytes) {}
    let mut packets = Vec::new();
    while let Some(packet) = Packet::decode(&mut bytes, version, u32::MAX).unwrap() {
        packets.push(packet);
    }
    assert!(bytes.is_empty(), "whole packets only");
    packets
}

#[wasm_bindgen_test]
fn publishing_refuses_in_words_and_sends_nothing() {
    let t0 = Instant::now();
    let mut link = opened(t0);
    let error = link.publish(&Outgoing::new("a/b", "x"), t0).unwrap_err();
    assert!(error.contains("Not connected"), "{error}");
    link.received(&connack_assigning("roost-7"), t0);
    sent(&mut link);
    for (topic, qos, words) in [
        ("a/+", 0, "Not a topic name"),
        ("", 0, "Not a topic name"),
        ("a", 3, "QoS 3"),
    ] {
        let mut outgoing = Outgoing::new(topic, "x");
        outgoing.qos = qos;
        let error = link.publish(&outgoing, t0).unwrap_err();
        assert!(error.contains(words), "{topic:?} qos {qos}: {error}");
    }
    assert!(sent(&mut link).is_empty());
}

#[wasm_bindgen_test]
fn connects_with_mqtt5_asking_the_broker_for_a_client_id() {
    let t0 = Instant::now();
    let mut link = Link::new(dashboard_options());
    assert_eq!(link.state(), &ConnectionState::Connecting);
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    assert!(sent(&mut link).is_empty(), "nothing before the socket opens");

    link.socket_opened(t0);
    let [Packet::Connect(connect)] = &sent(&mut link)[..] else {
        panic!("expected one CONNECT");
    };
    assert_eq!(connect.protocol, ProtocolVersion::V5);
    assert!(connect.client_id.is_empty());
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 60);
    // CONNACK split across frames ([MQTT-6.0.0-2]).
    let connack = connack_assigning("roost-7");
    let (head, tail) = connack.split_at(4);
    link.received(head, t0);
    assert_eq!(link.state(), &ConnectionState::Connecting);
    link.received(tail, t0);
    assert_eq!(
        link.state(),
        &ConnectionState::Connected {
            client_id: "roost-7".into(),
            keep_alive: 60
        }
    );
    assert_eq!(link.client().client_id(), "roost-7");
    assert!(actions(&mut link).is_empty());
}

#[wasm_bindgen_test]
fn keep_alive_pings_and_an_unanswered_ping_loses_the_connection() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    assert_eq!(link.poll_timeout(), Some(t0 + 60 * SEC));
    link.handle_timeout(t0 + 60 * SEC);
    assert_eq!(sent(&mut link), [Packet::PingReq]);
    // PINGRESP keeps it alive; the next PINGREQ is due a keep alive after the last one.
    link.received(&server(Packet::PingResp), t0 + 61 * SEC);
    assert_eq!(link.poll_timeout(), Some(t0 + 120 * SEC));
    link.handle_timeout(t0 + 120 * SEC);
    assert_eq!(sent(&mut link), [Packet::PingReq]);
    // No answer within half the keep alive.
    assert_eq!(link.poll_timeout(), Some(t0 + 150 * SEC));
    link.handle_timeout(t0 + 150 * SEC);
    let (why, reconnect_in) = disconnected(&link);
    assert!(why.contains("did not answer PINGREQ within 30 s"), "{why}");
    assert_eq!(reconnect_in, Some(1));
    assert_eq!(actions(&mut link), [Action::CloseSocket]);
    assert!(sent(&mut link).is_empty());
}

#[wasm_bindgen_test]
fn a_refusal_says_the_reason_in_words() {
    let t0 = Instant::now();
    let mut link = opened(t0);
    let mut refusal = ConnAck::new(false, ReasonCode::NotAuthorized);
    refusal.properties.reason_string = Some("dashboards need a login".into());
    link.received(&server(Packet::ConnAck(refusal)), t0);
    let (why, reconnect_in) = disconnected(&link);
    assert_eq!(
        why,
        "The broker refused the connection: Not authorized (0x87): dashboards need a login."
    );
    assert_eq!(reconnect_in, Some(1));
    assert_eq!(actions(&mut link), [Action::CloseSocket]);
    // The broker closing its side afterwards keeps the more specific reason.
    link.socket_closed(1000, "", t0);
    assert_eq!(disconnected(&link).0, why);
}

#[wasm_bindgen_test]
fn a_server_disconnect_says_the_reason_in_words() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    let mut disconnect = Disconnect::new(ReasonCode::ServerShuttingDown);
    disconnect.properties.reason_string = Some("maintenance".into());
    link.received(&server(Packet::Disconnect(disconnect)), t0);
    let (why, _) = disconnected(&link);
    assert_eq!(
        why,
        "The broker disconnected: Server shutting down (0x8B): maintenance."
    );
    assert_eq!(actions(&mut link), [Action::CloseSocket]);
    assert!(
        sent(&mut link).is_empty(),
        "nothing is sent after the broker's DISCONNECT"
    );

    let mut normal = connected(t0);
    normal.received(
        &server(Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))),
        t0,
    );
    assert_eq!(
        disconnected(&normal).0,
        "The broker disconnected: Normal disconnection (0x00)."
    );
}

#[wasm_bindgen_test]
fn a_protocol_error_of_the_broker_is_answered_with_disconnect_then_close() {
    let t0 = Instant::now();
    let mut link = opened(t0);
    // [MQTT-3.2.0-1]: PINGRESP before CONNACK.
    link.received(&server(Packet::PingResp), t0);
    let (why, _) = disconnected(&link);
    assert!(
        why.contains("broke the protocol") && why.contains("[MQTT-3.2.0-1]"),
        "{why}"
    );
    assert!(why.contains("Protocol Error (0x82)"), "{why}");
    let [Packet::Disconnect(disconnect)] = &sent(&mut link)[..] else {
        panic!("expected our DISCONNECT");
    };
    assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError);
    assert_eq!(actions(&mut link), [Action::CloseSocket]);

    let mut text = connected(t0);
    text.received_text(t0);
    assert!(disconnected(&text).0.contains("text frame"));
    assert_eq!(actions(&mut text), [Action::CloseSocket]);
}

#[wasm_bindgen_test]
fn closed_sockets_say_when_they_closed() {
    let t0 = Instant::now();
    let mut unreachable = Link::new(dashboard_options());
    actions(&mut unreachable);
    unreachable.socket_closed(1006, "", t0);
    assert_eq!(
        disconnected(&unreachable),
        ("Cannot reach the broker's WebSocket (close code 1006).".into(), Some(1))
    );
    assert!(actions(&mut unreachable).is_empty(), "already closed");

    let mut early = opened(t0);
    early.socket_closed(1006, "", t0);
    assert!(disconnected(&early).0.contains("before answering CONNECT"));

    let mut dropped = connected(t0);
    dropped.socket_closed(1001, "going away", t0);
    assert_eq!(
        disconnected(&dropped).0,
        "The connection was closed (close code 1001: going away)."
    );
    // The new attempt's client starts without the old connection's state.
    assert_eq!(dropped.poll_timeout(), Some(t0 + SEC));
}

#[wasm_bindgen_test]
fn no_connack_in_time_ends_the_attempt() {
    let t0 = Instant::now();
    let mut link = opened(t0);
    assert_eq!(link.poll_timeout(), Some(t0 + 30 * SEC));
    link.handle_timeout(t0 + 30 * SEC);
    assert_eq!(disconnected(&link).0, "The broker did not answer CONNECT within 30 s.");
    assert_eq!(actions(&mut link), [Action::CloseSocket]);
}

#[wasm_bindgen_test]
fn reconnects_count_down_and_back_off_until_a_connack() {
    let t0 = Instant::now();
    let mut link = Link::new(dashboard_options());
    let mut now = t0;
    // Failed attempts wait 1, 2, 4, 8, 16, 30, 30 s.
    for delay in [1u32, 2, 4, 8, 16, 30, 30] {
        assert_eq!(actions(&mut link), [Action::OpenSocket]);
        link.socket_closed(1006, "", now);
        assert_eq!(disconnected(&link).1, Some(u64::from(delay)));
        // The countdown shows each whole second, then the attempt starts.
        for left in (1..delay).rev() {
            let tick = link.poll_timeout().unwrap();
            assert_eq!(tick, now + (delay - left) * SEC);
            link.handle_timeout(tick);
            assert_eq!(disconnected(&link).1, Some(u64::from(left)));
        }
        now = link.poll_timeout().unwrap();
        link.handle_timeout(now);
        assert_eq!(link.state(), &ConnectionState::Connecting);
    }
    // A CONNACK resets it: the next loss waits 1 s again.
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(now);
    link.received(&connack_assigning("roost-8"), now);
    link.socket_closed(1006, "", now);
    assert_eq!(disconnected(&link).1, Some(1));
}

#[wasm_bindgen_test]
fn a_countdown_step_that_comes_early_changes_nothing() {
    let t0 = Instant::now();
    let mut link = Link::new(dashboard_options());
    actions(&mut link);
    link.socket_closed(1006, "", t0);
    link.handle_timeout(t0);
    assert_eq!(disconnected(&link).1, Some(1));
    assert_eq!(link.poll_timeout(), Some(t0 + SEC));
    assert!(actions(&mut link).is_empty());
}

#[wasm_bindgen_test]
fn reconnect_now_starts_an_attempt_at_once_without_resetting_the_backoff() {
    let t0 = Instant::now();
    let mut link = Link::new(dashboard_options());
    actions(&mut link);
    link.socket_closed(1006, "", t0);
    link.reconnect_now();
    assert_eq!(link.state(), &ConnectionState::Connecting);
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    // The countdown is gone: the timer is the new attempt's (none until CONNECT).
    assert_eq!(link.poll_timeout(), None);
    link.socket_closed(1006, "", t0);
    assert_eq!(disconnected(&link).1, Some(2));
    // While an attempt is under way the button does nothing.
    link.reconnect_now();
    link.reconnect_now();
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
}

#[wasm_bindgen_test]
fn every_attempt_asks_for_a_new_client_id() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    link.socket_closed(1006, "", t0);
    link.handle_timeout(t0 + SEC);
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(t0 + SEC);
    let [Packet::Connect(connect)] = &sent(&mut link)[..] else {
        panic!("expected one CONNECT");
    };
    assert!(
        connect.client_id.is_empty(),
        "not the id a since-restarted broker may have reused"
    );
}

#[wasm_bindgen_test]
fn a_socket_the_browser_refuses_is_not_retried_by_itself() {
    let t0 = Instant::now();
    let mut link = Link::new(dashboard_options());
    actions(&mut link);
    link.socket_unavailable("The browser cannot open a WebSocket to ws://[/mqtt.".into());
    assert_eq!(disconnected(&link).1, None);
    assert_eq!(link.poll_timeout(), None);
    link.reconnect_now();
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(t0);
    assert!(matches!(sent(&mut link)[..], [Packet::Connect(_)]));
}

#[wasm_bindgen_test]
fn shutdown_says_disconnect_and_closes() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    link.shutdown();
    let [Packet::Disconnect(disconnect)] = &sent(&mut link)[..] else {
        panic!("expected DISCONNECT");
    };
    assert_eq!(disconnect.reason_code, ReasonCode::NORMAL_DISCONNECTION);
    assert_eq!(actions(&mut link), [Action::CloseSocket]);
    assert_eq!(link.poll_timeout(), None);
}

#[wasm_bindgen_test]
fn websocket_url_follows_the_page() {
    assert_eq!(mqtt_url("http:", "pi.local:8080"), "ws://pi.local:8080/mqtt");
    assert_eq!(mqtt_url("https:", "roost.example"), "wss://roost.example/mqtt");
}

#[wasm_bindgen_test]
fn a_chosen_filter_is_subscribed_beside_the_broker_view() {
    let t0 = Instant::now();
    let mut link = Link::with_filter(dashboard_options(), TopicFilter::new("house/+/temp").unwrap());
    assert_eq!(actions(&mut link), [Action::OpenSocket]);
    link.socket_opened(t0);
    sent(&mut link);
    link.received(&connack_assigning("roost-7"), t0);
    let [Packet::Subscribe(subscribe)] = &sent(&mut link)[..] else {
        panic!("expected one SUBSCRIBE");
    };
    let filters: Vec<_> = subscribe
        .filters
        .iter()
        .map(|(filter, _)| filter.as_ref().map(|f| f.as_str()))
        .collect();
    assert_eq!(filters, [Ok("house/+/temp"), Ok("$SYS/broker/#")]);
}

#[wasm_bindgen_test]
fn a_refused_subscription_is_said_in_words_until_the_next_attempt() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    assert!(link.subscription_problems().is_empty());
    let mut suback = SubAck {
        packet_id: roost_codec::PacketId::new(1).unwrap(),
        properties: Default::default(),
        reason_codes: vec![ReasonCode::NotAuthorized, ReasonCode::Success],
    };
    suback.properties.reason_string = Some("no wildcards for guests".into());
    link.received(&server(Packet::SubAck(suback)), t0);
    assert_eq!(
        link.subscription_problems(),
        ["The broker refused the subscription to #: Not authorized (0x87): no wildcards for guests."]
    );
    assert!(
        matches!(link.state(), ConnectionState::Connected { .. }),
        "still connected"
    );
    link.socket_closed(1006, "", t0);
    link.handle_timeout(t0 + 2 * SEC);
    assert!(link.subscription_problems().is_empty(), "a new attempt starts clean");
}

#[wasm_bindgen_test]
fn new_settings_disconnect_and_connect_again_at_once() {
    let t0 = Instant::now();
    let mut link = connected(t0);
    let mut settings = ConnectionSettings::new("ws://pi.local/mqtt", "kitchen-tablet");
    settings.keep_alive = 30;
    settings.filter = "house/#".into();
    let (options, filter) = settings.check().unwrap();
    link.reconfigure(options, filter);
    // [MQTT-3.14.4-3]: DISCONNECT first, so the broker drops the old will.
    assert!(matches!(sent(&mut link)[..], [Packet::Disconnect(_)]));
    assert_eq!(actions(&mut link), [Action::CloseSocket, Action::OpenSocket]);
    assert_eq!(link.state(), &ConnectionState::Connecting);
    link.socket_opened(t0);
    let [Packet::Connect(connect)] = &sent(&mut link)[..] else {
        panic!("expected CONNECT");
    };
    assert_eq!((connect.client_id.as_ref(), connect.keep_alive), ("kitchen-tablet", 30));
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties = Default::default();
    link.received(&server(Packet::ConnAck(connack)), t0);
    let [Packet::Subscribe(subscribe)] = &sent(&mut link)[..] else {
        panic!("expected SUBSCRIBE");
    };
    assert_eq!(subscribe.filters[0].0.as_ref().map(|f| f.as_str()), Ok("house/#"));
}
