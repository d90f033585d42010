//! The fifteen control packets: the fixed header (section 2.1), streaming decode and encode.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::Ack;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::{Publish, QoSPid};
pub use suback::SubAck;
pub use subscribe::Subscribe;
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::types::ProtocolVersion;
use crate::wire::{self, MAX_VARINT, Reader};

/// The most [`Packet::decode`] reserves ahead of the bytes received while a packet is incomplete.
const RESERVE_LIMIT: usize = 64 * 1024;

/// The largest packet the wire format can express: one type byte, four length bytes, the largest body.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VARINT;

/// The control packet types (section 2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    fn from_u8(v: u8) -> Option<Self> {
        use PacketType::*;
        Some(match v {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The fixed flag bits of every packet but PUBLISH ([MQTT-2.1.3-1], table 2-2).
    const fn fixed_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// An MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Packet {
    /// Boxed: CONNECT is the largest packet and arrives once per connection.
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes one packet from the front of `buf`.
    ///
    /// Returns `Ok(None)` while the packet is incomplete, leaving `buf` untouched (capacity for the rest is
    /// reserved). On success exactly that packet's bytes are consumed; on error none are. `max_packet_size` is
    /// checked against the size the fixed header announces, before the body is buffered. A CONNECT carries its own
    /// protocol version; `version` applies to every other packet.
    pub fn decode(
        buf: &mut BytesMut,
        version: ProtocolVersion,
        max_packet_size: u32,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = buf.first() else { return Ok(None) };
        let type_bits = first >> 4;
        let flags = first & 0x0F;
        let packet_type = match PacketType::from_u8(type_bits) {
            Some(PacketType::Auth) if !version.is_v5() => return Err(DecodeError::ReservedPacketType(type_bits)),
            Some(t) => t,
            None => return Err(DecodeError::ReservedPacketType(type_bits)),
        };
        // MQTT 3.1 sets DUP on a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE (3.1 section 2.1, "DUP"); 3.1.1 made
        // these flags fixed.
        let flags_to_check = match packet_type {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe if version == ProtocolVersion::V31 => {
                flags & !0b1000
            }
            _ => flags,
        };
        if packet_type != PacketType::Publish && flags_to_check != packet_type.fixed_flags() {
            return Err(DecodeError::ReservedFlags {
                packet: packet_type,
                flags,
            });
        }
        let Some((remaining, len_bytes)) = wire::parse_varint(&buf[1..])? else {
            return Ok(None);
        };
        let size = 1 + len_bytes as u64 + u64::from(remaining);
        if size > u64::from(max_packet_size) {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: max_packet_size,
            });
        }
        let size = size as usize;
        if buf.len() < size {
            // Reserve room for the rest, but never more than RESERVE_LIMIT ahead of what has arrived: a peer that
            // announces a huge packet and then sends nothing must not make us allocate it up front.
            buf.reserve((size - buf.len()).min(RESERVE_LIMIT));
            return Ok(None);
        }
        let frame = buf.split_to(size).freeze();
        match Self::decode_body(packet_type, flags, frame.slice(1 + len_bytes..), version) {
            Ok(packet) => Ok(Some(packet)),
            Err(e) => {
                // Hand the malformed frame back, so an error, like `Ok(None)`, consumes nothing and the caller
                // can still log or inspect the offending bytes. Errors end the connection: the copy is rare.
                let mut restored = BytesMut::with_capacity(frame.len() + buf.len());
                restored.extend_from_slice(&frame);
                restored.extend_from_slice(buf);
                *buf = restored;
                Err(e)
            }
        }
    }

    /// Checks the rules that bind a packet only in the client-to-server direction, which [`Packet::decode`] cannot
    /// know: a server calls this on every packet it decodes. Today that is one rule: a client's PUBLISH carries no
    /// Subscription Identifier ([MQTT-3.3.4-6]), a Protocol Error (0x82).
    pub fn check_sent_by_client(&self) -> Result<(), DecodeError> {
        match self {
            Self::Publish(publish) if !publish.properties.subscription_identifiers.is_empty() => {
                Err(DecodeError::SubscriptionIdentifierFromClient)
            }
            _ => Ok(()),
        }
    }

    /// Decodes the body of one whole packet, every byte of which is in `body`.
    fn decode_body(
        packet_type: PacketType,
        flags: u8,
        body: bytes::Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let packet = match packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::decode(&mut r)?)),
            PacketType::ConnAck => Self::ConnAck(ConnAck::decode(&mut r, version)?),
            PacketType::Publish => Self::Publish(Publish::decode(flags, &mut r, version)?),
            PacketType::PubAck => Self::PubAck(Ack::decode(packet_type, &mut r, version)?),
            PacketType::PubRec => Self::PubRec(Ack::decode(packet_type, &mut r, version)?),
            PacketType::PubRel => Self::PubRel(Ack::decode(packet_type, &mut r, version)?),
            PacketType::PubComp => Self::PubComp(Ack::decode(packet_type, &mut r, version)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::decode(&mut r, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::decode(&mut r, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::decode(&mut r, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::decode(&mut r, version)?),
            PacketType::Auth => Self::Auth(Auth::decode(&mut r)?),
        };
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes(packet_type));
        }
        Ok(packet)
    }

    /// The first byte of the fixed header.
    fn first_byte(&self) -> u8 {
        let flags = match self {
            Self::Publish(p) => p.flags(),
            other => other.packet_type().fixed_flags(),
        };
        (self.packet_type() as u8) << 4 | flags
    }

    /// Length of the body (what the Remaining Length counts), validating the packet for `version`.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        match self {
            Self::Connect(p) => p.body_len(),
            Self::ConnAck(p) => p.body_len(version),
            Self::Publish(p) => p.body_len(version),
            Self::PubAck(p) | Self::PubRec(p) | Self::PubRel(p) | Self::PubComp(p) => {
                p.body_len(self.packet_type(), version)
            }
            Self::Subscribe(p) => p.body_len(version),
            Self::SubAck(p) => p.body_len(version),
            Self::Unsubscribe(p) => p.body_len(version),
            Self::UnsubAck(p) => p.body_len(version),
            Self::PingReq | Self::PingResp => Ok(0),
            Self::Disconnect(p) => p.body_len(version),
            Self::Auth(p) => p.body_len(version),
        }
    }

    /// The size of the whole encoded packet, as checked against a peer's Maximum Packet Size.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let body = self.body_len(version)?;
        if body > MAX_VARINT as usize {
            return Err(EncodeError::RemainingLengthTooLarge);
        }
        Ok(1 + wire::varint_len(body as u32) + body)
    }

    /// Appends the packet to `buf`. Refuses a packet larger than `max_packet_size` (the peer's limit) without
    /// writing anything. A CONNECT is written in its own protocol version; `version` applies to the others.
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
        max_packet_size: u32,
    ) -> Result<(), EncodeError> {
        let body = self.body_len(version)?;
        if body > MAX_VARINT as usize {
            return Err(EncodeError::RemainingLengthTooLarge);
        }
        let size = 1 + wire::varint_len(body as u32) + body;
        if size > max_packet_size as usize {
            return Err(EncodeError::PacketTooLarge {
                size,
                max: max_packet_size,
            });
        }
        buf.reserve(size);
        let start = buf.len();
        buf.put_u8(self.first_byte());
        wire::put_varint(buf, body as u32);
        match self {
            Self::Connect(p) => p.encode_body(buf),
            Self::ConnAck(p) => p.encode_body(version, buf),
            Self::Publish(p) => p.encode_body(version, buf),
            Self::PubAck(p) | Self::PubRec(p) | Self::PubRel(p) | Self::PubComp(p) => {
                p.encode_body(self.packet_type(), version, buf)
            }
            Self::Subscribe(p) => p.encode_body(version, buf),
            Self::SubAck(p) => p.encode_body(version, buf),
            Self::Unsubscribe(p) => p.encode_body(version, buf),
            Self::UnsubAck(p) => p.encode_body(version, buf),
            Self::PingReq | Self::PingResp => {}
            Self::Disconnect(p) => p.encode_body(version, buf),
            Self::Auth(p) => p.encode_body(buf),
        }
        debug_assert_eq!(
            buf.len() - start,
            size,
            "body_len and encode_body disagree for {:?}",
            self.packet_type()
        );
        Ok(())
    }
}

