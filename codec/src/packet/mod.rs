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
    /// reserved). On success exactly that packet's bytes are consumed. `max_packet_size` is checked against the
    /// size the fixed header announces, before the body is buffered. A CONNECT carries its own protocol version;
    /// `version` applies to every other packet.
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
        if packet_type != PacketType::Publish && flags != packet_type.fixed_flags() {
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
        let mut frame = buf.split_to(size).freeze();
        let mut r = Reader::new(frame.split_off(1 + len_bytes));
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
        Ok(Some(packet))
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
