//! CONNECT (section 3.1): the first packet a client sends.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::TopicName;
use crate::types::{ProtocolVersion, QoS};
use crate::wire::{self, Reader};

const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

/// A connection request. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version the client speaks; every later packet of the connection uses it.
    pub protocol: ProtocolVersion,
    /// Clean Session (3.x) / Clean Start (5.0): discard any existing session.
    pub clean_start: bool,
    /// Seconds of silence after which the server may consider the client gone; 0 disables keep alive.
    pub keep_alive: u16,
    /// MQTT 5 CONNECT properties.
    pub properties: Properties,
    /// The client identifier; may be empty (the server assigns one in 5.0, [MQTT-3.1.3-6]).
    pub client_id: ByteString,
    /// The message the server publishes if the connection ends abnormally.
    pub will: Option<Will>,
    /// The user name.
    pub username: Option<ByteString>,
    /// The password: binary data.
    pub password: Option<Bytes>,
    /// Sent by a bridge (not part of the standard): the Protocol Level has its top bit set (`0x83`, `0x84`),
    /// as Mosquitto's bridges send it with `try_private`. The receiving broker treats the client as a bridge: its
    /// own messages are not sent back to it, and the Retain flag is kept as published. Only MQTT 3.1 and 3.1.1
    /// have it: an MQTT 5 bridge asks for No Local and Retain As Published itself.
    pub bridge: bool,
}

/// A will message (section 3.1.3.2 to 3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic the will is published to.
    pub topic: TopicName,
    /// The will's payload.
    pub payload: Bytes,
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is published retained.
    pub retain: bool,
    /// MQTT 5 Will Properties (will delay interval, message expiry, content type, ...).
    pub properties: Properties,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("properties", &self.properties)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("bridge", &self.bridge)
            .finish()
    }
}

