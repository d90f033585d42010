//! Debian's mosquitto-clients (`mosquitto_sub`, `mosquitto_pub`) against a real in-process broker: a third-party
//! implementation on the other side of the wire, in MQTT 3.1.1 and 5.0, at every QoS.
//!
//! Synchronisation without sleeps: each `mosquitto_sub` first receives a retained marker message; once its line
//! is printed, the subscription is known to be in place, and the messages under test are published.

mod common;

use std::process::Stdio;

use common::*;
use roost_codec::{Bytes, ProtocolVersion, QoS};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// Starts `mosquitto_sub` with `args` (host, port and version added).
fn mosquitto_sub(broker: &TestBroker, version: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string(), "-V", version])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub is installed");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    (child, stdout)
}

/// Runs `mosquitto_pub` with `args` and checks it succeeded.
async fn mosquitto_pub(broker: &TestBroker, version: &str, args: &[&str]) {
    let status = within(
        Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string(), "-V", version])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .status(),
    )
    .await
    .expect("mosquitto_pub is installed");
    assert!(status.success(), "mosquitto_pub {args:?} failed: {status}");
}

/// Retains `payload` on `topic` with a raw client, as the marker a subscriber sees first.
async fn retain_marker(broker: &TestBroker, topic: &str, payload: &'static [u8]) {
    let mut client = RawClient::clean(broker, ProtocolVersion::V311, "marker").await;
    let mut message = publish(topic, QoS::AtLeastOnce, b"");
    message.payload = Bytes::from_static(payload);
    message.retain = true;
    client.publish(message).await;
}

async fn read_line(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    within(stdout.read_line(&mut line))
        .await
        .expect("read mosquitto_sub output");
    line
}

/// Waits for the subscriber to exit on its own (`-C` reached) and returns the rest of its output.
async fn finish(mut child: Child, mut stdout: BufReader<ChildStdout>) -> String {
    let mut rest = String::new();
    within(stdout.read_to_string(&mut rest)).await.expect("read");
    let status = within(child.wait()).await.expect("wait");
    assert!(status.success(), "mosquitto_sub failed: {status}");
    rest
}

#[tokio::test]
async fn mosquitto_pub_to_mosquitto_sub_at_each_qos_in_each_version() {
    let broker = TestBroker::start().await;
    retain_marker(&broker, "m/ready", b"r").await;
    for version in ["mqttv311", "mqttv5"] {
        let id = format!("sub-{version}");
        let (child, mut stdout) =
            mosquitto_sub(&broker, version, &["-i", &id, "-q", "2", "-C", "4", "-v", "-t", "m/#"]);
        assert_eq!(read_line(&mut stdout).await, "m/ready r\n");
        for qos in ["0", "1", "2"] {
            let message = format!("{version} q{qos}");
            mosquitto_pub(&broker, version, &["-q", qos, "-t", "m/a", "-m", &message]).await;
        }
        assert_eq!(
            finish(child, stdout).await,
            format!("m/a {version} q0\nm/a {version} q1\nm/a {version} q2\n")
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn retained_message_from_mosquitto_pub_reaches_a_later_mosquitto_sub_with_retain_set() {
    // [MQTT-3.3.1-5] kept; [MQTT-3.3.1-9] RETAIN set on the copy sent for a new subscription.
    let broker = TestBroker::start().await;
    mosquitto_pub(&broker, "mqttv5", &["-r", "-q", "1", "-t", "r/x", "-m", "hello"]).await;
    for version in ["mqttv311", "mqttv5"] {
        let (child, stdout) = mosquitto_sub(
            &broker,
            version,
            &["-C", "1", "-q", "1", "-F", "%r %q %t %p", "-t", "r/#"],
        );
        assert_eq!(finish(child, stdout).await, "1 1 r/x hello\n");
    }
    // An empty retained message deletes it [MQTT-3.3.1-6]: the next subscriber sees only the marker.
    mosquitto_pub(&broker, "mqttv311", &["-r", "-t", "r/x", "-n"]).await;
    retain_marker(&broker, "r/y", b"marker").await;
    let (child, stdout) = mosquitto_sub(&broker, "mqttv5", &["-C", "1", "-v", "-t", "r/#"]);
    assert_eq!(finish(child, stdout).await, "r/y marker\n");
    broker.stop().await;
}

#[tokio::test]
async fn mosquitto_sub_n_prints_payloads_back_to_back() {
    let broker = TestBroker::start().await;
    retain_marker(&broker, "n/0", b"[").await;
    let (child, mut stdout) = mosquitto_sub(&broker, "mqttv5", &["-N", "-C", "3", "-t", "n/+"]);
    let mut first = [0u8; 1];
    within(stdout.read_exact(&mut first)).await.expect("marker");
    assert_eq!(&first, b"[");
    mosquitto_pub(&broker, "mqttv311", &["-q", "1", "-t", "n/1", "-m", "ab"]).await;
    mosquitto_pub(&broker, "mqttv5", &["-q", "2", "-t", "n/2", "-m", "cd"]).await;
    assert_eq!(finish(child, stdout).await, "abcd");
    broker.stop().await;
}

#[tokio::test]
async fn mosquitto_v5_user_properties_and_content_type_are_forwarded() {
    // [MQTT-3.3.2-17], [MQTT-3.3.2-18] user properties unaltered, in order; [MQTT-3.3.2-20] content type.
    let broker = TestBroker::start().await;
    let mut sub = RawClient::clean(&broker, ProtocolVersion::V5, "props").await;
    sub.subscribe("p", QoS::AtMostOnce).await;
    mosquitto_pub(
        &broker,
        "mqttv5",
        &[
            "-t",
            "p",
            "-m",
            "x",
            "-D",
            "publish",
            "user-property",
            "k",
            "1",
            "-D",
            "publish",
            "user-property",
            "k",
            "2",
            "-D",
            "publish",
            "content-type",
            "text/plain",
        ],
    )
    .await;
    let got = sub.recv_publish().await;
    assert_eq!(
        got.properties.user_properties,
        [("k".into(), "1".into()), ("k".into(), "2".into())]
    );
    assert_eq!(got.properties.content_type.as_deref(), Some("text/plain"));
    broker.stop().await;
}
