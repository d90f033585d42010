//! Topic aliases the broker sets up in what it sends (MQTT 5, section 3.3.2.3.4), against a real in-process broker:
//! raw bytes, the codec's decoder, rumqttc, and the bytes they save on a busy `#` subscription.

mod common;

use std::collections::HashMap;
use std::num::NonZeroU16;

use common::*;
use roost_broker::Config;
use roost_codec::{
    Packet,
    ProtocolVersion::{V5, V311},
    QoS,
};
use tokio::io::AsyncReadExt;

/// A clean MQTT 5 CONNECT allowing `maximum` topic aliases towards the client.
fn allowing_aliases(client_id: &str, maximum: u16) -> roost_codec::Connect {
    let mut connect = connect_packet(V5, client_id);
    connect.properties.topic_alias_maximum = Some(maximum);
    connect
}

/// What a client does with incoming aliases ([MQTT-3.3.2-10]): a topic with an alias sets the mapping, an empty
/// topic uses it. Returns the topic the PUBLISH stands for; panics on an alias never set up.
fn resolve(mapping: &mut HashMap<u16, String>, publish: &roost_codec::Publish) -> String {
    match publish.properties.topic_alias.map(NonZeroU16::get) {
        None => publish.topic.as_str().to_owned(),
        Some(alias) if publish.topic.is_empty() => mapping
            .get(&alias)
            .unwrap_or_else(|| panic!("alias {alias} used before it was set up"))
            .clone(),
        Some(alias) => {
            mapping.insert(alias, publish.topic.as_str().to_owned());
            publish.topic.as_str().to_owned()
        }
    }
}

#[tokio::test]
async fn the_second_publish_of_a_topic_carries_only_its_alias_raw_bytes() {
    let broker = TestBroker::start().await;
    let (mut sub, _) = RawClient::connect(&broker, allowing_aliases("sub", 10)).await;
    sub.subscribe("a/b", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("a/b", QoS::AtMostOnce, b"1")).await;
    publisher.publish(publish("a/b", QoS::AtMostOnce, b"2")).await;
    // Topic "a/b" with Topic Alias 1 (properties 0x23 0x0001), then an empty topic with the same alias.
    let first = [0x30, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x03, 0x23, 0x00, 0x01, b'1'];
    let second = [0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'2'];
    assert_eq!(read_n(&mut sub.stream, first.len()).await, first);
    assert_eq!(read_n(&mut sub.stream, second.len()).await, second);
    broker.stop().await;
}

#[tokio::test]
async fn aliases_never_exceed_the_clients_maximum_mqtt_3_3_2_11() {
    // [MQTT-3.3.2-11], [MQTT-3.1.2-26]: with a maximum of 2 and three topics in turn, aliases are reassigned
    // (least recently used first) and every PUBLISH still resolves to the topic it was published to.
    let broker = TestBroker::start().await;
    let (mut sub, _) = RawClient::connect(&broker, allowing_aliases("sub", 2)).await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let topics = ["t/a", "t/b", "t/a", "t/c", "t/a", "t/b", "t/c", "t/c"];
    for topic in topics {
        publisher.publish(publish(topic, QoS::AtLeastOnce, b"x")).await;
    }
    let mut mapping = HashMap::new();
    let mut aliased = 0;
    for topic in topics {
        let got = sub.recv_publish().await;
        let alias = got.properties.topic_alias.map(NonZeroU16::get);
        assert!(matches!(alias, Some(1 | 2)), "alias {alias:?} outside 1..=2");
        aliased += usize::from(got.topic.is_empty());
        assert_eq!(resolve(&mut mapping, &got), topic);
        if let Some(id) = got.qos_pid.packet_id() {
            sub.send(Packet::PubAck(roost_codec::Ack::new(id))).await;
        }
    }
    // "t/a" (third), "t/a" (fifth) and the second "t/c" are sent by alias alone.
    assert_eq!(aliased, 3);
    broker.stop().await;
}

#[tokio::test]
async fn no_aliases_without_a_topic_alias_maximum_or_in_mqtt_3_mqtt_3_1_2_27() {
    // [MQTT-3.1.2-27]: absent or 0, the server sends no Topic Alias; MQTT 3.1.1 has none; and
    // `outgoing_topic_aliases = false` turns them off for everyone.
    let broker = TestBroker::start().await;
    let off = TestBroker::start_with(Config {
        outgoing_topic_aliases: false,
        ..Config::default()
    })
    .await;
    let mut subscribers = [
        RawClient::connect(&broker, allowing_aliases("zero", 0)).await.0,
        RawClient::clean(&broker, V5, "absent").await,
        RawClient::clean(&broker, V311, "v311").await,
    ];
    let mut off_sub = RawClient::connect(&off, allowing_aliases("allows", 10)).await.0;
    for sub in subscribers.iter_mut().chain([&mut off_sub]) {
        sub.subscribe("a/b", QoS::AtMostOnce).await;
    }
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut off_publisher = RawClient::clean(&off, V5, "pub").await;
    for payload in [b"1", b"2", b"3"] {
        publisher.publish(publish("a/b", QoS::AtMostOnce, payload)).await;
        off_publisher.publish(publish("a/b", QoS::AtMostOnce, payload)).await;
    }
    for sub in subscribers.iter_mut().chain([&mut off_sub]) {
        for _ in 0..3 {
            let got = sub.recv_publish().await;
            assert_eq!((got.topic.as_str(), got.properties.topic_alias), ("a/b", None));
        }
    }
    broker.stop().await;
    off.stop().await;
}

