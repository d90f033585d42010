//! What can go wrong: [`ClientError`] when the application asks for something the client cannot do,
//! [`ProtocolError`] when the server breaks the protocol.

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::reason::ReasonCode;
use crate::types::{PacketId, QoS};

/// Why a request of the application (connect, publish, subscribe, ...) was refused. Nothing was queued and the
/// client state is unchanged. `Copy + Eq` so tests compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request needs an established connection (after a successful CONNACK).
    #[error("not connected")]
    NotConnected,
    /// `connect` while a connection is being established or established; call `connection_lost` or
    /// `disconnect` first.
    #[error("already connected or connecting")]
    AlreadyConnected,
    /// Every packet identifier is held by a publication, SUBSCRIBE or UNSUBSCRIBE in flight ([MQTT-2.2.1-3]).
    #[error("[MQTT-2.2.1-3] all 65535 packet identifiers are in use")]
    PacketIdsExhausted,
    /// The queue of QoS 1 and 2 publications waiting for the server's Receive Maximum is full
    /// (`ClientOptions::max_queued_publications`). Retry after a `Published` or `PublishFailed` event.
    #[error("{limit} publications already wait for the server's receive maximum")]
    QueueFull {
        /// The configured bound.
        limit: usize,
    },
    /// The packet exceeds the server's Maximum Packet Size ([MQTT-3.2.2-15]).
    #[error("[MQTT-3.2.2-15] packet of {size} bytes exceeds the server's maximum packet size of {max}")]
    PacketTooLarge {
        /// The encoded size.
        size: usize,
        /// The server's limit.
        max: u32,
    },
    /// The server's CONNACK announced a lower Maximum QoS ([MQTT-3.2.2-11]).
    #[error("[MQTT-3.2.2-11] QoS {requested:?} exceeds the server's maximum QoS {maximum:?}")]
    QoSNotSupported {
        /// The QoS asked for.
        requested: QoS,
        /// The server's maximum.
        maximum: QoS,
    },
    /// The server's CONNACK said it does not support retained messages ([MQTT-3.2.2-14]).
    #[error("[MQTT-3.2.2-14] the server does not support retained messages")]
    RetainNotSupported,
    /// MQTT 3.x: an empty client identifier needs a clean session ([MQTT-3.1.3-7] of 3.1.1).
    #[error("an empty client identifier needs clean start in MQTT 3.x")]
    EmptyClientIdWithoutCleanStart,
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter ([MQTT-3.8.3-2], [MQTT-3.10.3-2]).
    #[error("SUBSCRIBE or UNSUBSCRIBE needs at least one topic filter")]
    NoTopicFilters,
    /// The reason code may not be sent in a DISCONNECT (table 3-10).
    #[error("{0} is not a DISCONNECT reason code")]
    InvalidReasonCode(ReasonCode),
    /// The packet cannot be encoded (a field over 65,535 bytes, a property the packet may not carry, ...).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// How the server broke the protocol. The client has queued a DISCONNECT with [`ProtocolError::reason_code`]
/// (MQTT 5; MQTT 3.x just closes) and is [`super::State::Disconnected`]; the transport should be closed once the
/// queued bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes are not a valid packet.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// A packet other than CONNACK (or DISCONNECT) before CONNACK ([MQTT-3.2.0-1]).
    #[error("[MQTT-3.2.0-1] {0:?} before CONNACK")]
    BeforeConnAck(PacketType),
    /// A packet a server never sends to a client: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, or AUTH when we did
    /// not ask for extended authentication ([MQTT-4.12.0-6]).
    #[error("{0:?} is not a packet a server sends to this client")]
    UnexpectedPacket(PacketType),
    /// A second CONNACK on one connection ([MQTT-3.2.0-2]).
    #[error("[MQTT-3.2.0-2] second CONNACK")]
    SecondConnAck,
    /// Session Present on a connection made with Clean Start ([MQTT-3.2.2-2]).
    #[error("[MQTT-3.2.2-2] session present although clean start was requested")]
    SessionPresentWithCleanStart,
    /// An acknowledgement for a packet identifier we have nothing in flight for ([MQTT-2.2.1-5], [MQTT-2.2.1-6]).
    #[error("[MQTT-2.2.1-5], [MQTT-2.2.1-6] {packet:?} for packet identifier {packet_id}, which is not in flight")]
    UnknownPacketId {
        /// The acknowledgement.
        packet: PacketType,
        /// Its identifier.
        packet_id: PacketId,
    },
    /// An acknowledgement that does not fit the flow it names: PUBACK for QoS 2, PUBREC for QoS 1, PUBCOMP
    /// before PUBREC ([MQTT-4.3.2-3], [MQTT-4.3.3-3]).
    #[error("[MQTT-4.3.3-3] {packet:?} does not fit the state of packet identifier {packet_id}")]
    AckOutOfOrder {
        /// The acknowledgement.
        packet: PacketType,
        /// Its identifier.
        packet_id: PacketId,
    },
    /// SUBACK or UNSUBACK with a reason code count different from the filter count ([MQTT-3.8.4-6],
    /// [MQTT-3.11.3-1]).
    #[error("[MQTT-3.8.4-6] {packet:?} has {received} reason codes for {expected} topic filters")]
    ReasonCodeCount {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
        /// The number of filters sent.
        expected: usize,
        /// The number of reason codes received.
        received: usize,
    },
    /// More unacknowledged QoS 2 PUBLISH packets than our Receive Maximum ([MQTT-3.3.4-9]).
    #[error("[MQTT-3.3.4-9] the server exceeded our receive maximum of {0}")]
    ReceiveMaximumExceeded(u16),
    /// A Topic Alias above our Topic Alias Maximum ([MQTT-3.3.2-11], [MQTT-3.1.2-30]), or an empty topic name
    /// with an alias that names no topic on this connection ([MQTT-3.3.2-7]).
    #[error("[MQTT-3.3.2-11] topic alias {alias} is invalid (maximum {maximum}, or not yet set)")]
    TopicAliasInvalid {
        /// The alias received.
        alias: u16,
        /// Our Topic Alias Maximum.
        maximum: u16,
    },
}

impl ProtocolError {
    /// The MQTT 5 reason code of the DISCONNECT the client sends for this error.
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Malformed(e) => e.reason_code(),
            Self::ReceiveMaximumExceeded(_) => ReasonCode::ReceiveMaximumExceeded,
            Self::TopicAliasInvalid { .. } => ReasonCode::TopicAliasInvalid,
            _ => ReasonCode::ProtocolError,
        }
    }
}
