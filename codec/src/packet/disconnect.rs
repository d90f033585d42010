//! DISCONNECT (section 3.14): the last packet of a connection, from either side in MQTT 5, from the client in 3.x.

use bytes::BytesMut;

use super::{PacketType, reason_tail};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// A disconnect notification. MQTT 3.x DISCONNECT is empty: its encoder leaves out reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why the connection ends; 0x00 is a normal disconnection (the will is not published), 0x04 asks the server to
    /// publish the will.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: session expiry interval, reason string, user properties, server reference.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        if !version.is_v5() {
            return Ok(Self::new(ReasonCode::NORMAL_DISCONNECTION));
        }
        let (reason_code, properties) = reason_tail::decode(r, PacketType::Disconnect, Context::DISCONNECT)?;
        Ok(Self {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(0);
        }
        reason_tail::len(
            self.reason_code,
            &self.properties,
            PacketType::Disconnect,
            Context::DISCONNECT,
        )
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        if version.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, Context::DISCONNECT, buf);
        }
    }
}
