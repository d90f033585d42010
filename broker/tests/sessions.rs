//! Sessions, wills, flow control and slow subscribers against a real in-process broker, over raw TCP.

mod common;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use common::*;
use roost_broker::Config;
use roost_codec::{
    Ack, Bytes, Disconnect, Packet,
    ProtocolVersion::{V5, V311},
    QoS, ReasonCode, TopicName, Will,
};

fn with_will(mut connect: roost_codec::Connect, topic: &str, payload: &'static [u8]) -> roost_codec::Connect {
    connect.will = Some(Will {
        topic: TopicName::new(topic).unwrap(),
        payload: Bytes::from_static(payload),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    connect
}

async fn disconnect_normally(client: &mut RawClient) {
    client
        .send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)))
        .await;
    assert_eq!(client.expect_close().await, None);
}

#[tokio::test]
async fn persistent_v311_session_keeps_subscriptions_and_queues_qos1_offline() {
    // [MQTT-3.1.2-4], [MQTT-3.2.2-2] session present; QoS 0 is not queued offline by default (section 3.1.2.4).
    let broker = TestBroker::start().await;
    let (mut client, connack) = RawClient::connect(&broker, persistent(V311, "p")).await;
    assert!(!connack.session_present);
    client.subscribe("t", QoS::AtLeastOnce).await;
    disconnect_normally(&mut client).await;

    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"kept")).await;
    publisher.publish(publish("t", QoS::AtMostOnce, b"lost")).await;

    let (mut client, connack) = RawClient::connect(&broker, persistent(V311, "p")).await;
    assert!(connack.session_present);
    let got = client.recv_publish().await;
    assert_eq!((&got.payload[..], got.qos()), (&b"kept"[..], QoS::AtLeastOnce));
    client
        .send(Packet::PubAck(Ack::new(got.qos_pid.packet_id().unwrap())))
        .await;
    client.assert_nothing_pending().await;
    // Still subscribed.
    publisher.publish(publish("t", QoS::AtMostOnce, b"live")).await;
    assert_eq!(&client.recv_publish().await.payload[..], b"live");
    disconnect_normally(&mut client).await;

    // [MQTT-3.1.2-6] clean session discards it.
    let (mut client, connack) = RawClient::connect(&broker, connect_packet(V311, "p")).await;
    assert!(!connack.session_present);
    publisher.publish(publish("t", QoS::AtLeastOnce, b"x")).await;
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn v5_session_expiry_zero_ends_the_session_at_disconnect() {
    // Section 3.1.2.11.2: no Session Expiry Interval means 0, the session ends with the connection.
    let broker = TestBroker::start().await;
    let mut connect = persistent(V5, "e");
    connect.properties.session_expiry_interval = None;
    let (mut client, _) = RawClient::connect(&broker, connect.clone()).await;
    client.subscribe("t", QoS::AtLeastOnce).await;
    disconnect_normally(&mut client).await;
    let (_client, connack) = RawClient::connect(&broker, connect).await;
    assert!(!connack.session_present);
    broker.stop().await;
}

#[tokio::test]
async fn resume_resends_pubrel_and_unacknowledged_publish_with_dup_in_order() {
    // [MQTT-4.4.0-1], [MQTT-3.3.1-1] DUP on resend.
    let broker = TestBroker::start().await;
    let (mut client, _) = RawClient::connect(&broker, persistent(V5, "r")).await;
    client.subscribe("t", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::ExactlyOnce, b"one")).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"two")).await;
    let one = client.recv_publish().await;
    let two = client.recv_publish().await;
    let one_id = one.qos_pid.packet_id().unwrap();
    client.send(Packet::PubRec(Ack::new(one_id))).await;
    assert!(matches!(client.recv().await, Packet::PubRel(a) if a.packet_id == one_id));
    // Gone without PUBCOMP or PUBACK.
    drop(client);

    let (mut client, connack) = RawClient::connect(&broker, persistent(V5, "r")).await;
    assert!(connack.session_present);
    assert!(matches!(client.recv().await, Packet::PubRel(a) if a.packet_id == one_id));
    let again = client.recv_publish().await;
    assert!(again.dup);
    assert_eq!(again.qos_pid, two.qos_pid);
    assert_eq!(&again.payload[..], b"two");
    client.send(Packet::PubComp(Ack::new(one_id))).await;
    client
        .send(Packet::PubAck(Ack::new(again.qos_pid.packet_id().unwrap())))
        .await;
    client.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn second_connect_with_same_id_takes_over_and_publishes_the_old_will() {
    // [MQTT-3.1.4-3] the old connection is closed (MQTT 5: DISCONNECT 0x8E); its will is published.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let (mut old, _) = RawClient::connect(&broker, with_will(persistent(V5, "x"), "wills/x", b"gone")).await;
    old.subscribe("t", QoS::AtLeastOnce).await;
    let (_new, connack) = RawClient::connect(&broker, persistent(V5, "x")).await;
    assert!(connack.session_present);
    assert_eq!(old.expect_close().await, Some(ReasonCode::SessionTakenOver));
    assert_eq!(&watcher.recv_publish().await.payload[..], b"gone");
    broker.stop().await;
}

