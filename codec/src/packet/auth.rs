//! AUTH (section 3.15): MQTT 5 extended authentication exchanges.

use bytes::BytesMut;

use super::{PacketType, reason_tail};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// An authentication exchange step. MQTT 5 only: MQTT 3.x has no packet type 15.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// Authentication method and data, reason string, user properties.
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let (reason_code, properties) = reason_tail::decode(r, PacketType::Auth, Context::AUTH)?;
        Ok(Self {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::UnsupportedInVersion("AUTH"));
        }
        reason_tail::len(self.reason_code, &self.properties, PacketType::Auth, Context::AUTH)
    }

    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        reason_tail::encode(self.reason_code, &self.properties, Context::AUTH, buf);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::{EncodeError, Packet};

    fn auth(reason_code: ReasonCode, properties: Properties) -> Packet {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    }

    #[test]
    fn zero_bytes_is_success() {
        // Section 3.15.2.1.
        assert_vector(V5, &[0xF0, 0x00], auth(ReasonCode::Success, Properties::default()));
    }

    #[test]
    fn reason_only() {
        assert_vector(
            V5,
            &[0xF0, 0x01, 0x19],
            auth(ReasonCode::ReAuthenticate, Properties::default()),
        );
    }

    #[test]
    fn continue_with_method_and_data() {
        let bytes = [
            0xF0, 0x1B, // AUTH, remaining length 27
            0x18, // continue authentication
            0x19, // 25 bytes of properties
            0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // authentication method
            0x16, 0x00, 0x02, 0x01, 0x02, // authentication data
            0x1F, 0x00, 0x02, b'o', b'k', // reason string
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
        ];
        let properties = Properties {
            authentication_method: Some(s("SCRAM")),
            authentication_data: Some(b(&[1, 2])),
            user_properties: vec![user("k", "v")],
            ..reason_string("ok")
        };
        assert_vector(V5, &bytes, auth(ReasonCode::ContinueAuthentication, properties));
    }

    #[test]
    fn malformed_auth() {
        // [MQTT-3.15.2-1]: only Success, Continue authentication and Re-authenticate.
        assert_malformed(
            V5,
            &[0xF0, 0x01, 0x04],
            DecodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code: 0x04,
            },
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0xF0, 0x07, 0x18, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
            DecodeError::PropertyNotAllowed {
                id: 0x11,
                packet: "AUTH",
            },
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0xF0, 0x0A, 0x18, 0x08, 0x15, 0x00, 0x01, b'a', 0x15, 0x00, 0x01, b'b'],
            DecodeError::DuplicateProperty(0x15),
            ReasonCode::ProtocolError,
        );
        // Before MQTT 5 there is no packet type 15 (see also the fixed header tests).
        assert_malformed(
            V311,
            &[0xF0, 0x01, 0x18],
            DecodeError::ReservedPacketType(15),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn encoding() {
        assert_eq!(
            encode(V311, &auth(ReasonCode::Success, Properties::default())),
            Err(EncodeError::UnsupportedInVersion("AUTH"))
        );
        assert_eq!(
            encode(V5, &auth(ReasonCode::GrantedQoS1, Properties::default())),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code: 0x01
            })
        );
    }
}
