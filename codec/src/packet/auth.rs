//! AUTH (section 3.15): MQTT 5 extended authentication exchanges.

use bytes::BytesMut;

use super::{PacketType, reason_tail};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// An authentication exchange step. MQTT 5 only: MQTT 3.x has no packet type 15.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// Authentication method and data, reason string, user properties.
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let (reason_code, properties) = reason_tail::decode(r, PacketType::Auth, Context::AUTH)?;
        Ok(Self {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::UnsupportedInVersion("AUTH"));
        }
        reason_tail::len(self.reason_code, &self.properties, PacketType::Auth, Context::AUTH)
    }

    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        reason_tail::encode(self.reason_code, &self.properties, Context::AUTH, buf);
    }
}