#[tokio::test]
async fn will_published_on_abnormal_close_with_its_properties() {
    // [MQTT-3.1.2-8]; will properties forwarded like a PUBLISH's (section 3.1.3.2).
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut connect = with_will(connect_packet(V5, "d"), "wills/d", b"dead");
    let will = connect.will.as_mut().unwrap();
    will.properties.content_type = Some("text/plain".into());
    will.properties.user_properties = vec![("k".into(), "v1".into()), ("k".into(), "v2".into())];
    let (client, _) = RawClient::connect(&broker, connect).await;
    drop(client);
    let got = watcher.recv_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("wills/d", &b"dead"[..]));
    assert_eq!(got.properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        got.properties.user_properties,
        [("k".into(), "v1".into()), ("k".into(), "v2".into())]
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_will_may_use_a_dollar_topic_other_than_sys() {
    // The same line as for PUBLISH: `$aws/...` is the clients' (section 4.7.2 only keeps `$` topics from
    // first-level wildcards), `$SYS` is the broker's own. A's will goes first and must not arrive at all.
    let broker = TestBroker::start_with(roost_broker::Config {
        sys_interval: std::time::Duration::ZERO,
        ..roost_broker::Config::default()
    })
    .await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    watcher.subscribe("$aws/things/+/lwt", QoS::AtLeastOnce).await;
    let (a, _) = RawClient::connect(&broker, with_will(connect_packet(V5, "a"), "$SYS/x", b"a")).await;
    drop(a);
    let (b, _) = RawClient::connect(&broker, with_will(connect_packet(V5, "b"), "$aws/things/b/lwt", b"b")).await;
    drop(b);
    let got = watcher.recv_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("$aws/things/b/lwt", &b"b"[..]));
    watcher.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn will_not_published_on_normal_disconnect_but_on_v5_reason_0x04() {
    // [MQTT-3.14.4-3] normal DISCONNECT discards the will; 0x04 Disconnect with Will Message keeps it.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let (mut client, _) = RawClient::connect(&broker, with_will(connect_packet(V311, "n"), "wills/n", b"n")).await;
    disconnect_normally(&mut client).await;
    watcher.assert_nothing_pending().await;

    let (mut client, _) = RawClient::connect(&broker, with_will(connect_packet(V5, "f"), "wills/f", b"f")).await;
    client
        .send(Packet::Disconnect(Disconnect::new(
            ReasonCode::DisconnectWithWillMessage,
        )))
        .await;
    assert_eq!(client.expect_close().await, None);
    assert_eq!(&watcher.recv_publish().await.payload[..], b"f");
    broker.stop().await;
}

#[tokio::test]
async fn will_delay_waits_and_a_resumed_session_cancels_it() {
    // Section 3.1.3.2.2: the will waits for its delay; reconnecting in time means it is not sent.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut connect = with_will(persistent(V5, "late"), "wills/late", b"late");
    connect.will.as_mut().unwrap().properties.will_delay_interval = Some(60);
    let (client, _) = RawClient::connect(&broker, connect.clone()).await;
    drop(client);
    let (_client, connack) = RawClient::connect(&broker, connect).await;
    assert!(connack.session_present);
    watcher.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn keep_alive_timeout_publishes_the_will() {
    // [MQTT-3.1.2-22] silent for 1.5 × keep alive: closed, as an abnormal close.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut connect = with_will(connect_packet(V5, "k"), "wills/k", b"k");
    connect.keep_alive = 1;
    let (mut client, _) = RawClient::connect(&broker, connect).await;
    assert_eq!(client.expect_close().await, Some(ReasonCode::KeepAliveTimeout));
    assert_eq!(&watcher.recv_publish().await.payload[..], b"k");
    broker.stop().await;
}

#[tokio::test]
async fn incoming_topic_aliases_resolve_and_invalid_alias_disconnects_0x94() {
    // Section 3.3.2.3.4; [MQTT-3.3.2-9] alias above our Topic Alias Maximum.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V311, "s").await;
    sub.subscribe("a/b", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut first = publish("a/b", QoS::AtMostOnce, b"1");
    first.properties.topic_alias = NonZeroU16::new(1);
    publisher.publish(first).await;
    let mut second = publish("a/b", QoS::AtMostOnce, b"2");
    second.topic = TopicName::empty();
    second.properties.topic_alias = NonZeroU16::new(1);
    publisher.publish(second).await;
    assert_eq!(sub.recv_publish().await.topic.as_str(), "a/b");
    let got = sub.recv_publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("a/b", &b"2"[..]));

    let mut bad = publish("a/b", QoS::AtMostOnce, b"3");
    bad.properties.topic_alias = NonZeroU16::new(Config::default().topic_alias_maximum + 1);
    publisher.send(Packet::Publish(bad)).await;
    assert_eq!(publisher.expect_close().await, Some(ReasonCode::TopicAliasInvalid));
    broker.stop().await;
}

#[tokio::test]
async fn client_receive_maximum_limits_our_inflight() {
    // [MQTT-3.3.4-9] no more unacknowledged QoS 1/2 PUBLISH than the client's Receive Maximum.
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(V5, "rm");
    connect.properties.receive_maximum = NonZeroU16::new(1);
    let (mut sub, _) = RawClient::connect(&broker, connect).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"1")).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"2")).await;
    let first = sub.recv_publish().await;
    sub.assert_nothing_pending().await;
    sub.send(Packet::PubAck(Ack::new(first.qos_pid.packet_id().unwrap())))
        .await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"2");
    broker.stop().await;
}