#[tokio::test]
async fn a_resumed_session_resends_with_full_topics_on_its_new_connection_mqtt_3_3_2_7() {
    // [MQTT-3.3.2-7]: aliases belong to the network connection. In-flight PUBLISHes resent to a resumed session
    // ([MQTT-4.4.0-1]) must make sense to a client that starts with no aliases: the first of a topic carries it.
    let broker = TestBroker::start().await;
    let mut persistent = allowing_aliases("p", 10);
    persistent.clean_start = false;
    persistent.properties.session_expiry_interval = Some(300);
    let (mut sub, _) = RawClient::connect(&broker, persistent.clone()).await;
    sub.subscribe("a/b", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("a/b", QoS::AtLeastOnce, b"1")).await;
    publisher.publish(publish("a/b", QoS::AtLeastOnce, b"2")).await;
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    assert_eq!((first.topic.as_str(), second.topic.as_str()), ("a/b", ""));
    // Gone without acknowledging either.
    drop(sub);

    let (mut sub, connack) = RawClient::connect(&broker, persistent).await;
    assert!(connack.session_present);
    let mut mapping = HashMap::new();
    for payload in [b"1", b"2"] {
        let got = sub.recv_publish().await;
        assert!(got.dup, "a resent PUBLISH has DUP set ([MQTT-3.3.1-1])");
        assert_eq!(
            (resolve(&mut mapping, &got), &got.payload[..]),
            ("a/b".to_owned(), &payload[..])
        );
        sub.send(Packet::PubAck(roost_codec::Ack::new(got.qos_pid.packet_id().unwrap())))
            .await;
    }
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn a_new_alias_is_not_set_up_when_it_would_exceed_the_clients_maximum_packet_size() {
    // [MQTT-3.1.2-24]: the alias property adds 3 bytes to a topic's first PUBLISH. A message that fits only
    // without them is sent with its plain topic rather than dropped.
    let broker = TestBroker::start().await;
    let mut connect = allowing_aliases("small", 10);
    // PUBLISH QoS 0 to "a/b" with a 32-byte payload: 2 + 5 + 1 (no properties) + 32 = 40 bytes.
    connect.properties.maximum_packet_size = std::num::NonZeroU32::new(40);
    let (mut sub, _) = RawClient::connect(&broker, connect).await;
    sub.subscribe("a/b", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("a/b", QoS::AtMostOnce, &[b'x'; 32])).await;
    publisher.publish(publish("a/b", QoS::AtMostOnce, b"1")).await;
    publisher.publish(publish("a/b", QoS::AtMostOnce, b"2")).await;
    let plain = sub.recv_publish().await;
    assert_eq!((plain.topic.as_str(), plain.properties.topic_alias), ("a/b", None));
    let mut mapping = HashMap::new();
    let set_up = sub.recv_publish().await;
    assert_eq!(
        (set_up.topic.as_str(), set_up.properties.topic_alias),
        ("a/b", NonZeroU16::new(1))
    );
    resolve(&mut mapping, &set_up);
    let by_alias = sub.recv_publish().await;
    assert_eq!(by_alias.topic.as_str(), "");
    assert_eq!(resolve(&mut mapping, &by_alias), "a/b");
    broker.stop().await;
}

/// The next PUBLISH rumqttc reports, as received (before rumqttc resolves its alias).
async fn next_rumqttc_publish(events: &mut rumqttc::v5::EventLoop) -> rumqttc::v5::mqttbytes::v5::Publish {
    use rumqttc::v5::mqttbytes::v5::Packet as P5;
    within(async {
        loop {
            if let rumqttc::v5::Event::Incoming(P5::Publish(publish)) = events.poll().await.expect("rumqttc connection")
            {
                return publish;
            }
        }
    })
    .await
}

#[tokio::test]
async fn rumqttc_follows_the_aliases_it_allowed() {
    // rumqttc resolves incoming aliases itself and answers an alias it does not know with DISCONNECT 0x82, which
    // would fail `poll` here. Its events show each PUBLISH as received, so the test resolves them the same way.
    use rumqttc::v5::mqttbytes::QoS as Q5;
    use rumqttc::v5::mqttbytes::v5::Packet as P5;
    let broker = TestBroker::start().await;
    let mut options = rumqttc::v5::MqttOptions::new("rumq-alias", broker.mqtt.ip().to_string(), broker.mqtt.port());
    options.set_topic_alias_max(Some(4));
    let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 10);
    client.subscribe("ha/#", Q5::AtLeastOnce).await.unwrap();
    within(async {
        loop {
            if let rumqttc::v5::Event::Incoming(P5::SubAck(_)) = events.poll().await.expect("rumqttc connection") {
                return;
            }
        }
    })
    .await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let topics = [
        "ha/sensor/a/state",
        "ha/sensor/b/state",
        "ha/sensor/a/state",
        "ha/sensor/b/state",
    ];
    for topic in topics {
        publisher.publish(publish(topic, QoS::AtLeastOnce, b"21.5")).await;
    }
    let mut mapping: HashMap<u16, Vec<u8>> = HashMap::new();
    for (i, topic) in topics.iter().enumerate() {
        let got = next_rumqttc_publish(&mut events).await;
        let alias = got.properties.as_ref().and_then(|p| p.topic_alias).expect("an alias");
        assert!((1..=4).contains(&alias), "alias {alias} above rumqttc's maximum of 4");
        if got.topic.is_empty() {
            assert!(i >= 2, "PUBLISH {i} by alias alone before the alias was set up");
        } else {
            mapping.insert(alias, got.topic.to_vec());
        }
        assert_eq!(mapping.get(&alias).map(Vec::as_slice), Some(topic.as_bytes()));
        assert_eq!(&got.payload[..], b"21.5");
    }
    // Still connected: a round trip through rumqttc after the aliased messages.
    client
        .publish("ha/sensor/a/state", Q5::AtLeastOnce, false, "22")
        .await
        .unwrap();
    assert_eq!(&next_rumqttc_publish(&mut events).await.payload[..], b"22");
    broker.stop().await;
}

