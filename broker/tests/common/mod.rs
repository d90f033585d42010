//! A real broker on 127.0.0.1:0, in-process, for tests.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test crate uses a different part of this module"
)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use roost_broker::{Config, Server};
use roost_codec::{BytesMut, Packet, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any single step of a test may take before it fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// A running broker. Call [`TestBroker::stop`] to check that it shuts down; dropping it cancels it anyway.
#[derive(Debug)]
pub struct TestBroker {
    pub mqtt: SocketAddr,
    pub http: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Starts a broker with `config`, but on 127.0.0.1 with OS-chosen ports.
    pub async fn start_with(config: Config) -> Self {
        let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let config = Config {
            mqtt_addr: localhost,
            http_addr: localhost,
            ..config
        };
        let server = Server::bind(config).await.expect("bind to 127.0.0.1:0");
        let (mqtt, http) = (server.mqtt_addr(), server.http_addr());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        TestBroker {
            mqtt,
            http,
            shutdown,
            task: Some(task),
        }
    }

    /// Cancels the broker and waits for `run` to return.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let task = self.task.take().expect("stopped once");
        within(task)
            .await
            .expect("broker task panicked")
            .expect("broker failed");
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP, future).await.expect("timed out")
}

/// Reads exactly `n` bytes.
pub async fn read_n<R: AsyncRead + Unpin>(stream: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    within(stream.read_exact(&mut buf)).await.expect("read");
    buf
}

/// Reads and decodes one packet sent by the broker.
pub async fn read_packet<R: AsyncRead + Unpin>(stream: &mut R, version: ProtocolVersion) -> Packet {
    let mut buf = BytesMut::new();
    loop {
        if let Some(packet) = Packet::decode(&mut buf, version, u32::MAX).expect("broker sent a valid packet") {
            return packet;
        }
        let n = within(stream.read_buf(&mut buf)).await.expect("read");
        assert_ne!(n, 0, "connection closed before a whole packet arrived");
    }
}

/// Asserts that the broker closes the connection without sending anything more.
pub async fn assert_closed<R: AsyncRead + Unpin>(stream: &mut R) {
    let mut rest = Vec::new();
    within(stream.read_to_end(&mut rest)).await.expect("read");
    assert_eq!(rest, b"", "expected the broker to close the connection");
}

/// CONNECT, MQTT 3.1.1, client id "t1", clean session, keep alive 60 s.
pub const CONNECT_V311: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02, b't', b'1',
];
/// CONNECT, MQTT 5.0, client id "t5", clean start, keep alive 60 s, no properties.
pub const CONNECT_V5: &[u8] = &[
    0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x02, b't', b'5',
];
/// CONNECT, MQTT 5.0, empty client id (the broker assigns one), keep alive 60 s.
pub const CONNECT_V5_NO_ID: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00,
];
/// CONNACK accepted, no session present: MQTT 3.1.1.
pub const CONNACK_V311: &[u8] = &[0x20, 0x02, 0x00, 0x00];
/// CONNACK success, no session present, MQTT 5.0, with the default limits as properties (section 3.2.2.3):
/// Receive Maximum 64, Maximum Packet Size 1 MiB, Topic Alias Maximum 16.
pub const CONNACK_V5: &[u8] = &[
    0x20, 0x0E, 0x00, 0x00, 0x0B, 0x21, 0x00, 0x40, 0x22, 0x00, 0x10, 0x27, 0x00, 0x10, 0x00, 0x00,
];
pub const PINGREQ: &[u8] = &[0xC0, 0x00];
pub const PINGRESP: &[u8] = &[0xD0, 0x00];
