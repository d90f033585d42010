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

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::Packet;

    fn unsuback(packet_id: u16, properties: Properties, reason_codes: &[ReasonCode]) -> Packet {
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(packet_id),
            properties,
            reason_codes: reason_codes.to_vec(),
        })
    }

    #[test]
    fn v3_is_just_the_packet_id() {
        for version in [V31, V311] {
            assert_vector(
                version,
                &[0xB0, 0x02, 0x00, 0x07],
                unsuback(7, Properties::default(), &[]),
            );
            // MQTT 3.x has no reason codes to write.
            let p = unsuback(7, reason_string("x"), &[ReasonCode::NoSubscriptionExisted]);
            assert_eq!(&encode(version, &p).unwrap()[..], &[0xB0, 0x02, 0x00, 0x07]);
        }
    }

    #[test]
    fn v5_minimal_and_full() {
        assert_vector(
            V5,
            &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x00],
            unsuback(1, Properties::default(), &[ReasonCode::Success]),
        );
        let bytes = [
            0xB0, 0x0B, // UNSUBACK, remaining length 11
            0x00, 0x02, //
            0x05, 0x1F, 0x00, 0x02, b'o', b'k', // reason string
            0x00, 0x11, 0x87, // success, no subscription existed, not authorized
        ];
        let expected = unsuback(
            2,
            reason_string("ok"),
            &[
                ReasonCode::Success,
                ReasonCode::NoSubscriptionExisted,
                ReasonCode::NotAuthorized,
            ],
        );
        assert_vector(V5, &bytes, expected);
    }

    #[test]
    fn malformed_unsuback() {
        assert_malformed(
            V311,
            &[0xB0, 0x03, 0x00, 0x01, 0x00],
            DecodeError::TrailingBytes(PacketType::UnsubAck),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x10],
            DecodeError::InvalidReasonCode {
                packet: PacketType::UnsubAck,
                code: 0x10,
            },
            ReasonCode::MalformedPacket,
        );
        // MQTT 5 UNSUBACK always has a property length.
        assert_malformed(
            V5,
            &[0xB0, 0x02, 0x00, 0x01],
            DecodeError::UnexpectedEnd("property length"),
            ReasonCode::MalformedPacket,
        );
        for version in ALL {
            assert_malformed(
                version,
                &[0xB0, 0x02, 0x00, 0x00],
                DecodeError::ZeroPacketId,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn encode_refuses_invalid_reason_codes() {
        assert_eq!(
            encode(V5, &unsuback(1, Properties::default(), &[ReasonCode::GrantedQoS1])),
            Err(crate::EncodeError::InvalidReasonCode {
                packet: PacketType::UnsubAck,
                code: 0x01
            })
        );
    }
}
