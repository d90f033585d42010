//! UNSUBSCRIBE (section 3.10): topic filters to remove.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_packet_id};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{self, Reader};

/// An unsubscribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Identifies the UNSUBACK that answers it.
    pub packet_id: PacketId,
    /// MQTT 5 properties: user properties.
    pub properties: Properties,
    /// The filters to remove; at least one ([MQTT-3.10.3-2]).
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            Properties::decode(r, Context::UNSUBSCRIBE)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(TopicFilter::new(r.string("topic filter")?)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters);
        }
        let mut len = 2;
        if version.is_v5() {
            len += self.properties.encoded_len(Context::UNSUBSCRIBE)?;
        }
        for filter in &self.filters {
            len += wire::field_len(filter.as_str().as_bytes())?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::UNSUBSCRIBE, buf);
        }
        for filter in &self.filters {
            wire::put_binary(buf, filter.as_str().as_bytes());
        }
    }
}
