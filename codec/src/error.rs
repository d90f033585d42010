//! Decode and encode errors. Every decode error names the rule it enforces and carries the reason code a server
//! sends back in its DISCONNECT (MQTT 5) before closing the connection (MQTT 3.x just closes).

use crate::packet::PacketType;
use crate::reason::ReasonCode;

/// Why bytes from a peer are not a valid MQTT packet. `Copy + Eq` so tests compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Packet type 0, or 15 (AUTH) outside MQTT 5.
    #[error("[MQTT-2.1.2] reserved control packet type {0}")]
    ReservedPacketType(u8),
    /// Fixed-header flag bits that must hold a fixed value do not.
    #[error("[MQTT-2.1.3-1] reserved flag bits 0x{flags:X} in {packet:?}")]
    ReservedFlags {
        /// The packet whose flags are wrong.
        packet: PacketType,
        /// The four flag bits received.
        flags: u8,
    },
    /// A Variable Byte Integer longer than four bytes or not in its minimal form.
    #[error("[MQTT-1.5.5-1] malformed variable byte integer")]
    MalformedVarInt,
    /// The packet is larger than the receiver's Maximum Packet Size; detected from the fixed header alone.
    #[error("[MQTT-3.2.2-15] packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge {
        /// Total packet size announced by the fixed header.
        size: u64,
        /// The limit in force.
        max: u32,
    },
    /// The Remaining Length ends before a field that must be there.
    #[error("[MQTT-1.5] packet ends before its {0} field")]
    UnexpectedEnd(&'static str),
    /// Bytes left over after the last field of a packet that has no payload.
    #[error("[MQTT-1.5] {0:?} has bytes after its last field")]
    TrailingBytes(PacketType),
    /// A UTF-8 Encoded String that is not well-formed UTF-8 (this includes encoded surrogates, U+D800..U+DFFF).
    #[error("[MQTT-1.5.4-1] string is not well-formed UTF-8")]
    InvalidUtf8,
    /// A UTF-8 Encoded String containing U+0000.
    #[error("[MQTT-1.5.4-2] string contains the null character U+0000")]
    NullCharacter,
    /// CONNECT with a protocol name other than `MQTT` or `MQIsdp`.
    #[error("[MQTT-3.1.2-1] protocol name is not MQTT")]
    InvalidProtocolName,
    /// CONNECT with a protocol level this implementation does not speak.
    #[error("[MQTT-3.1.2-2] unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// The reserved bit 0 of the CONNECT flags is set.
    #[error("[MQTT-3.1.2-3] reserved CONNECT flag is set")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set while the Will Flag is 0.
    #[error("[MQTT-3.1.2-11] will QoS or will retain set without the will flag")]
    WillFlagsWithoutWill,
    /// Will QoS of 3.
    #[error("[MQTT-3.1.2-12] will QoS is 3")]
    InvalidWillQoS,
    /// MQTT 3.1.1: the Password Flag is set but the User Name Flag is not.
    #[error("[MQTT-3.1.2-22] password flag set without the user name flag")]
    PasswordWithoutUsername,
    /// PUBLISH with both QoS bits set.
    #[error("[MQTT-3.3.1-4] QoS 3 is not a QoS")]
    InvalidQoS,
    /// PUBLISH at QoS 0 with the DUP flag.
    #[error("[MQTT-3.3.1-2] DUP flag set on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// A packet identifier of zero.
    #[error("[MQTT-2.2.1-3] packet identifier is 0")]
    ZeroPacketId,
    /// A topic name with `+` or `#`.
    #[error("[MQTT-3.3.2-2] topic name contains a wildcard")]
    WildcardInTopicName,
    /// A topic name of zero length where a topic alias cannot stand in for it.
    #[error("[MQTT-4.7.3-1] topic name is empty")]
    EmptyTopicName,
    /// A topic filter that is empty or misuses a wildcard (`a/#/b`, `a+`, `#a`, a bad `$share/` prefix).
    #[error("[MQTT-4.7.1-2] invalid topic filter")]
    InvalidTopicFilter,
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("[MQTT-3.8.3-2], [MQTT-3.10.3-2] {0:?} has no topic filter")]
    NoTopicFilters(PacketType),
    /// Reserved bits of a SUBSCRIBE options byte are set.
    #[error("[MQTT-3.8.3-5] reserved subscription option bits set")]
    InvalidSubscriptionOptions,
    /// A SUBSCRIBE options byte asking for QoS 3: malformed in 3.1.1 ([MQTT-3.8.3-4] there), a protocol error in
    /// MQTT 5 (section 3.8.3.1, no rule id).
    #[error("[MQTT-3.8.3.1] subscription maximum QoS is 3")]
    InvalidSubscriptionQoS,
    /// Retain Handling of 3. The standard states this rule without a rule id (section 3.8.3.1).
    #[error("[MQTT-3.8.3.1] retain handling 3 is a protocol error")]
    InvalidRetainHandling,
    /// No Local on a shared subscription.
    #[error("[MQTT-3.8.3-4] no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A CONNACK acknowledge-flags byte with reserved bits set.
    #[error("[MQTT-3.2.2-1] reserved CONNACK acknowledge flags set")]
    ConnAckReservedFlags,
    /// A reason code the standard does not allow in this packet.
    #[error("[MQTT-2.4] reason code 0x{code:02X} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet carrying it.
        packet: PacketType,
        /// The byte received.
        code: u8,
    },
    /// A property identifier the standard does not define.
    #[error("[MQTT-2.2.2] unknown property identifier 0x{0:02X}")]
    UnknownProperty(u8),
    /// A property that this packet may not carry.
    #[error("[MQTT-2.2.2] property 0x{id:02X} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property identifier.
        id: u8,
        /// The packet (or `Will`) it appeared in.
        packet: &'static str,
    },
    /// A property other than User Property and Subscription Identifier appearing twice.
    #[error("[MQTT-2.2.2] property 0x{0:02X} appears more than once")]
    DuplicateProperty(u8),
    /// A property value outside its range (a boolean byte above 1, a Receive Maximum of 0, ...).
    #[error("[MQTT-2.2.2] property 0x{0:02X} has a value the standard does not allow")]
    InvalidPropertyValue(u8),
    /// A Topic Alias of 0.
    #[error("[MQTT-3.3.2-8] topic alias 0 is not permitted")]
    ZeroTopicAlias,
    /// A Subscription Identifier of 0. The standard states this rule without a rule id (sections 3.3.2.3.8 and
    /// 3.8.2.1.2).
    #[error("[MQTT-3.3.2.3.8], [MQTT-3.8.2.1.2] subscription identifier 0 is a protocol error")]
    ZeroSubscriptionIdentifier,
    /// A PUBLISH sent by a client that carries a Subscription Identifier: only a server sets one. The decoder
    /// cannot see this (both directions share the packet type); the receiver that knows its peer is a client
    /// checks it with [`crate::Packet::check_sent_by_client`].
    #[error("[MQTT-3.3.4-6] a PUBLISH from a client carries a subscription identifier")]
    SubscriptionIdentifierFromClient,
}

