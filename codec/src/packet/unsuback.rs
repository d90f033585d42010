//! UNSUBACK (section 3.11): the answer to UNSUBSCRIBE; MQTT 5 adds a reason code per filter.

use bytes::{BufMut, BytesMut};

use super::{PacketType, check_reason, read_packet_id, read_reason};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::Reader;

/// An unsubscribe acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The UNSUBSCRIBE's packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties: reason string, user properties.
    pub properties: Properties,
    /// MQTT 5: one per filter, in order. Empty in MQTT 3.x, which has no payload here.
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let mut ack = Self {
            packet_id,
            properties: Properties::default(),
            reason_codes: Vec::new(),
        };
        if version.is_v5() {
            ack.properties = Properties::decode(r, Context::UNSUBACK)?;
            while !r.is_empty() {
                ack.reason_codes.push(read_reason(r, PacketType::UnsubAck)?);
            }
        }
        Ok(ack)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        for reason in &self.reason_codes {
            check_reason(*reason, PacketType::UnsubAck)?;
        }
        Ok(2 + self.properties.encoded_len(Context::UNSUBACK)? + self.reason_codes.len())
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::UNSUBACK, buf);
            for reason in &self.reason_codes {
                buf.put_u8(reason.as_u8());
            }
        }
    }
}
