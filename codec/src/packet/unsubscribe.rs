//! UNSUBSCRIBE (section 3.10): topic filters to remove.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_packet_id};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::{InvalidFilter, TopicFilter};
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{self, Reader};

/// An unsubscribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Identifies the UNSUBACK that answers it.
    pub packet_id: PacketId,
    /// MQTT 5 properties: user properties.
    pub properties: Properties,
    /// The filters to remove; at least one ([MQTT-3.10.3-2]). A received filter that is well-formed UTF-8 but
    /// not a valid topic filter is kept as `Err`, so the server can answer it alone (UNSUBACK 0x8F,
    /// [MQTT-3.11.3-1]); one that is not a well-formed string makes the packet malformed.
    pub filters: Vec<Result<TopicFilter, InvalidFilter>>,
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
            filters.push(InvalidFilter::check(r.string("topic filter")?)?);
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
            let filter = filter.as_ref().map_err(|_| EncodeError::InvalidTopicFilter)?;
            len += wire::field_len(filter.as_str().as_bytes())?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::UNSUBSCRIBE, buf);
        }
        // body_len refused invalid filters, so every one here is `Ok`.
        for filter in self.filters.iter().filter_map(|f| f.as_ref().ok()) {
            wire::put_binary(buf, filter.as_str().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::{EncodeError, Packet, ReasonCode};

    fn unsubscribe(packet_id: u16, properties: Properties, filters: &[&str]) -> Packet {
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(packet_id),
            properties,
            filters: filters.iter().map(|f| Ok(filter(f))).collect(),
        })
    }

    #[test]
    fn v3_one_and_two_filters() {
        for version in [V31, V311] {
            let bytes = [
                0xA2, 0x07, // UNSUBSCRIBE (flags 0010)
                0x00, 0x01, //
                0x00, 0x03, b'a', b'/', b'b',
            ];
            assert_vector(version, &bytes, unsubscribe(1, Properties::default(), &["a/b"]));
            let bytes = [0xA2, 0x0A, 0x00, 0x02, 0x00, 0x01, b'#', 0x00, 0x03, b'a', b'/', b'+'];
            assert_vector(version, &bytes, unsubscribe(2, Properties::default(), &["#", "a/+"]));
        }
    }

    #[test]
    fn v31_resent_with_dup() {
        let bytes = [0xAA, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'];
        assert_eq!(
            decode(V31, &bytes),
            Ok(Some(unsubscribe(1, Properties::default(), &["a"])))
        );
        assert_malformed(
            V311,
            &bytes,
            DecodeError::ReservedFlags {
                packet: PacketType::Unsubscribe,
                flags: 0x0A,
            },
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn v5_with_user_property() {
        let bytes = [
            0xA2, 0x16, // remaining length 22
            0x00, 0x03, //
            0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
            0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'a',
        ];
        let properties = Properties {
            user_properties: vec![user("k", "v")],
            ..Properties::default()
        };
        assert_vector(V5, &bytes, unsubscribe(3, properties, &["$share/g/a"]));
    }

    #[test]
    fn empty_unsubscribe() {
        // [MQTT-3.10.3-2]
        for version in [V31, V311] {
            assert_malformed(
                version,
                &[0xA2, 0x02, 0x00, 0x01],
                DecodeError::NoTopicFilters(PacketType::Unsubscribe),
                ReasonCode::ProtocolError,
            );
        }
        assert_malformed(
            V5,
            &[0xA2, 0x03, 0x00, 0x01, 0x00],
            DecodeError::NoTopicFilters(PacketType::Unsubscribe),
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn malformed_unsubscribe() {
        for version in ALL {
            let props: &[u8] = if version == V5 { &[0x00] } else { &[] };
            let with =
                |packet_id: &[u8], f: &[u8]| frame(0xA2, &[packet_id, props, &[0x00, f.len() as u8], f].concat());
            assert_malformed(
                version,
                &with(&[0x00, 0x00], b"a"),
                DecodeError::ZeroPacketId,
                ReasonCode::MalformedPacket,
            );
            // Not valid filters, but well-formed strings: kept for an UNSUBACK 0x8F of their own ([MQTT-3.11.3-1]).
            for bad in ["a/#/b", "a+", "#a", "$share/g", ""] {
                let expected = Packet::Unsubscribe(Unsubscribe {
                    packet_id: pid(1),
                    properties: Properties::default(),
                    filters: vec![Err(invalid_filter(bad))],
                });
                assert_eq!(
                    decode(version, &with(&[0x00, 0x01], bad.as_bytes())),
                    Ok(Some(expected.clone()))
                );
                assert_eq!(encode(version, &expected), Err(EncodeError::InvalidTopicFilter));
            }
            assert_malformed(
                version,
                &with(&[0x00, 0x01], b"a\0"),
                DecodeError::NullCharacter,
                ReasonCode::MalformedPacket,
            );
            assert_malformed(
                version,
                &with(&[0x00, 0x01], b"\xC3"),
                DecodeError::InvalidUtf8,
                ReasonCode::MalformedPacket,
            );
        }
        // UNSUBSCRIBE carries user properties only.
        assert_malformed(
            V5,
            &[0xA2, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x01, 0x00, 0x01, b'a'],
            DecodeError::PropertyNotAllowed {
                id: 0x0B,
                packet: "UNSUBSCRIBE",
            },
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn encode_refuses_no_filters() {
        assert_eq!(
            encode(V311, &unsubscribe(1, Properties::default(), &[])),
            Err(EncodeError::NoTopicFilters)
        );
    }
}