impl Connect {
    /// A CONNECT with the given version and client identifier, clean start, a 60 s keep alive, and nothing else.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteString>) -> Self {
        Self {
            protocol,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::default(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            bridge: false,
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary("protocol name")?;
        let level = r.u8("protocol level")?;
        // A bridge's mark: the top bit of a 3.x level (see `bridge`).
        let bridge = matches!((&name[..], level), (b"MQTT", 0x84) | (b"MQIsdp", 0x83));
        let level = if bridge { level & 0x7F } else { level };
        let protocol = match (&name[..], level) {
            (b"MQTT", 4) => ProtocolVersion::V311,
            (b"MQTT", 5) => ProtocolVersion::V5,
            (b"MQIsdp", 3) => ProtocolVersion::V31,
            (b"MQTT" | b"MQIsdp", level) => return Err(DecodeError::UnsupportedProtocolLevel(level)),
            _ => return Err(DecodeError::InvalidProtocolName),
        };
        let flags = r.u8("connect flags")?;
        if flags & RESERVED != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let has_will = flags & WILL != 0;
        let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
        let will_retain = flags & WILL_RETAIN != 0;
        if !has_will && (will_qos != 0 || will_retain) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos).ok_or(DecodeError::InvalidWillQoS)?;
        if !protocol.is_v5() && flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = if protocol.is_v5() {
            Properties::decode(r, Context::CONNECT)?
        } else {
            Properties::default()
        };
        let client_id = r.string("client identifier")?;
        let will = if has_will {
            let properties = if protocol.is_v5() {
                Properties::decode(r, Context::WILL)?
            } else {
                Properties::default()
            };
            // [MQTT-3.1.3-10]: the will topic is a topic name, so it cannot be empty or hold wildcards.
            let topic = TopicName::new(r.string("will topic")?)?;
            let payload = r.binary("will payload")?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary("password")?)
        } else {
            None
        };
        Ok(Self {
            protocol,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
            bridge,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL | (will.qos as u8) << WILL_QOS_SHIFT;
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        flags
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        let v5 = self.protocol.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::UnsupportedInVersion("a password without a user name"));
        }
        let mut len = wire::field_len(self.protocol.protocol_name().as_bytes())? + 1 + 1 + 2;
        if v5 {
            len += self.properties.encoded_len(Context::CONNECT)?;
        }
        len += wire::string_len(&self.client_id)?;
        if let Some(will) = &self.will {
            if v5 {
                len += will.properties.encoded_len(Context::WILL)?;
            }
            if will.topic.is_empty() {
                return Err(EncodeError::EmptyTopicName);
            }
            len += wire::field_len(will.topic.as_str().as_bytes())? + wire::field_len(&will.payload)?;
        }
        if let Some(username) = &self.username {
            len += wire::string_len(username)?;
        }
        if let Some(password) = &self.password {
            len += wire::field_len(password)?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        let v5 = self.protocol.is_v5();
        wire::put_binary(buf, self.protocol.protocol_name().as_bytes());
        let bridge = if self.bridge && !v5 { 0x80 } else { 0 };
        buf.put_u8(self.protocol.level() | bridge);
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(Context::CONNECT, buf);
        }
        wire::put_binary(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(Context::WILL, buf);
            }
            wire::put_binary(buf, will.topic.as_str().as_bytes());
            wire::put_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            wire::put_binary(buf, username.as_bytes());
        }
        if let Some(password) = &self.password {
            wire::put_binary(buf, password);
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::{DecodeError, EncodeError, Packet, ReasonCode};

    fn connect(c: Connect) -> Packet {
        Packet::Connect(Box::new(c))
    }

    /// The start of a 3.1.1 CONNECT body: protocol name and level.
    const MQTT4: [u8; 7] = [0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04];
    /// The start of a 5.0 CONNECT body.
    const MQTT5: [u8; 7] = [0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05];

    /// A 3.1.1 CONNECT body: name, level, `flags`, keep alive 60, then `rest`.
    fn body4(flags: u8, rest: &[u8]) -> Vec<u8> {
        [&MQTT4[..], &[flags, 0x00, 0x3C], rest].concat()
    }

    /// A 5.0 CONNECT with clean start, keep alive 60, the property block `props` (with its length) and client
    /// identifier "c".
    fn connect5(props: &[u8]) -> Vec<u8> {
        frame(
            0x10,
            &[&MQTT5[..], &[0x02, 0x00, 0x3C], props, &[0x00, 0x01, b'c']].concat(),
        )
    }

    #[test]
    fn v31_minimal() {
        let bytes = [
            0x10, 0x13, // CONNECT, remaining length 19
            0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name
            0x03, // protocol level 3
            0x02, // clean session
            0x00, 0x3C, // keep alive 60 s
            0x00, 0x05, b'r', b'o', b'o', b's', b't', // client identifier
        ];
        assert_vector(V31, &bytes, connect(Connect::new(V31, "roost")));
    }

    #[test]
    fn v31_with_will_username_and_password() {
        let bytes = [
            0x10, 0x21, // remaining length 33
            0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, //
            0xF6, // user name, password, will retain, will QoS 2, will, clean session
            0x00, 0x0A, // keep alive 10 s
            0x00, 0x02, b'c', b'1', // client identifier
            0x00, 0x03, b'w', b'/', b't', // will topic
            0x00, 0x03, b'b', b'y', b'e', // will message
            0x00, 0x01, b'u', // user name
            0x00, 0x02, 0x00, 0xFF, // password: binary
        ];
        let expected = Connect {
            keep_alive: 10,
            will: Some(Will {
                topic: topic("w/t"),
                payload: b(b"bye"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: Properties::default(),
            }),
            username: Some(s("u")),
            password: Some(b(&[0x00, 0xFF])),
            ..Connect::new(V31, "c1")
        };
        // The version passed in does not matter: CONNECT carries its own.
        assert_eq!(decode(V5, &bytes), Ok(Some(connect(expected.clone()))));
        assert_vector(V31, &bytes, connect(expected));
    }

    #[test]
    fn v311_minimal_with_empty_client_id() {
        let bytes = [
            0x10, 0x0C, // remaining length 12
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // "MQTT" level 4
            0x02, // clean session
            0x00, 0x3C, // keep alive
            0x00, 0x00, // empty client identifier ([MQTT-3.1.3-6])
        ];
        assert_vector(V311, &bytes, connect(Connect::new(V311, "")));
    }

    #[test]
    fn v311_with_will_username_and_password() {
        let bytes = [
            0x10, 0x37, // remaining length 55
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, //
            0xEC, // user name, password, will retain, will QoS 1, will; no clean session
            0x00, 0x00, // keep alive off
            0x00, 0x05, b'r', b'o', b'o', b's', b't', //
            0x00, 0x0C, b's', b't', b'a', b't', b'u', b's', b'/', b'r', b'o', b'o', b's', b't', //
            0x00, 0x07, b'o', b'f', b'f', b'l', b'i', b'n', b'e', //
            0x00, 0x05, b'a', b'l', b'i', b'c', b'e', //
            0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't',
        ];
        let expected = Connect {
            clean_start: false,
            keep_alive: 0,
            will: Some(Will {
                topic: topic("status/roost"),
                payload: b(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::default(),
            }),
            username: Some(s("alice")),
            password: Some(b(b"secret")),
            ..Connect::new(V311, "roost")
        };
        assert_vector(V311, &bytes, connect(expected));
    }

    #[test]
    fn v311_username_without_password() {
        let bytes = [
            0x10, 0x11, // remaining length 17
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x82, 0x00, 0x3C, //
            0x00, 0x01, b'c', //
            0x00, 0x02, b'u', b'1',
        ];
        let expected = Connect {
            username: Some(s("u1")),
            ..Connect::new(V311, "c")
        };
        assert_vector(V311, &bytes, connect(expected));
    }

    #[test]
    fn v5_minimal() {
        let bytes = [
            0x10, 0x0E, // remaining length 14
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, // "MQTT" level 5
            0x02, 0x00, 0x3C, // clean start, keep alive 60
            0x00, // no properties
            0x00, 0x01, b'c',
        ];
        assert_vector(V5, &bytes, connect(Connect::new(V5, "c")));
    }

    #[test]
    fn v5_with_properties_and_will_properties() {
        let bytes = [
            0x10, 0x8E, 0x01, // remaining length 142
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, //
            0xCE, // user name, password, will QoS 1, will, clean start
            0x00, 0x1E, // keep alive 30
            0x30, // 48 bytes of properties
            0x11, 0x00, 0x00, 0x0E, 0x10, // session expiry interval 3600
            0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // authentication method
            0x16, 0x00, 0x03, 0x01, 0x02, 0x03, // authentication data
            0x17, 0x00, // request problem information: no
            0x19, 0x01, // request response information: yes
            0x21, 0x00, 0x14, // receive maximum 20
            0x22, 0x00, 0x0A, // topic alias maximum 10
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // user property a=1
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'2', // user property a=2: names may repeat
            0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
            0x00, 0x06, b'd', b'a', b's', b'h', b'-', b'1', // client identifier
            0x2C, // 44 bytes of will properties
            0x01, 0x01, // payload format indicator: UTF-8
            0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry interval 60
            0x03, 0x00, 0x0A, b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n', // content type
            0x08, 0x00, 0x03, b'r', b'/', b'1', // response topic
            0x09, 0x00, 0x03, 0xC0, 0xFF, 0xEE, // correlation data
            0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
            0x00, 0x0D, b'd', b'a', b's', b'h', b'/', b'1', b'/', b's', b't', b'a', b't', b'u',
            b's', // will topic
            0x00, 0x04, b'g', b'o', b'n', b'e', // will payload
            0x00, 0x03, b'b', b'o', b'b', // user name
            0x00, 0x02, b'p', b'w', // password
        ];
        let expected = Connect {
            keep_alive: 30,
            properties: Properties {
                session_expiry_interval: Some(3600),
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(b(&[1, 2, 3])),
                request_problem_information: Some(false),
                request_response_information: Some(true),
                receive_maximum: Some(nz16(20)),
                topic_alias_maximum: Some(10),
                user_properties: vec![user("a", "1"), user("a", "2")],
                maximum_packet_size: Some(nz32(65536)),
                ..Properties::default()
            },
            will: Some(Will {
                topic: topic("dash/1/status"),
                payload: b(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Properties {
                    payload_format_indicator: Some(true),
                    message_expiry_interval: Some(60),
                    content_type: Some(s("text/plain")),
                    response_topic: Some(topic("r/1")),
                    correlation_data: Some(b(&[0xC0, 0xFF, 0xEE])),
                    will_delay_interval: Some(5),
                    user_properties: vec![user("k", "v")],
                    ..Properties::default()
                },
            }),
            username: Some(s("bob")),
            password: Some(b(b"pw")),
            ..Connect::new(V5, "dash-1")
        };
        assert_vector(V5, &bytes, connect(expected));
    }

    #[test]
    fn v5_password_without_username_is_allowed() {
        let bytes = [
            0x10, 0x11, // remaining length 17
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, //
            0x42, // password, clean start; no user name (allowed since MQTT 5, section 3.1.2.9)
            0x00, 0x3C, 0x00, //
            0x00, 0x01, b'p', //
            0x00, 0x01, b'x',
        ];
        let expected = Connect {
            password: Some(b(b"x")),
            ..Connect::new(V5, "p")
        };
        assert_vector(V5, &bytes, connect(expected));
    }

    #[test]
    fn bad_protocol_name() {
        let bytes = frame(
            0x10,
            &[0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00],
        );
        assert_malformed(
            V311,
            &bytes,
            DecodeError::InvalidProtocolName,
            ReasonCode::UnsupportedProtocolVersion,
        );
        // Names are case sensitive.
        let bytes = frame(
            0x10,
            &[0x00, 0x04, b'm', b'q', b't', b't', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00],
        );
        assert_malformed(
            V311,
            &bytes,
            DecodeError::InvalidProtocolName,
            ReasonCode::UnsupportedProtocolVersion,
        );
    }

    #[test]
    fn unsupported_protocol_levels() {
        let level6 = frame(
            0x10,
            &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x3C, 0x00, 0x00],
        );
        assert_malformed(
            V311,
            &level6,
            DecodeError::UnsupportedProtocolLevel(6),
            ReasonCode::UnsupportedProtocolVersion,
        );
        // MQTT with 3.1's level, MQIsdp with 3.1.1's.
        let mqtt3 = frame(
            0x10,
            &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x03, 0x02, 0x00, 0x3C, 0x00, 0x00],
        );
        assert_malformed(
            V311,
            &mqtt3,
            DecodeError::UnsupportedProtocolLevel(3),
            ReasonCode::UnsupportedProtocolVersion,
        );
        let mqisdp4 = frame(
            0x10,
            &[
                0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00,
            ],
        );
        assert_malformed(
            V31,
            &mqisdp4,
            DecodeError::UnsupportedProtocolLevel(4),
            ReasonCode::UnsupportedProtocolVersion,
        );
    }

    #[test]
    fn a_bridge_sets_the_top_bit_of_a_3x_protocol_level() {
        // Mosquitto's `try_private`: MQTT 3.1.1 at level 0x84, MQTT 3.1 at 0x83.
        let bridge311 = frame(
            0x10,
            &[
                0x00, 0x04, b'M', b'Q', b'T', b'T', 0x84, 0x02, 0x00, 0x3C, 0x00, 0x01, b'b',
            ],
        );
        let expected = Connect {
            bridge: true,
            ..Connect::new(V311, "b")
        };
        assert_eq!(decode(V311, &bridge311), Ok(Some(connect(expected.clone()))));
        assert_eq!(&encode(V311, &connect(expected)).unwrap()[..], &bridge311[..]);
        let bridge31 = frame(
            0x10,
            &[
                0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x83, 0x02, 0x00, 0x3C, 0x00, 0x01, b'b',
            ],
        );
        let expected = Connect {
            bridge: true,
            ..Connect::new(V31, "b")
        };
        assert_eq!(decode(V31, &bridge31), Ok(Some(connect(expected.clone()))));
        assert_eq!(&encode(V31, &connect(expected)).unwrap()[..], &bridge31[..]);
        // MQTT 5 has no such mark (a bridge asks for No Local instead): 0x85 is an unknown level, and an MQTT 5
        // CONNECT with `bridge` set is written at level 5.
        let level85 = frame(
            0x10,
            &[
                0x00, 0x04, b'M', b'Q', b'T', b'T', 0x85, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, b'b',
            ],
        );
        assert_malformed(
            V5,
            &level85,
            DecodeError::UnsupportedProtocolLevel(0x85),
            ReasonCode::UnsupportedProtocolVersion,
        );
        let v5 = Connect {
            bridge: true,
            ..Connect::new(V5, "b")
        };
        assert_eq!(encode(V5, &connect(v5)).unwrap()[8], 0x05);
    }

    #[test]
    fn reserved_connect_flag() {
        // [MQTT-3.1.2-3]
        assert_malformed(
            V311,
            &frame(0x10, &body4(0x03, &[0x00, 0x00])),
            DecodeError::ConnectReservedFlag,
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn will_qos_or_retain_without_will() {
        // [MQTT-3.1.2-11], [MQTT-3.1.2-13]: will QoS 1, then will retain, each without the will flag.
        for flags in [0x0A, 0x12, 0x22] {
            assert_malformed(
                V311,
                &frame(0x10, &body4(flags, &[0x00, 0x00])),
                DecodeError::WillFlagsWithoutWill,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn will_qos_3() {
        // [MQTT-3.1.2-12]: will, will QoS 3, clean session.
        let rest = [0x00, 0x00, 0x00, 0x01, b'w', 0x00, 0x00];
        assert_malformed(
            V311,
            &frame(0x10, &body4(0x1E, &rest)),
            DecodeError::InvalidWillQoS,
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn password_without_username_before_mqtt_5() {
        // [MQTT-3.1.2-22] (3.1.1); 3.1 has the same rule.
        let rest = [0x00, 0x00, 0x00, 0x01, b'x'];
        assert_malformed(
            V311,
            &frame(0x10, &body4(0x42, &rest)),
            DecodeError::PasswordWithoutUsername,
            ReasonCode::MalformedPacket,
        );
        let v31 = [
            &[0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x42, 0x00, 0x3C][..],
            &[0x00, 0x01, b'c', 0x00, 0x01, b'x'],
        ]
        .concat();
        assert_malformed(
            V31,
            &frame(0x10, &v31),
            DecodeError::PasswordWithoutUsername,
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn client_id_must_be_well_formed_utf8_without_nul() {
        let cases: [(&[u8], DecodeError); 4] = [
            (&[0x00, 0x01, 0xFF], DecodeError::InvalidUtf8),
            (&[0x00, 0x03, b'a', 0x00, b'b'], DecodeError::NullCharacter),
            // U+D800 encoded as if it were a character ([MQTT-1.5.4-1]).
            (&[0x00, 0x03, 0xED, 0xA0, 0x80], DecodeError::InvalidUtf8),
            // An overlong encoding of '/'.
            (&[0x00, 0x02, 0xC0, 0xAF], DecodeError::InvalidUtf8),
        ];
        for (client_id, error) in cases {
            assert_malformed(
                V311,
                &frame(0x10, &body4(0x02, client_id)),
                error,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn will_topic_must_be_a_topic_name() {
        // Will, clean session; client id "", will topic "a/#", empty will payload.
        let rest = [0x00, 0x00, 0x00, 0x03, b'a', b'/', b'#', 0x00, 0x00];
        assert_malformed(
            V311,
            &frame(0x10, &body4(0x06, &rest)),
            DecodeError::WildcardInTopicName,
            ReasonCode::TopicNameInvalid,
        );
        let empty = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        assert_malformed(
            V311,
            &frame(0x10, &body4(0x06, &empty)),
            DecodeError::EmptyTopicName,
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn truncated_connect_names_the_missing_field() {
        assert_malformed(
            V311,
            &frame(0x10, &[0x00, 0x04, b'M', b'Q']),
            DecodeError::UnexpectedEnd("protocol name"),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V311,
            &frame(0x10, &[&MQTT4[..], &[0x02, 0x00]].concat()),
            DecodeError::UnexpectedEnd("keep alive"),
            ReasonCode::MalformedPacket,
        );
        // The user name and password flags are set, the password is missing.
        assert_malformed(
            V311,
            &frame(0x10, &body4(0xC2, &[0x00, 0x00, 0x00, 0x01, b'u'])),
            DecodeError::UnexpectedEnd("password"),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn v5_connect_property_rules() {
        let cases: [(&[u8], DecodeError, ReasonCode); 7] = [
            // Topic Alias belongs to PUBLISH.
            (
                &[0x03, 0x23, 0x00, 0x01],
                DecodeError::PropertyNotAllowed {
                    id: 0x23,
                    packet: "CONNECT",
                },
                ReasonCode::MalformedPacket,
            ),
            // Receive Maximum 0.
            (
                &[0x03, 0x21, 0x00, 0x00],
                DecodeError::InvalidPropertyValue(0x21),
                ReasonCode::ProtocolError,
            ),
            // Maximum Packet Size 0.
            (
                &[0x05, 0x27, 0x00, 0x00, 0x00, 0x00],
                DecodeError::InvalidPropertyValue(0x27),
                ReasonCode::ProtocolError,
            ),
            // Request Problem Information 2: a boolean byte.
            (
                &[0x02, 0x17, 0x02],
                DecodeError::InvalidPropertyValue(0x17),
                ReasonCode::ProtocolError,
            ),
            // Session Expiry Interval twice.
            (
                &[0x0A, 0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x02],
                DecodeError::DuplicateProperty(0x11),
                ReasonCode::ProtocolError,
            ),
            // A property length running past the packet.
            (
                &[0x20, 0x11, 0x00, 0x00, 0x00, 0x01],
                DecodeError::UnexpectedEnd("properties"),
                ReasonCode::MalformedPacket,
            ),
            // An identifier the standard does not define.
            (
                &[0x02, 0x05, 0x00],
                DecodeError::UnknownProperty(0x05),
                ReasonCode::MalformedPacket,
            ),
        ];
        for (props, error, reason) in cases {
            assert_malformed(V5, &connect5(props), error, reason);
        }
    }

    #[test]
    fn v5_will_property_rules() {
        // Will, clean start; no CONNECT properties; client id "c"; will properties; will topic "w"; no payload.
        let with_will_props = |will_props: &[u8]| {
            let body = [
                &MQTT5[..],
                &[0x06, 0x00, 0x3C, 0x00, 0x00, 0x01, b'c'],
                will_props,
                &[0x00, 0x01, b'w', 0x00, 0x00],
            ]
            .concat();
            frame(0x10, &body)
        };
        assert_malformed(
            V5,
            &with_will_props(&[0x05, 0x11, 0x00, 0x00, 0x00, 0x01]),
            DecodeError::PropertyNotAllowed {
                id: 0x11,
                packet: "Will Properties",
            },
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &with_will_props(&[0x02, 0x01, 0x02]),
            DecodeError::InvalidPropertyValue(0x01),
            ReasonCode::ProtocolError,
        );
        assert_malformed(
            V5,
            &with_will_props(&[0x05, 0x08, 0x00, 0x02, b'+', b'/']),
            DecodeError::WildcardInTopicName,
            ReasonCode::TopicNameInvalid,
        );
        // Will delay twice; two user properties are fine (checked by the vector above).
        assert_malformed(
            V5,
            &with_will_props(&[0x0A, 0x18, 0x00, 0x00, 0x00, 0x01, 0x18, 0x00, 0x00, 0x00, 0x01]),
            DecodeError::DuplicateProperty(0x18),
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn v3_connect_has_no_properties() {
        // In 3.1.1 the byte after keep alive starts the client identifier: 00 01 'c', not a property length.
        assert_eq!(
            decode(V311, &frame(0x10, &body4(0x02, &[0x00, 0x01, b'c']))),
            Ok(Some(connect(Connect::new(V311, "c"))))
        );
    }

    #[test]
    fn encode_refuses_what_the_version_cannot_say() {
        let no_user = Connect {
            password: Some(b(b"x")),
            ..Connect::new(V311, "c")
        };
        assert_eq!(
            encode(V311, &connect(no_user)),
            Err(EncodeError::UnsupportedInVersion("a password without a user name"))
        );
        let alias = Connect {
            properties: Properties {
                topic_alias: Some(nz16(1)),
                ..Properties::default()
            },
            ..Connect::new(V5, "c")
        };
        assert_eq!(
            encode(V5, &connect(alias)),
            Err(EncodeError::PropertyNotAllowed {
                id: 0x23,
                packet: "CONNECT"
            })
        );
        let will_session_expiry = Connect {
            will: Some(Will {
                topic: topic("w"),
                payload: Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties {
                    session_expiry_interval: Some(1),
                    ..Properties::default()
                },
            }),
            ..Connect::new(V5, "c")
        };
        assert_eq!(
            encode(V5, &connect(will_session_expiry)),
            Err(EncodeError::PropertyNotAllowed {
                id: 0x11,
                packet: "Will Properties"
            })
        );
        let empty_will_topic = Connect {
            will: Some(Will {
                topic: TopicName::empty(),
                payload: Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::default(),
            }),
            ..Connect::new(V311, "c")
        };
        assert_eq!(
            encode(V311, &connect(empty_will_topic)),
            Err(EncodeError::EmptyTopicName)
        );
    }

    #[test]
    fn debug_never_prints_the_password() {
        let c = Connect {
            username: Some(s("alice")),
            password: Some(b(b"hunter2")),
            ..Connect::new(V311, "c")
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
    }

    #[test]
    fn encode_refuses_strings_with_nul() {
        // [MQTT-1.5.4-2]: a Rust string may hold U+0000, an MQTT string may not; our own decoder would reject it.
        assert_eq!(
            encode(V311, &connect(Connect::new(V311, "a\0b"))),
            Err(EncodeError::NullCharacter)
        );
        let username = Connect {
            username: Some("u\0".into()),
            ..Connect::new(V5, "c")
        };
        assert_eq!(encode(V5, &connect(username)), Err(EncodeError::NullCharacter));
        let user_property = Connect {
            properties: Properties {
                user_properties: vec![("k".into(), "\0".into())],
                ..Properties::default()
            },
            ..Connect::new(V5, "c")
        };
        assert_eq!(encode(V5, &connect(user_property)), Err(EncodeError::NullCharacter));
    }
}
