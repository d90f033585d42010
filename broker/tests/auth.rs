//! Users and rights against a broker in this process: password files written by Debian's real `mosquitto_passwd`
//! (both of its hash kinds) accepted unchanged, with raw clients, mosquitto_pub/sub and paho-mqtt; the CONNACK
//! codes of refusals in 3.1.1 and 5.0; loopback-only anonymous access; and the ACL on PUBLISH, SUBSCRIBE and wills.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{RawClient, TestBroker, connect_packet, publish, within};
use roost_broker::Config;
use roost_broker::config::{Anonymous, AuthConfig};
use roost_codec::{Bytes, Packet, ProtocolVersion, QoS, ReasonCode, TopicName, Will};
use tokio::process::Command;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Writes a password file with the real `mosquitto_passwd`: `alice` (its default, `$7$` PBKDF2-SHA512) and
/// `bob` (`-H sha512`, `$6$`), passwords `wonderland` and `builder`.
fn mosquitto_password_file(dir: &Path) -> PathBuf {
    let path = dir.join("passwd");
    let run = |args: &[&str]| {
        let status = std::process::Command::new("mosquitto_passwd")
            .args(args)
            .status()
            .expect("run mosquitto_passwd (installed by scripts/setup)");
        assert!(status.success(), "mosquitto_passwd {args:?}");
    };
    let file = path.to_str().unwrap();
    run(&["-c", "-b", file, "alice", "wonderland"]);
    run(&["-H", "sha512", "-b", file, "bob", "builder"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("alice:$7$") && text.contains("bob:$6$"), "{text}");
    path
}

fn auth_config(password_file: Option<PathBuf>, acl_file: Option<PathBuf>, anonymous: Anonymous) -> Config {
    Config {
        auth: AuthConfig {
            allow_anonymous: anonymous,
            password_file,
            acl_file,
            ..AuthConfig::default()
        },
        ..Config::default()
    }
}

fn login(version: ProtocolVersion, client_id: &str, user: &str, password: &str) -> roost_codec::Connect {
    let mut connect = connect_packet(version, client_id);
    connect.username = Some(user.into());
    connect.password = Some(Bytes::copy_from_slice(password.as_bytes()));
    connect
}

async fn connack(broker: &TestBroker, connect: roost_codec::Connect) -> ReasonCode {
    RawClient::connect(broker, connect).await.1.reason_code
}

#[tokio::test]
async fn mosquitto_passwd_files_are_read_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = mosquitto_password_file(dir.path());
    let broker = TestBroker::start_secured(auth_config(Some(file), None, Anonymous::Deny)).await;
    for version in [V311, V5] {
        for (user, password) in [("alice", "wonderland"), ("bob", "builder")] {
            let code = connack(&broker, login(version, "c", user, password)).await;
            assert_eq!(code, ReasonCode::Success, "{user} over {version}");
        }
    }

    // mosquitto_sub and mosquitto_pub log in as the two users; the message goes through.
    let port = broker.mqtt.port().to_string();
    let sub = Command::new("mosquitto_sub")
        .args([
            "-p",
            &port,
            "-u",
            "alice",
            "-P",
            "wonderland",
            "-t",
            "garden/#",
            "-C",
            "1",
            "-v",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The retained message reaches mosquitto_sub whenever it subscribes: no race with its start.
    let published = Command::new("mosquitto_pub")
        .args([
            "-p",
            &port,
            "-u",
            "bob",
            "-P",
            "builder",
            "-t",
            "garden/rose",
            "-m",
            "red",
            "-r",
            "-q",
            "1",
        ])
        .status();
    assert!(within(published).await.unwrap().success());
    let output = within(sub.wait_with_output()).await.unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "garden/rose red\n");

    // A wrong password: mosquitto_pub reports the broker's refusal with its CONNACK code (3.1.1: 4).
    let refused = Command::new("mosquitto_pub")
        .args(["-p", &port, "-u", "bob", "-P", "wrong", "-t", "garden/rose", "-m", "x"])
        .output();
    let refused = within(refused).await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not authorised") || stderr.contains("bad user name or password"),
        "{stderr}"
    );
    broker.stop().await;
}

