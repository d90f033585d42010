//! The edges a hostile or careless peer reaches: the WebSocket Origin check, security headers, HTTP timeouts and
//! connection caps, the per-address MQTT cap, client id and topic length limits, and the log a long client id
//! produces.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use roost_broker::Config;
use roost_codec::{Packet, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions, TopicFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes to the HTTP port and reads the response head (up to the blank line).
async fn http_head(broker: &TestBroker, request: &str) -> String {
    let mut stream = within(TcpStream::connect(broker.http)).await.expect("connect");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        let n = within(stream.read(&mut byte)).await.expect("read");
        assert_ne!(
            n,
            0,
            "closed before the end of the response head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A WebSocket upgrade of `/mqtt` with subprotocol `mqtt`, and `Origin: origin` if given.
fn upgrade_request(broker: &TestBroker, origin: Option<&str>) -> String {
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    format!(
        "GET /mqtt HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n{origin}\r\n",
        broker.http
    )
}

fn get_request(broker: &TestBroker, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", broker.http)
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused() {
    let config = Config {
        http: roost_broker::config::HttpLimits {
            allowed_origins: vec!["https://home.example".into()],
            ..Default::default()
        },
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let own = format!("http://{}", broker.http);
    for (origin, status) in [
        (Some("http://evil.example"), "HTTP/1.1 403"),
        (Some("null"), "HTTP/1.1 403"),
        // Same host, other port: another origin.
        (Some("http://127.0.0.1:1"), "HTTP/1.1 403"),
        (Some(own.as_str()), "HTTP/1.1 101"),
        (Some("https://home.example"), "HTTP/1.1 101"),
        // Programs send no Origin; they are not affected.
        (None, "HTTP/1.1 101"),
    ] {
        let head = http_head(&broker, &upgrade_request(&broker, origin)).await;
        assert!(head.starts_with(status), "Origin {origin:?}: {head}");
    }
    broker.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let broker = TestBroker::start().await;
    let foreign = upgrade_request(&broker, Some("http://evil.example"));
    for request in [
        get_request(&broker, "/"),
        get_request(&broker, "/index.html"),
        get_request(&broker, "/no-such-file.js"),
        foreign,
    ] {
        let head = http_head(&broker, &request).await.to_ascii_lowercase();
        let first = head.lines().next().unwrap_or_default().to_owned();
        assert!(head.contains("x-content-type-options: nosniff\r\n"), "{first}: {head}");
        assert!(head.contains("x-frame-options: deny\r\n"), "{first}: {head}");
        assert!(head.contains("referrer-policy: no-referrer\r\n"), "{first}: {head}");
        let csp = head
            .lines()
            .find_map(|line| line.strip_prefix("content-security-policy: "))
            .unwrap_or_else(|| panic!("{first}: no CSP in {head}"));
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "'wasm-unsafe-eval'",
            "connect-src 'self'",
        ] {
            assert!(csp.contains(directive), "{first}: {directive} missing from {csp}");
        }
    }
    broker.stop().await;
}

/// Config with short HTTP timeouts, so the tests wait seconds, not the defaults' tens of seconds.
fn short_timeouts() -> Config {
    Config {
        http: roost_broker::config::HttpLimits {
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            ..Default::default()
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn a_client_trickling_request_headers_is_closed_at_the_header_timeout() {
    let broker = TestBroker::start_with(short_timeouts()).await;
    let mut stream = within(TcpStream::connect(broker.http)).await.expect("connect");
    let started = Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    // A slowloris client: a header byte every 100 ms, never the blank line. Bytes arriving do not reset the
    // header timeout; the broker must close within it however steadily they come.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut buf = [0; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {} // a 408 before the close is fine
                },
                _ = tick.tick() => {
                    if stream.write_all(b"X").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a trickling client was still connected after 5 s");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "closed only after {elapsed:?} (timeout 1 s)"
    );
    broker.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let broker = TestBroker::start_with(short_timeouts()).await;
    let mut stream = within(TcpStream::connect(broker.http)).await.expect("connect");
    stream.write_all(get_request(&broker, "/").as_bytes()).await.unwrap();
    let started = Instant::now();
    // HTTP/1.1 keeps the connection open after the response; the broker closes it once idle for the timeout.
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "an idle keep-alive connection was still open after 5 s");
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after {:?}",
        started.elapsed()
    );
    broker.stop().await;
}

#[tokio::test]
async fn http_connections_over_the_caps_get_503_and_mqtt_still_connects() {
    let config = Config {
        http: roost_broker::config::HttpLimits {
            max_connections: 3,
            max_connections_per_address: 0,
            ..Default::default()
        },
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    // Three connections that send nothing hold every HTTP slot (until the 10 s header timeout).
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(within(TcpStream::connect(broker.http)).await.expect("connect"));
    }
    // Proves the three are accepted (and counted) before the next: the listener accepts in order, and an
    // answered request on a fourth would be impossible otherwise.
    let mut extra = within(TcpStream::connect(broker.http)).await.expect("connect");
    let mut response = Vec::new();
    within(extra.read_to_end(&mut response)).await.expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 503 Service Unavailable"), "{response}");
    assert!(response.contains("Retry-After: 10"), "{response}");
    // The HTTP port is saturated; MQTT clients are not affected.
    let (_client, connack) = RawClient::connect(&broker, connect_packet(ProtocolVersion::V5, "during")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    drop(held);
    broker.stop().await;
}

#[tokio::test]
async fn http_connections_per_address_are_capped() {
    let config = Config {
        http: roost_broker::config::HttpLimits {
            max_connections_per_address: 2,
            ..Default::default()
        },
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let _first = within(TcpStream::connect(broker.http)).await.expect("connect");
    let _second = within(TcpStream::connect(broker.http)).await.expect("connect");
    let mut third = within(TcpStream::connect(broker.http)).await.expect("connect");
    let mut response = Vec::new();
    within(third.read_to_end(&mut response)).await.expect("read");
    assert!(
        response.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    broker.stop().await;
}

#[tokio::test]
async fn mqtt_connections_per_address_are_capped() {
    let config = Config {
        max_connections_per_address: 2,
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let first = RawClient::clean(&broker, ProtocolVersion::V5, "a1").await;
    let _second = RawClient::clean(&broker, ProtocolVersion::V5, "a2").await;
    // The third from 127.0.0.1 is closed at once, before CONNECT is read.
    let mut third = within(TcpStream::connect(broker.mqtt)).await.expect("connect");
    let _ = third.write_all(CONNECT_V5).await;
    let mut rest = Vec::new();
    let _ = within(third.read_to_end(&mut rest)).await;
    assert_eq!(rest, b"", "the connection over the cap got an answer");
    // Once one leaves, its slot is free again (bounded retry: the broker notices the close asynchronously).
    drop(first);
    let mut attempts = 0;
    loop {
        let mut stream = within(TcpStream::connect(broker.mqtt)).await.expect("connect");
        stream.write_all(CONNECT_V5).await.unwrap();
        let mut connack = [0; 4];
        if within(stream.read_exact(&mut connack)).await.is_ok() {
            assert_eq!(connack[..2], [0x20, 0x0E]);
            break;
        }
        attempts += 1;
        assert!(attempts < 50, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn a_client_id_over_the_limit_is_refused_in_every_version() {
    let broker = TestBroker::start().await;
    let long = "c".repeat(257);
    let (_, connack) = RawClient::connect(&broker, connect_packet(ProtocolVersion::V5, &long)).await;
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    let (_, connack) = RawClient::connect(&broker, connect_packet(ProtocolVersion::V311, &long)).await;
    // 3.x return code 0x02 "identifier rejected".
    assert_eq!(connack.reason_code.v3_connack_code(), 2);
    let (_, connack) = RawClient::connect(&broker, connect_packet(ProtocolVersion::V5, &long[..256])).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    broker.stop().await;
}

#[tokio::test]
async fn topics_over_the_length_limit_are_refused() {
    let config = Config {
        max_topic_length: 10,
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let mut client = RawClient::clean(&broker, ProtocolVersion::V5, "t").await;
    assert_eq!(
        client.publish(publish("a/23456789", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        client.publish(publish("a/234567890", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::TopicNameInvalid
    );
    // [MQTT-3.8.4-5] each filter is answered on its own: the long one refused, the short one granted.
    let options = SubscriptionOptions::qos(QoS::AtLeastOnce);
    client
        .send(Packet::Subscribe(roost_codec::Subscribe {
            packet_id: pid(3),
            properties: Default::default(),
            filters: vec![
                (Ok(TopicFilter::new("long/+/+/+/+").unwrap()), options),
                (Ok(TopicFilter::new("short/#").unwrap()), options),
            ],
        }))
        .await;
    match client.recv().await {
        Packet::SubAck(suback) => {
            assert_eq!(
                suback.reason_codes,
                [ReasonCode::TopicFilterInvalid, ReasonCode::GrantedQoS1]
            );
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
    broker.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A 65,535-byte client id used to be logged whole on every line of its connection (128 KB per connection).
#[tokio::test]
async fn a_huge_client_id_produces_a_few_kilobytes_of_log() {
    let log = Captured::default();
    let writer = log.clone();
    // Debug level, where the connection span (with the client id) is on every line: the worst case.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded, so the broker's tasks log through this thread's default.
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = Config {
        max_client_id_length: 65_535,
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let id = "x".repeat(65_535);
    let mut client = RawClient::clean(&broker, ProtocolVersion::V5, &id).await;
    client.subscribe("t/#", QoS::AtLeastOnce).await;
    client.publish(publish("t/1", QoS::AtLeastOnce, b"hello")).await;
    client
        .send(Packet::Disconnect(roost_codec::Disconnect::new(ReasonCode::Success)))
        .await;
    // Wait (bounded) for the connection's last line.
    let deadline = Instant::now() + STEP;
    while !String::from_utf8_lossy(&log.0.lock().unwrap()).contains("connection closed") {
        assert!(Instant::now() < deadline, "no \"connection closed\" line");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    broker.stop().await;
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("…(65535 bytes)"),
        "the client id is not shown clipped:\n{text}"
    );
    assert!(
        text.len() < 8 * 1024,
        "{} bytes of log for one connection:\n{text}",
        text.len()
    );
}

#[tokio::test]
async fn a_websocket_counts_against_the_mqtt_per_address_cap() {
    let config = Config {
        max_connections_per_address: 1,
        ..Config::default()
    };
    let broker = TestBroker::start_with(config).await;
    let _tcp = RawClient::clean(&broker, ProtocolVersion::V5, "holder").await;
    let head = http_head(&broker, &upgrade_request(&broker, None)).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    broker.stop().await;
}
