//! `roost bench` against an in-process broker on 127.0.0.1:0: each scenario, briefly, gives a sane report.

mod common;

use std::process::Stdio;

use clap::Parser;
use common::TestBroker;
use roost_broker::bench::{BenchArgs, Report};

/// How long any one bench run may take: a second of publishing, a few of connecting and draining.
const RUN: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
struct Cmd {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Runs `roost bench` in-process with `args` (after the scenario) against `broker`.
async fn bench(broker: &TestBroker, scenario: &str, args: &[&str]) -> Report {
    let port = broker.mqtt.port().to_string();
    let mut words = vec!["bench", scenario, "-h", "127.0.0.1", "-p", &port, "--no-progress"];
    words.extend_from_slice(args);
    let cmd = Cmd::try_parse_from(words).expect("valid arguments");
    tokio::time::timeout(RUN, roost_broker::bench::run(&cmd.bench))
        .await
        .expect("bench finished in time")
        .expect("bench succeeded")
}

/// Messages flowed, and at QoS 1 and 2 none were lost or duplicated.
fn assert_sane(report: &Report, qos: u8) {
    assert!(report.sent > 0, "{report:?}");
    assert!(report.delivered > 0, "{report:?}");
    assert!(report.msgs_per_sec > 0.0, "{report:?}");
    assert!(report.latency.is_some(), "{report:?}");
    assert_eq!(report.publish_failures, 0, "{report:?}");
    if qos > 0 {
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(report.delivered, report.expected, "{report:?}");
    }
    if qos == 2 {
        assert_eq!(report.duplicated, 0, "{report:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_at_every_qos() {
    let broker = TestBroker::start().await;
    for qos in ["0", "1", "2"] {
        let report = bench(&broker, "fan-in", &["--duration", "1", "--publishers", "3", "-q", qos]).await;
        assert_sane(&report, qos.parse().unwrap());
        assert_eq!((report.publishers, report.subscribers), (3, 1));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_delivers_every_message_to_every_subscriber() {
    let broker = TestBroker::start().await;
    let report = bench(
        &broker,
        "fan-out",
        &["--duration", "1", "--subscribers", "3", "-q", "1"],
    )
    .await;
    assert_sane(&report, 1);
    assert_eq!(report.expected, report.sent * 3);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_over_mqtt5_and_a_rate_limit() {
    let broker = TestBroker::start().await;
    let report = bench(
        &broker,
        "pairs",
        &[
            "--duration",
            "1",
            "--publishers",
            "2",
            "-V",
            "5",
            "-q",
            "2",
            "--rate",
            "200",
            "--size",
            "100",
        ],
    )
    .await;
    assert_sane(&report, 2);
    // 2 publishers at 200 msg/s for 1 s, give or take the scheduler.
    assert!((200..=410).contains(&report.sent), "{report:?}");
    assert_eq!(report.size, 100);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_over_websocket() {
    let broker = TestBroker::start().await;
    let url = format!("ws://127.0.0.1:{}/mqtt", broker.http.port());
    let report = bench(
        &broker,
        "fan-in",
        &["--duration", "1", "--publishers", "2", "-q", "1", "-L", &url],
    )
    .await;
    assert_sane(&report, 1);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_connects_every_connection_and_measures_the_broker() {
    let broker = TestBroker::start().await;
    let pid = std::process::id().to_string();
    let report = bench(
        &broker,
        "storm",
        &["--connections", "200", "--duration", "1", "--broker-pid", &pid],
    )
    .await;
    let storm = report.storm.expect("storm figures");
    assert_eq!((storm.connections, storm.failures), (200, 0), "{storm:?}");
    assert!(storm.connects_per_sec > 0.0);
    assert!(storm.rss_per_connection_bytes.is_some());
    assert!(report.broker.is_some());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_filters_are_subscribed_and_never_match() {
    let broker = TestBroker::start().await;
    for qos in ["0", "1"] {
        let report = bench(
            &broker,
            "fan-in",
            &[
                "--duration",
                "1",
                "--publishers",
                "2",
                "--idle-filters",
                "1000",
                "-q",
                qos,
            ],
        )
        .await;
        assert_sane(&report, qos.parse().unwrap());
        assert_eq!((report.idle_filters, report.idle_matched), (1000, 0), "{report:?}");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_topics_all_arrive_on_subscribe() {
    let broker = TestBroker::start().await;
    let report = bench(
        &broker,
        "retained",
        &["--topics", "2000", "-q", "1", "--inflight", "100"],
    )
    .await;
    let retained = report.retained.expect("retained figures");
    assert_eq!(retained.topics, 2000);
    assert_eq!((report.sent, report.expected), (2000, 2000), "{report:?}");
    assert_eq!(
        (report.delivered, report.lost, report.duplicated),
        (2000, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.publish_failures, 0, "{report:?}");
    assert!(retained.subscribe_to_last_secs > 0.0, "{report:?}");
    assert_eq!(report.elapsed_secs, retained.subscribe_to_last_secs);
    // Measured from SUBSCRIBE, so the slowest is the last one.
    let latency = report.latency.expect("latency");
    assert!(
        (latency.max_us / 1e6 - retained.subscribe_to_last_secs).abs() < 1e-3,
        "{report:?}"
    );
    broker.stop().await;
}

/// A subscriber that never reads beside two healthy ones: the broker gives up on it after its
/// `slow_subscriber_timeout`, and the healthy ones get everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_subscriber_costs_the_healthy_ones_nothing() {
    let config = roost_broker::config::Config {
        max_queued_messages: 100,
        slow_subscriber_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let broker = TestBroker::start_with(config).await;
    let pid = std::process::id().to_string();
    let report = bench(
        &broker,
        "fan-out",
        &[
            "--duration",
            "2",
            "--subscribers",
            "2",
            "--stuck",
            "1",
            "--size",
            "8192",
            "-q",
            "1",
            "--broker-pid",
            &pid,
        ],
    )
    .await;
    assert_sane(&report, 1);
    assert_eq!((report.subscribers, report.stuck), (2, 1), "{report:?}");
    assert_eq!(report.expected, report.sent * 2, "{report:?}");
    // Over 4 times what the stuck subscriber's socket buffers (loopback's autotuned send buffer reaches 4 MiB; a
    // receive buffer that is never read does not grow past 128 KiB) and its 100-message queue can hold, so it
    // really was stuck and the healthy ones went on without it.
    assert!(report.sent * report.size > 16 << 20, "{report:?}");
    assert!(report.broker.expect("broker usage").rss_end_kib > 0);
    broker.stop().await;
}

/// The binary's `--json` output is one object with the documented keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_has_the_expected_keys() {
    let broker = TestBroker::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args([
            "bench",
            "fan-in",
            "-h",
            "127.0.0.1",
            "--duration",
            "1",
            "--publishers",
            "2",
            "-q",
            "1",
            "--json",
        ])
        .args([
            "-p",
            &broker.mqtt.port().to_string(),
            "--broker-pid",
            &std::process::id().to_string(),
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN, output).await.expect("in time").expect("ran");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    for key in [
        "scenario",
        "version",
        "qos",
        "publishers",
        "subscribers",
        "size",
        "inflight",
        "elapsed_secs",
        "sent",
        "expected",
        "delivered",
        "lost",
        "duplicated",
        "out_of_order",
        "msgs_per_sec",
        "latency_us",
        "idle_filters",
        "idle_matched",
        "stuck",
        "storm",
        "retained",
        "broker",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["scenario"], "fan-in");
    assert_eq!(json["lost"], 0);
    assert!(json["delivered"].as_u64().unwrap() > 0);
    for key in ["p50", "p99", "max"] {
        assert!(json["latency_us"][key].is_f64(), "{json}");
    }
    assert!(json["broker"]["cpu_percent"].is_f64(), "{json}");
    assert!(json["broker"]["rss_end_kib"].as_u64().unwrap() > 0, "{json}");
    broker.stop().await;
}