#[tokio::test]
async fn message_over_a_subscribers_maximum_packet_size_is_dropped_for_it_only() {
    // [MQTT-3.1.2-25]
    let broker = TestBroker::start().await;
    let mut connect = connect_packet(V5, "small");
    connect.properties.maximum_packet_size = NonZeroU32::new(64);
    let (mut small, _) = RawClient::connect(&broker, connect).await;
    let mut big = RawClient::clean(&broker, V5, "big").await;
    small.subscribe("t", QoS::AtMostOnce).await;
    big.subscribe("t", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(publish("t", QoS::AtLeastOnce, &[b'x'; 100])).await;
    publisher.publish(publish("t", QoS::AtLeastOnce, b"fits")).await;
    assert_eq!(big.recv_publish().await.payload.len(), 100);
    assert_eq!(&big.recv_publish().await.payload[..], b"fits");
    assert_eq!(&small.recv_publish().await.payload[..], b"fits");
    small.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn an_offline_sessions_full_queue_refuses_new_qos1_messages_and_says_so() {
    // Overflow policy of a session that holds nobody back (offline): no QoS 0 to drop, so new messages are
    // refused, counted, and an MQTT 5 publisher whose message no session could take hears 0x97 Quota exceeded.
    let broker = TestBroker::start_with(Config {
        max_queued_messages: 5,
        ..Config::default()
    })
    .await;
    let mut connect = connect_packet(V5, "away");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(600);
    let (mut away, _) = RawClient::connect(&broker, connect.clone()).await;
    away.subscribe("t", QoS::AtLeastOnce).await;
    away.send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    assert_eq!(away.expect_close().await, None);
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut reasons = Vec::new();
    for i in 0..10u8 {
        let mut message = publish("t", QoS::AtLeastOnce, b"");
        message.payload = Bytes::from(vec![i]);
        reasons.push(publisher.publish(message).await);
    }
    assert_eq!(reasons[..5], [ReasonCode::Success; 5]);
    assert_eq!(reasons[5..], [ReasonCode::QuotaExceeded; 5]);
    let (mut away, connack) = RawClient::connect(&broker, connect).await;
    assert!(connack.session_present);
    let mut got = Vec::new();
    for _ in 0..5 {
        let message = away.recv_publish().await;
        got.push(message.payload[0]);
        away.send(Packet::PubAck(Ack::new(message.qos_pid.packet_id().unwrap())))
            .await;
    }
    away.assert_nothing_pending().await;
    assert_eq!(got, [0, 1, 2, 3, 4]);
    broker.stop().await;
}

#[tokio::test]
async fn subscriber_that_never_reads_does_not_delay_another() {
    // The router never awaits a client: a subscriber that stops reading fills its socket and its queue up to the
    // high-water mark, holds the publisher back for at most `slow_subscriber_timeout`, is then found stuck and
    // holds nobody back any more; the other subscriber gets every message, delayed at most once by that timeout.
    const MESSAGES: usize = 400;
    let timeout = Duration::from_millis(500);
    let broker = TestBroker::start_with(Config {
        max_queued_bytes: 1024 * 1024,
        slow_subscriber_timeout: timeout,
        ..Config::default()
    })
    .await;
    let mut stuck = RawClient::clean(&broker, V311, "stuck").await;
    stuck.subscribe("big", QoS::AtMostOnce).await;
    let mut fast = RawClient::clean(&broker, V311, "fast").await;
    fast.subscribe("big", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    let payload = Bytes::from(vec![7u8; 64 * 1024]);

    // Lock-step, so the fast subscriber's own queue never fills: each message must reach it before the next is
    // sent, while the stuck one's socket and queue fill up behind it.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..MESSAGES {
        let mut message = publish("big", QoS::AtMostOnce, b"");
        message.payload = payload.clone();
        let sent = Instant::now();
        publisher.send(Packet::Publish(message)).await;
        assert_eq!(fast.recv_publish().await.payload.len(), payload.len());
        slowest = slowest.max(sent.elapsed());
    }
    let elapsed = started.elapsed();
    assert!(
        slowest < timeout + Duration::from_secs(2) && elapsed < Duration::from_secs(20),
        "fast subscriber delayed: slowest {slowest:?}, all {elapsed:?}"
    );

    // Now read the stuck one (MQTT 3.1.1, so it was not disconnected): it lost messages to its 1 MiB queue bound
    // once it was found stuck (plus what the sockets buffered).
    let mut delivered = 0;
    stuck.send(Packet::PingReq).await;
    loop {
        match stuck.recv().await {
            Packet::Publish(_) => delivered += 1,
            Packet::PingResp => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        delivered < MESSAGES,
        "the stuck subscriber got all {delivered} messages: no bound was hit"
    );
    broker.stop().await;
}

#[tokio::test]
async fn pubrel_for_unknown_id_gets_pubcomp_0x92_in_v5() {
    // Section 3.7.2.1: 0x92 Packet Identifier not found.
    let broker = TestBroker::start().await;
    let mut client = RawClient::clean(&broker, V5, "c").await;
    client.send(Packet::PubRel(Ack::new(pid(42)))).await;
    match client.recv().await {
        Packet::PubComp(ack) => assert_eq!(ack.reason_code, ReasonCode::PacketIdentifierNotFound),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
    broker.stop().await;
}

#[tokio::test]
async fn client_that_stops_reading_is_dropped_after_its_keep_alive_and_its_will_published() {
    // A client blocked on a full socket is checked like a silent one ([MQTT-3.1.2-22] 1.5 × keep alive); it ends
    // abnormally, so its will goes out ([MQTT-3.1.2-8]).
    let broker = TestBroker::start_with(Config {
        max_queued_bytes: 1024 * 1024,
        ..Config::default()
    })
    .await;
    let mut watcher = RawClient::clean(&broker, V5, "w").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut connect = with_will(connect_packet(V311, "stuck"), "wills/stuck", b"stuck");
    connect.keep_alive = 1;
    let (mut stuck, _) = RawClient::connect(&broker, connect).await;
    stuck.subscribe("big", QoS::AtMostOnce).await;
    let mut publisher = RawClient::clean(&broker, V311, "pub").await;
    let payload = Bytes::from(vec![7u8; 64 * 1024]);
    // 25 MiB: more than the loopback socket buffers hold, so the broker's write to `stuck` blocks.
    for _ in 0..400 {
        let mut message = publish("big", QoS::AtMostOnce, b"");
        message.payload = payload.clone();
        publisher.send(Packet::Publish(message)).await;
    }
    publisher.assert_nothing_pending().await;
    assert_eq!(&watcher.recv_publish().await.payload[..], b"stuck");
    drop(stuck);
    broker.stop().await;
}

/// A client with a will of `qos` and `retain`, on `topic`, that goes away without DISCONNECT.
async fn drop_with_will(
    broker: &TestBroker,
    version: roost_codec::ProtocolVersion,
    id: &str,
    topic: &str,
    qos: QoS,
    retain: bool,
) {
    let mut connect = with_will(connect_packet(version, id), topic, b"will");
    let will = connect.will.as_mut().unwrap();
    will.qos = qos;
    will.retain = retain;
    let (client, _) = RawClient::connect(broker, connect).await;
    drop(client);
}

/// The will goes out at its Will QoS, and is stored as retained exactly when Will Retain is 1.
async fn will_uses_its_qos_and_retain(version: roost_codec::ProtocolVersion) {
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, version, "w").await;
    watcher.subscribe("wills/#", QoS::ExactlyOnce).await;

    // Will QoS 2, Will Retain 1.
    drop_with_will(&broker, version, "r", "wills/r", QoS::ExactlyOnce, true).await;
    let got = watcher.recv_publish().await;
    assert_eq!((got.topic.as_str(), got.qos()), ("wills/r", QoS::ExactlyOnce));
    // A live subscription gets RETAIN 0 ([MQTT-3.3.1-9] 3.1.1; Retain As Published is 0 in 5.0).
    assert!(!got.retain);
    let id = got.qos_pid.packet_id().unwrap();
    watcher.send(Packet::PubRec(Ack::new(id))).await;
    assert!(matches!(watcher.recv().await, Packet::PubRel(a) if a.packet_id == id));
    watcher.send(Packet::PubComp(Ack::new(id))).await;

    // Will QoS 0, Will Retain 0.
    drop_with_will(&broker, version, "n", "wills/n", QoS::AtMostOnce, false).await;
    let got = watcher.recv_publish().await;
    assert_eq!(
        (got.topic.as_str(), got.qos(), got.retain),
        ("wills/n", QoS::AtMostOnce, false)
    );
    watcher.assert_nothing_pending().await;

    // A later subscriber gets the retained will, with RETAIN 1, and not the other one.
    let mut later = RawClient::clean(&broker, version, "later").await;
    later.subscribe("wills/#", QoS::AtLeastOnce).await;
    let got = later.recv_publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.retain),
        ("wills/r", &b"will"[..], true)
    );
    later
        .send(Packet::PubAck(Ack::new(got.qos_pid.packet_id().unwrap())))
        .await;
    later.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn will_qos_and_retain_used_v311_mqtt_3_1_2_9_16_17() {
    // [MQTT-3.1.2-9] Will QoS and Will Retain are used; [MQTT-3.1.2-16] Will Retain 0: not retained;
    // [MQTT-3.1.2-17] Will Retain 1: retained.
    will_uses_its_qos_and_retain(V311).await;
}

#[tokio::test]
async fn will_qos_and_retain_used_v5_mqtt_3_1_2_14_15() {
    // [MQTT-3.1.2-14] Will Retain 0: not retained; [MQTT-3.1.2-15] Will Retain 1: retained.
    will_uses_its_qos_and_retain(V5).await;
}

#[tokio::test]
async fn client_without_will_publishes_nothing_on_abnormal_close_mqtt_3_1_2_12() {
    // [MQTT-3.1.2-12] Will Flag 0: no will. The broker ends each connection abnormally (a second CONNECT is a
    // protocol error, [MQTT-3.1.0-2]); it closes the socket only after `finish` (handler.rs) has published any
    // will, so by the time the client sees the close the will is queued for the watcher, or there is none.
    let broker = TestBroker::start().await;
    let mut watcher = RawClient::clean(&broker, V311, "w").await;
    watcher.subscribe("#", QoS::AtLeastOnce).await;

    // Control: the same close with a will does publish it.
    let (mut loud, _) =
        RawClient::connect(&broker, with_will(connect_packet(V311, "loud"), "wills/loud", b"loud")).await;
    loud.send(Packet::Connect(Box::new(connect_packet(V311, "loud")))).await;
    assert_eq!(loud.expect_close().await, None);
    let got = watcher.recv_publish().await;
    assert_eq!(got.topic.as_str(), "wills/loud");
    watcher
        .send(Packet::PubAck(Ack::new(got.qos_pid.packet_id().unwrap())))
        .await;

    let mut quiet = RawClient::clean(&broker, V311, "quiet").await;
    quiet
        .send(Packet::Connect(Box::new(connect_packet(V311, "quiet"))))
        .await;
    assert_eq!(quiet.expect_close().await, None);
    watcher.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn second_connect_is_a_protocol_error_mqtt_3_1_0_2() {
    // [MQTT-3.1.0-2] a second CONNECT: MQTT 5 DISCONNECT 0x82 then close; MQTT 3.1.1 just close. Also
    // [MQTT-3.2.0-2] (5.0): no second CONNACK (`expect_close` fails on any packet but DISCONNECT).
    let broker = TestBroker::start().await;
    let mut v5 = RawClient::clean(&broker, V5, "c5").await;
    v5.send(Packet::Connect(Box::new(connect_packet(V5, "c5")))).await;
    assert_eq!(v5.expect_close().await, Some(ReasonCode::ProtocolError));

    let mut v3 = RawClient::clean(&broker, V311, "c3").await;
    v3.send(Packet::Connect(Box::new(connect_packet(V311, "c3")))).await;
    assert_eq!(v3.expect_close().await, None);
    broker.stop().await;
}

#[tokio::test]
async fn topic_alias_does_not_survive_a_reconnect_mqtt_3_3_2_7() {
    // [MQTT-3.3.2-7] alias mappings belong to the connection, even when the session is resumed. No numbered
    // statement names the reason for an alias that has no mapping on this connection: section 3.3.2.1 makes a
    // zero-length Topic Name without a Topic Alias a Protocol Error, and the reason code table (2.4) reserves
    // 0x94 Topic Alias invalid for an alias above the Topic Alias Maximum ([MQTT-3.3.2-9]). Roost answers the
    // unmapped alias as a Protocol Error, 0x82.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, V311, "s").await;
    sub.subscribe("a/b", QoS::AtMostOnce).await;
    let (mut publisher, _) = RawClient::connect(&broker, persistent(V5, "al")).await;
    let mut set = publish("a/b", QoS::AtMostOnce, b"1");
    set.properties.topic_alias = NonZeroU16::new(1);
    publisher.publish(set).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"1");
    disconnect_normally(&mut publisher).await;

    let (mut publisher, connack) = RawClient::connect(&broker, persistent(V5, "al")).await;
    assert!(connack.session_present);
    let mut use_it = publish("a/b", QoS::AtMostOnce, b"2");
    use_it.topic = TopicName::empty();
    use_it.properties.topic_alias = NonZeroU16::new(1);
    publisher.send(Packet::Publish(use_it)).await;
    assert_eq!(publisher.expect_close().await, Some(ReasonCode::ProtocolError));
    sub.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn the_whole_history_of_one_client_id_does_not_end_a_later_session() {
    // Issue 13, fault 2 (the Paho MQTT 5 interoperability suite's test_session_expiry after earlier tests with the
    // same client id): a session ended and created anew must not be ended by the expiry timer an earlier
    // connection armed. Time passing is the behaviour under test, so this test waits for it.
    let broker = TestBroker::start().await;
    let connect = |clean: bool, expiry: u32| {
        let mut connect = connect_packet(V5, "myclientid");
        connect.clean_start = clean;
        connect.properties.session_expiry_interval = Some(expiry);
        connect
    };
    // An earlier connection leaves a session with a 1 s expiry: its timer is armed.
    let (mut first, _) = RawClient::connect(&broker, connect(true, 1)).await;
    first
        .send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    assert_eq!(first.expect_close().await, None);
    // A new session under the same id (clean start), subscribed, leaving with a 5 s expiry.
    let (mut second, _) = RawClient::connect(&broker, connect(true, 1)).await;
    second.subscribe("history/t", QoS::AtLeastOnce).await;
    let mut disconnect = roost_codec::Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(5);
    second.send(Packet::Disconnect(disconnect)).await;
    assert_eq!(second.expect_close().await, None);
    // Past the first timer, well within the second session's expiry.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut third, connack) = RawClient::connect(&broker, connect(false, 5)).await;
    assert!(connack.session_present, "[MQTT-3.2.2-3] the session still exists");
    // And its subscription with it.
    let mut publisher = RawClient::clean(&broker, V5, "history-pub").await;
    publisher
        .publish(publish("history/t", QoS::AtLeastOnce, b"still here"))
        .await;
    assert_eq!(&third.recv_publish().await.payload[..], b"still here");
    broker.stop().await;
}
