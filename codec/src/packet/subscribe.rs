//! SUBSCRIBE (section 3.8): topic filters with their subscription options.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_packet_id};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use crate::wire::{self, Reader};

/// A subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Identifies the SUBACK that answers it.
    pub packet_id: PacketId,
    /// MQTT 5 properties: at most one subscription identifier, user properties.
    pub properties: Properties,
    /// The filters in the order sent, each with its options; at least one ([MQTT-3.8.3-3]).
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;

fn decode_options(
    byte: u8,
    filter: &TopicFilter,
    version: ProtocolVersion,
) -> Result<SubscriptionOptions, DecodeError> {
    // [MQTT-3.8.3-4] (3.1.1) / [MQTT-3.8.3-5] (5.0): reserved bits must be zero.
    let reserved = if version.is_v5() { 0b1100_0000 } else { 0b1111_1100 };
    if byte & reserved != 0 {
        return Err(DecodeError::InvalidSubscriptionOptions);
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidSubscriptionOptions)?;
    let retain_handling = match (byte >> RETAIN_HANDLING_SHIFT) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    let no_local = byte & NO_LOCAL != 0;
    if no_local && filter.shared().is_some() {
        return Err(DecodeError::NoLocalOnSharedSubscription);
    }
    Ok(SubscriptionOptions {
        qos,
        no_local,
        retain_as_published: byte & RETAIN_AS_PUBLISHED != 0,
        retain_handling,
    })
}

fn encode_options(options: &SubscriptionOptions, version: ProtocolVersion) -> u8 {
    let mut byte = options.qos as u8;
    if version.is_v5() {
        if options.no_local {
            byte |= NO_LOCAL;
        }
        if options.retain_as_published {
            byte |= RETAIN_AS_PUBLISHED;
        }
        byte |= (options.retain_handling as u8) << RETAIN_HANDLING_SHIFT;
    }
    byte
}

impl Subscribe {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            Properties::decode(r, Context::SUBSCRIBE)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = TopicFilter::new(r.string("topic filter")?)?;
            let options = decode_options(r.u8("subscription options")?, &filter, version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Subscribe));
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
            len += self.properties.encoded_len(Context::SUBSCRIBE)?;
        }
        for (filter, _) in &self.filters {
            len += wire::field_len(filter.as_str().as_bytes())? + 1;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::SUBSCRIBE, buf);
        }
        for (filter, options) in &self.filters {
            wire::put_binary(buf, filter.as_str().as_bytes());
            buf.put_u8(encode_options(options, version));
        }
    }
}
