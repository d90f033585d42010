//! DISCONNECT (section 3.14): the last packet of a connection, from either side in MQTT 5, from the client in 3.x.

use bytes::BytesMut;

use super::{PacketType, reason_tail};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::reason::ReasonCode;
use crate::types::ProtocolVersion;
use crate::wire::Reader;

/// A disconnect notification. MQTT 3.x DISCONNECT is empty: its encoder leaves out reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why the connection ends; 0x00 is a normal disconnection (the will is not published), 0x04 asks the server to
    /// publish the will.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: session expiry interval, reason string, user properties, server reference.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        if !version.is_v5() {
            return Ok(Self::new(ReasonCode::NORMAL_DISCONNECTION));
        }
        let (reason_code, properties) = reason_tail::decode(r, PacketType::Disconnect, Context::DISCONNECT)?;
        Ok(Self {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(0);
        }
        reason_tail::len(
            self.reason_code,
            &self.properties,
            PacketType::Disconnect,
            Context::DISCONNECT,
        )
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        if version.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, Context::DISCONNECT, buf);
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

    #[test]
    fn v3_is_empty() {
        for version in [V31, V311] {
            assert_vector(
                version,
                &[0xE0, 0x00],
                Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
            );
            // Nothing but the fixed header is written, whatever the reason.
            let p = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage));
            assert_eq!(&encode(version, &p).unwrap()[..], &[0xE0, 0x00]);
            assert_malformed(
                version,
                &[0xE0, 0x01, 0x00],
                DecodeError::TrailingBytes(PacketType::Disconnect),
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn v5_zero_bytes_is_a_normal_disconnection() {
        // Section 3.14.2.1: a Remaining Length of 0 means 0x00 and no properties.
        assert_vector(
            V5,
            &[0xE0, 0x00],
            Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
        );
    }

    #[test]
    fn v5_reason_only() {
        assert_vector(
            V5,
            &[0xE0, 0x01, 0x04],
            Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
        );
    }

    #[test]
    fn v5_reason_and_properties() {
        let bytes = [
            0xE0, 0x1C, // DISCONNECT, remaining length 28
            0x8B, // server shutting down
            0x1A, // 26 bytes of properties
            0x11, 0x00, 0x00, 0x00, 0x00, // session expiry interval 0
            0x1C, 0x00, 0x05, b'o', b't', b'h', b'e', b'r', // server reference
            0x1F, 0x00, 0x03, b'b', b'y', b'e', // reason string
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
        ];
        let expected = Disconnect {
            reason_code: ReasonCode::ServerShuttingDown,
            properties: Properties {
                session_expiry_interval: Some(0),
                server_reference: Some(s("other")),
                user_properties: vec![user("k", "v")],
                ..reason_string("bye")
            },
        };
        assert_vector(V5, &bytes, Packet::Disconnect(expected));
    }

    #[test]
    fn v5_malformed_disconnect() {
        for code in [0x01, 0x18, 0x10] {
            assert_malformed(
                V5,
                &[0xE0, 0x01, code],
                DecodeError::InvalidReasonCode {
                    packet: PacketType::Disconnect,
                    code,
                },
                ReasonCode::MalformedPacket,
            );
        }
        assert_malformed(
            V5,
            &[0xE0, 0x05, 0x00, 0x03, 0x12, 0x00, 0x00],
            DecodeError::PropertyNotAllowed {
                id: 0x12,
                packet: "DISCONNECT",
            },
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0xE0, 0x02, 0x00, 0x05],
            DecodeError::UnexpectedEnd("properties"),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn encode_refuses_invalid_reason_codes() {
        assert_eq!(
            encode(
                V5,
                &Packet::Disconnect(Disconnect::new(ReasonCode::ContinueAuthentication))
            ),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::Disconnect,
                code: 0x18
            })
        );
    }
}
