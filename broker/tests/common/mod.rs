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
    /// MQTT over TLS, when the config asks for it.
    pub mqtts: Option<SocketAddr>,
    /// HTTPS, when the config asks for it.
    pub https: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Starts a broker with `config`, but on 127.0.0.1 with OS-chosen ports, and open to anonymous clients: the
    /// tests of everything but authentication connect without a user name. (The broker's own default refuses
    /// them; [`TestBroker::start_secured`] keeps the configuration's `[auth]`.)
    pub async fn start_with(config: Config) -> Self {
        let mut config = config;
        config.auth.allow_anonymous = roost_broker::config::Anonymous::Allow;
        Self::start_secured(config).await
    }

    /// Starts a broker with `config` as it is, `[auth]` included, on 127.0.0.1 with OS-chosen ports.
    /// Storage stays in memory unless the test names a data directory of its own (`config.storage.dir` other than
    /// the default `data`, which would be the working directory's).
    pub async fn start_secured(config: Config) -> Self {
        let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut config = config;
        if config.storage.dir == roost_broker::config::StorageConfig::default().dir {
            config.storage.dir = None;
        }
        let config = Config {
            mqtt_addr: localhost,
            http_addr: localhost,
            ..config
        };
        let server = Server::bind(config).await.expect("bind to 127.0.0.1:0");
        Self::from_server(server)
    }

    /// Runs a server the test bound itself (on an address of its choosing).
    pub fn from_server(server: Server) -> Self {
        let (mqtt, http) = (server.mqtt_addr(), server.http_addr());
        let (mqtts, https) = (server.mqtts_addr(), server.https_addr());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        TestBroker {
            mqtt,
            http,
            mqtts,
            https,
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

/// Sends one HTTP/1.1 request, `method path` with extra `headers` and no body, to the broker's HTTP port, and
/// reads the whole answer: its status code and body.
pub async fn http_request(broker: &TestBroker, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = within(tokio::net::TcpStream::connect(broker.http))
        .await
        .expect("connect");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n",
        broker.http
    );
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = Vec::new();
    within(stream.read_to_end(&mut response)).await.expect("read");
    let response = String::from_utf8(response).expect("UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
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

/// A raw MQTT client over TCP for tests: packets encoded and decoded with roost-codec, nothing else.
#[derive(Debug)]
pub struct RawClient {
    pub stream: tokio::net::TcpStream,
    pub version: ProtocolVersion,
    buf: BytesMut,
}

impl RawClient {
    /// Opens a TCP connection and sends `connect`; returns the client and the CONNACK.
    pub async fn connect(broker: &TestBroker, connect: roost_codec::Connect) -> (Self, roost_codec::ConnAck) {
        Self::connect_to(broker.mqtt, connect).await
    }

    /// Opens a TCP connection to `addr` (a broker in another process) and sends `connect`.
    pub async fn connect_to(addr: SocketAddr, connect: roost_codec::Connect) -> (Self, roost_codec::ConnAck) {
        let stream = within(tokio::net::TcpStream::connect(addr)).await.expect("connect");
        let mut client = RawClient {
            stream,
            version: connect.protocol,
            buf: BytesMut::new(),
        };
        client.send(Packet::Connect(Box::new(connect))).await;
        match client.recv().await {
            Packet::ConnAck(connack) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with a clean start and the defaults of [`connect_packet`].
    pub async fn clean(broker: &TestBroker, version: ProtocolVersion, client_id: &str) -> Self {
        Self::connect(broker, connect_packet(version, client_id)).await.0
    }

    pub async fn send(&mut self, packet: Packet) {
        use tokio::io::AsyncWriteExt;
        let mut buf = BytesMut::new();
        packet.encode(self.version, &mut buf, u32::MAX).expect("encode");
        within(self.stream.write_all(&buf)).await.expect("write");
    }

    /// Writes bytes as they are, for packets the codec will not encode.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        within(self.stream.write_all(bytes)).await.expect("write");
    }

    /// The next packet from the broker.
    pub async fn recv(&mut self) -> Packet {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, self.version, u32::MAX).expect("valid packet") {
                return packet;
            }
            let n = within(self.stream.read_buf(&mut self.buf)).await.expect("read");
            assert_ne!(n, 0, "connection closed before a whole packet arrived");
        }
    }

    /// The next packet, however long it takes: for waits the caller bounds itself.
    pub async fn recv_unbounded(&mut self) -> Packet {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, self.version, u32::MAX).expect("valid packet") {
                return packet;
            }
            let n = self.stream.read_buf(&mut self.buf).await.expect("read");
            assert_ne!(n, 0, "connection closed before a whole packet arrived");
        }
    }

    /// The next packet, which must be a PUBLISH.
    pub async fn recv_publish(&mut self) -> roost_codec::Publish {
        match self.recv().await {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Proves nothing else was sent before now: the broker answers PINGREQ in order, so if the next packet is
    /// PINGRESP, nothing was queued ahead of it. Synchronises without sleeping.
    pub async fn assert_nothing_pending(&mut self) {
        self.send(Packet::PingReq).await;
        match self.recv().await {
            Packet::PingResp => {}
            other => panic!("expected nothing before PINGRESP, got {other:?}"),
        }
    }

    /// SUBSCRIBE with one filter; returns the SUBACK reason codes.
    pub async fn subscribe(&mut self, filter: &str, qos: roost_codec::QoS) -> Vec<roost_codec::ReasonCode> {
        self.subscribe_with(filter, roost_codec::SubscriptionOptions::qos(qos), None)
            .await
    }

    pub async fn subscribe_with(
        &mut self,
        filter: &str,
        options: roost_codec::SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<roost_codec::ReasonCode> {
        let mut properties = roost_codec::Properties::default();
        properties
            .subscription_identifiers
            .extend(id.and_then(std::num::NonZeroU32::new));
        let packet_id = pid(9);
        self.send(Packet::Subscribe(roost_codec::Subscribe {
            packet_id,
            properties,
            filters: vec![(Ok(roost_codec::TopicFilter::new(filter).unwrap()), options)],
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(suback) if suback.packet_id == packet_id => suback.reason_codes,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// PUBLISH and, for QoS 1/2, wait for its PUBACK/PUBREC (and complete QoS 2), so it has been routed.
    pub async fn publish(&mut self, publish: roost_codec::Publish) -> roost_codec::ReasonCode {
        let qos_pid = publish.qos_pid;
        self.send(Packet::Publish(publish)).await;
        match qos_pid {
            roost_codec::QoSPid::AtMostOnce => {
                // PINGRESP comes after the PUBLISH was handled (and routed).
                self.assert_nothing_pending().await;
                roost_codec::ReasonCode::Success
            }
            roost_codec::QoSPid::AtLeastOnce(id) => match self.recv().await {
                Packet::PubAck(ack) if ack.packet_id == id => ack.reason_code,
                other => panic!("expected PUBACK, got {other:?}"),
            },
            roost_codec::QoSPid::ExactlyOnce(id) => {
                let reason = match self.recv().await {
                    Packet::PubRec(ack) if ack.packet_id == id => ack.reason_code,
                    other => panic!("expected PUBREC, got {other:?}"),
                };
                self.send(Packet::PubRel(roost_codec::Ack::new(id))).await;
                match self.recv().await {
                    Packet::PubComp(ack) if ack.packet_id == id => {}
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
                reason
            }
        }
    }

    /// Expects the broker to close the connection, after an optional DISCONNECT (MQTT 5); returns its reason.
    pub async fn expect_close(&mut self) -> Option<roost_codec::ReasonCode> {
        let mut reason = None;
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, self.version, u32::MAX).expect("valid packet") {
                match packet {
                    Packet::Disconnect(d) => reason = Some(d.reason_code),
                    other => panic!("expected DISCONNECT or close, got {other:?}"),
                }
                continue;
            }
            // A reset after the broker closed counts as closed.
            let n = within(self.stream.read_buf(&mut self.buf)).await.unwrap_or_default();
            if n == 0 {
                return reason;
            }
        }
    }
}

/// A CONNECT: clean start, keep alive 60 s, no will.
/// A CONNECT that resumes (or starts) a session outliving the connection: clean start 0, and for MQTT 5 a
/// Session Expiry Interval of 300 s.
pub fn persistent(version: ProtocolVersion, id: &str) -> roost_codec::Connect {
    let mut connect = connect_packet(version, id);
    connect.clean_start = false;
    if version.is_v5() {
        connect.properties.session_expiry_interval = Some(300);
    }
    connect
}

pub fn connect_packet(version: ProtocolVersion, client_id: &str) -> roost_codec::Connect {
    let mut connect = roost_codec::Connect::new(version, client_id.to_owned());
    connect.keep_alive = 60;
    connect.clean_start = true;
    connect
}

/// A packet id (non-zero).
pub fn pid(id: u16) -> roost_codec::PacketId {
    roost_codec::PacketId::new(id).expect("non-zero")
}

/// A PUBLISH to `topic` at `qos` (packet id 1 when needed).
pub fn publish(topic: &str, qos: roost_codec::QoS, payload: &'static [u8]) -> roost_codec::Publish {
    let mut publish = roost_codec::Publish::new(roost_codec::TopicName::new(topic).unwrap(), payload);
    publish.qos_pid = roost_codec::QoSPid::new(qos, pid(1));
    publish
}
