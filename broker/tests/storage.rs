//! Storage through the whole broker, in process: what a restart on the same data directory gives back, the lock
//! that keeps a second broker off it, and the size cap. (`crash.rs` kills the real binary at random moments.)

mod common;

use std::path::Path;

use common::*;
use roost_broker::config::StorageConfig;
use roost_broker::store::StoreError;
use roost_broker::{Config, Server, StartError};
use roost_codec::{
    Bytes, Packet,
    ProtocolVersion::{V5, V311},
    QoS, ReasonCode, TopicName, Will,
};

fn stored(dir: &Path) -> Config {
    Config {
        storage: StorageConfig {
            dir: Some(dir.to_owned()),
            ..StorageConfig::default()
        },
        ..Config::default()
    }
}

fn retained(topic: &str, payload: &'static [u8]) -> roost_codec::Publish {
    let mut publish = publish(topic, QoS::AtLeastOnce, payload);
    publish.retain = true;
    publish
}

#[tokio::test]
async fn retained_messages_and_persistent_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(stored(dir.path())).await;
    let (mut v5, _) = RawClient::connect(&broker, persistent(V5, "sub-v5")).await;
    let (mut v311, _) = RawClient::connect(&broker, persistent(V311, "sub-v311")).await;
    assert_eq!(
        v5.subscribe("home/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );
    assert_eq!(
        v311.subscribe("home/#", QoS::ExactlyOnce).await,
        [ReasonCode::GrantedQoS2]
    );
    drop((v5, v311));
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    // The panel's layout and a device's state, retained; then messages for the offline sessions.
    // Nobody subscribes to the layout yet (0x10, section 3.4.2.1); it is kept all the same.
    assert_eq!(
        publisher.publish(retained("roost/dashboard", b"{\"cards\":[]}")).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        publisher.publish(retained("home/lamp/state", b"ON")).await,
        ReasonCode::Success
    );
    assert_eq!(
        publisher.publish(publish("home/door", QoS::ExactlyOnce, b"open")).await,
        ReasonCode::Success
    );
    broker.stop().await;

    let broker = TestBroker::start_with(stored(dir.path())).await;
    // [MQTT-3.2.2-3] the sessions are there, with what was queued for them while they were away, in order.
    for (version, id) in [(V5, "sub-v5"), (V311, "sub-v311")] {
        let (mut client, connack) = RawClient::connect(&broker, persistent(version, id)).await;
        assert!(connack.session_present, "{id}: session present after the restart");
        let lamp = client.recv_publish().await;
        assert_eq!(
            (lamp.topic.as_str(), &lamp.payload[..]),
            ("home/lamp/state", &b"ON"[..])
        );
        let door = client.recv_publish().await;
        assert_eq!((door.topic.as_str(), &door.payload[..]), ("home/door", &b"open"[..]));
        assert_eq!(
            door.qos_pid.qos(),
            if version.is_v5() {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            }
        );
    }
    let mut panel = RawClient::clean(&broker, V5, "panel").await;
    panel.subscribe("roost/dashboard", QoS::AtMostOnce).await;
    let layout = panel.recv_publish().await;
    assert!(layout.retain, "[MQTT-3.3.1-9] sent as retained");
    assert_eq!(&layout.payload[..], b"{\"cards\":[]}");
    broker.stop().await;
}

#[tokio::test]
async fn a_delayed_will_survives_a_restart_and_is_published_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(stored(dir.path())).await;
    let mut connect = persistent(V5, "sensor");
    // Section 3.1.3.2.2: published this long after the connection is lost, unless the session is resumed.
    let properties = roost_codec::Properties {
        will_delay_interval: Some(2),
        ..Default::default()
    };
    connect.will = Some(Will {
        topic: TopicName::new("sensor/status").unwrap(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties,
    });
    let (client, _) = RawClient::connect(&broker, connect).await;
    // Lost without DISCONNECT, then the broker restarts before the delay is over.
    drop(client);
    broker.stop().await;

    let broker = TestBroker::start_with(stored(dir.path())).await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    // Retained: it arrives whether it was published before this subscription or after.
    watcher.subscribe("sensor/status", QoS::AtLeastOnce).await;
    let will = watcher.recv_publish().await;
    assert_eq!(&will.payload[..], b"offline");
    broker.stop().await;
}

#[tokio::test]
async fn a_second_broker_cannot_use_the_same_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(stored(dir.path())).await;
    let mut config = stored(dir.path());
    config.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    config.http_addr = "127.0.0.1:0".parse().unwrap();
    match Server::bind(config).await {
        Err(StartError::Storage(StoreError::InUse { dir: in_use })) => assert_eq!(in_use, dir.path()),
        other => panic!("expected StoreError::InUse, got {:?}", other.map(|_| ())),
    }
    broker.stop().await;
    // Released with the first broker.
    let broker = TestBroker::start_with(stored(dir.path())).await;
    broker.stop().await;
}

