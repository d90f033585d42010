//! `$SYS/broker/...`: the broker's status topics, with Mosquitto's names, against a real broker publishing every
//! 100 ms.
//!
//! Synchronisation without sleeps: each test waits for a value it expects to see (bounded by `within`), and
//! relies on the router's order: one `$SYS` update is routed topic by topic in a fixed order under one lock.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use roost_broker::Config;
use roost_codec::{ProtocolVersion, Publish, QoS, QoSPid, TopicName};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

async fn start() -> TestBroker {
    TestBroker::start_with(Config {
        sys_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .await
}

/// The next PUBLISH as (topic, payload) strings.
async fn next(client: &mut RawClient) -> (String, String) {
    let publish = client.recv_publish().await;
    (
        publish.topic.as_str().to_owned(),
        String::from_utf8(publish.payload.to_vec()).expect("UTF-8 payload"),
    )
}

/// Reads PUBLISHes until `topic` arrives with a payload `accept` likes; returns that payload.
async fn until(client: &mut RawClient, topic: &str, accept: impl Fn(&str) -> bool) -> String {
    within(async {
        loop {
            let (t, payload) = next(client).await;
            if t == topic && accept(&payload) {
                return payload;
            }
        }
    })
    .await
}

fn number(payload: &str) -> u64 {
    payload.parse().unwrap_or_else(|_| panic!("not a number: {payload:?}"))
}

#[tokio::test]
async fn sys_subscriber_sees_version_uptime_and_itself_connected() {
    let broker = start().await;
    let mut client = RawClient::clean(&broker, ProtocolVersion::V311, "sys-watcher").await;
    client.subscribe("$SYS/#", QoS::AtMostOnce).await;
    let version = until(&mut client, "$SYS/broker/version", |_| true).await;
    assert_eq!(version, format!("roost {}", env!("CARGO_PKG_VERSION")));
    // Retained values from before we connected may say 0; a later update counts us.
    until(&mut client, "$SYS/broker/clients/connected", |p| number(p) == 1).await;
    // The rest of the same update follows in a fixed order.
    let mut seen = std::collections::HashMap::new();
    while seen.len() < 12 {
        let (topic, payload) = next(&mut client).await;
        seen.insert(topic, payload);
    }
    assert_eq!(seen["$SYS/broker/clients/total"], "1");
    assert_eq!(seen["$SYS/broker/clients/maximum"], "1");
    assert_eq!(seen["$SYS/broker/clients/disconnected"], "0");
    assert_eq!(seen["$SYS/broker/subscriptions/count"], "1");
    assert!(
        number(&seen["$SYS/broker/messages/received"]) >= 2,
        "CONNECT and SUBSCRIBE"
    );
    assert!(number(&seen["$SYS/broker/bytes/received"]) > 0);
    // Counted before the update itself is retained: at least the version.
    assert!(
        number(&seen["$SYS/broker/retained messages/count"]) >= 1,
        "$SYS topics are retained"
    );

    let uptime = until(&mut client, "$SYS/broker/uptime", |_| true).await;
    let seconds = uptime.strip_suffix(" seconds").expect("\"N seconds\"");
    assert!(number(seconds) < 60, "{uptime}");
    let load = until(&mut client, "$SYS/broker/load/messages/received/1min", |_| true).await;
    assert!(
        load.parse::<f64>().is_ok_and(|l| l >= 0.0) && load.contains('.'),
        "{load}"
    );
    broker.stop().await;
}

#[tokio::test]
async fn message_counters_grow_after_a_publish() {
    let broker = start().await;
    let mut watcher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-counters").await;
    // One SUBSCRIBE: a second one's SUBACK could queue behind the retained messages the first one sent.
    watcher.subscribe("$SYS/broker/#", QoS::AtMostOnce).await;
    until(&mut watcher, "$SYS/broker/publish/messages/received", |p| {
        number(p) == 0
    })
    .await;
    let before = number(&until(&mut watcher, "$SYS/broker/messages/received", |_| true).await);

    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-publisher").await;
    let mut publish = Publish::new(TopicName::new("plain/topic").unwrap(), "hello");
    publish.qos_pid = QoSPid::AtLeastOnce(pid(1));
    publisher.publish(publish).await;

    // messages/received precedes publish/messages/received in each update.
    let mut received = before;
    within(async {
        loop {
            let (topic, payload) = next(&mut watcher).await;
            match topic.as_str() {
                "$SYS/broker/messages/received" => received = number(&payload),
                "$SYS/broker/publish/messages/received" if number(&payload) == 1 => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(received >= before + 2, "CONNECT and PUBLISH: {before} then {received}");
    broker.stop().await;
}

/// Retained messages a full retained store refused are counted. (`$SYS`'s own retained messages take some of
/// the room too, so the store is made just big enough for them and then filled.)
#[tokio::test]
async fn refused_retained_messages_are_counted() {
    let broker = TestBroker::start_with(Config {
        sys_interval: Duration::from_millis(100),
        max_retained_messages: 100,
        ..Config::default()
    })
    .await;
    let mut watcher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-watcher").await;
    watcher.subscribe("$SYS/broker/#", QoS::AtMostOnce).await;
    until(&mut watcher, "$SYS/broker/retained messages/refused", |p| {
        number(p) == 0
    })
    .await;
    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-retained").await;
    for n in 0..100 {
        let mut publish = Publish::new(TopicName::new(format!("r/{n}")).unwrap(), "v");
        publish.retain = true;
        publish.qos_pid = QoSPid::AtLeastOnce(pid(1));
        publisher.publish(publish).await;
    }
    until(&mut watcher, "$SYS/broker/retained messages/refused", |p| number(p) > 0).await;
    broker.stop().await;
}

/// The bytes of messages held against `max_memory`: a message queued for an offline session counts until it is
/// delivered and acknowledged.
#[tokio::test]
async fn the_bytes_of_messages_held_are_published() {
    let broker = start().await;
    let (mut offline, _) = RawClient::connect(&broker, persistent(ProtocolVersion::V5, "sys-offline")).await;
    offline.subscribe("q/#", QoS::AtLeastOnce).await;
    drop(offline);
    let mut watcher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-watcher").await;
    watcher.subscribe("$SYS/broker/#", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V5, "sys-publisher").await;
    let mut publish = Publish::new(TopicName::new("q/1").unwrap(), "abc");
    publish.qos_pid = QoSPid::AtLeastOnce(pid(1));
    publisher.publish(publish).await;
    // Topic 3 bytes and payload 3, queued for the offline session; $SYS's own messages are not charged.
    until(&mut watcher, "$SYS/broker/memory/messages", |p| number(p) == 6).await;
    let (mut back, _) = RawClient::connect(&broker, persistent(ProtocolVersion::V5, "sys-offline")).await;
    let message = back.recv_publish().await;
    back.send(roost_codec::Packet::PubAck(roost_codec::Ack::new(
        message.qos_pid.packet_id().unwrap(),
    )))
    .await;
    until(&mut watcher, "$SYS/broker/memory/messages", |p| number(p) == 0).await;
    until(&mut watcher, "$SYS/broker/publish/messages/refused/memory-full", |p| {
        number(p) == 0
    })
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn hash_subscriber_gets_no_sys_topics() {
    let broker = start().await;
    let mut sys = RawClient::clean(&broker, ProtocolVersion::V311, "sys-sub").await;
    sys.subscribe("$SYS/#", QoS::AtMostOnce).await;
    // [MQTT-4.7.2-1] neither retained `$SYS` messages on subscribe nor the updates go to `#`.
    let mut all = RawClient::clean(&broker, ProtocolVersion::V311, "hash-sub").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    // An update routed after `#` subscribed: had it matched, it would be queued to `all` ahead of the marker.
    until(&mut sys, "$SYS/broker/subscriptions/count", |p| number(p) == 2).await;
    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V311, "marker").await;
    let mut publish = Publish::new(TopicName::new("marker").unwrap(), "m");
    publish.qos_pid = QoSPid::AtLeastOnce(pid(1));
    publisher.publish(publish).await;
    let (topic, _) = next(&mut all).await;
    assert_eq!(topic, "marker", "`#` must not match `$SYS` topics");
    broker.stop().await;
}

#[tokio::test]
async fn interval_zero_publishes_nothing() {
    let broker = TestBroker::start_with(Config {
        sys_interval: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let mut client = RawClient::clean(&broker, ProtocolVersion::V311, "sys-off").await;
    client.subscribe("$SYS/#", QoS::AtMostOnce).await;
    // No retained `$SYS` message arrived on subscribe.
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn mosquitto_sub_reads_the_version() {
    let broker = start().await;
    let mut child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string()])
        .args(["-t", "$SYS/broker/version", "-C", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub is installed");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    within(stdout.read_line(&mut line)).await.expect("read");
    assert_eq!(line.trim_end(), format!("roost {}", env!("CARGO_PKG_VERSION")));
    let status = within(child.wait()).await.expect("wait");
    assert!(status.success(), "{status}");
    broker.stop().await;
}
