//! `/metrics` and `/healthz`: the Prometheus text read back by Prometheus' own parser (its Python client, from
//! PyPI) after a known load, and who may read it.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use roost_broker::Config;
use roost_broker::config::{Anonymous, HttpLimits};
use roost_codec::{Packet, ProtocolVersion, QoS};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// `GET path`: the status code and the body.
async fn get(broker: &TestBroker, path: &str) -> (u16, String) {
    http_request(broker, "GET", path, &[]).await
}

/// Every sample of a Prometheus text exposition as `name{label="value",...}` → value, as Prometheus' Python
/// client parses it (labels sorted).
async fn parse(text: &str) -> HashMap<String, f64> {
    let home = std::env::var_os("HOME").unwrap();
    let python = std::env::var_os("ROOST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".cache/roost/venv"))
        .join("bin/python");
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python from scripts/setup's venv");
    child.stdin.take().unwrap().write_all(text.as_bytes()).await.unwrap();
    let output = within(child.wait_with_output()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the parser refused it: {stderr}\n{text}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_a_known_load_in_prometheus_format() {
    let broker = TestBroker::start().await;
    let mut subscriber = RawClient::clean(&broker, ProtocolVersion::V5, "watcher").await;
    subscriber.subscribe("m/#", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&broker, ProtocolVersion::V5, "sender").await;
    // 5 at QoS 0, 10 at QoS 1, 3 at QoS 2; the QoS 1 subscription gets QoS 0, 1 and 1 ([MQTT-3.8.4-8]).
    for (qos, count) in [(QoS::AtMostOnce, 5), (QoS::AtLeastOnce, 10), (QoS::ExactlyOnce, 3)] {
        for _ in 0..count {
            publisher.publish(publish("m/x", qos, b"payload")).await;
            let message = subscriber.recv_publish().await;
            if let Some(id) = message.qos_pid.packet_id() {
                subscriber.send(Packet::PubAck(roost_codec::Ack::new(id))).await;
            }
        }
    }
    subscriber.assert_nothing_pending().await;

    let (status, body) = get(&broker, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let samples = parse(&body).await;
    let value = |key: &str| *samples.get(key).unwrap_or_else(|| panic!("no {key} in\n{body}"));
    for (qos, received, sent) in [("0", 5.0, 5.0), ("1", 10.0, 13.0), ("2", 3.0, 0.0)] {
        assert_eq!(
            value(&format!("roost_publish_received_total{{qos=\"{qos}\"}}")),
            received,
            "QoS {qos} in"
        );
        assert_eq!(
            value(&format!("roost_publish_sent_total{{qos=\"{qos}\"}}")),
            sent,
            "QoS {qos} out"
        );
        // Every payload is 7 bytes ("payload").
        assert_eq!(
            value(&format!("roost_publish_received_payload_bytes_total{{qos=\"{qos}\"}}")),
            received * 7.0,
            "QoS {qos} payload bytes in"
        );
        assert_eq!(
            value(&format!("roost_publish_sent_payload_bytes_total{{qos=\"{qos}\"}}")),
            sent * 7.0,
            "QoS {qos} payload bytes out"
        );
    }
    assert_eq!(value("roost_clients_connected{}"), 2.0);
    assert_eq!(value("roost_subscriptions{}"), 1.0);
    assert_eq!(value("roost_sessions{}"), 2.0);
    assert_eq!(value("roost_queued_messages{}"), 0.0);
    assert_eq!(value("roost_messages_dropped_total{reason=\"queue-full\"}"), 0.0);
    assert_eq!(
        value("roost_memory_messages_bytes{}"),
        0.0,
        "everything was delivered and acknowledged"
    );
    assert!(
        value("roost_received_bytes_total{}") > 18.0 * 7.0,
        "at least the payloads"
    );
    assert!(value("roost_process_resident_memory_bytes{}") > 1_000_000.0);
    assert!(samples.contains_key("roost_process_cpu_seconds_total{}"));
    // Not stored: no store figures.
    assert!(!samples.keys().any(|key| key.starts_with("roost_store")), "{body}");

    let (status, body) = get(&broker, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    broker.stop().await;
}

#[tokio::test]
async fn metrics_are_closed_where_the_configuration_says() {
    let broker = TestBroker::start_with(Config {
        http: HttpLimits {
            metrics_without_login: Anonymous::Deny,
            ..HttpLimits::default()
        },
        ..Config::default()
    })
    .await;
    let (status, body) = get(&broker, "/metrics").await;
    assert_eq!(status, 403);
    assert!(body.contains("http.metrics_without_login"), "{body}");
    // The health check stays open: it tells nothing but that the broker serves.
    let (status, _) = get(&broker, "/healthz").await;
    assert_eq!(status, 200);
    broker.stop().await;
}