/// paho-mqtt logs in with each hash kind over 3.1.1 and 5.0; a wrong password is refused with 0x86 / 4.
#[tokio::test]
async fn paho_logs_in_with_mosquitto_passwd_users() {
    let dir = tempfile::tempdir().unwrap();
    let file = mosquitto_password_file(dir.path());
    let broker = TestBroker::start_secured(auth_config(Some(file), None, Anonymous::Deny)).await;
    // The venv scripts/setup makes, or $ROOST_VENV, as for tests/tests/paho.rs.
    let venv = std::env::var_os("ROOST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/roost/venv"));
    let python = venv.join("bin/python");
    // Prints the CONNACK's reason code as a number, or "none" when no CONNACK came within 5 s.
    const SCRIPT: &str = r#"
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, version, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
done = threading.Event()
result = []
def on_connect(client, userdata, flags, reason_code, properties):
    result.append(reason_code.value)
    done.set()
protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="paho-auth", protocol=protocol)
client.username_pw_set(user, password)
client.on_connect = on_connect
client.connect("127.0.0.1", port)
client.loop_start()
done.wait(5)
client.loop_stop()
print(result[0] if result else "none")
"#;
    let port = broker.mqtt.port().to_string();
    for (version, user, password, expected) in [
        ("3.1.1", "alice", "wonderland", 0),
        ("5", "bob", "builder", 0),
        ("5", "alice", "wrong", 0x86),
        ("3.1.1", "bob", "wrong", 0x86),
    ] {
        let output = Command::new(&python)
            .args(["-c", SCRIPT, &port, version, user, password])
            .output();
        let output = within(output).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{version} {user}: {output:?}");
        // paho maps 3.1.1's return code 4 onto the MQTT 5 reason code 0x86 (134).
        assert_eq!(stdout.trim(), expected.to_string(), "{version} {user}: {output:?}");
    }
    broker.stop().await;
}

#[tokio::test]
async fn refusals_carry_mosquittos_codes_in_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let file = mosquitto_password_file(dir.path());
    // The default configuration: anonymous clients refused.
    let broker = TestBroker::start_secured(auth_config(Some(file), None, Config::default().auth.allow_anonymous)).await;
    // MQTT 5: 0x86 Bad User Name or Password, 0x87 Not authorized.
    assert_eq!(
        connack(&broker, login(V5, "c", "alice", "wrong")).await,
        ReasonCode::BadUserNameOrPassword
    );
    assert_eq!(
        connack(&broker, login(V5, "c", "mallory", "wonderland")).await,
        ReasonCode::BadUserNameOrPassword
    );
    assert_eq!(
        connack(&broker, connect_packet(V5, "c")).await,
        ReasonCode::NotAuthorized
    );
    // MQTT 3.1.1: return codes 4 and 5, read back by the codec as the same reason codes; the CONNACK's bytes
    // themselves are checked below.
    assert_eq!(
        connack(&broker, login(V311, "c", "bob", "wrong")).await,
        ReasonCode::BadUserNameOrPassword
    );
    let mut stream = within(tokio::net::TcpStream::connect(broker.mqtt)).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, common::CONNECT_V311)
        .await
        .unwrap();
    // 3.1.1: a refusing CONNACK has Session Present 0 ([MQTT-3.2.2-4]), then the connection closes ([MQTT-3.2.2-5]).
    assert_eq!(common::read_n(&mut stream, 4).await, [0x20, 0x02, 0x00, 0x05]);
    common::assert_closed(&mut stream).await;
    broker.stop().await;
}

#[tokio::test]
async fn loopback_anonymous_access_lets_this_machine_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = mosquitto_password_file(dir.path());
    let broker = TestBroker::start_secured(auth_config(Some(file), None, Anonymous::Loopback)).await;
    // The test runs on 127.0.0.1: anonymous is fine (a remote address is refused: see the unit tests of auth).
    assert_eq!(
        connack(&broker, connect_packet(V311, "local")).await,
        ReasonCode::Success
    );
    assert_eq!(
        connack(&broker, connect_packet(V5, "local5")).await,
        ReasonCode::Success
    );
    // A user name is still checked.
    assert_eq!(
        connack(&broker, login(V5, "c", "alice", "wrong")).await,
        ReasonCode::BadUserNameOrPassword
    );
    broker.stop().await;
}

