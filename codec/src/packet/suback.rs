//! SUBACK (section 3.9): one reason code per filter of the SUBSCRIBE it answers.

use bytes::{BufMut, BytesMut};

use super::{PacketType, check_reason, read_packet_id, read_reason};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::Reader;

/// A subscription acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The SUBSCRIBE's packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties: reason string, user properties.
    pub properties: Properties,
    /// One per filter, in order: the granted QoS or why it failed. MQTT 3.x expresses every failure as 0x80.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            Properties::decode(r, Context::SUBACK)?
        } else {
            Properties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let reason = if version.is_v5() {
                read_reason(r, PacketType::SubAck)?
            } else {
                // 3.1.1 return codes: 0x00, 0x01, 0x02 granted, 0x80 failure ([MQTT-3.9.3-2]).
                match r.u8("return code")? {
                    0x00 => ReasonCode::GRANTED_QOS0,
                    0x01 => ReasonCode::GrantedQoS1,
                    0x02 => ReasonCode::GrantedQoS2,
                    0x80 => ReasonCode::UnspecifiedError,
                    code => {
                        return Err(DecodeError::InvalidReasonCode {
                            packet: PacketType::SubAck,
                            code,
                        });
                    }
                }
            };
            reason_codes.push(reason);
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        for reason in &self.reason_codes {
            check_reason(*reason, PacketType::SubAck)?;
        }
        let properties = if version.is_v5() {
            self.properties.encoded_len(Context::SUBACK)?
        } else {
            0
        };
        Ok(2 + properties + self.reason_codes.len())
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::SUBACK, buf);
        }
        for reason in &self.reason_codes {
            let byte = if version.is_v5() || !reason.is_error() {
                reason.as_u8()
            } else {
                0x80
            };
            buf.put_u8(byte);
        }
    }
}
