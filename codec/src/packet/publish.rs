//! PUBLISH (section 3.3): an application message, in either direction.

use bytes::{BufMut, Bytes, BytesMut};

use super::read_packet_id;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::wire::{self, Reader};

/// The QoS of a PUBLISH together with its packet identifier: QoS 0 has none, QoS 1 and 2 must have one
/// ([MQTT-2.2.1-2], [MQTT-2.2.1-3]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoSPid {
    /// QoS 0, no packet identifier.
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl QoSPid {
    /// Pairs a QoS with a packet identifier; the identifier is ignored for QoS 0.
    pub fn new(qos: QoS, packet_id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => Self::AtMostOnce,
            QoS::AtLeastOnce => Self::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => Self::ExactlyOnce(packet_id),
        }
    }

    /// The QoS.
    pub fn qos(self) -> QoS {
        match self {
            Self::AtMostOnce => QoS::AtMostOnce,
            Self::AtLeastOnce(_) => QoS::AtLeastOnce,
            Self::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, `None` at QoS 0.
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            Self::AtMostOnce => None,
            Self::AtLeastOnce(id) | Self::ExactlyOnce(id) => Some(id),
        }
    }
}

/// A PUBLISH packet. Topic and payload are slices of the received frame: decoding copies neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// This may be a re-delivery of an earlier attempt ([MQTT-3.3.1-1]); never set at QoS 0.
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QoSPid,
    /// Retain flag: the server keeps the message for future subscribers.
    pub retain: bool,
    /// The topic name; empty only when `properties.topic_alias` names the topic (MQTT 5).
    pub topic: TopicName,
    /// MQTT 5 PUBLISH properties.
    pub properties: Properties,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos_pid: QoSPid::AtMostOnce,
            retain: false,
            topic,
            properties: Properties::default(),
            payload: payload.into(),
        }
    }

    /// The QoS.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    pub(crate) fn flags(&self) -> u8 {
        u8::from(self.dup) << 3 | (self.qos() as u8) << 1 | u8::from(self.retain)
    }

    pub(crate) fn decode(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let retain = flags & 0b0001 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        let topic = r.string("topic name")?;
        let qos_pid = match qos {
            QoS::AtMostOnce => QoSPid::AtMostOnce,
            QoS::AtLeastOnce => QoSPid::AtLeastOnce(read_packet_id(r)?),
            QoS::ExactlyOnce => QoSPid::ExactlyOnce(read_packet_id(r)?),
        };
        let properties = if version.is_v5() {
            Properties::decode(r, Context::PUBLISH)?
        } else {
            Properties::default()
        };
        let topic = if topic.is_empty() {
            // A zero-length topic name is only meaningful with a Topic Alias (section 3.3.2.3.4).
            if properties.topic_alias.is_none() {
                return Err(DecodeError::EmptyTopicName);
            }
            TopicName::empty()
        } else {
            TopicName::from_wire(topic)?
        };
        Ok(Self {
            dup,
            qos_pid,
            retain,
            topic,
            properties,
            payload: r.rest(),
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQoS0);
        }
        if self.topic.is_empty() && (!version.is_v5() || self.properties.topic_alias.is_none()) {
            return Err(EncodeError::EmptyTopicName);
        }
        let mut len = wire::field_len(self.topic.as_str().as_bytes())?;
        if self.qos_pid.packet_id().is_some() {
            len += 2;
        }
        if version.is_v5() {
            len += self.properties.encoded_len(Context::PUBLISH)?;
        }
        Ok(len + self.payload.len())
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        wire::put_binary(buf, self.topic.as_str().as_bytes());
        if let Some(id) = self.qos_pid.packet_id() {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.encode(Context::PUBLISH, buf);
        }
        buf.put_slice(&self.payload);
    }
}