impl DecodeError {
    /// The MQTT 5 reason code a server puts in its DISCONNECT for this error.
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::UnsupportedProtocolLevel(_) | Self::InvalidProtocolName => ReasonCode::UnsupportedProtocolVersion,
            Self::WildcardInTopicName => ReasonCode::TopicNameInvalid,
            Self::InvalidTopicFilter => ReasonCode::TopicFilterInvalid,
            Self::ZeroTopicAlias => ReasonCode::TopicAliasInvalid,
            Self::EmptyTopicName
            | Self::NoTopicFilters(_)
            | Self::InvalidSubscriptionQoS
            | Self::InvalidRetainHandling
            | Self::NoLocalOnSharedSubscription
            | Self::DuplicateProperty(_)
            | Self::InvalidPropertyValue(_)
            | Self::ZeroSubscriptionIdentifier
            | Self::SubscriptionIdentifierFromClient => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet cannot be encoded. These are mistakes of the sender's program, not of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded packet would exceed the peer's Maximum Packet Size ([MQTT-3.1.2-24], [MQTT-3.2.2-15]).
    #[error("packet of {size} bytes exceeds the peer's maximum packet size of {max}")]
    PacketTooLarge {
        /// Size of the encoded packet.
        size: usize,
        /// The peer's limit.
        max: u32,
    },
    /// The remaining length exceeds 268,435,455, the largest Variable Byte Integer.
    #[error("packet body exceeds 268435455 bytes")]
    RemainingLengthTooLarge,
    /// A string containing U+0000, which MQTT strings may not carry ([MQTT-1.5.4-2]).
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// A string or binary field longer than 65,535 bytes.
    #[error("a string or binary field exceeds 65535 bytes")]
    FieldTooLong,
    /// A property set on a packet that may not carry it.
    #[error("property 0x{id:02X} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property identifier.
        id: u8,
        /// The packet (or `Will`) it was set on.
        packet: &'static str,
    },
    /// A packet or field the protocol version cannot express (AUTH before MQTT 5).
    #[error("{0} cannot be sent with this protocol version")]
    UnsupportedInVersion(&'static str),
    /// A property value the standard does not allow (Maximum QoS 2, a Subscription Identifier above 268,435,455).
    #[error("property 0x{0:02X} has a value the standard does not allow")]
    InvalidPropertyValue(u8),
    /// A reason code the standard does not allow in this packet.
    #[error("reason code 0x{code:02X} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code.
        code: u8,
    },
    /// DUP on a QoS 0 PUBLISH ([MQTT-3.3.1-2]).
    #[error("DUP flag on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter ([MQTT-3.8.3-2], [MQTT-3.10.3-2]).
    #[error("SUBSCRIBE or UNSUBSCRIBE without a topic filter")]
    NoTopicFilters,
    /// No Local on a shared subscription ([MQTT-3.8.3-4]).
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// An empty topic name on a PUBLISH without a topic alias ([MQTT-4.7.3-1]).
    #[error("empty topic name without a topic alias")]
    EmptyTopicName,
    /// SUBSCRIBE or UNSUBSCRIBE with a filter that is not a valid topic filter (only decoding keeps those).
    #[error("invalid topic filter")]
    InvalidTopicFilter,
}
