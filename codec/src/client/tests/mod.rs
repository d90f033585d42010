//! Client tests against a scripted server: the test decodes what the client sends and encodes what a server
//! would send, with virtual time (a base `Instant` plus durations). No sockets, no sleeps; the same tests run on
//! wasm32 through `wasm-bindgen-test`.

mod connect;
mod keep_alive;
mod publish_in;
mod publish_out;
mod session;
mod subscribe;
mod topic_alias;

use std::time::Duration;

use bytes::BytesMut;
use web_time::Instant;

use super::{Client, ClientOptions, Event, Message, ProtocolError, State};
use crate::packet::{Ack, ConnAck, MAX_PACKET_SIZE, Packet, Publish, QoSPid};
use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS};

/// Every protocol version, for tests that hold in all of them.
const VERSIONS: [ProtocolVersion; 3] = [ProtocolVersion::V31, ProtocolVersion::V311, ProtocolVersion::V5];

/// A client and the server side of its connection.
struct Harness {
    client: Client,
    version: ProtocolVersion,
    /// The base of virtual time.
    t0: Instant,
}

impl Harness {
    /// A disconnected client with `options`.
    fn new(options: ClientOptions) -> Self {
        Self {
            version: options.version,
            client: Client::new(options),
            t0: Instant::now(),
        }
    }

    /// A client with default options for `version` that has connected at `t0` and received a plain CONNACK;
    /// everything sent and emitted so far is drained.
    fn connected(version: ProtocolVersion) -> Self {
        Self::connected_with(ClientOptions::new(version, "client"), Properties::default())
    }

    /// A client with `options` connected at `t0` with a CONNACK carrying `connack_properties` (MQTT 5).
    fn connected_with(options: ClientOptions, connack_properties: Properties) -> Self {
        let mut h = Self::new(options);
        h.client.connect(h.t0).unwrap();
        assert!(matches!(h.sent()[..], [Packet::Connect(_)]));
        let mut connack = ConnAck::new(false, ReasonCode::Success);
        connack.properties = connack_properties;
        h.server_sends(Packet::ConnAck(connack), h.t0).unwrap();
        assert!(matches!(h.events()[..], [Event::Connected(_)]));
        assert_eq!(h.client.state(), State::Connected);
        h
    }

    /// `ms` milliseconds after `t0`.
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Everything the client has queued for the transport, decoded as the server decodes it.
    fn sent(&mut self) -> Vec<Packet> {
        let mut buf = BytesMut::new();
        while self.client.poll_transmit(&mut buf) {}
        let mut packets = Vec::new();
        while let Some(packet) = Packet::decode(&mut buf, self.version, MAX_PACKET_SIZE).unwrap() {
            packets.push(packet);
        }
        assert!(buf.is_empty(), "a partial packet was transmitted");
        packets
    }

    /// Every event the client has for the application.
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// The server sends `packet` at `now`.
    fn server_sends(&mut self, packet: Packet, now: Instant) -> Result<(), ProtocolError> {
        let mut buf = BytesMut::new();
        packet.encode(self.version, &mut buf, MAX_PACKET_SIZE).unwrap();
        self.client.handle_bytes(&buf, now)
    }

    /// The client publishes `message` at `t0` and returns its packet identifier.
    fn publish(&mut self, message: Message) -> PacketId {
        self.client.publish(message, self.t0).unwrap().unwrap()
    }

    /// The transport closes and the client connects again at `now` with `clean_start`; CONNECT is drained.
    fn reconnect(&mut self, clean_start: bool, now: Instant) {
        self.client.connection_lost();
        self.client.options_mut().clean_start = clean_start;
        self.client.connect(now).unwrap();
        assert!(matches!(self.sent()[..], [Packet::Connect(_)]));
    }
}

fn topic(s: &str) -> TopicName {
    TopicName::new(s.to_owned()).unwrap()
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s.to_owned()).unwrap()
}

fn pid(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn message(t: &str, qos: QoS, payload: &'static str) -> Message {
    Message::new(topic(t), payload).with_qos(qos)
}

/// A PUBLISH as a server sends it.
fn server_publish(t: &str, qos_pid: QoSPid, payload: &'static str) -> Publish {
    let mut publish = Publish::new(topic(t), payload);
    publish.qos_pid = qos_pid;
    publish
}

/// An acknowledgement with a reason code (MQTT 5).
fn ack_with(id: u16, reason_code: ReasonCode) -> Ack {
    let mut ack = Ack::new(pid(id));
    ack.reason_code = reason_code;
    ack
}

/// The packet identifier and DUP flag of a PUBLISH, or the kind of packet otherwise, for compact assertions.
fn summary(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => format!(
                "PUBLISH {}{}",
                p.qos_pid.packet_id().map_or(0, PacketId::get),
                if p.dup { " dup" } else { "" }
            ),
            Packet::PubAck(a) => format!("PUBACK {}", a.packet_id),
            Packet::PubRec(a) => format!("PUBREC {}", a.packet_id),
            Packet::PubRel(a) => format!("PUBREL {}", a.packet_id),
            Packet::PubComp(a) => format!("PUBCOMP {}", a.packet_id),
            Packet::Subscribe(s) => format!("SUBSCRIBE {}", s.packet_id),
            Packet::Unsubscribe(u) => format!("UNSUBSCRIBE {}", u.packet_id),
            Packet::Disconnect(d) => format!("DISCONNECT {:#04X}", d.reason_code.as_u8()),
            other => format!("{:?}", other.packet_type()),
        })
        .collect()
}
