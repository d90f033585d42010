//! The dashboard's login (issue 12) against a broker in this process: `POST /api/login` checks the password file
//! with the CONNECT throttle and sets a strict cookie; the cookie makes a WebSocket from the dashboard's own origin
//! that user (with exactly its ACL rights), and nothing from anywhere else; logout and expiry end it; sessions
//! survive a restart with a data directory; only administrators reload the users from the dashboard.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use roost_broker::Config;
use roost_broker::auth::{HashKind, hash_password};
use roost_broker::config::{Anonymous, AuthConfig, StorageConfig};
use roost_codec::{Packet, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions, TopicFilter};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// `alice` (password `wonderland`, rights on `alice/#` only) and `admin` (password `root`, an administrator).
fn users(dir: &Path, alice_password: &str) -> PathBuf {
    let path = dir.join("passwd");
    let line = |user: &str, password: &str| {
        format!(
            "{user}:{}\n",
            hash_password(HashKind::Sha512, password.as_bytes()).unwrap()
        )
    };
    // admin's line is made once: a new salt would be a new password hash, which ends admin's sessions.
    static ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = line("alice", alice_password) + ADMIN.get_or_init(|| line("admin", "root"));
    std::fs::write(&path, text).unwrap();
    path
}

fn config(dir: &Path, anonymous: Anonymous) -> Config {
    let acl = dir.join("acl");
    std::fs::write(
        &acl,
        "user alice\ntopic readwrite alice/#\nuser admin\ntopic readwrite #\n",
    )
    .unwrap();
    Config {
        auth: AuthConfig {
            allow_anonymous: anonymous,
            password_file: Some(users(dir, "wonderland")),
            acl_file: Some(acl),
            admins: vec!["admin".into()],
        },
        ..Config::default()
    }
}

/// An HTTP response: status, head (lower case) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    /// The `Set-Cookie` header's value, as sent.
    fn set_cookie(&self) -> Option<&str> {
        self.head.lines().find_map(|line| line.strip_prefix("set-cookie: "))
    }

    /// `roost_session=<token>` from `Set-Cookie`, to send back as `Cookie`.
    fn cookie(&self) -> String {
        let set = self.set_cookie().unwrap_or_else(|| panic!("no Set-Cookie: {self:?}"));
        set.split(';').next().unwrap().to_owned()
    }
}

fn own_origin(broker: &TestBroker) -> String {
    format!("http://{}", broker.http)
}