/// Reads a reason code byte and checks the packet may carry it.
pub(crate) fn read_reason(r: &mut Reader, packet: PacketType) -> Result<crate::ReasonCode, DecodeError> {
    let code = r.u8("reason code")?;
    crate::ReasonCode::from_u8(code)
        .filter(|rc| rc.is_valid_for(packet))
        .ok_or(DecodeError::InvalidReasonCode { packet, code })
}

/// Checks a reason code the sender chose is allowed in the packet.
pub(crate) fn check_reason(reason: crate::ReasonCode, packet: PacketType) -> Result<(), EncodeError> {
    if reason.is_valid_for(packet) {
        Ok(())
    } else {
        Err(EncodeError::InvalidReasonCode {
            packet,
            code: reason as u8,
        })
    }
}

/// Reads a non-zero packet identifier ([MQTT-2.2.1-3]).
pub(crate) fn read_packet_id(r: &mut Reader) -> Result<crate::PacketId, DecodeError> {
    crate::PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)
}

/// The MQTT 5 tail shared by the publish acknowledgements, DISCONNECT and AUTH: a reason code then properties,
/// where properties may be omitted when empty, and a Success without properties may be omitted altogether
/// (sections 3.4.2.1, 3.14.2.1, 3.15.2.1).
pub(crate) mod reason_tail {
    use bytes::{BufMut, BytesMut};

