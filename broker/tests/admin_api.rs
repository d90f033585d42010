//! `/api/v1/`: the admin API over plain HTTP requests written here, as a script with curl would send them.

mod common;

use std::path::Path;

use base64::Engine as _;
use common::*;
use roost_broker::Config;
use roost_broker::auth::{HashKind, hash_password};
use roost_broker::config::{Anonymous, AuthConfig};
use roost_codec::{ProtocolVersion, QoS, ReasonCode};

/// Sends `method path` with `headers`; the status code and the body parsed as JSON (`Null` when empty).
async fn call(broker: &TestBroker, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let (status, body) = http_request(broker, method, path, headers).await;
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body:?}"))
    };
    (status, json)
}

async fn retain(client: &mut RawClient, topic: &str) {
    let mut publish = publish(topic, QoS::AtLeastOnce, b"on");
    publish.retain = true;
    client.publish(publish).await;
}

#[tokio::test]
async fn without_users_the_api_serves_this_machine() {
    let broker = TestBroker::start().await;
    let (mut kitchen, _) = RawClient::connect(&broker, persistent(ProtocolVersion::V5, "kitchen")).await;
    kitchen.subscribe("cmnd/kitchen/#", QoS::AtLeastOnce).await;
    let (offline, _) = RawClient::connect(&broker, persistent(ProtocolVersion::V311, "garage")).await;
    drop(offline);
    // Wait until garage's disconnection is seen: PINGREQ answered on kitchen proves nothing about garage, so
    // poll the API (bounded) until garage is listed offline.
    let clients = within(async {
        loop {
            let (status, clients) = call(&broker, "GET", "/api/v1/clients", &[]).await;
            assert_eq!(status, 200, "{clients}");
            if clients[0]["client_id"] == "garage" && clients[0]["connected"] == false {
                return clients;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let kitchen_json = &clients[1];
    assert_eq!(kitchen_json["client_id"], "kitchen");
    assert_eq!(kitchen_json["connected"], true);
    assert_eq!(kitchen_json["protocol"], "MQTT 5.0");
    assert_eq!(kitchen_json["keep_alive"], 60);
    assert_eq!(kitchen_json["subscriptions"], serde_json::json!(["cmnd/kitchen/#"]));
    assert_eq!(kitchen_json["session_expiry_interval"], 300);
    assert!(kitchen_json["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(kitchen_json["connected_since_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(clients[0]["address"], serde_json::Value::Null);

    // Disconnect one: MQTT 5 hears why (0x98 Administrative action).
    let (status, _) = call(&broker, "DELETE", "/api/v1/clients/kitchen", &[]).await;
    assert_eq!(status, 204);
    assert_eq!(kitchen.expect_close().await, Some(ReasonCode::AdministrativeAction));
    let (status, body) = call(&broker, "DELETE", "/api/v1/clients/nobody", &[]).await;
    assert_eq!((status, body["error"].as_str().is_some()), (404, true));

    // Retained: list a subtree, delete it, and it is gone for a new subscriber too.
    let mut device = RawClient::clean(&broker, ProtocolVersion::V5, "device").await;
    for topic in ["stat/plug/POWER", "stat/plug/LWT", "stat/lamp/POWER"] {
        retain(&mut device, topic).await;
    }
    let (status, listed) = call(&broker, "GET", "/api/v1/retained?filter=stat/plug/%23", &[]).await;
    assert_eq!(status, 200);
    let topics: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["stat/plug/LWT", "stat/plug/POWER"]);
    assert_eq!(listed[0]["payload"], "on");
    assert_eq!(listed[0]["encoding"], "utf-8");
    let (status, deleted) = call(&broker, "DELETE", "/api/v1/retained?filter=stat/plug/%23", &[]).await;
    assert_eq!((status, &deleted["deleted"]), (200, &serde_json::json!(2)));
    let mut reader = RawClient::clean(&broker, ProtocolVersion::V5, "reader").await;
    reader.subscribe("stat/#", QoS::AtMostOnce).await;
    assert_eq!(reader.recv_publish().await.topic.as_str(), "stat/lamp/POWER");
    reader.assert_nothing_pending().await;

    // Errors are JSON with the status that fits.
    let (status, body) = call(&broker, "GET", "/api/v1/retained", &[]).await;
    assert_eq!((status, body["error"].as_str().is_some()), (400, true));
    let (status, _) = call(&broker, "GET", "/api/v1/retained?filter=a/%23/b", &[]).await;
    assert_eq!(status, 400);
    let (status, body) = call(&broker, "GET", "/api/v1/nothing", &[]).await;
    assert_eq!((status, body["error"].as_str().is_some()), (404, true));
    // Another page, through a visitor's browser: refused whatever it carries.
    let (status, _) = call(&broker, "GET", "/api/v1/clients", &[("Origin", "http://evil.example")]).await;
    assert_eq!(status, 403);
    broker.stop().await;
}

fn users(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("passwd");
    let line = |user: &str, password: &str| {
        format!(
            "{user}:{}\n",
            hash_password(HashKind::Sha512, password.as_bytes()).unwrap()
        )
    };
    std::fs::write(&path, line("admin", "secret") + &line("alice", "wonderland")).unwrap();
    path
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn with_users_only_administrators_may_call_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(Config {
        auth: AuthConfig {
            allow_anonymous: Anonymous::Allow,
            password_file: Some(users(dir.path())),
            ..AuthConfig::default()
        },
        ..Config::default()
    })
    .await;
    let (status, body) = call(&broker, "GET", "/api/v1/clients", &[]).await;
    assert_eq!(status, 401, "even from this machine once users exist: {body}");
    // The bridges' state (read by the dashboard) answers on the same terms.
    let bridges = "/api/v1/bridges";
    assert_eq!(call(&broker, "GET", bridges, &[]).await.0, 401);
    let alice = basic("alice", "wonderland");
    assert_eq!(call(&broker, "GET", bridges, &[("Authorization", &alice)]).await.0, 403);
    let admin = basic("admin", "secret");
    let answer = call(&broker, "GET", bridges, &[("Authorization", &admin)]).await;
    assert_eq!(answer, (200, serde_json::json!([])), "no [[bridge]] configured");
    let (status, _) = call(
        &broker,
        "GET",
        "/api/v1/clients",
        &[("Authorization", &basic("alice", "wonderland"))],
    )
    .await;
    assert_eq!(status, 403, "alice is not an administrator");
    let (status, _) = call(
        &broker,
        "GET",
        "/api/v1/clients",
        &[("Authorization", &basic("admin", "guess"))],
    )
    .await;
    assert_eq!(status, 401);
    let (status, clients) = call(
        &broker,
        "GET",
        "/api/v1/clients",
        &[("Authorization", &basic("admin", "secret"))],
    )
    .await;
    assert_eq!((status, clients), (200, serde_json::json!([])));
    let (status, reloaded) = call(
        &broker,
        "POST",
        "/api/v1/reload",
        &[("Authorization", &basic("admin", "secret"))],
    )
    .await;
    assert_eq!((status, &reloaded["ok"]), (200, &serde_json::json!(true)), "{reloaded}");
    // A reload that fails says why, with 422, and the rules in force stay.
    std::fs::write(dir.path().join("passwd"), "admin:not-a-hash\n").unwrap();
    let (status, reloaded) = call(
        &broker,
        "POST",
        "/api/v1/reload",
        &[("Authorization", &basic("admin", "secret"))],
    )
    .await;
    assert_eq!(status, 422, "{reloaded}");
    assert!(reloaded["message"].as_str().unwrap().contains("passwd"), "{reloaded}");
    let (status, _) = call(
        &broker,
        "GET",
        "/api/v1/clients",
        &[("Authorization", &basic("admin", "secret"))],
    )
    .await;
    assert_eq!(status, 200);
    // The kick reaches an MQTT 3.1.1 client as a plain close.
    let mut old = RawClient::clean(&broker, ProtocolVersion::V311, "old").await;
    let (status, _) = call(
        &broker,
        "DELETE",
        "/api/v1/clients/old",
        &[("Authorization", &basic("admin", "secret"))],
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(old.expect_close().await, None);
    broker.stop().await;
}
