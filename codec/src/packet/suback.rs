//! SUBACK (section 3.9): one reason code per filter of the SUBSCRIBE it answers.

use bytes::{BufMut, BytesMut};

use super::{PacketType, check_reason, read_packet_id, read_reason};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::Reader;

/// A subscription acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The SUBSCRIBE's packet identifier.
    pub packet_id: PacketId,
    /// MQTT 5 properties: reason string, user properties.
    pub properties: Properties,
    /// One per filter, in order: the granted QoS or why it failed. MQTT 3.x expresses every failure as 0x80.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() {
            Properties::decode(r, Context::SUBACK)?
        } else {
            Properties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let reason = if version.is_v5() {
                read_reason(r, PacketType::SubAck)?
            } else {
                // 3.1.1 return codes: 0x00, 0x01, 0x02 granted, 0x80 failure ([MQTT-3.9.3-2]).
                match r.u8("return code")? {
                    0x00 => ReasonCode::GRANTED_QOS0,
                    0x01 => ReasonCode::GrantedQoS1,
                    0x02 => ReasonCode::GrantedQoS2,
                    0x80 => ReasonCode::UnspecifiedError,
                    code => {
                        return Err(DecodeError::InvalidReasonCode {
                            packet: PacketType::SubAck,
                            code,
                        });
                    }
                }
            };
            reason_codes.push(reason);
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        for reason in &self.reason_codes {
            check_reason(*reason, PacketType::SubAck)?;
        }
        let properties = if version.is_v5() {
            self.properties.encoded_len(Context::SUBACK)?
        } else {
            0
        };
        Ok(2 + properties + self.reason_codes.len())
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::SUBACK, buf);
        }
        for reason in &self.reason_codes {
            let byte = if version.is_v5() || !reason.is_error() {
                reason.as_u8()
            } else {
                0x80
            };
            buf.put_u8(byte);
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

    fn suback(packet_id: u16, properties: Properties, reason_codes: &[ReasonCode]) -> Packet {
        Packet::SubAck(SubAck {
            packet_id: pid(packet_id),
            properties,
            reason_codes: reason_codes.to_vec(),
        })
    }

    #[test]
    fn v3_granted_and_failure() {
        let one = suback(1, Properties::default(), &[ReasonCode::GrantedQoS1]);
        let three = suback(
            2,
            Properties::default(),
            &[
                ReasonCode::GRANTED_QOS0,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
        );
        for version in [V31, V311] {
            assert_vector(version, &[0x90, 0x03, 0x00, 0x01, 0x01], one.clone());
            // [MQTT-3.9.3-2]: 0x00, 0x01, 0x02 granted, 0x80 failure.
            assert_vector(version, &[0x90, 0x05, 0x00, 0x02, 0x00, 0x02, 0x80], three.clone());
        }
    }

    #[test]
    fn v5_minimal() {
        assert_vector(
            V5,
            &[0x90, 0x04, 0x00, 0x01, 0x00, 0x00],
            suback(1, Properties::default(), &[ReasonCode::GRANTED_QOS0]),
        );
    }

    #[test]
    fn v5_with_properties_and_failure_reasons() {
        let bytes = [
            0x90, 0x10, // SUBACK, remaining length 16
            0x00, 0x03, //
            0x05, 0x1F, 0x00, 0x02, b'o', b'k', // reason string
            0x00, 0x01, 0x02, // granted QoS 0, 1, 2
            0x87, 0x8F, 0x9E, 0xA1, 0xA2, // not authorized, bad filter, shared / ids / wildcards not supported
        ];
        let expected = suback(
            3,
            reason_string("ok"),
            &[
                ReasonCode::GRANTED_QOS0,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::NotAuthorized,
                ReasonCode::TopicFilterInvalid,
                ReasonCode::SharedSubscriptionsNotSupported,
                ReasonCode::SubscriptionIdentifiersNotSupported,
                ReasonCode::WildcardSubscriptionsNotSupported,
            ],
        );
        assert_vector(V5, &bytes, expected);
    }

    #[test]
    fn return_codes_the_version_does_not_have() {
        for (version, code) in [
            (V311, 0x03),
            (V311, 0x87),
            (V31, 0x81),
            (V5, 0x04),
            (V5, 0x10),
            (V5, 0x03),
        ] {
            let bytes = if version == V5 {
                vec![0x90, 0x04, 0x00, 0x01, 0x00, code]
            } else {
                vec![0x90, 0x03, 0x00, 0x01, code]
            };
            assert_malformed(
                version,
                &bytes,
                DecodeError::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code,
                },
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn packet_id_0_and_properties() {
        for version in ALL {
            assert_malformed(
                version,
                &[0x90, 0x04, 0x00, 0x00, 0x00, 0x00],
                DecodeError::ZeroPacketId,
                ReasonCode::MalformedPacket,
            );
        }
        assert_malformed(
            V5,
            &[0x90, 0x07, 0x00, 0x01, 0x03, 0x23, 0x00, 0x01, 0x00],
            DecodeError::PropertyNotAllowed {
                id: 0x23,
                packet: "SUBACK",
            },
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn v3_encoding_reports_every_failure_as_0x80() {
        let p = suback(
            1,
            reason_string("dropped in 3.x"),
            &[ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1],
        );
        assert_eq!(&encode(V311, &p).unwrap()[..], &[0x90, 0x04, 0x00, 0x01, 0x80, 0x01]);
        let bad = suback(1, Properties::default(), &[ReasonCode::NoMatchingSubscribers]);
        assert_eq!(
            encode(V5, &bad),
            Err(crate::EncodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code: 0x10
            })
        );
    }
}