#[tokio::test]
async fn a_full_store_refuses_new_retained_messages_with_quota_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stored(dir.path());
    config.storage.max_bytes = 4096;
    let broker = TestBroker::start_with(config).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    let mut reasons = Vec::new();
    for i in 0..16 {
        let topic = format!("big/{i}");
        let mut publish = publish(&topic, QoS::AtLeastOnce, &[b'x'; 512]);
        publish.retain = true;
        reasons.push(publisher.publish(publish).await);
    }
    let refused = reasons.iter().position(|&r| r == ReasonCode::QuotaExceeded);
    let refused = refused.expect("the store filled up: {reasons:?}");
    assert!(refused > 0, "some fitted: {reasons:?}");
    assert!(
        reasons[refused..].iter().all(|&r| r == ReasonCode::QuotaExceeded),
        "{reasons:?}"
    );
    // Deleting a retained message always goes through, and makes room again.
    let mut delete = publish("big/0", QoS::AtLeastOnce, b"");
    delete.retain = true;
    assert_ne!(publisher.publish(delete).await, ReasonCode::QuotaExceeded);
    // What was refused was not retained: a restart gives back exactly what was acknowledged.
    publisher
        .send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    broker.stop().await;
    let broker = TestBroker::start_with(stored(dir.path())).await;
    let mut reader = RawClient::clean(&broker, V5, "reader").await;
    reader.subscribe("big/#", QoS::AtMostOnce).await;
    let mut topics = Vec::new();
    for _ in 1..refused {
        topics.push(reader.recv_publish().await.topic.as_str().to_owned());
    }
    reader.assert_nothing_pending().await;
    let mut expected: Vec<String> = (1..refused).map(|i| format!("big/{i}")).collect();
    expected.sort();
    assert_eq!(topics, expected);
    broker.stop().await;
}

#[tokio::test]
async fn sys_reports_what_storage_does_and_keeps_sys_out_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stored(dir.path());
    config.sys_interval = std::time::Duration::from_millis(200);
    let broker = TestBroker::start_with(config).await;
    let mut publisher = RawClient::clean(&broker, V5, "pub").await;
    publisher.publish(retained("home/lamp", b"ON")).await;
    let mut watcher = RawClient::clean(&broker, V5, "watcher").await;
    watcher.subscribe("$SYS/broker/store/#", QoS::AtMostOnce).await;
    // The first values may be from the update before the publish: read updates until they show it (each
    // read is bounded; so is their number).
    let mut seen = std::collections::BTreeMap::new();
    let shows_the_write = |seen: &std::collections::BTreeMap<String, u64>| {
        seen.len() == 4
            && seen["$SYS/broker/store/bytes"] > 0
            && seen["$SYS/broker/store/bytes written"] > 0
            && seen["$SYS/broker/store/syncs"] > 0
    };
    for _ in 0..100 {
        let publish = watcher.recv_publish().await;
        let value: u64 = std::str::from_utf8(&publish.payload).unwrap().parse().unwrap();
        seen.insert(publish.topic.as_str().to_owned(), value);
        if shows_the_write(&seen) {
            break;
        }
    }
    assert!(shows_the_write(&seen), "{seen:?}");
    assert!(seen.contains_key("$SYS/broker/store/snapshots"), "{seen:?}");
    drop((publisher, watcher));
    broker.stop().await;
    // After a restart only the client's retained message is there: `$SYS` is the broker's own, made anew. With
    // `$SYS` turned off, a stored `$SYS` message would be the only way one could arrive.
    let mut config = stored(dir.path());
    config.sys_interval = std::time::Duration::ZERO;
    let broker = TestBroker::start_with(config).await;
    let mut reader = RawClient::clean(&broker, V5, "reader").await;
    reader.subscribe("$SYS/broker/store/bytes", QoS::AtMostOnce).await;
    reader.assert_nothing_pending().await;
    reader.subscribe("home/lamp", QoS::AtMostOnce).await;
    assert_eq!(&reader.recv_publish().await.payload[..], b"ON");
    broker.stop().await;
}

/// The ACL judges an offline session's deliveries as the user who last logged in with it, after a restart too:
/// before, a restored session had no user and was judged as anonymous, so what its user may read was not
/// queued for it.
#[tokio::test]
async fn a_restored_session_keeps_its_users_rights() {
    let dir = tempfile::tempdir().unwrap();
    let line = |user: &str, password: &str| {
        let hash = roost_broker::auth::hash_password(roost_broker::auth::HashKind::Sha512, password.as_bytes());
        format!("{user}:{}\n", hash.unwrap())
    };
    std::fs::write(dir.path().join("passwd"), line("alice", "a") + &line("bob", "b")).unwrap();
    std::fs::write(
        dir.path().join("acl"),
        "user alice\ntopic read alice/#\nuser bob\ntopic write alice/#\n",
    )
    .unwrap();
    let config = || Config {
        auth: roost_broker::config::AuthConfig {
            password_file: Some(dir.path().join("passwd")),
            acl_file: Some(dir.path().join("acl")),
            ..roost_broker::config::AuthConfig::default()
        },
        ..stored(&dir.path().join("data"))
    };
    let login = |user: &str, password: &str, persistent_session: bool| {
        let mut connect = if persistent_session {
            persistent(V5, user)
        } else {
            connect_packet(V5, user)
        };
        connect.username = Some(user.into());
        connect.password = Some(Bytes::copy_from_slice(password.as_bytes()));
        connect
    };
    let broker = TestBroker::start_secured(config()).await;
    let (mut alice, _) = RawClient::connect(&broker, login("alice", "a", true)).await;
    assert_eq!(
        alice.subscribe("alice/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );
    drop(alice);
    broker.stop().await;

    let broker = TestBroker::start_secured(config()).await;
    let (mut bob, _) = RawClient::connect(&broker, login("bob", "b", false)).await;
    // Queued for alice's offline session: she may read it.
    assert_eq!(
        bob.publish(publish("alice/inbox", QoS::AtLeastOnce, b"hi")).await,
        ReasonCode::Success
    );
    let (mut alice, connack) = RawClient::connect(&broker, login("alice", "a", true)).await;
    assert!(connack.session_present);
    assert_eq!(alice.recv_publish().await.topic.as_str(), "alice/inbox");
    broker.stop().await;
}
