//! The dashboard over HTTP, with a hand-written HTTP/1.1 request (no HTTP client dependency needed).

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `GET path` and returns the whole response as text.
async fn get(broker: &TestBroker, path: &str) -> String {
    let mut stream = within(TcpStream::connect(broker.http)).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        broker.http
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within(stream.read_to_end(&mut response)).await.expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn root_serves_the_dashboard_page() {
    let broker = TestBroker::start().await;
    let response = get(&broker, "/").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("content-type: text/html"),
        "{response}"
    );
    // Either the real dashboard or the page explaining how to build it: both are HTML titled Roost.
    assert!(response.contains("<title>Roost"), "{response}");
    broker.stop().await;
}

#[tokio::test]
async fn unknown_path_is_404() {
    let broker = TestBroker::start().await;
    let response = get(&broker, "/no-such-file.js").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    broker.stop().await;
}

#[tokio::test]
async fn plain_get_of_mqtt_is_not_an_upgrade() {
    let broker = TestBroker::start().await;
    let response = get(&broker, "/mqtt").await;
    assert!(response.starts_with("HTTP/1.1 4"), "{response}");
    broker.stop().await;
}