/// alice may write `alice/#` and read `public/#`; bob reads everything but `alice/private/#`; devices write
/// their own `devices/<client id>/#`.
const ACL: &str = "\
user alice
topic write alice/#
topic read public/#
topic deny alice/forbidden

user bob
topic read #
topic deny alice/private/#

pattern write devices/%c/#
";

async fn acl_broker(dir: &Path) -> TestBroker {
    let passwd = mosquitto_password_file(dir);
    let acl = dir.join("acl");
    std::fs::write(&acl, ACL).unwrap();
    TestBroker::start_secured(auth_config(Some(passwd), Some(acl), Anonymous::Deny)).await
}

#[tokio::test]
async fn publishes_the_acl_refuses_are_not_routed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = acl_broker(dir.path()).await;
    let (mut bob, _) = RawClient::connect(&broker, login(V5, "bob", "bob", "builder")).await;
    assert_eq!(
        bob.subscribe("alice/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );

    // MQTT 5: PUBACK / PUBREC 0x87.
    let (mut alice, _) = RawClient::connect(&broker, login(V5, "alice5", "alice", "wonderland")).await;
    assert_eq!(
        alice.publish(publish("public/news", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish(publish("public/news", QoS::ExactlyOnce, b"x")).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish(publish("alice/forbidden", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish(publish("alice/ok", QoS::AtLeastOnce, b"5")).await,
        ReasonCode::Success
    );
    // MQTT 3.1.1: acknowledged as usual, but dropped, as Mosquitto does.
    let (mut alice3, _) = RawClient::connect(&broker, login(V311, "alice3", "alice", "wonderland")).await;
    assert_eq!(
        alice3.publish(publish("alice/forbidden", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::Success
    );
    alice3.publish(publish("alice/forbidden", QoS::AtMostOnce, b"x")).await;
    assert_eq!(
        alice3.publish(publish("alice/ok", QoS::AtLeastOnce, b"3")).await,
        ReasonCode::Success
    );
    // A device publishes under its own client id only (a %c pattern).
    let (mut plug, _) = RawClient::connect(&broker, login(V5, "plug-1", "bob", "builder")).await;
    assert_eq!(
        plug.publish(publish("devices/plug-1/power", QoS::AtLeastOnce, b"on"))
            .await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        plug.publish(publish("devices/plug-2/power", QoS::AtLeastOnce, b"on"))
            .await,
        ReasonCode::NotAuthorized
    );

    // bob got exactly the two allowed messages, in order.
    for expected in [&b"5"[..], b"3"] {
        let message = bob.recv_publish().await;
        assert_eq!((message.topic.as_str(), &message.payload[..]), ("alice/ok", expected));
        if let Some(id) = message.qos_pid.packet_id() {
            bob.send(Packet::PubAck(roost_codec::Ack::new(id))).await;
        }
    }
    bob.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn subscriptions_the_acl_does_not_cover_are_refused_per_filter() {
    let dir = tempfile::tempdir().unwrap();
    let broker = acl_broker(dir.path()).await;
    // A retained message alice may not read.
    let (mut bob, _) = RawClient::connect(&broker, login(V5, "bob", "bob", "builder")).await;
    let (mut alice, _) = RawClient::connect(&broker, login(V5, "alice", "alice", "wonderland")).await;
    let mut retained = publish("alice/diary", QoS::AtLeastOnce, b"secret");
    retained.retain = true;
    assert_eq!(alice.publish(retained).await, ReasonCode::NoMatchingSubscribers);

    for version in [V5, V311] {
        let (mut client, _) = RawClient::connect(&broker, login(version, "a", "alice", "wonderland")).await;
        let filters = ["public/#", "alice/#", "#", "public/news"];
        client
            .send(Packet::Subscribe(roost_codec::Subscribe {
                packet_id: common::pid(3),
                properties: Default::default(),
                filters: filters
                    .iter()
                    .map(|f| {
                        (
                            Ok(roost_codec::TopicFilter::new(*f).unwrap()),
                            roost_codec::SubscriptionOptions::qos(QoS::AtLeastOnce),
                        )
                    })
                    .collect(),
            }))
            .await;
        let suback = match client.recv().await {
            Packet::SubAck(suback) => suback,
            other => panic!("expected SUBACK, got {other:?}"),
        };
        // MQTT 5: 0x87 for each refused filter, in place; 3.x: 0x80 (the codec reads 0x80 back as 0x80).
        let refused = if version.is_v5() {
            ReasonCode::NotAuthorized
        } else {
            ReasonCode::UnspecifiedError
        };
        assert_eq!(
            suback.reason_codes,
            [ReasonCode::GrantedQoS1, refused, refused, ReasonCode::GrantedQoS1],
            "{version}"
        );
        // The refused `alice/#` and `#` were not stored: alice's retained diary is not sent.
        client.assert_nothing_pending().await;
    }
    // bob may read everything but alice/private/#.
    assert_eq!(bob.subscribe("alice/#", QoS::AtMostOnce).await, [ReasonCode::Success]);
    assert_eq!(bob.recv_publish().await.payload, &b"secret"[..]);
    assert_eq!(
        bob.subscribe("alice/private/#", QoS::AtMostOnce).await,
        [ReasonCode::NotAuthorized]
    );
    // A shared subscription is checked on the filter it shares.
    assert_eq!(
        bob.subscribe("$share/g/alice/private/x", QoS::AtMostOnce).await,
        [ReasonCode::NotAuthorized]
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_will_the_acl_refuses_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let broker = acl_broker(dir.path()).await;
    let (mut bob, _) = RawClient::connect(&broker, login(V5, "bob", "bob", "builder")).await;
    assert_eq!(bob.subscribe("#", QoS::AtMostOnce).await, [ReasonCode::Success]);
    for (id, topic) in [("w1", "public/alice-gone"), ("w2", "alice/gone")] {
        let mut connect = login(V311, id, "alice", "wonderland");
        connect.will = Some(Will {
            topic: TopicName::new(topic).unwrap(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        });
        let (client, connack) = RawClient::connect(&broker, connect).await;
        assert_eq!(connack.reason_code, ReasonCode::Success);
        // Dropping the socket without DISCONNECT: the will is due.
        drop(client);
    }
    // Only the allowed will arrives; the refused one came first and was dropped.
    let will = bob.recv_publish().await;
    assert_eq!(will.topic.as_str(), "alice/gone");
    bob.assert_nothing_pending().await;
    broker.stop().await;
}

#[tokio::test]
async fn deliveries_and_retained_messages_need_the_subscribers_read_right() {
    // bob may read `#` except `alice/private/#`: his subscription to `alice/#` is allowed, but the messages under
    // the denied subtree, live or retained, never reach him (Mosquitto's read check on each delivery).
    let dir = tempfile::tempdir().unwrap();
    let broker = acl_broker(dir.path()).await;
    let (mut alice, _) = RawClient::connect(&broker, login(V5, "alice5", "alice", "wonderland")).await;
    for topic in ["alice/private/r", "alice/open/r"] {
        let mut message = publish(topic, QoS::AtLeastOnce, b"kept");
        message.retain = true;
        alice.publish(message).await;
    }
    let (mut bob, _) = RawClient::connect(&broker, login(V5, "bob", "bob", "builder")).await;
    assert_eq!(
        bob.subscribe("alice/#", QoS::AtMostOnce).await,
        [ReasonCode::GRANTED_QOS0]
    );
    let retained = bob.recv_publish().await;
    assert_eq!(retained.topic.as_str(), "alice/open/r");
    // bob is the only subscriber: a message he may not read matches nobody (0x10).
    assert_eq!(
        alice
            .publish(publish("alice/private/x", QoS::AtLeastOnce, b"secret"))
            .await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        alice.publish(publish("alice/ok", QoS::AtLeastOnce, b"fine")).await,
        ReasonCode::Success
    );
    let live = bob.recv_publish().await;
    assert_eq!((live.topic.as_str(), &live.payload[..]), ("alice/ok", &b"fine"[..]));
    bob.assert_nothing_pending().await;
    broker.stop().await;
}
