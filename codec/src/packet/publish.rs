//! PUBLISH (section 3.3): an application message, in either direction.

use bytes::{BufMut, Bytes, BytesMut};

use super::read_packet_id;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::wire::{self, Reader};

/// The QoS of a PUBLISH together with its packet identifier: QoS 0 has none, QoS 1 and 2 must have one
/// ([MQTT-2.2.1-2], [MQTT-2.2.1-3]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoSPid {
    /// QoS 0, no packet identifier.
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl QoSPid {
    /// Pairs a QoS with a packet identifier; the identifier is ignored for QoS 0.
    pub fn new(qos: QoS, packet_id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => Self::AtMostOnce,
            QoS::AtLeastOnce => Self::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => Self::ExactlyOnce(packet_id),
        }
    }

    /// The QoS.
    pub fn qos(self) -> QoS {
        match self {
            Self::AtMostOnce => QoS::AtMostOnce,
            Self::AtLeastOnce(_) => QoS::AtLeastOnce,
            Self::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, `None` at QoS 0.
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            Self::AtMostOnce => None,
            Self::AtLeastOnce(id) | Self::ExactlyOnce(id) => Some(id),
        }
    }
}

/// A PUBLISH packet. Topic and payload are slices of the received frame: decoding copies neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// This may be a re-delivery of an earlier attempt ([MQTT-3.3.1-1]); never set at QoS 0.
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QoSPid,
    /// Retain flag: the server keeps the message for future subscribers.
    pub retain: bool,
    /// The topic name; empty only when `properties.topic_alias` names the topic (MQTT 5).
    pub topic: TopicName,
    /// MQTT 5 PUBLISH properties.
    pub properties: Properties,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos_pid: QoSPid::AtMostOnce,
            retain: false,
            topic,
            properties: Properties::default(),
            payload: payload.into(),
        }
    }

    /// The QoS.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    pub(crate) fn flags(&self) -> u8 {
        u8::from(self.dup) << 3 | (self.qos() as u8) << 1 | u8::from(self.retain)
    }

    pub(crate) fn decode(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let retain = flags & 0b0001 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        let topic = r.string("topic name")?;
        let qos_pid = match qos {
            QoS::AtMostOnce => QoSPid::AtMostOnce,
            QoS::AtLeastOnce => QoSPid::AtLeastOnce(read_packet_id(r)?),
            QoS::ExactlyOnce => QoSPid::ExactlyOnce(read_packet_id(r)?),
        };
        let properties = if version.is_v5() {
            Properties::decode(r, Context::PUBLISH)?
        } else {
            Properties::default()
        };
        let topic = if topic.is_empty() {
            // A zero-length topic name is only meaningful with a Topic Alias (section 3.3.2.3.4).
            if properties.topic_alias.is_none() {
                return Err(DecodeError::EmptyTopicName);
            }
            TopicName::empty()
        } else {
            TopicName::from_wire(topic)?
        };
        Ok(Self {
            dup,
            qos_pid,
            retain,
            topic,
            properties,
            payload: r.rest(),
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQoS0);
        }
        if self.topic.is_empty() && (!version.is_v5() || self.properties.topic_alias.is_none()) {
            return Err(EncodeError::EmptyTopicName);
        }
        let mut len = wire::field_len(self.topic.as_str().as_bytes())?;
        if self.qos_pid.packet_id().is_some() {
            len += 2;
        }
        if version.is_v5() {
            len += self.properties.encoded_len(Context::PUBLISH)?;
        }
        Ok(len + self.payload.len())
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        wire::put_binary(buf, self.topic.as_str().as_bytes());
        if let Some(id) = self.qos_pid.packet_id() {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.encode(Context::PUBLISH, buf);
        }
        buf.put_slice(&self.payload);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::tests::*;
    use super::*;
    use crate::{DecodeError, MAX_PACKET_SIZE, Packet, ReasonCode};

    fn publish(p: Publish) -> Packet {
        Packet::Publish(p)
    }

    #[test]
    fn v31_qos0() {
        let bytes = [
            0x30, 0x07, // PUBLISH, QoS 0, remaining length 7
            0x00, 0x03, b'a', b'/', b'b', // topic name
            b'h', b'i', // payload
        ];
        assert_vector(V31, &bytes, publish(Publish::new(topic("a/b"), b(b"hi"))));
    }

    #[test]
    fn v31_qos2_dup() {
        let bytes = [0x3C, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x12, 0x34, 0x00];
        let expected = Publish {
            dup: true,
            qos_pid: QoSPid::ExactlyOnce(pid(0x1234)),
            ..Publish::new(topic("a/b"), b(&[0x00]))
        };
        assert_vector(V31, &bytes, publish(expected));
    }

    #[test]
    fn v311_qos1_dup_retain() {
        let bytes = [
            0x3B, 0x08, // PUBLISH, DUP, QoS 1, RETAIN
            0x00, 0x03, b'a', b'/', b'b', //
            0x00, 0x0A, // packet identifier 10
            b'x',
        ];
        let expected = Publish {
            dup: true,
            qos_pid: QoSPid::AtLeastOnce(pid(10)),
            retain: true,
            ..Publish::new(topic("a/b"), b(b"x"))
        };
        assert_vector(V311, &bytes, publish(expected));
    }

    #[test]
    fn v311_qos2_empty_payload() {
        let bytes = [0x34, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0B];
        let expected = Publish {
            qos_pid: QoSPid::ExactlyOnce(pid(11)),
            ..Publish::new(topic("a/b"), Bytes::new())
        };
        assert_vector(V311, &bytes, publish(expected));
    }

    #[test]
    fn v311_retained_delete() {
        // A retained message with an empty payload removes the retained message ([MQTT-3.3.1-6]).
        let bytes = [0x31, 0x05, 0x00, 0x03, b'a', b'/', b'b'];
        let expected = Publish {
            retain: true,
            ..Publish::new(topic("a/b"), Bytes::new())
        };
        assert_vector(V311, &bytes, publish(expected));
    }

    #[test]
    fn v311_multibyte_topic() {
        // "ü/€" is 1 + 2 + 1 + 3 bytes of UTF-8.
        let bytes = [0x30, 0x08, 0x00, 0x06, 0xC3, 0xBC, b'/', 0xE2, 0x82, 0xAC];
        assert_vector(V311, &bytes, publish(Publish::new(topic("ü/€"), Bytes::new())));
    }

    #[test]
    fn v5_qos0_without_properties() {
        let bytes = [
            0x30, 0x08, //
            0x00, 0x03, b'a', b'/', b'b', //
            0x00, // no properties
            b'h', b'i',
        ];
        assert_vector(V5, &bytes, publish(Publish::new(topic("a/b"), b(b"hi"))));
    }

    #[test]
    fn v5_with_every_publish_property_and_an_aliased_empty_topic() {
        let bytes = [
            0x33, 0x4C, // PUBLISH, QoS 1, RETAIN, remaining length 76
            0x00, 0x00, // empty topic name: the topic alias names the topic
            0x00, 0x05, // packet identifier 5
            0x3F, // 63 bytes of properties
            0x01, 0x01, // payload format indicator: UTF-8
            0x02, 0x00, 0x00, 0x01, 0x2C, // message expiry interval 300
            0x03, 0x00, 0x10, b'a', b'p', b'p', b'l', b'i', b'c', b'a', b't', b'i', b'o', b'n', b'/', b'j', b's', b'o',
            b'n', // content type
            0x08, 0x00, 0x05, b'r', b'e', b'p', b'l', b'y', // response topic
            0x09, 0x00, 0x02, 0x00, 0x2A, // correlation data
            0x0B, 0x01, // subscription identifier 1
            0x0B, 0xFF, 0xFF, 0xFF, 0x7F, // subscription identifier 268,435,455
            0x23, 0x00, 0x07, // topic alias 7
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1', // user property
            0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2', // user property
            b'{', b'"', b't', b'"', b':', b'2', b'1', b'}', // payload
        ];
        let expected = Publish {
            dup: false,
            qos_pid: QoSPid::AtLeastOnce(pid(5)),
            retain: true,
            topic: TopicName::empty(),
            properties: Properties {
                payload_format_indicator: Some(true),
                message_expiry_interval: Some(300),
                content_type: Some(s("application/json")),
                response_topic: Some(topic("reply")),
                correlation_data: Some(b(&[0x00, 0x2A])),
                subscription_identifiers: vec![nz32(1), nz32(268_435_455)],
                topic_alias: Some(nz16(7)),
                user_properties: vec![user("a", "1"), user("b", "2")],
                ..Properties::default()
            },
            payload: b(br#"{"t":21}"#),
        };
        assert_vector(V5, &bytes, publish(expected));
    }

    #[test]
    fn v5_topic_and_alias_together() {
        // The first PUBLISH of an alias carries both the topic and the alias (section 3.3.2.3.4).
        let bytes = [0x30, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x03, 0x23, 0x00, 0x01];
        let expected = Publish {
            properties: Properties {
                topic_alias: Some(nz16(1)),
                ..Properties::default()
            },
            ..Publish::new(topic("a/b"), Bytes::new())
        };
        assert_vector(V5, &bytes, publish(expected));
    }

    #[test]
    fn qos_3_is_not_a_qos() {
        // [MQTT-3.3.1-4], with and without DUP and RETAIN.
        for first in [0x36, 0x37, 0x3E, 0x3F] {
            for version in ALL {
                assert_malformed(
                    version,
                    &[first, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01],
                    DecodeError::InvalidQoS,
                    ReasonCode::MalformedPacket,
                );
            }
        }
    }

    #[test]
    fn dup_with_qos_0() {
        // [MQTT-3.3.1-2]
        for version in ALL {
            assert_malformed(
                version,
                &[0x38, 0x05, 0x00, 0x03, b'a', b'/', b'b'],
                DecodeError::DupWithQoS0,
                ReasonCode::MalformedPacket,
            );
        }
    }

    #[test]
    fn packet_id_0() {
        // [MQTT-2.2.1-3]
        for first in [0x32, 0x34] {
            for version in ALL {
                assert_malformed(
                    version,
                    &[first, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x00, 0x00],
                    DecodeError::ZeroPacketId,
                    ReasonCode::MalformedPacket,
                );
            }
        }
    }

    #[test]
    fn wildcards_in_the_topic_name() {
        // [MQTT-3.3.2-2]
        for name in ["a/+", "#", "a/#", "sport+", "+"] {
            let body = [&[0x00, name.len() as u8][..], name.as_bytes()].concat();
            for version in ALL {
                assert_malformed(
                    version,
                    &frame(0x30, &[&body[..], if version == V5 { &[0x00] } else { &[] }].concat()),
                    DecodeError::WildcardInTopicName,
                    ReasonCode::TopicNameInvalid,
                );
            }
        }
    }

    #[test]
    fn topic_name_must_be_well_formed_utf8_without_nul() {
        let cases: [(&[u8], DecodeError); 4] = [
            (&[0x00, 0x01, 0xFF], DecodeError::InvalidUtf8),
            (&[0x00, 0x03, b'a', 0x00, b'b'], DecodeError::NullCharacter),
            (&[0x00, 0x03, 0xED, 0xA0, 0x80], DecodeError::InvalidUtf8),
            // A truncated two-byte sequence.
            (&[0x00, 0x02, b'a', 0xC3], DecodeError::InvalidUtf8),
        ];
        for (name, error) in cases {
            for version in ALL {
                assert_malformed(version, &frame(0x30, name), error, ReasonCode::MalformedPacket);
            }
        }
    }

    #[test]
    fn empty_topic_name_without_a_topic_alias() {
        // [MQTT-4.7.3-1]; MQTT 3.x has no aliases at all.
        for version in [V31, V311] {
            assert_malformed(
                version,
                &[0x30, 0x02, 0x00, 0x00],
                DecodeError::EmptyTopicName,
                ReasonCode::ProtocolError,
            );
        }
        assert_malformed(
            V5,
            &[0x30, 0x03, 0x00, 0x00, 0x00],
            DecodeError::EmptyTopicName,
            ReasonCode::ProtocolError,
        );
        // Another property does not stand in for the alias.
        assert_malformed(
            V5,
            &[0x30, 0x05, 0x00, 0x00, 0x02, 0x01, 0x00],
            DecodeError::EmptyTopicName,
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn a_subscription_identifier_is_for_server_to_client_publishes_only_mqtt_3_3_4_6() {
        // Topic "t", QoS 0, Subscription Identifier 7: valid from a server, so the decoder (which does not know
        // the direction) accepts it; a server checks the other direction with `check_sent_by_client`.
        let bytes = [0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x0B, 0x07];
        let packet = decode(V5, &bytes).expect("valid from a server").expect("whole");
        assert_eq!(
            packet.check_sent_by_client(),
            Err(DecodeError::SubscriptionIdentifierFromClient)
        );
        assert_eq!(
            DecodeError::SubscriptionIdentifierFromClient.reason_code(),
            ReasonCode::ProtocolError
        );
        let plain = decode(V5, &[0x30, 0x04, 0x00, 0x01, b't', 0x00]).unwrap().unwrap();
        assert_eq!(plain.check_sent_by_client(), Ok(()));
    }

    #[test]
    fn v5_publish_property_rules() {
        let cases: [(&[u8], DecodeError, ReasonCode); 10] = [
            // [MQTT-3.3.2-8]
            (
                &[0x03, 0x23, 0x00, 0x00],
                DecodeError::ZeroTopicAlias,
                ReasonCode::TopicAliasInvalid,
            ),
            (
                &[0x02, 0x0B, 0x00],
                DecodeError::ZeroSubscriptionIdentifier,
                ReasonCode::ProtocolError,
            ),
            (
                &[0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
                DecodeError::PropertyNotAllowed {
                    id: 0x11,
                    packet: "PUBLISH",
                },
                ReasonCode::MalformedPacket,
            ),
            (
                &[0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02],
                DecodeError::DuplicateProperty(0x23),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x02, 0x01, 0x02],
                DecodeError::InvalidPropertyValue(0x01),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x0A, 0x01, 0x01],
                DecodeError::UnexpectedEnd("properties"),
                ReasonCode::MalformedPacket,
            ),
            // [MQTT-3.3.2-14]
            (
                &[0x05, 0x08, 0x00, 0x02, b'a', b'#'],
                DecodeError::WildcardInTopicName,
                ReasonCode::TopicNameInvalid,
            ),
            (
                &[0x04, 0x03, 0x00, 0x01, 0xFE],
                DecodeError::InvalidUtf8,
                ReasonCode::MalformedPacket,
            ),
            // A subscription identifier of five bytes.
            (
                &[0x06, 0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
                DecodeError::MalformedVarInt,
                ReasonCode::MalformedPacket,
            ),
            // The value of a Four Byte Integer property cut short by the property length.
            (
                &[0x03, 0x02, 0x00, 0x00],
                DecodeError::UnexpectedEnd("property value"),
                ReasonCode::MalformedPacket,
            ),
        ];
        for (props, error, reason) in cases {
            let body = [&[0x00, 0x03, b'a', b'/', b'b'][..], props].concat();
            assert_malformed(V5, &frame(0x30, &body), error, reason);
        }
    }

    #[test]
    fn truncated_publish_names_the_missing_field() {
        assert_malformed(
            V311,
            &[0x30, 0x02, 0x00, 0x05],
            DecodeError::UnexpectedEnd("topic name"),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V311,
            &[0x32, 0x05, 0x00, 0x03, b'a', b'/', b'b'],
            DecodeError::UnexpectedEnd("packet identifier"),
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V5,
            &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'b'],
            DecodeError::UnexpectedEnd("property length"),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn v3_publish_has_no_properties() {
        // In 3.1.1 the byte after the topic is payload, even if it looks like a property length.
        let bytes = [0x30, 0x06, 0x00, 0x03, b'a', b'/', b'b', 0x00];
        assert_vector(V311, &bytes, publish(Publish::new(topic("a/b"), b(&[0x00]))));
    }

    #[test]
    fn decoding_copies_neither_payload_nor_topic() {
        let mut payload = vec![0xA5; 1000];
        payload[999] = 0x5A;
        let mut bytes = vec![0x30, 0xEE, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00];
        bytes.extend_from_slice(&payload);
        // 1000 + 5 + 1 = 1006 = 0x3EE: EE 07.
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let Ok(Some(Packet::Publish(p))) = Packet::decode(&mut buf, V5, MAX_PACKET_SIZE) else {
            panic!("not a PUBLISH");
        };
        assert_eq!(&p.payload[..], &payload[..]);
        let start = p.payload.as_ptr() as usize;
        assert!(frame.contains(&start) && frame.contains(&(start + p.payload.len() - 1)));
        assert_eq!(start, frame.start + 9, "the payload is the frame's last 1000 bytes");
        let topic_start = p.topic.as_str().as_ptr() as usize;
        assert_eq!(topic_start, frame.start + 5, "the topic is a slice of the frame too");
    }

    #[test]
    fn encode_refuses_what_decode_would_reject() {
        let dup0 = Publish {
            dup: true,
            ..Publish::new(topic("a"), Bytes::new())
        };
        for version in ALL {
            assert_eq!(encode(version, &publish(dup0.clone())), Err(EncodeError::DupWithQoS0));
        }
        let aliased = Publish {
            properties: Properties {
                topic_alias: Some(nz16(3)),
                ..Properties::default()
            },
            ..Publish::new(TopicName::empty(), Bytes::new())
        };
        // MQTT 3.x has no topic alias to stand in for the empty name.
        assert_eq!(
            encode(V311, &publish(aliased.clone())),
            Err(EncodeError::EmptyTopicName)
        );
        assert!(encode(V5, &publish(aliased)).is_ok());
        let no_alias = Publish::new(TopicName::empty(), Bytes::new());
        assert_eq!(encode(V5, &publish(no_alias)), Err(EncodeError::EmptyTopicName));
        let huge_id = Publish {
            properties: Properties {
                subscription_identifiers: vec![nz32(268_435_456)],
                ..Properties::default()
            },
            ..Publish::new(topic("a"), Bytes::new())
        };
        assert_eq!(
            encode(V5, &publish(huge_id)),
            Err(EncodeError::InvalidPropertyValue(0x0B))
        );
    }

    #[test]
    fn qos_and_packet_id_travel_together() {
        assert_eq!(QoSPid::new(QoS::AtMostOnce, pid(9)), QoSPid::AtMostOnce);
        assert_eq!(QoSPid::new(QoS::AtLeastOnce, pid(9)), QoSPid::AtLeastOnce(pid(9)));
        assert_eq!(QoSPid::new(QoS::ExactlyOnce, pid(9)).packet_id(), Some(pid(9)));
        assert_eq!(QoSPid::AtMostOnce.packet_id(), None);
        assert_eq!(QoSPid::ExactlyOnce(pid(1)).qos(), QoS::ExactlyOnce);
    }
}
