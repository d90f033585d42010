//! PUBACK, PUBREC, PUBREL and PUBCOMP (sections 3.4 to 3.7): the QoS 1 and QoS 2 acknowledgements, which share
//! one layout.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_packet_id, reason_tail};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::Reader;

/// The body of PUBACK, PUBREC, PUBREL or PUBCOMP; [`super::Packet`]'s variant says which. MQTT 3.x carries only the
/// packet identifier: its encoder leaves out the reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The packet identifier of the PUBLISH (or PUBREL) being acknowledged.
    pub packet_id: PacketId,
    /// MQTT 5 outcome.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: a reason string and user properties.
    pub properties: Properties,
}

impl Ack {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(packet: PacketType, r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        if !version.is_v5() {
            return Ok(Self::new(packet_id));
        }
        let (reason_code, properties) = reason_tail::decode(r, packet, Context::PUB_RESPONSE)?;
        Ok(Self {
            packet_id,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, packet: PacketType, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        Ok(2 + reason_tail::len(self.reason_code, &self.properties, packet, Context::PUB_RESPONSE)?)
    }

    pub(crate) fn encode_body(&self, _packet: PacketType, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, Context::PUB_RESPONSE, buf);
        }
    }
}