/// Every byte of what a `#` subscriber allowing `maximum` aliases receives for `rounds` passes over `topics`.
async fn bytes_received(maximum: Option<u16>, topics: &[String], rounds: usize) -> usize {
    use tokio::io::AsyncWriteExt;
    let broker = TestBroker::start_with(Config {
        sys_interval: std::time::Duration::ZERO,
        // Room for every message, so none is dropped should the subscriber's task fall behind for a moment.
        max_queued_messages: topics.len() * rounds,
        ..Config::default()
    })
    .await;
    let mut connect = connect_packet(V5, "dashboard");
    connect.properties.topic_alias_maximum = maximum;
    let (mut sub, _) = RawClient::connect(&broker, connect).await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    let (mut from_broker, mut to_broker) = sub.stream.into_split();
    // Read while the messages are published, so the broker never waits on a full socket.
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        // Payloads and topics are ASCII, so the PINGRESP asked for last (0xD0 0x00) ends the stream of messages.
        while !received.ends_with(PINGRESP) {
            let n = within(from_broker.read(&mut chunk)).await.expect("read");
            assert_ne!(n, 0, "closed");
            received.extend_from_slice(&chunk[..n]);
        }
        received.len() - PINGRESP.len()
    });
    let mut publisher = RawClient::clean(&broker, V5, "ha").await;
    for round in 0..rounds {
        for topic in topics {
            let payload = format!("{}.{}", 20 + round, topic.len() % 10);
            let mut message = publish(topic, QoS::AtMostOnce, b"");
            message.payload = payload.into_bytes().into();
            publisher.send(Packet::Publish(message)).await;
        }
    }
    // Every message has been routed once the PINGREQ behind them is answered; the subscriber's own PINGREQ is
    // then answered after every message queued for it.
    publisher.assert_nothing_pending().await;
    within(to_broker.write_all(PINGREQ)).await.expect("write");
    let received = reader.await.expect("reader");
    broker.stop().await;
    received
}

#[tokio::test]
async fn aliases_save_most_topic_bytes_on_a_busy_hash_subscription() {
    // The figure in BENCHMARKS.md: 1,000 Home Assistant state topics, each published 3 times, to a dashboard on
    // `#` that allows 1024 aliases, against one that allows none. Run with `--nocapture` to see it.
    let topics: Vec<String> = (0..1000)
        .map(|i| {
            let kind = ["temperature", "humidity", "power", "illuminance"][i % 4];
            format!("homeassistant/sensor/living_room_{kind}_{i:04}/state")
        })
        .collect();
    let rounds = 3;
    let plain = bytes_received(None, &topics, rounds).await;
    let aliased = bytes_received(Some(1024), &topics, rounds).await;
    let saved = plain - aliased;
    let percent = saved as f64 * 100.0 / plain as f64;
    println!(
        "{} messages: {plain} bytes without aliases, {aliased} with, {saved} saved ({percent:.1} %)",
        topics.len() * rounds
    );
    // Every PUBLISH gains 3 bytes (the Topic Alias property); every one after a topic's first loses the topic.
    let topic_bytes: usize = topics.iter().map(String::len).sum();
    assert_eq!(saved, topic_bytes * (rounds - 1) - 3 * topics.len() * rounds);
}
