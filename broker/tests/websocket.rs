//! MQTT over WebSocket at /mqtt against a real in-process broker, with raw bytes in binary frames.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens ws://…/mqtt offering `subprotocol`, and checks the broker echoes it.
async fn open(broker: &TestBroker, subprotocol: &'static str) -> Ws {
    let mut request = format!("ws://{}/mqtt", broker.http).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(subprotocol));
    let (ws, response) = within(connect_async(request)).await.expect("WebSocket handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], subprotocol);
    ws
}

async fn send(ws: &mut Ws, bytes: &'static [u8]) {
    within(ws.send(Message::Binary(Bytes::from_static(bytes))))
        .await
        .expect("send");
}

/// Reads binary frames until `n` bytes have arrived: frame boundaries carry no meaning [MQTT-6.0.0-2].
async fn receive(ws: &mut Ws, n: usize) -> Vec<u8> {
    let mut received = Vec::new();
    while received.len() < n {
        match within(ws.next())
            .await
            .expect("the broker closed the WebSocket")
            .expect("read")
        {
            Message::Binary(bytes) => received.extend_from_slice(&bytes),
            other => panic!("[MQTT-6.0.0-1] expected a binary frame, got {other:?}"),
        }
    }
    received
}

#[tokio::test]
async fn connect_v311_in_one_frame() {
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqtt").await;
    send(&mut ws, CONNECT_V311).await;
    assert_eq!(receive(&mut ws, 4).await, CONNACK_V311);
    broker.stop().await;
}

#[tokio::test]
async fn connect_v5_split_across_two_frames() {
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqtt").await;
    let (head, tail) = CONNECT_V5.split_at(7);
    send(&mut ws, head).await;
    send(&mut ws, tail).await;
    assert_eq!(receive(&mut ws, CONNACK_V5.len()).await, CONNACK_V5);
    broker.stop().await;
}

#[tokio::test]
async fn connect_and_pingreq_in_one_frame() {
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqtt").await;
    let both: &'static [u8] = [CONNECT_V5, PINGREQ].concat().leak();
    send(&mut ws, both).await;
    assert_eq!(
        receive(&mut ws, CONNACK_V5.len() + 2).await,
        [CONNACK_V5, PINGRESP].concat()
    );
    broker.stop().await;
}

#[tokio::test]
async fn mqttv31_subprotocol_is_accepted_and_echoed() {
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqttv3.1").await;
    send(&mut ws, CONNECT_V311).await;
    assert_eq!(receive(&mut ws, 4).await, CONNACK_V311);
    broker.stop().await;
}

#[tokio::test]
async fn handshake_without_mqtt_subprotocol_is_refused() {
    let broker = TestBroker::start().await;
    let request = format!("ws://{}/mqtt", broker.http).into_client_request().unwrap();
    match within(connect_async(request)).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    broker.stop().await;
}

#[tokio::test]
async fn text_frame_closes_the_connection() {
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqtt").await;
    send(&mut ws, CONNECT_V311).await;
    assert_eq!(receive(&mut ws, 4).await, CONNACK_V311);
    within(ws.send(Message::text("hello"))).await.expect("send");
    // [MQTT-6.0.0-1] the broker closes: a close frame, then the end of the stream.
    match within(ws.next()).await {
        Some(Ok(Message::Close(_)) | Err(_)) | None => {}
        Some(Ok(other)) => panic!("expected the connection to close, got {other:?}"),
    }
    broker.stop().await;
}

#[tokio::test]
async fn websocket_subscriber_gets_what_a_tcp_client_publishes() {
    // Both transports reach the same router: a browser sees what devices publish.
    let broker = TestBroker::start().await;
    let mut ws = open(&broker, "mqtt").await;
    send(&mut ws, CONNECT_V311).await;
    assert_eq!(receive(&mut ws, 4).await, CONNACK_V311);
    // SUBSCRIBE id 1, "t" at QoS 0 → SUBACK granted QoS 0.
    send(&mut ws, &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00]).await;
    assert_eq!(receive(&mut ws, 5).await, [0x90, 0x03, 0x00, 0x01, 0x00]);
    let mut publisher = RawClient::clean(&broker, roost_codec::ProtocolVersion::V311, "tcp").await;
    publisher
        .publish(publish("t", roost_codec::QoS::AtMostOnce, b"hi"))
        .await;
    assert_eq!(receive(&mut ws, 7).await, [0x30, 0x05, 0x00, 0x01, b't', b'h', b'i']);
    broker.stop().await;
}
