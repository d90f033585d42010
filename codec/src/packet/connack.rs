//! CONNACK (section 3.2): the server's answer to CONNECT.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_reason};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// A connection acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed an existing session (always false with a refusal, [MQTT-3.2.2-6]).
    pub session_present: bool,
    /// The outcome. MQTT 3.x carries only six return codes; see [`ReasonCode::v3_connack_code`].
    pub reason_code: ReasonCode,
    /// MQTT 5 CONNACK properties: what the server supports and its limits.
    pub properties: Properties,
}

impl ConnAck {
    /// A CONNACK with the given outcome and no properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::ConnAckReservedFlags);
        }
        let (reason_code, properties) = if version.is_v5() {
            let reason = read_reason(r, PacketType::ConnAck)?;
            (reason, Properties::decode(r, Context::CONNACK)?)
        } else {
            let code = r.u8("connect return code")?;
            let reason = ReasonCode::from_v3_connack_code(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?;
            (reason, Properties::default())
        };
        Ok(Self {
            // MQTT 3.1 has no session present flag: its first byte is "reserved, not used", and the encoder writes 0.
            session_present: flags & 1 != 0 && version != ProtocolVersion::V31,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version.is_v5() {
            super::check_reason(self.reason_code, PacketType::ConnAck)?;
            Ok(2 + self.properties.encoded_len(Context::CONNACK)?)
        } else {
            Ok(2)
        }
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        // MQTT 3.1 has no session present flag; its byte is reserved.
        buf.put_u8(u8::from(self.session_present && version != ProtocolVersion::V31));
        if version.is_v5() {
            buf.put_u8(self.reason_code.as_u8());
            self.properties.encode(Context::CONNACK, buf);
        } else {
            buf.put_u8(self.reason_code.v3_connack_code());
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::types::QoS;
    use crate::{DecodeError, EncodeError, Packet};

    fn connack(session_present: bool, reason: ReasonCode) -> Packet {
        Packet::ConnAck(ConnAck::new(session_present, reason))
    }

    #[test]
    fn v31_accepted_and_refused() {
        assert_vector(V31, &[0x20, 0x02, 0x00, 0x00], connack(false, ReasonCode::Success));
        assert_vector(
            V31,
            &[0x20, 0x02, 0x00, 0x05],
            connack(false, ReasonCode::NotAuthorized),
        );
    }

    #[test]
    fn v31_has_no_session_present_flag() {
        // The first byte is reserved and unused in 3.1: bit 0 means nothing and is written as 0.
        assert_eq!(
            decode(V31, &[0x20, 0x02, 0x01, 0x00]),
            Ok(Some(connack(false, ReasonCode::Success)))
        );
        assert_eq!(
            &encode(V31, &connack(true, ReasonCode::Success)).unwrap()[..],
            &[0x20, 0x02, 0x00, 0x00]
        );
    }

    #[test]
    fn v311_session_present() {
        assert_vector(V311, &[0x20, 0x02, 0x01, 0x00], connack(true, ReasonCode::Success));
    }

    #[test]
    fn v3_return_codes() {
        // Table 3.1 of 3.1.1, the same six codes as 3.1.
        let codes = [
            (0x00, ReasonCode::Success),
            (0x01, ReasonCode::UnsupportedProtocolVersion),
            (0x02, ReasonCode::ClientIdentifierNotValid),
            (0x03, ReasonCode::ServerUnavailable),
            (0x04, ReasonCode::BadUserNameOrPassword),
            (0x05, ReasonCode::NotAuthorized),
        ];
        for version in [V31, V311] {
            for (code, reason) in codes {
                assert_vector(version, &[0x20, 0x02, 0x00, code], connack(false, reason));
            }
        }
    }

    #[test]
    fn v3_encoding_maps_mqtt5_refusals_to_the_nearest_return_code() {
        for (reason, code) in [
            (ReasonCode::Banned, 0x05),
            (ReasonCode::BadAuthenticationMethod, 0x04),
            (ReasonCode::ServerBusy, 0x03),
            (ReasonCode::MalformedPacket, 0x03),
        ] {
            assert_eq!(
                &encode(V311, &connack(false, reason)).unwrap()[..],
                &[0x20, 0x02, 0x00, code],
                "{reason:?}"
            );
        }
    }

    #[test]
    fn v5_minimal_and_refused() {
        assert_vector(V5, &[0x20, 0x03, 0x00, 0x00, 0x00], connack(false, ReasonCode::Success));
        assert_vector(
            V5,
            &[0x20, 0x03, 0x00, 0x87, 0x00],
            connack(false, ReasonCode::NotAuthorized),
        );
        assert_vector(
            V5,
            &[0x20, 0x03, 0x00, 0x9C, 0x00],
            connack(false, ReasonCode::UseAnotherServer),
        );
    }

    #[test]
    fn v5_with_server_capabilities() {
        let bytes = [
            0x20, 0x5C, // CONNACK, remaining length 92
            0x01, // session present
            0x00, // success
            0x59, // 89 bytes of properties
            0x11, 0xFF, 0xFF, 0xFF, 0xFF, // session expiry interval: never
            0x12, 0x00, 0x06, b'a', b'u', b't', b'o', b'-', b'1', // assigned client identifier
            0x13, 0x00, 0x78, // server keep alive 120
            0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // authentication method
            0x16, 0x00, 0x01, 0x09, // authentication data
            0x1A, 0x00, 0x05, b'r', b'e', b's', b'p', b'/', // response information
            0x1C, 0x00, 0x0A, b'o', b't', b'h', b'e', b'r', b':', b'1', b'8', b'8', b'3', // server reference
            0x1F, 0x00, 0x02, b'o', b'k', // reason string
            0x21, 0x00, 0x64, // receive maximum 100
            0x22, 0x00, 0x10, // topic alias maximum 16
            0x24, 0x01, // maximum QoS 1
            0x25, 0x00, // retain not available
            0x26, 0x00, 0x03, b's', b'r', b'v', 0x00, 0x05, b'r', b'o', b'o', b's', b't', // user property
            0x27, 0x00, 0x10, 0x00, 0x00, // maximum packet size 1 MiB
            0x28, 0x00, // wildcard subscriptions not available
            0x29, 0x00, // subscription identifiers not available
            0x2A, 0x01, // shared subscriptions available
        ];
        let expected = ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: Properties {
                session_expiry_interval: Some(u32::MAX),
                assigned_client_identifier: Some(s("auto-1")),
                server_keep_alive: Some(120),
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(b(&[9])),
                response_information: Some(s("resp/")),
                server_reference: Some(s("other:1883")),
                reason_string: Some(s("ok")),
                receive_maximum: Some(nz16(100)),
                topic_alias_maximum: Some(16),
                maximum_qos: Some(QoS::AtLeastOnce),
                retain_available: Some(false),
                user_properties: vec![user("srv", "roost")],
                maximum_packet_size: Some(nz32(1 << 20)),
                wildcard_subscription_available: Some(false),
                subscription_identifier_available: Some(false),
                shared_subscription_available: Some(true),
                ..Properties::default()
            },
        };
        assert_vector(V5, &bytes, Packet::ConnAck(expected));
    }

    #[test]
    fn reserved_acknowledge_flags() {
        // [MQTT-3.2.2-1]: bits 7-1 are reserved.
        assert_malformed(
            V311,
            &[0x20, 0x02, 0x02, 0x00],
            DecodeError::ConnAckReservedFlags,
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0x20, 0x03, 0x80, 0x00, 0x00],
            DecodeError::ConnAckReservedFlags,
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn bad_return_codes() {
        for version in [V31, V311] {
            assert_malformed(
                version,
                &[0x20, 0x02, 0x00, 0x06],
                DecodeError::InvalidReasonCode {
                    packet: PacketType::ConnAck,
                    code: 0x06,
                },
                ReasonCode::MalformedPacket,
            );
        }
        // MQTT 5: 0x04 and 0x01 are reason codes, but not CONNACK's (section 3.2.2.2); 0x03 is none at all.
        for code in [0x04, 0x01, 0x03, 0x8E] {
            assert_malformed(
                V5,
                &[0x20, 0x03, 0x00, code, 0x00],
                DecodeError::InvalidReasonCode {
                    packet: PacketType::ConnAck,
                    code,
                },
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn v5_connack_property_rules() {
        let cases: [(&[u8], DecodeError, ReasonCode); 5] = [
            (
                &[0x02, 0x24, 0x02],
                DecodeError::InvalidPropertyValue(0x24),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x02, 0x25, 0x02],
                DecodeError::InvalidPropertyValue(0x25),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x02, 0x2A, 0xFF],
                DecodeError::InvalidPropertyValue(0x2A),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x03, 0x23, 0x00, 0x01],
                DecodeError::PropertyNotAllowed {
                    id: 0x23,
                    packet: "CONNACK",
                },
                ReasonCode::MalformedPacket,
            ),
            (
                &[0x04, 0x24, 0x00, 0x24, 0x01],
                DecodeError::DuplicateProperty(0x24),
                ReasonCode::ProtocolError,
            ),
        ];
        for (props, error, reason) in cases {
            assert_malformed(V5, &frame(0x20, &[&[0x00, 0x00][..], props].concat()), error, reason);
        }
    }

    #[test]
    fn length_must_fit_the_version() {
        // MQTT 5 CONNACK always has a property length; MQTT 3.x CONNACK is exactly two bytes.
        assert_malformed(
            V5,
            &[0x20, 0x02, 0x00, 0x00],
            DecodeError::UnexpectedEnd("property length"),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V311,
            &[0x20, 0x03, 0x00, 0x00, 0x00],
            DecodeError::TrailingBytes(PacketType::ConnAck),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V311,
            &[0x20, 0x01, 0x00],
            DecodeError::UnexpectedEnd("connect return code"),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn encode_refuses_invalid_reason_codes_and_values() {
        assert_eq!(
            encode(V5, &connack(false, ReasonCode::GrantedQoS1)),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code: 0x01
            })
        );
        let qos2 = ConnAck {
            properties: Properties {
                maximum_qos: Some(QoS::ExactlyOnce),
                ..Properties::default()
            },
            ..ConnAck::new(false, ReasonCode::Success)
        };
        assert_eq!(
            encode(V5, &Packet::ConnAck(qos2)),
            Err(EncodeError::InvalidPropertyValue(0x24))
        );
    }
}
