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

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::{DecodeError, EncodeError, Packet};

    /// Wraps an acknowledgement's body in its packet.
    type Wrap = fn(Ack) -> Packet;

    /// The four acknowledgements: first byte, type, and how to wrap the body.
    const ACKS: [(u8, PacketType, Wrap); 4] = [
        (0x40, PacketType::PubAck, Packet::PubAck),
        (0x50, PacketType::PubRec, Packet::PubRec),
        (0x62, PacketType::PubRel, Packet::PubRel),
        (0x70, PacketType::PubComp, Packet::PubComp),
    ];

    fn ack(packet_id: u16, reason_code: ReasonCode, properties: Properties) -> Ack {
        Ack {
            packet_id: pid(packet_id),
            reason_code,
            properties,
        }
    }

    #[test]
    fn v3_is_just_the_packet_id() {
        for version in [V31, V311] {
            assert_vector(version, &[0x40, 0x02, 0x00, 0x01], Packet::PubAck(Ack::new(pid(1))));
            assert_vector(version, &[0x50, 0x02, 0x00, 0x02], Packet::PubRec(Ack::new(pid(2))));
            assert_vector(version, &[0x62, 0x02, 0x00, 0x03], Packet::PubRel(Ack::new(pid(3))));
            assert_vector(
                version,
                &[0x70, 0x02, 0xFF, 0xFF],
                Packet::PubComp(Ack::new(pid(65535))),
            );
        }
    }

    #[test]
    fn v5_two_byte_form_is_success_without_properties() {
        // Sections 3.4.2.1 to 3.7.2.1: reason code and properties may be left out.
        for (first, _, wrap) in ACKS {
            assert_vector(V5, &[first, 0x02, 0x01, 0x00], wrap(Ack::new(pid(256))));
        }
    }

    #[test]
    fn v5_three_byte_form_is_a_reason_without_properties() {
        let cases = [
            (
                [0x40, 0x03, 0x00, 0x01, 0x10],
                Packet::PubAck(ack(1, ReasonCode::NoMatchingSubscribers, Properties::default())),
            ),
            (
                [0x50, 0x03, 0x00, 0x02, 0x97],
                Packet::PubRec(ack(2, ReasonCode::QuotaExceeded, Properties::default())),
            ),
            (
                [0x62, 0x03, 0x00, 0x03, 0x92],
                Packet::PubRel(ack(3, ReasonCode::PacketIdentifierNotFound, Properties::default())),
            ),
            (
                [0x70, 0x03, 0x00, 0x04, 0x92],
                Packet::PubComp(ack(4, ReasonCode::PacketIdentifierNotFound, Properties::default())),
            ),
        ];
        for (bytes, expected) in cases {
            assert_vector(V5, &bytes, expected);
        }
    }

    #[test]
    fn v5_full_form() {
        let bytes = [
            0x40, 0x14, // PUBACK, remaining length 20
            0x00, 0x01, // packet identifier
            0x87, // not authorized
            0x10, // 16 bytes of properties
            0x1F, 0x00, 0x06, b'd', b'e', b'n', b'i', b'e', b'd', // reason string
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
        ];
        let properties = Properties {
            user_properties: vec![user("k", "v")],
            ..reason_string("denied")
        };
        assert_vector(
            V5,
            &bytes,
            Packet::PubAck(ack(1, ReasonCode::NotAuthorized, properties)),
        );
        // Success with properties needs the full form too.
        let bytes = [0x70, 0x09, 0x00, 0x04, 0x00, 0x05, 0x1F, 0x00, 0x02, b'o', b'k'];
        assert_vector(
            V5,
            &bytes,
            Packet::PubComp(ack(4, ReasonCode::Success, reason_string("ok"))),
        );
    }

    #[test]
    fn v5_longer_forms_of_success_decode_the_same() {
        // A sender may spell out what the short form leaves implicit; the encoder always uses the shortest.
        for bytes in [
            &[0x40, 0x03, 0x00, 0x01, 0x00][..],
            &[0x40, 0x04, 0x00, 0x01, 0x00, 0x00],
        ] {
            assert_eq!(decode(V5, bytes), Ok(Some(Packet::PubAck(Ack::new(pid(1))))));
        }
        assert_eq!(
            &encode(V5, &Packet::PubAck(Ack::new(pid(1)))).unwrap()[..],
            &[0x40, 0x02, 0x00, 0x01]
        );
        // A reason with an empty property block becomes the three-byte form.
        assert_eq!(
            decode(V5, &[0x50, 0x04, 0x00, 0x01, 0x80, 0x00]),
            Ok(Some(Packet::PubRec(ack(
                1,
                ReasonCode::UnspecifiedError,
                Properties::default()
            ))))
        );
    }

    #[test]
    fn v31_pubrel_may_carry_dup() {
        // MQTT 3.1 sets DUP on a re-sent PUBREL; 3.1.1 fixed the flags to 0010.
        assert_eq!(
            decode(V31, &[0x6A, 0x02, 0x00, 0x03]),
            Ok(Some(Packet::PubRel(Ack::new(pid(3)))))
        );
        assert_malformed(
            V311,
            &[0x6A, 0x02, 0x00, 0x03],
            DecodeError::ReservedFlags {
                packet: PacketType::PubRel,
                flags: 0x0A,
            },
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V31,
            &[0x60, 0x02, 0x00, 0x03],
            DecodeError::ReservedFlags {
                packet: PacketType::PubRel,
                flags: 0x00,
            },
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn packet_id_0() {
        for (first, _, _) in ACKS {
            for version in ALL {
                assert_malformed(
                    version,
                    &[first, 0x02, 0x00, 0x00],
                    DecodeError::ZeroPacketId,
                    ReasonCode::MalformedPacket,
                );
            }
        }
    }

    #[test]
    fn v311_acks_are_exactly_two_bytes() {
        for (first, packet, _) in ACKS {
            assert_malformed(
                V311,
                &[first, 0x03, 0x00, 0x01, 0x00],
                DecodeError::TrailingBytes(packet),
                ReasonCode::MalformedPacket,
            );
            assert_malformed(
                V311,
                &[first, 0x01, 0x00],
                DecodeError::UnexpectedEnd("packet identifier"),
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn reason_codes_the_packet_may_not_carry() {
        // 0x04 is DISCONNECT's; 0x92 belongs to PUBREL and PUBCOMP; 0x10 to PUBACK and PUBREC; 0x03 is no code.
        let cases = [
            (0x40, PacketType::PubAck, 0x04),
            (0x40, PacketType::PubAck, 0x92),
            (0x50, PacketType::PubRec, 0x03),
            (0x62, PacketType::PubRel, 0x10),
            (0x70, PacketType::PubComp, 0x87),
        ];
        for (first, packet, code) in cases {
            assert_malformed(
                V5,
                &[first, 0x03, 0x00, 0x01, code],
                DecodeError::InvalidReasonCode { packet, code },
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn v5_ack_property_rules() {
        let cases: [(&[u8], DecodeError, ReasonCode); 4] = [
            (
                &[0x03, 0x23, 0x00, 0x01],
                DecodeError::PropertyNotAllowed {
                    id: 0x23,
                    packet: "PUBACK/PUBREC/PUBREL/PUBCOMP",
                },
                ReasonCode::MalformedPacket,
            ),
            (
                &[0x08, 0x1F, 0x00, 0x01, b'a', 0x1F, 0x00, 0x01, b'b'],
                DecodeError::DuplicateProperty(0x1F),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x05, 0x1F, 0x00, 0x01],
                DecodeError::UnexpectedEnd("properties"),
                ReasonCode::MalformedPacket,
            ),
            // The property block ends, then a stray byte.
            (
                &[0x00, 0xFF],
                DecodeError::TrailingBytes(PacketType::PubAck),
                ReasonCode::MalformedPacket,
            ),
        ];
        for (props, error, reason) in cases {
            assert_malformed(
                V5,
                &frame(0x40, &[&[0x00, 0x01, 0x00][..], props].concat()),
                error,
                reason,
            );
        }
    }

    #[test]
    fn encoding() {
        // MQTT 3.x cannot carry the reason: only the packet identifier is written.
        let refused = ack(1, ReasonCode::NoMatchingSubscribers, reason_string("none"));
        assert_eq!(
            &encode(V311, &Packet::PubAck(refused.clone())).unwrap()[..],
            &[0x40, 0x02, 0x00, 0x01]
        );
        // A reason code the packet may not carry is refused in MQTT 5.
        assert_eq!(
            encode(V5, &Packet::PubRel(refused)),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::PubRel,
                code: 0x10
            })
        );
    }
}