/// Sends one request with `headers` and `body` (JSON when not empty) and reads the whole response.
async fn http(broker: &TestBroker, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = within(TcpStream::connect(broker.http)).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        broker.http,
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within(stream.read_to_end(&mut response)).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = head[9..12].parse().expect("a status code");
    Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// `POST /api/login` from the dashboard's own page.
async fn login(broker: &TestBroker, user: &str, password: &str, remember: bool) -> Reply {
    let body = format!(r#"{{"user":"{user}","password":"{password}","remember":{remember}}}"#);
    http(broker, "POST", "/api/login", &[("Origin", &own_origin(broker))], &body).await
}

async fn session_info(broker: &TestBroker, cookie: Option<&str>) -> serde_json::Value {
    let headers: Vec<(&str, &str)> = cookie.map(|cookie| ("Cookie", cookie)).into_iter().collect();
    let reply = http(broker, "GET", "/api/session", &headers, "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.head.contains("cache-control: no-store"), "{reply:?}");
    serde_json::from_str(&reply.body).unwrap()
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// MQTT over a WebSocket to `/mqtt`, as the dashboard opens it: packets in binary frames.
struct WsClient {
    ws: Ws,
    buf: BytesMut,
}

impl WsClient {
    /// Opens `/mqtt` with `Origin` and `Cookie` if given; `Err(status)` when the upgrade is refused.
    async fn open(broker: &TestBroker, origin: Option<&str>, cookie: Option<&str>) -> Result<Self, u16> {
        let mut request = format!("ws://{}/mqtt", broker.http).into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        if let Some(cookie) = cookie {
            headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        match within(connect_async(request)).await {
            Ok((ws, _)) => Ok(WsClient {
                ws,
                buf: BytesMut::new(),
            }),
            Err(Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("WebSocket handshake: {other}"),
        }
    }

    async fn send(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        packet.encode(V5, &mut buf, u32::MAX).unwrap();
        within(self.ws.send(Message::Binary(buf.freeze()))).await.unwrap();
    }

    async fn recv(&mut self) -> Packet {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, V5, u32::MAX).unwrap() {
                return packet;
            }
            match within(self.ws.next()).await {
                Some(Ok(Message::Binary(bytes))) => self.buf.extend_from_slice(&bytes),
                other => panic!("expected a binary frame, got {other:?}"),
            }
        }
    }

    /// Sends an MQTT 5 CONNECT (with `user`, no password, if given) and returns the CONNACK's reason code.
    async fn connect(&mut self, user: Option<&str>) -> ReasonCode {
        self.connect_as("dashboard", user).await
    }

    /// [`WsClient::connect`] with client id `id`.
    async fn connect_as(&mut self, id: &str, user: Option<&str>) -> ReasonCode {
        let mut connect = connect_packet(V5, id);
        connect.username = user.map(Into::into);
        self.send(Packet::Connect(Box::new(connect))).await;
        match self.recv().await {
            Packet::ConnAck(connack) => connack.reason_code,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, filter: &str) -> ReasonCode {
        self.send(Packet::Subscribe(roost_codec::Subscribe {
            packet_id: pid(7),
            properties: Default::default(),
            filters: vec![(
                Ok(TopicFilter::new(filter).unwrap()),
                SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(suback) => suback.reason_codes[0],
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    async fn publish(&mut self, topic: &str) -> ReasonCode {
        self.send(Packet::Publish(publish(topic, QoS::AtLeastOnce, b"1"))).await;
        match self.recv().await {
            Packet::PubAck(ack) => ack.reason_code,
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

/// Opens `/mqtt` from the dashboard's own origin with `cookie` and connects without credentials.
async fn dashboard_connack(broker: &TestBroker, cookie: Option<&str>) -> ReasonCode {
    let origin = own_origin(broker);
    let mut client = WsClient::open(broker, Some(&origin), cookie).await.expect("upgrade");
    client.connect(None).await
}

#[tokio::test]
async fn login_checks_the_password_with_the_throttle_and_sets_a_strict_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(config(dir.path(), Anonymous::Deny)).await;

    // A wrong password, or an unknown user: 401, the same generic words, after the CONNECT throttle's delay.
    for (user, password) in [("alice", "guess"), ("mallory", "wonderland")] {
        let started = Instant::now();
        let reply = login(&broker, user, password, false).await;
        assert_eq!(reply.status, 401, "{reply:?}");
        assert!(reply.body.contains("wrong user name or password"), "{reply:?}");
        assert!(reply.set_cookie().is_none(), "{reply:?}");
        assert!(started.elapsed() >= Duration::from_millis(100), "not throttled");
    }

    // The right one: a session cookie the page's scripts cannot read, never sent by another site's page, for
    // every path, ending with the browser session (no Max-Age), and not Secure over plain HTTP.
    let reply = login(&broker, "alice", "wonderland", false).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let set = reply.set_cookie().unwrap().to_owned();
    assert!(set.starts_with("roost_session="), "{set}");
    let token = reply.cookie()["roost_session=".len()..].to_owned();
    assert_eq!(token.len(), 64, "256 bits in hex: {set}");
    for attribute in ["; httponly", "; samesite=strict", "; path=/"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("secure") && !set.contains("max-age"), "{set}");
    assert!(!reply.body.contains("wonderland"), "{reply:?}");
    let info: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(info["user"], "alice");
    assert_eq!(info["admin"], false);

    // "Stay signed in": the cookie outlives the browser session, for [http] remember_days (30 by default). Logging
    // in again replaces the browser's previous session.
    let first = reply.cookie();
    let body = r#"{"user":"alice","password":"wonderland","remember":true}"#;
    let origin = own_origin(&broker);
    let headers = [("Origin", origin.as_str()), ("Cookie", first.as_str())];
    let reply = http(&broker, "POST", "/api/login", &headers, body).await;
    assert!(reply.set_cookie().unwrap().contains("; max-age=2592000"), "{reply:?}");
    assert_ne!(reply.cookie(), first);
    assert_eq!(
        session_info(&broker, Some(&first)).await["user"],
        serde_json::Value::Null
    );
    assert_eq!(session_info(&broker, Some(&reply.cookie())).await["user"], "alice");

    // Login CSRF: a login from another origin's page, or without an Origin, is refused before any check.
    let body = r#"{"user":"alice","password":"wonderland"}"#;
    for headers in [&[("Origin", "http://evil.example")][..], &[]] {
        let reply = http(&broker, "POST", "/api/login", headers, body).await;
        assert_eq!(reply.status, 403, "{headers:?}: {reply:?}");
        assert!(reply.set_cookie().is_none());
    }
    broker.stop().await;
}

#[tokio::test]
async fn a_session_cookie_gives_the_dashboards_websocket_exactly_its_users_rights() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(config(dir.path(), Anonymous::Deny)).await;
    let cookie = login(&broker, "alice", "wonderland", false).await.cookie();
    let origin = own_origin(&broker);

    // Without the cookie, anonymous is refused: CONNACK 0x87 [MQTT-3.2.2-8] (a CONNACK with a reason code
    // of 0x80 or above, then the connection closes).
    assert_eq!(dashboard_connack(&broker, None).await, ReasonCode::NotAuthorized);
    assert_eq!(
        dashboard_connack(&broker, Some("roost_session=forged")).await,
        ReasonCode::NotAuthorized
    );

    // With it, a CONNECT without credentials is alice, with alice's ACL.
    let mut alice = WsClient::open(&broker, Some(&origin), Some(&cookie)).await.unwrap();
    assert_eq!(alice.connect(None).await, ReasonCode::Success);
    assert_eq!(alice.subscribe("alice/#").await, ReasonCode::GrantedQoS1);
    // SUBACK 0x87 Not authorized for a filter the ACL does not grant (MQTT 5 section 3.9.3).
    assert_eq!(alice.subscribe("house/#").await, ReasonCode::NotAuthorized);
    // PUBACK 0x87 for a topic she may not write (MQTT 5 section 3.4.2.1).
    assert_eq!(alice.publish("house/door").await, ReasonCode::NotAuthorized);
    // One she may write reaches her own subscription: the connection is really alice's. (Her copy and the
    // PUBACK may come in either order.)
    alice
        .send(Packet::Publish(publish("alice/lamp", QoS::AtLeastOnce, b"on")))
        .await;
    let (mut acked, mut heard) = (false, false);
    while !(acked && heard) {
        match alice.recv().await {
            Packet::PubAck(ack) => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
                acked = true;
            }
            Packet::Publish(publish) => {
                assert_eq!(publish.topic.as_str(), "alice/lamp");
                heard = true;
            }
            other => panic!("expected PUBACK and alice/lamp, got {other:?}"),
        }
    }

    // Naming her explicitly is the same; naming someone else needs that user's password.
    let mut named = WsClient::open(&broker, Some(&origin), Some(&cookie)).await.unwrap();
    assert_eq!(named.connect_as("named", Some("alice")).await, ReasonCode::Success);
    let mut other = WsClient::open(&broker, Some(&origin), Some(&cookie)).await.unwrap();
    assert_eq!(
        other.connect_as("other", Some("admin")).await,
        ReasonCode::BadUserNameOrPassword
    );

    // The cookie counts only from the dashboard's own page: another origin is refused at the upgrade (403),
    // and a program without an Origin is not logged in by it.
    let foreign = WsClient::open(&broker, Some("http://evil.example"), Some(&cookie)).await;
    assert_eq!(foreign.err(), Some(403));
    let mut program = WsClient::open(&broker, None, Some(&cookie)).await.unwrap();
    assert_eq!(program.connect_as("program", None).await, ReasonCode::NotAuthorized);
    broker.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_the_page_learns_whether_to_ask() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(config(dir.path(), Anonymous::Deny)).await;
    let info = session_info(&broker, None).await;
    assert_eq!(info["user"], serde_json::Value::Null);
    assert_eq!(info["anonymous"], false, "the page must show its login form");
    assert_eq!(info["remember_days"], 30);

    let cookie = login(&broker, "admin", "root", false).await.cookie();
    let info = session_info(&broker, Some(&cookie)).await;
    assert_eq!((&info["user"], &info["admin"]), (&"admin".into(), &true.into()));

    // A logout from another page is refused; the dashboard's own deletes the cookie and the session.
    let foreign = http(
        &broker,
        "POST",
        "/api/logout",
        &[("Origin", "http://evil.example"), ("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(dashboard_connack(&broker, Some(&cookie)).await, ReasonCode::Success);
    let origin = own_origin(&broker);
    let reply = http(
        &broker,
        "POST",
        "/api/logout",
        &[("Origin", &origin), ("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.set_cookie().unwrap().contains("max-age=0"), "{reply:?}");
    assert_eq!(
        session_info(&broker, Some(&cookie)).await["user"],
        serde_json::Value::Null
    );
    assert_eq!(
        dashboard_connack(&broker, Some(&cookie)).await,
        ReasonCode::NotAuthorized
    );
    broker.stop().await;

    // Where anonymous clients are welcome from this address, the page connects without asking.
    let open = TestBroker::start_secured(config(dir.path(), Anonymous::Loopback)).await;
    assert_eq!(session_info(&open, None).await["anonymous"], true);
    open.stop().await;
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn sessions_survive_a_restart_with_a_data_directory_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Written once: a password file written again would hold a new hash (a new salt), which ends sessions.
    let base = config(dir.path(), Anonymous::Deny);
    let with_data = || Config {
        storage: StorageConfig {
            dir: Some(data.clone()),
            ..StorageConfig::default()
        },
        ..base.clone()
    };
    let broker = TestBroker::start_secured(with_data()).await;
    let cookie = login(&broker, "alice", "wonderland", true).await.cookie();
    broker.stop().await;
    let token = &cookie["roost_session=".len()..];
    let file = std::fs::read_to_string(data.join("sessions")).unwrap();
    assert!(file.contains(&sha256_hex(token)), "{file}");
    assert!(!file.contains(token), "the token itself is never stored: {file}");

    // A session that expired while the broker was down (written as the broker writes them) is not honoured.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let expired_token = "ab".repeat(32);
    std::fs::write(
        data.join("sessions"),
        format!(
            "{file}{} {} {} alice\n",
            sha256_hex(&expired_token),
            now - 1,
            "0".repeat(64)
        ),
    )
    .unwrap();

    let broker = TestBroker::start_secured(with_data()).await;
    assert_eq!(session_info(&broker, Some(&cookie)).await["user"], "alice");
    assert_eq!(dashboard_connack(&broker, Some(&cookie)).await, ReasonCode::Success);
    let expired = format!("roost_session={expired_token}");
    assert_eq!(
        session_info(&broker, Some(&expired)).await["user"],
        serde_json::Value::Null
    );
    assert_eq!(
        dashboard_connack(&broker, Some(&expired)).await,
        ReasonCode::NotAuthorized
    );
    broker.stop().await;
}

#[tokio::test]
async fn only_administrators_reload_the_users_from_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(config(dir.path(), Anonymous::Deny)).await;
    let origin = own_origin(&broker);
    let reload = |cookie: Option<String>| {
        let origin = origin.clone();
        let broker = &broker;
        async move {
            let mut headers = vec![("Origin", origin.as_str())];
            if let Some(cookie) = &cookie {
                headers.push(("Cookie", cookie));
            }
            let reply = http(broker, "POST", "/api/reload", &headers, "").await;
            (reply.status, reply.body)
        }
    };
    let alice = login(&broker, "alice", "wonderland", false).await.cookie();
    let admin = login(&broker, "admin", "root", false).await.cookie();
    let mqtt_login = async |password: &str| {
        let mut connect = connect_packet(V5, "phone");
        connect.username = Some("alice".into());
        connect.password = Some(bytes::Bytes::copy_from_slice(password.as_bytes()));
        RawClient::connect(&broker, connect).await.1.reason_code
    };

    // alice's dashboard is connected with her session.
    let mut open = WsClient::open(&broker, Some(&origin), Some(&alice)).await.unwrap();
    assert_eq!(open.connect_as("alice-dashboard", None).await, ReasonCode::Success);

    // alice's password changes on disk; nothing changes until a reload.
    users(dir.path(), "looking-glass");
    assert_eq!(mqtt_login("looking-glass").await, ReasonCode::BadUserNameOrPassword);
    assert_eq!(reload(None).await.0, 401);
    assert_eq!(reload(Some(alice.clone())).await.0, 403, "alice is no administrator");
    assert_eq!(mqtt_login("looking-glass").await, ReasonCode::BadUserNameOrPassword);

    let (status, body) = reload(Some(admin.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""ok":true"#), "{body}");
    assert_eq!(mqtt_login("looking-glass").await, ReasonCode::Success);
    // A new password ends alice's dashboard session, made with the old one, and the connection it opened, like
    // any login with the old password (DISCONNECT 0x87).
    match open.recv().await {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::NotAuthorized),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert_eq!(
        session_info(&broker, Some(&alice)).await["user"],
        serde_json::Value::Null
    );
    assert_eq!(
        dashboard_connack(&broker, Some(&alice)).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        session_info(&broker, Some(&admin)).await["user"],
        "admin",
        "admin's password is the same"
    );

    // A broken file: the error for the administrator, and the rules in force stay.
    std::fs::write(dir.path().join("passwd"), "alice:not-a-hash\n").unwrap();
    let (status, body) = reload(Some(admin.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""ok":false"#) && body.contains("password file"),
        "{body}"
    );
    assert_eq!(mqtt_login("looking-glass").await, ReasonCode::Success);

    // A reload from another origin's page is refused even with the administrator's cookie.
    let foreign = http(
        &broker,
        "POST",
        "/api/reload",
        &[("Origin", "http://evil.example"), ("Cookie", &admin)],
        "",
    )
    .await;
    assert_eq!(foreign.status, 403);
    broker.stop().await;
}

#[tokio::test]
async fn a_login_body_is_small() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_secured(config(dir.path(), Anonymous::Deny)).await;
    let huge = format!(r#"{{"user":"alice","password":"{}"}}"#, "x".repeat(64 * 1024));
    let reply = http(
        &broker,
        "POST",
        "/api/login",
        &[("Origin", &own_origin(&broker))],
        &huge,
    )
    .await;
    assert!(reply.status == 400 || reply.status == 413, "{reply:?}");
    assert!(reply.set_cookie().is_none());
    let reply = http(
        &broker,
        "POST",
        "/api/login",
        &[("Origin", &own_origin(&broker))],
        "user=alice",
    )
    .await;
    assert_eq!(reply.status, 400, "not JSON: {reply:?}");
    broker.stop().await;
}

#[tokio::test]
async fn an_administrators_dashboard_login_may_read_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut closed = config(dir.path(), Anonymous::Deny);
    closed.http.metrics_without_login = Anonymous::Deny;
    let broker = TestBroker::start_secured(closed).await;
    let admin = login(&broker, "admin", "root", false).await.cookie();
    let alice = login(&broker, "alice", "wonderland", false).await.cookie();
    let metrics = |cookie: Option<String>| {
        let broker = &broker;
        async move {
            let headers: Vec<(&str, &str)> = cookie.iter().map(|cookie| ("Cookie", cookie.as_str())).collect();
            http(broker, "GET", "/metrics", &headers, "").await
        }
    };
    assert_eq!(metrics(None).await.status, 403);
    assert_eq!(metrics(Some(alice)).await.status, 403, "alice is no administrator");
    let reply = metrics(Some(admin)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("roost_clients_connected"), "{reply:?}");
    broker.stop().await;
}