    use super::{PacketType, check_reason, read_reason};
    use crate::error::{DecodeError, EncodeError};
    use crate::properties::{Context, Properties};
    use crate::reason::ReasonCode;
    use crate::wire::Reader;

    pub(crate) fn decode(
        r: &mut Reader,
        packet: PacketType,
        ctx: Context,
    ) -> Result<(ReasonCode, Properties), DecodeError> {
        if r.is_empty() {
            return Ok((ReasonCode::Success, Properties::default()));
        }
        let reason = read_reason(r, packet)?;
        let properties = if r.is_empty() {
            Properties::default()
        } else {
            Properties::decode(r, ctx)?
        };
        Ok((reason, properties))
    }

    pub(crate) fn len(
        reason: ReasonCode,
        properties: &Properties,
        packet: PacketType,
        ctx: Context,
    ) -> Result<usize, EncodeError> {
        check_reason(reason, packet)?;
        Ok(match (reason, properties.is_empty()) {
            (ReasonCode::Success, true) => 0,
            (_, true) => 1,
            (_, false) => 1 + properties.encoded_len(ctx)?,
        })
    }

    pub(crate) fn encode(reason: ReasonCode, properties: &Properties, ctx: Context, buf: &mut BytesMut) {
        match (reason, properties.is_empty()) {
            (ReasonCode::Success, true) => {}
            (_, true) => buf.put_u8(reason.as_u8()),
            (_, false) => {
                buf.put_u8(reason.as_u8());
                properties.encode(ctx, buf);
            }
        }
    }
}

