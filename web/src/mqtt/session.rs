//! The client side of one MQTT 5 connection without I/O: which bytes to send, and what received bytes mean for
//! the [`ConnectionState`]. Pure, so tests drive it with bytes alone.

use std::num::NonZeroU32;

use bytes::BytesMut;
use roost_codec::{Connect, Disconnect, Packet, ProtocolVersion, ReasonCode};

use super::ConnectionState;

/// The dashboard's keep alive, in seconds; [`super::MqttConnection`] sends PINGREQ this often.
pub(crate) const KEEP_ALIVE_SECS: u16 = 60;

/// The largest packet the dashboard accepts, announced to the broker in CONNECT ([MQTT-3.1.2-24]).
const MAX_PACKET_SIZE: u32 = 1024 * 1024;

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The WebSocket is not open yet.
    Opening,
    /// CONNECT is sent; waiting for CONNACK.
    AwaitingConnAck,
    /// CONNACK accepted the connection.
    Connected,
    /// Refused, disconnected or failed; later events do not change the reason shown.
    Ended,
}

/// One MQTT 5 connection's protocol state, fed with bytes and events, returning state changes.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    /// Received bytes not yet decoded (WebSocket frames need not align with packets, [MQTT-6.0.0-2]).
    received: BytesMut,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session whose WebSocket is still opening.
    pub fn new() -> Self {
        Session {
            phase: Phase::Opening,
            received: BytesMut::new(),
        }
    }

    /// The WebSocket opened: returns the CONNECT to send. An empty client id asks the broker to assign one.
    pub fn opened(&mut self) -> Vec<u8> {
        self.phase = Phase::AwaitingConnAck;
        let mut connect = Connect::new(ProtocolVersion::V5, "");
        connect.keep_alive = KEEP_ALIVE_SECS;
        connect.properties.maximum_packet_size = NonZeroU32::new(MAX_PACKET_SIZE);
        encode(&Packet::Connect(Box::new(connect)))
    }

    /// The PINGREQ that keeps the connection alive ([MQTT-3.1.2-20]).
    pub fn ping(&self) -> Vec<u8> {
        encode(&Packet::PingReq)
    }

    /// The DISCONNECT to send before closing on purpose; ends the session.
    pub fn disconnect(&mut self) -> Vec<u8> {
        self.phase = Phase::Ended;
        encode(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)))
    }

    /// Bytes from the broker. Returns the new state if it changed; a `Disconnected` state means the caller must
    /// close the WebSocket.
    pub fn received(&mut self, bytes: &[u8]) -> Option<ConnectionState> {
        if self.phase == Phase::Ended {
            return None;
        }
        self.received.extend_from_slice(bytes);
        let mut change = None;
        while self.phase != Phase::Ended {
            match Packet::decode(&mut self.received, ProtocolVersion::V5, MAX_PACKET_SIZE) {
                Ok(Some(packet)) => change = self.handle(packet).or(change),
                Ok(None) => break,
                Err(error) => return Some(self.end(format!("The broker sent a malformed packet: {error}."))),
            }
        }
        change
    }

    /// The WebSocket closed with `code` and `reason`. Returns the new state unless the session had already ended
    /// (then the earlier, more specific reason stays).
    pub fn closed(&mut self, code: u16, reason: &str) -> Option<ConnectionState> {
        let why = match self.phase {
            Phase::Ended => return None,
            Phase::Opening => format!("Cannot reach the broker's WebSocket (close code {code})."),
            Phase::AwaitingConnAck => format!("The broker closed the connection before accepting it (code {code})."),
            Phase::Connected if reason.is_empty() => format!("The connection was closed (code {code})."),
            Phase::Connected => format!("The connection was closed (code {code}: {reason})."),
        };
        Some(self.end(why))
    }

    /// Ends the session for a reason found outside the MQTT bytes (e.g. a text frame, [MQTT-6.0.0-1]).
    pub fn end(&mut self, why: String) -> ConnectionState {
        self.phase = Phase::Ended;
        ConnectionState::Disconnected { why }
    }

    fn handle(&mut self, packet: Packet) -> Option<ConnectionState> {
        match (self.phase, packet) {
            (Phase::AwaitingConnAck, Packet::ConnAck(connack)) if connack.reason_code.as_u8() < 0x80 => {
                self.phase = Phase::Connected;
                let client_id = connack.properties.assigned_client_identifier.map(|id| id.to_string());
                Some(ConnectionState::Connected {
                    reason_code: connack.reason_code,
                    client_id: client_id.unwrap_or_else(|| "(none assigned)".to_owned()),
                })
            }
            (Phase::AwaitingConnAck, Packet::ConnAck(connack)) => {
                let why = with_reason_string(
                    format!("The broker refused the connection: {}", connack.reason_code),
                    connack.properties.reason_string.as_deref(),
                );
                Some(self.end(why))
            }
            (_, Packet::Disconnect(disconnect)) => {
                let why = with_reason_string(
                    format!("The broker disconnected: {}", disconnect.reason_code),
                    disconnect.properties.reason_string.as_deref(),
                );
                Some(self.end(why))
            }
            (Phase::Connected, Packet::PingResp) => None,
            // [MQTT-3.2.0-1] CONNACK comes first and only once; anything else first is the broker's mistake.
            (Phase::AwaitingConnAck, other) | (Phase::Connected, other @ Packet::ConnAck(_)) => Some(self.end(
                format!("The broker broke the protocol: unexpected {:?}.", other.packet_type()),
            )),
            // Nothing is subscribed yet, so nothing else is expected; ignore rather than fail.
            (_, _) => None,
        }
    }
}

fn with_reason_string(sentence: String, reason_string: Option<&str>) -> String {
    match reason_string {
        Some(reason) => format!("{sentence} ({reason})."),
        None => format!("{sentence}."),
    }
}

fn encode(packet: &Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet
        .encode(ProtocolVersion::V5, &mut buf, u32::MAX)
        .expect("the dashboard's own packets are small and well-formed");
    buf.to_vec()
}
