//! CONNACK (section 3.2): the server's answer to CONNECT.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_reason};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// A connection acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed an existing session (always false with a refusal, [MQTT-3.2.2-6]).
    pub session_present: bool,
    /// The outcome. MQTT 3.x carries only six return codes; see [`ReasonCode::v3_connack_code`].
    pub reason_code: ReasonCode,
    /// MQTT 5 CONNACK properties: what the server supports and its limits.
    pub properties: Properties,
}

impl ConnAck {
    /// A CONNACK with the given outcome and no properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::ConnAckReservedFlags);
        }
        let (reason_code, properties) = if version.is_v5() {
            let reason = read_reason(r, PacketType::ConnAck)?;
            (reason, Properties::decode(r, Context::CONNACK)?)
        } else {
            let code = r.u8("connect return code")?;
            let reason = ReasonCode::from_v3_connack_code(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?;
            (reason, Properties::default())
        };
        Ok(Self {
            session_present: flags & 1 != 0,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version.is_v5() {
            super::check_reason(self.reason_code, PacketType::ConnAck)?;
            Ok(2 + self.properties.encoded_len(Context::CONNACK)?)
        } else {
            Ok(2)
        }
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        // MQTT 3.1 has no session present flag; its byte is reserved.
        buf.put_u8(u8::from(self.session_present && version != ProtocolVersion::V31));
        if version.is_v5() {
            buf.put_u8(self.reason_code.as_u8());
            self.properties.encode(Context::CONNACK, buf);
        } else {
            buf.put_u8(self.reason_code.v3_connack_code());
        }
    }
}