/// Byte-exact vectors for the fixed header (section 2.1), PINGREQ and PINGRESP, and the helpers every packet's
/// tests use: a vector must decode to its packet, encode back to exactly its bytes, and stream byte by byte.
#[cfg(test)]
pub(crate) mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use std::num::{NonZeroU16, NonZeroU32};

    use bytes::{BufMut, Bytes, BytesMut};
    use bytestring::ByteString;

    use super::*;
    use crate::properties::Properties;
    use crate::reason::ReasonCode;
    use crate::topic::{TopicFilter, TopicName};
    use crate::types::PacketId;

    pub(crate) use ProtocolVersion::{V5, V31, V311};

    /// Every version, for packets whose bytes do not depend on it.
    pub(crate) const ALL: [ProtocolVersion; 3] = [V31, V311, V5];

    /// Bytes that follow a packet in a stream: a PINGREQ and the first byte of a PUBLISH.
    const FOLLOWING: [u8; 3] = [0xC0, 0x00, 0x30];

    pub(crate) fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    pub(crate) fn pid(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    pub(crate) fn topic(s: &str) -> TopicName {
        TopicName::new(s.to_owned()).unwrap()
    }

    pub(crate) fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s.to_owned()).unwrap()
    }

    /// A filter a SUBSCRIBE or UNSUBSCRIBE decodes as invalid.
    pub(crate) fn invalid_filter(s: &str) -> crate::topic::InvalidFilter {
        crate::topic::InvalidFilter::check(ByteString::from(s.to_owned()))
            .unwrap()
            .unwrap_err()
    }

    pub(crate) fn s(v: &str) -> ByteString {
        ByteString::from(v.to_owned())
    }

    pub(crate) fn b(v: &[u8]) -> Bytes {
        Bytes::copy_from_slice(v)
    }

    pub(crate) fn nz16(v: u16) -> NonZeroU16 {
        NonZeroU16::new(v).unwrap()
    }

    pub(crate) fn nz32(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    pub(crate) fn user(k: &str, v: &str) -> (ByteString, ByteString) {
        (s(k), s(v))
    }

    /// Properties with just a reason string.
    pub(crate) fn reason_string(v: &str) -> Properties {
        Properties {
            reason_string: Some(s(v)),
            ..Properties::default()
        }
    }

    /// A packet built from its first byte and its body, for malformed cases (valid vectors are written out whole).
    pub(crate) fn frame(first: u8, body: &[u8]) -> Vec<u8> {
        assert!(body.len() < 128, "one-byte remaining length");
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(body);
        bytes
    }

    /// Decodes `bytes` as one whole packet of `version`.
    pub(crate) fn decode(version: ProtocolVersion, bytes: &[u8]) -> Result<Option<Packet>, DecodeError> {
        let mut buf = BytesMut::from(bytes);
        Packet::decode(&mut buf, version, MAX_PACKET_SIZE)
    }

    /// Encodes `packet` for `version` without a size limit.
    pub(crate) fn encode(version: ProtocolVersion, packet: &Packet) -> Result<BytesMut, EncodeError> {
        let mut buf = BytesMut::new();
        packet.encode(version, &mut buf, MAX_PACKET_SIZE)?;
        Ok(buf)
    }

    /// A byte vector written from the standard: it decodes to `expected` consuming every byte, `expected` encodes
    /// to exactly those bytes, `encoded_len` agrees, and it decodes the same when it arrives one byte at a time.
    #[track_caller]
    pub(crate) fn assert_vector(version: ProtocolVersion, bytes: &[u8], expected: Packet) {
        let mut buf = BytesMut::from(bytes);
        assert_eq!(
            Packet::decode(&mut buf, version, MAX_PACKET_SIZE),
            Ok(Some(expected.clone())),
            "decoding {} in {version}",
            hex(bytes)
        );
        assert!(buf.is_empty(), "decoding left {} behind", hex(&buf));
        let encoded = encode(version, &expected).expect("a valid packet encodes");
        assert_eq!(hex(&encoded), hex(bytes), "encoding {expected:?} in {version}");
        assert_eq!(expected.encoded_len(version), Ok(bytes.len()));
        assert_streams(version, bytes, &expected);
    }

    /// `bytes` fed one byte at a time decode to nothing until the last byte, then to `expected`, consuming exactly
    /// the packet and leaving the bytes that follow it.
    #[track_caller]
    pub(crate) fn assert_streams(version: ProtocolVersion, bytes: &[u8], expected: &Packet) {
        let mut buf = BytesMut::new();
        for (i, &byte) in bytes[..bytes.len() - 1].iter().enumerate() {
            buf.put_u8(byte);
            assert_eq!(
                Packet::decode(&mut buf, version, MAX_PACKET_SIZE),
                Ok(None),
                "{} of {} bytes of {}",
                i + 1,
                bytes.len(),
                hex(bytes)
            );
            assert_eq!(&buf[..], &bytes[..=i], "Ok(None) consumed bytes");
        }
        buf.put_u8(bytes[bytes.len() - 1]);
        buf.extend_from_slice(&FOLLOWING);
        assert_eq!(
            Packet::decode(&mut buf, version, MAX_PACKET_SIZE),
            Ok(Some(expected.clone()))
        );
        assert_eq!(&buf[..], &FOLLOWING, "the packet's bytes, and only those, are consumed");
    }

    /// A malformed packet: decoding fails with exactly `expected`, whose reason code is `reason`, and consumes
    /// nothing.
    #[track_caller]
    pub(crate) fn assert_malformed(version: ProtocolVersion, bytes: &[u8], expected: DecodeError, reason: ReasonCode) {
        let mut buf = BytesMut::from(bytes);
        assert_eq!(
            Packet::decode(&mut buf, version, MAX_PACKET_SIZE),
            Err(expected),
            "decoding {} in {version}",
            hex(bytes)
        );
        assert_eq!(expected.reason_code(), reason, "reason code of {expected:?}");
        assert_eq!(&buf[..], bytes, "a decode error consumed bytes");
    }

    #[test]
    fn pingreq_and_pingresp_in_every_version() {
        for version in ALL {
            assert_vector(version, &[0xC0, 0x00], Packet::PingReq);
            assert_vector(version, &[0xD0, 0x00], Packet::PingResp);
        }
    }

    #[test]
    fn an_empty_buffer_needs_more() {
        for version in ALL {
            assert_eq!(decode(version, &[]), Ok(None));
            assert_eq!(decode(version, &[0x30]), Ok(None));
            assert_eq!(decode(version, &[0x30, 0x80]), Ok(None));
        }
    }

    #[test]
    fn packet_type_0_is_reserved() {
        for version in ALL {
            assert_malformed(
                version,
                &[0x00, 0x00],
                DecodeError::ReservedPacketType(0),
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn auth_is_reserved_before_mqtt_5() {
        for version in [V31, V311] {
            assert_malformed(
                version,
                &[0xF0, 0x00],
                DecodeError::ReservedPacketType(15),
                ReasonCode::MalformedPacket,
            );
        }
    }

    /// Table 2-2: every packet but PUBLISH has fixed flags, 0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE, else 0000.
    #[test]
    fn reserved_flag_bits_of_every_fixed_flag_packet() {
        let fixed: [(u8, PacketType, u8); 14] = [
            (1, PacketType::Connect, 0),
            (2, PacketType::ConnAck, 0),
            (4, PacketType::PubAck, 0),
            (5, PacketType::PubRec, 0),
            (6, PacketType::PubRel, 2),
            (7, PacketType::PubComp, 0),
            (8, PacketType::Subscribe, 2),
            (9, PacketType::SubAck, 0),
            (10, PacketType::Unsubscribe, 2),
            (11, PacketType::UnsubAck, 0),
            (12, PacketType::PingReq, 0),
            (13, PacketType::PingResp, 0),
            (14, PacketType::Disconnect, 0),
            (15, PacketType::Auth, 0),
        ];
        for version in ALL {
            for (type_bits, packet, right) in fixed {
                if packet == PacketType::Auth && version != V5 {
                    continue; // Reserved packet type there, tested above.
                }
                for flags in (0..16).filter(|&f| f != right) {
                    // MQTT 3.1 sets DUP on a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE (tested in their files).
                    if version == V31 && right == 2 && flags == 0b1010 {
                        continue;
                    }
                    // The flags are checked before the length: a lone first byte is enough to reject.
                    assert_malformed(
                        version,
                        &[type_bits << 4 | flags],
                        DecodeError::ReservedFlags { packet, flags },
                        ReasonCode::MalformedPacket,
                    );
                }
            }
        }
    }

    #[test]
    fn pingreq_with_a_body_has_trailing_bytes() {
        for version in ALL {
            assert_malformed(
                version,
                &[0xC0, 0x01, 0x00],
                DecodeError::TrailingBytes(PacketType::PingReq),
                ReasonCode::MalformedPacket,
            );
            assert_malformed(
                version,
                &[0xD0, 0x02, 0x00, 0x00],
                DecodeError::TrailingBytes(PacketType::PingResp),
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn remaining_length_of_five_bytes_is_malformed() {
        // [MQTT-1.5.5-1]: at most four bytes; the fifth continuation is an error as soon as it is seen.
        for version in ALL {
            assert_malformed(
                version,
                &[0xD0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
                DecodeError::MalformedVarInt,
                ReasonCode::MalformedPacket,
            );
            assert_malformed(
                version,
                &[0x30, 0x80, 0x80, 0x80, 0x80],
                DecodeError::MalformedVarInt,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn non_minimal_remaining_length_is_malformed() {
        // [MQTT-1.5.5-1]: 0 as 80 00, 2 as 82 00.
        for version in ALL {
            assert_malformed(
                version,
                &[0xC0, 0x80, 0x00],
                DecodeError::MalformedVarInt,
                ReasonCode::MalformedPacket,
            );
            assert_malformed(
                version,
                &[0x40, 0x82, 0x80, 0x00, 0x00, 0x01],
                DecodeError::MalformedVarInt,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn packet_too_large_is_reported_from_the_fixed_header_alone() {
        // The first five bytes of a PUBLISH announcing the largest body there is, 268,435,455 bytes.
        let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
        for version in ALL {
            let mut buf = BytesMut::from(&header[..]);
            let expected = DecodeError::PacketTooLarge {
                size: 1 + 4 + 268_435_455,
                max: 1024,
            };
            assert_eq!(Packet::decode(&mut buf, version, 1024), Err(expected));
            assert_eq!(expected.reason_code(), ReasonCode::PacketTooLarge);
            assert_eq!(&buf[..], &header, "nothing consumed");
            // Nor was room for the announced body reserved.
            assert!(buf.capacity() < 1024);
        }
    }

    #[test]
    fn an_announced_packet_is_not_allocated_up_front() {
        // The same header under the largest limit: admitted, so decode waits for the body, reserving at most
        // RESERVE_LIMIT ahead of what has arrived rather than the 256 MiB announced.
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F][..]);
        assert_eq!(Packet::decode(&mut buf, V311, MAX_PACKET_SIZE), Ok(None));
        assert_eq!(buf.len(), 5);
        assert!(buf.capacity() >= RESERVE_LIMIT, "room for the next bytes is reserved");
        assert!(buf.capacity() <= 2 * RESERVE_LIMIT, "reserved {} bytes", buf.capacity());
    }

    #[test]
    fn the_size_limit_counts_the_fixed_header() {
        // PINGREQ is two bytes: a limit of 2 admits it, 1 does not.
        for version in ALL {
            let mut buf = BytesMut::from(&[0xC0, 0x00][..]);
            assert_eq!(Packet::decode(&mut buf, version, 2), Ok(Some(Packet::PingReq)));
            let mut buf = BytesMut::from(&[0xC0, 0x00][..]);
            assert_eq!(
                Packet::decode(&mut buf, version, 1),
                Err(DecodeError::PacketTooLarge { size: 2, max: 1 })
            );
            // A packet at exactly the limit that is not all here yet simply needs more bytes.
            let mut buf = BytesMut::from(&[0x30, 0x7F, 0x00][..]);
            assert_eq!(Packet::decode(&mut buf, version, 129), Ok(None));
            assert_eq!(
                Packet::decode(&mut buf, version, 128),
                Err(DecodeError::PacketTooLarge { size: 129, max: 128 })
            );
        }
    }

    #[test]
    fn two_packets_back_to_back_decode_one_at_a_time() {
        // PUBACK 7 then PINGRESP, as 3.1.1 sends them.
        let mut buf = BytesMut::from(&[0x40, 0x02, 0x00, 0x07, 0xD0, 0x00][..]);
        assert_eq!(
            Packet::decode(&mut buf, V311, MAX_PACKET_SIZE),
            Ok(Some(Packet::PubAck(Ack::new(pid(7)))))
        );
        assert_eq!(&buf[..], &[0xD0, 0x00]);
        assert_eq!(
            Packet::decode(&mut buf, V311, MAX_PACKET_SIZE),
            Ok(Some(Packet::PingResp))
        );
        assert!(buf.is_empty());
        assert_eq!(Packet::decode(&mut buf, V311, MAX_PACKET_SIZE), Ok(None));
    }

    #[test]
    fn an_error_in_the_body_consumes_nothing_and_leaves_what_follows() {
        // PINGREQ with a one-byte body, then a PINGRESP.
        let bytes = [0xC0, 0x01, 0x00, 0xD0, 0x00];
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(
            Packet::decode(&mut buf, V5, MAX_PACKET_SIZE),
            Err(DecodeError::TrailingBytes(PacketType::PingReq))
        );
        assert_eq!(&buf[..], &bytes);
    }

    #[test]
    fn encode_refuses_a_packet_above_the_limit_and_writes_nothing() {
        let publish = Packet::Publish(Publish::new(topic("a/b"), Bytes::from_static(&[0xAB; 100])));
        // 1 type byte + 1 length byte + 2 + 3 topic + 100 payload.
        assert_eq!(publish.encoded_len(V311), Ok(107));
        let mut buf = BytesMut::from(&b"earlier"[..]);
        assert_eq!(
            publish.encode(V311, &mut buf, 106),
            Err(EncodeError::PacketTooLarge { size: 107, max: 106 })
        );
        assert_eq!(&buf[..], b"earlier", "nothing written");
        publish.encode(V311, &mut buf, 107).unwrap();
        assert_eq!(buf.len(), 7 + 107);
        // In MQTT 5 the empty property length adds one byte.
        assert_eq!(
            publish.encode(V5, &mut BytesMut::new(), 107),
            Err(EncodeError::PacketTooLarge { size: 108, max: 107 })
        );
    }

    #[test]
    fn encode_appends_after_what_the_buffer_holds() {
        let mut buf = BytesMut::from(&[0xC0, 0x00][..]);
        Packet::PingResp.encode(V311, &mut buf, MAX_PACKET_SIZE).unwrap();
        assert_eq!(&buf[..], &[0xC0, 0x00, 0xD0, 0x00]);
    }

    #[test]
    fn remaining_length_of_two_bytes() {
        // A 3.1.1 PUBLISH with a 200-byte body: remaining length 200 = C8 01 (section 1.5.5).
        let mut bytes = vec![0x30, 0xC8, 0x01, 0x00, 0x01, b't'];
        bytes.extend_from_slice(&[0x5A; 197]);
        assert_vector(
            V311,
            &bytes,
            Packet::Publish(Publish::new(topic("t"), Bytes::from_static(&[0x5A; 197]))),
        );
    }
}
