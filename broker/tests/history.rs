//! `GET /api/history`: the broker remembers the values of the topics the panel's cards show, also those never
//! retained, across a restart; and it answers only who may read them.

mod common;

use common::*;
use roost_broker::Config;
use roost_broker::config::Anonymous;
use roost_codec::{ProtocolVersion, QoS};
use serde_json::Value;

const PANEL: &[u8] = br#"{"roost_panel": 1, "cards": [
    {"type": "chart", "topic": "tele/th/SENSOR", "json_field": "AM2301.Temperature", "unit": "C"},
    {"type": "switch", "command_topic": "cmnd/lamp/POWER", "state_topic": "stat/lamp/POWER"}
]}"#;

/// `GET path` with extra `headers`: the status code and the body.
async fn get(broker: &TestBroker, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_request(broker, "GET", path, headers).await
}

async fn get_json(broker: &TestBroker, path: &str) -> Value {
    let (status, body) = get(broker, path, &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.storage.dir = Some(dir.to_owned());
    config
}

#[tokio::test]
async fn a_cards_values_are_remembered_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(config(dir.path())).await;
    let mut client = RawClient::clean(&broker, ProtocolVersion::V5, "panel").await;
    client.publish(retained("roost/dashboard", PANEL)).await;
    for (temperature, power) in [("20.5", "ON"), ("21", "OFF"), ("21.5", "ON")] {
        let reading = format!(r#"{{"Time": "now", "AM2301": {{"Temperature": {temperature}, "Humidity": 40}}}}"#);
        // Not retained, as Tasmota sends its telemetry: only the history keeps it.
        client
            .publish(publish("tele/th/SENSOR", QoS::AtLeastOnce, reading.leak().as_bytes()))
            .await;
        client
            .publish(publish("stat/lamp/POWER", QoS::AtLeastOnce, power.as_bytes()))
            .await;
    }
    client
        .publish(publish("not/on/the/panel", QoS::AtLeastOnce, b"1"))
        .await;

    let listed = get_json(&broker, "/api/history").await;
    assert_eq!(
        listed["topics"],
        serde_json::json!(["stat/lamp/POWER", "tele/th/SENSOR"])
    );
    let check = |answer: &Value| {
        let values: Vec<f64> = answer["series"]["AM2301.Temperature"]["recent"]
            .as_array()
            .expect("recent values")
            .iter()
            .map(|point| point[1].as_f64().unwrap())
            .collect();
        assert_eq!(values, [20.5, 21.0, 21.5], "{answer}");
        let buckets = answer["series"]["AM2301.Temperature"]["buckets"].as_array().unwrap();
        let count: u64 = buckets.iter().map(|bucket| bucket[4].as_u64().unwrap()).sum();
        assert_eq!(count, 3, "every value is in a bucket too: {answer}");
        assert!(answer["last"]["payload"].as_str().unwrap().contains("21.5"), "{answer}");
    };
    check(&get_json(&broker, "/api/history?topic=tele/th/SENSOR").await);
    let lamp = get_json(&broker, "/api/history?topic=stat/lamp/POWER").await;
    assert_eq!(lamp["last"]["payload"], "ON");
    assert_eq!(lamp["series"], serde_json::json!({}), "a switch has no chart");
    let (status, body) = get(&broker, "/api/history?topic=not/on/the/panel", &[]).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("panel's cards"), "{body}");
    drop(client);
    broker.stop().await;

    // The panel comes back with the retained messages, and the history with it.
    let broker = TestBroker::start_with(config(dir.path())).await;
    check(&get_json(&broker, "/api/history?topic=tele/th/SENSOR").await);
    broker.stop().await;
}

#[tokio::test]
async fn the_history_answers_only_who_may_read_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read tele/#\ntopic write roost/dashboard\n").unwrap();
    let mut config = config(dir.path());
    config.auth.acl_file = Some(acl);
    let broker = TestBroker::start_with(config).await;
    let mut client = RawClient::clean(&broker, ProtocolVersion::V5, "panel").await;
    client.publish(retained("roost/dashboard", PANEL)).await;

    let (status, body) = get(&broker, "/api/history?topic=stat/lamp/POWER", &[]).await;
    assert_eq!(status, 403, "the ACL does not let anonymous read it: {body}");
    let (status, body) = get(&broker, "/api/history?topic=tele/th/SENSOR", &[]).await;
    assert_eq!(status, 200, "{body}");
    let listed = get_json(&broker, "/api/history").await;
    assert_eq!(
        listed["topics"],
        serde_json::json!(["tele/th/SENSOR"]),
        "only what may be read is listed"
    );
    let (status, body) = get(&broker, "/api/history?topic=tele/%23", &[]).await;
    assert_eq!(status, 400, "a filter is not a topic: {body}");
    let foreign = &[("Origin", "http://evil.example")];
    let (status, body) = get(&broker, "/api/history?topic=tele/th/SENSOR", foreign).await;
    assert_eq!(status, 403, "another page may not read it: {body}");
    broker.stop().await;

    let mut config = Config::default();
    config.auth.allow_anonymous = Anonymous::Deny;
    let locked = TestBroker::start_secured(config).await;
    let (status, body) = get(&locked, "/api/history", &[]).await;
    assert_eq!(
        status, 401,
        "without a login where anonymous clients are refused: {body}"
    );
    locked.stop().await;
}

fn retained(topic: &str, payload: &'static [u8]) -> roost_codec::Publish {
    let mut message = publish(topic, QoS::AtLeastOnce, payload);
    message.retain = true;
    message
}
