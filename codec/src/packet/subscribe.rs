//! SUBSCRIBE (section 3.8): topic filters with their subscription options.

use bytes::{BufMut, BytesMut};

use super::{PacketType, read_packet_id};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{Context, Properties};
use crate::topic::{InvalidFilter, TopicFilter};
use crate::types::{PacketId, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use crate::wire::{self, Reader};

/// A subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Identifies the SUBACK that answers it.
    pub packet_id: PacketId,
    /// MQTT 5 properties: at most one subscription identifier, user properties.
    pub properties: Properties,
    /// The filters in the order sent, each with its options; at least one ([MQTT-3.8.3-2]). A received filter
    /// that is well-formed UTF-8 but not a valid topic filter is kept as `Err`, so the server can refuse it alone
    /// (SUBACK 0x8F, [MQTT-3.8.4-6]); one that is not a well-formed string makes the packet malformed.
    pub filters: Vec<(Result<TopicFilter, InvalidFilter>, SubscriptionOptions)>,
}

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;

fn decode_options(
    byte: u8,
    filter: &Result<TopicFilter, InvalidFilter>,
    version: ProtocolVersion,
) -> Result<SubscriptionOptions, DecodeError> {
    // [MQTT-3.8.3-4] (3.1.1) / [MQTT-3.8.3-5] (5.0): reserved bits must be zero.
    let reserved = if version.is_v5() { 0b1100_0000 } else { 0b1111_1100 };
    if byte & reserved != 0 {
        return Err(DecodeError::InvalidSubscriptionOptions);
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidSubscriptionQoS)?;
    let retain_handling = match (byte >> RETAIN_HANDLING_SHIFT) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    let no_local = byte & NO_LOCAL != 0;
    // An invalid filter is refused on its own whatever its options say.
    if no_local && filter.as_ref().is_ok_and(|f| f.shared().is_some()) {
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
            let filter = InvalidFilter::check(r.string("topic filter")?)?;
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
        for (filter, options) in &self.filters {
            let filter = filter.as_ref().map_err(|_| EncodeError::InvalidTopicFilter)?;
            // [MQTT-3.8.3-4]: the receiver would reject it as a protocol error.
            if version.is_v5() && options.no_local && filter.shared().is_some() {
                return Err(EncodeError::NoLocalOnSharedSubscription);
            }
            len += wire::field_len(filter.as_str().as_bytes())? + 1;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(Context::SUBSCRIBE, buf);
        }
        // body_len refused invalid filters, so every one here is `Ok`.
        for (filter, options) in self.filters.iter().filter_map(|(f, o)| Some((f.as_ref().ok()?, o))) {
            wire::put_binary(buf, filter.as_str().as_bytes());
            buf.put_u8(encode_options(options, version));
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

    fn subscribe(packet_id: u16, filters: &[(&str, SubscriptionOptions)]) -> Subscribe {
        Subscribe {
            packet_id: pid(packet_id),
            properties: Properties::default(),
            filters: filters.iter().map(|(f, o)| (Ok(filter(f)), *o)).collect(),
        }
    }

    /// A SUBSCRIBE of `version` with packet id 1, no properties, and one filter with `options`.
    fn one_filter(version: ProtocolVersion, f: &[u8], options: u8) -> Vec<u8> {
        let props: &[u8] = if version == V5 { &[0x00] } else { &[] };
        let body = [&[0x00, 0x01][..], props, &[0x00, f.len() as u8], f, &[options]].concat();
        frame(0x82, &body)
    }

    #[test]
    fn v31_one_filter() {
        let bytes = [
            0x82, 0x08, // SUBSCRIBE (flags 0010), remaining length 8
            0x00, 0x01, // packet identifier
            0x00, 0x03, b'a', b'/', b'b', 0x01, // filter, QoS 1
        ];
        let expected = subscribe(1, &[("a/b", SubscriptionOptions::qos(QoS::AtLeastOnce))]);
        assert_vector(V31, &bytes, Packet::Subscribe(expected.clone()));
        // A re-sent 3.1 SUBSCRIBE carries DUP.
        let mut dup = bytes;
        dup[0] = 0x8A;
        assert_eq!(decode(V31, &dup), Ok(Some(Packet::Subscribe(expected))));
        assert_malformed(
            V311,
            &dup,
            DecodeError::ReservedFlags {
                packet: PacketType::Subscribe,
                flags: 0x0A,
            },
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn v311_two_filters() {
        let bytes = [
            0x82, 0x0C, //
            0x00, 0x02, //
            0x00, 0x03, b'a', b'/', b'+', 0x01, // a/+ at QoS 1
            0x00, 0x01, b'#', 0x02, // # at QoS 2
        ];
        let expected = subscribe(
            2,
            &[
                ("a/+", SubscriptionOptions::qos(QoS::AtLeastOnce)),
                ("#", SubscriptionOptions::qos(QoS::ExactlyOnce)),
            ],
        );
        assert_vector(V311, &bytes, Packet::Subscribe(expected));
    }

    #[test]
    fn v5_minimal() {
        let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'#', 0x00];
        let expected = subscribe(1, &[("#", SubscriptionOptions::default())]);
        assert_vector(V5, &bytes, Packet::Subscribe(expected));
    }

    #[test]
    fn v5_with_options_and_properties() {
        let bytes = [
            0x82, 0x22, // remaining length 34
            0x00, 0x02, // packet identifier
            0x0A, // 10 bytes of properties
            0x0B, 0x80, 0x01, // subscription identifier 128 (two-byte Variable Byte Integer)
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
            0x00, 0x03, b'a', b'/', b'b', //
            0x2E, // retain handling 2, retain as published, no local, QoS 2
            0x00, 0x0C, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'c', b'/', b'#', //
            0x11, // retain handling 1, QoS 1
        ];
        let expected = Subscribe {
            packet_id: pid(2),
            properties: Properties {
                subscription_identifiers: vec![nz32(128)],
                user_properties: vec![user("k", "v")],
                ..Properties::default()
            },
            filters: vec![
                (
                    Ok(filter("a/b")),
                    SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                ),
                (
                    Ok(filter("$share/g/c/#")),
                    SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        retain_handling: RetainHandling::SendIfNew,
                        ..SubscriptionOptions::default()
                    },
                ),
            ],
        };
        assert_vector(V5, &bytes, Packet::Subscribe(expected));
    }

    #[test]
    fn packet_id_0() {
        for version in ALL {
            let mut bytes = one_filter(version, b"a", 0x00);
            bytes[3] = 0x00;
            assert_malformed(version, &bytes, DecodeError::ZeroPacketId, ReasonCode::MalformedPacket);
        }
    }

    #[test]
    fn empty_subscribe() {
        // [MQTT-3.8.3-2] (5.0), [MQTT-3.8.3-3] (3.1.1): a protocol error.
        for version in [V31, V311] {
            assert_malformed(
                version,
                &[0x82, 0x02, 0x00, 0x01],
                DecodeError::NoTopicFilters(PacketType::Subscribe),
                ReasonCode::ProtocolError,
            );
        }
        assert_malformed(
            V5,
            &[0x82, 0x03, 0x00, 0x01, 0x00],
            DecodeError::NoTopicFilters(PacketType::Subscribe),
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn reserved_option_bits() {
        // [MQTT-3.8.3-5] (5.0): bits 7 and 6. In 3.1.1 ([MQTT-3-8.3-4]) bits 7 to 2.
        for options in [0x40, 0x80, 0xC0] {
            assert_malformed(
                V5,
                &one_filter(V5, b"a", options),
                DecodeError::InvalidSubscriptionOptions,
                ReasonCode::MalformedPacket,
            );
        }
        for version in [V31, V311] {
            for options in [0x04, 0x08, 0x10, 0x20, 0x40, 0x80] {
                assert_malformed(
                    version,
                    &one_filter(version, b"a", options),
                    DecodeError::InvalidSubscriptionOptions,
                    ReasonCode::MalformedPacket,
                );
            }
        }
    }

    #[test]
    fn qos_3() {
        for version in ALL {
            assert_malformed(
                version,
                &one_filter(version, b"a", 0x03),
                DecodeError::InvalidSubscriptionQoS,
                ReasonCode::ProtocolError,
            );
        }
    }

    #[test]
    fn retain_handling_3() {
        assert_malformed(
            V5,
            &one_filter(V5, b"a", 0x30),
            DecodeError::InvalidRetainHandling,
            ReasonCode::ProtocolError,
        );
    }

    #[test]
    fn no_local_on_a_shared_subscription() {
        // [MQTT-3.8.3-4]
        assert_malformed(
            V5,
            &one_filter(V5, b"$share/g/a", 0x04),
            DecodeError::NoLocalOnSharedSubscription,
            ReasonCode::ProtocolError,
        );
        // No Local on an ordinary filter that merely looks similar is fine.
        let ok = one_filter(V5, b"$sharex/g/a", 0x04);
        assert!(matches!(decode(V5, &ok), Ok(Some(Packet::Subscribe(_)))));
    }

    #[test]
    fn invalid_topic_filters_are_kept_for_the_suback() {
        // [MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.3-1], [MQTT-4.8.2-1], [MQTT-4.8.2-2]: not valid filters, but the
        // packet is well-formed, so each is kept for a failure reason code of its own ([MQTT-3.8.4-6]).
        let bad = [
            "a/#/b",
            "a+",
            "#a",
            "a/b#",
            "+a",
            "",
            "$share/g",
            "$share//a",
            "$share/g/",
            "$share/g+/a",
            "$share/#/a",
            "$share/g/a/#/b",
        ];
        for f in bad {
            for version in ALL {
                let expected = Subscribe {
                    packet_id: pid(1),
                    properties: Properties::default(),
                    filters: vec![(Err(invalid_filter(f)), SubscriptionOptions::qos(QoS::AtLeastOnce))],
                };
                assert_eq!(
                    decode(version, &one_filter(version, f.as_bytes(), 0x01)),
                    Ok(Some(Packet::Subscribe(expected))),
                    "{f:?} in {version:?}"
                );
            }
        }
        // Only the strings themselves can make the packet malformed ([MQTT-4.7.3-2], [MQTT-1.5.4-1]).
        assert_malformed(
            V311,
            &one_filter(V311, b"a/\0", 0x00),
            DecodeError::NullCharacter,
            ReasonCode::MalformedPacket,
        );
        assert_malformed(
            V311,
            &one_filter(V311, b"\xED\xA0\x80", 0x00),
            DecodeError::InvalidUtf8,
            ReasonCode::MalformedPacket,
        );
        // Reserved option bits stay malformed even beside an invalid filter ([MQTT-3.8.3-5]).
        assert_malformed(
            V5,
            &one_filter(V5, b"a+", 0x40),
            DecodeError::InvalidSubscriptionOptions,
            ReasonCode::MalformedPacket,
        );
        // No Local beside an invalid `$share/` filter: the filter is refused on its own, not a protocol error.
        assert!(matches!(
            decode(V5, &one_filter(V5, b"$share/g", 0x04)),
            Ok(Some(Packet::Subscribe(Subscribe { filters, .. }))) if filters[0].0.is_err()
        ));
    }

    #[test]
    fn invalid_filter_between_valid_ones_keeps_its_place() {
        let bytes = [
            0x82, 0x14, // remaining length 20
            0x00, 0x07, // packet identifier
            0x00, 0x01, b'a', 0x01, // a at QoS 1
            0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x02, // a/#/b at QoS 2: invalid
            0x00, 0x03, b'b', b'/', b'+', 0x00, // b/+ at QoS 0
        ];
        let expected = Subscribe {
            packet_id: pid(7),
            properties: Properties::default(),
            filters: vec![
                (Ok(filter("a")), SubscriptionOptions::qos(QoS::AtLeastOnce)),
                (Err(invalid_filter("a/#/b")), SubscriptionOptions::qos(QoS::ExactlyOnce)),
                (Ok(filter("b/+")), SubscriptionOptions::qos(QoS::AtMostOnce)),
            ],
        };
        assert_eq!(decode(V311, &bytes), Ok(Some(Packet::Subscribe(expected.clone()))));
        // A client cannot send it.
        assert_eq!(
            encode(V311, &Packet::Subscribe(expected)),
            Err(EncodeError::InvalidTopicFilter)
        );
    }

    #[test]
    fn v5_subscribe_property_rules() {
        let cases: [(&[u8], DecodeError, ReasonCode); 4] = [
            // At most one subscription identifier in SUBSCRIBE (section 3.8.2.1.2), unlike PUBLISH.
            (
                &[0x04, 0x0B, 0x01, 0x0B, 0x02],
                DecodeError::DuplicateProperty(0x0B),
                ReasonCode::ProtocolError,
            ),
            (
                &[0x02, 0x0B, 0x00],
                DecodeError::ZeroSubscriptionIdentifier,
                ReasonCode::ProtocolError,
            ),
            (
                &[0x04, 0x1F, 0x00, 0x01, b'r'],
                DecodeError::PropertyNotAllowed {
                    id: 0x1F,
                    packet: "SUBSCRIBE",
                },
                ReasonCode::MalformedPacket,
            ),
            (
                &[0x02, 0x0B, 0x80],
                DecodeError::UnexpectedEnd("subscription identifier"),
                ReasonCode::MalformedPacket,
            ),
        ];
        for (props, error, reason) in cases {
            let body = [&[0x00, 0x01][..], props, &[0x00, 0x01, b'a', 0x00]].concat();
            assert_malformed(V5, &frame(0x82, &body), error, reason);
        }
    }

    #[test]
    fn missing_options_byte() {
        assert_malformed(
            V311,
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b'],
            DecodeError::UnexpectedEnd("subscription options"),
            ReasonCode::MalformedPacket,
        );
    }

    #[test]
    fn encoding() {
        let all_options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        };
        // MQTT 3.x writes only the QoS of the options.
        let p = Packet::Subscribe(subscribe(1, &[("a", all_options)]));
        assert_eq!(
            &encode(V311, &p).unwrap()[..],
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x01]
        );
        let empty = Packet::Subscribe(subscribe(1, &[]));
        assert_eq!(encode(V5, &empty), Err(EncodeError::NoTopicFilters));
        let shared = Packet::Subscribe(subscribe(1, &[("$share/g/a", all_options)]));
        assert_eq!(encode(V5, &shared), Err(EncodeError::NoLocalOnSharedSubscription));
        let two_ids = Packet::Subscribe(Subscribe {
            properties: Properties {
                subscription_identifiers: vec![nz32(1), nz32(2)],
                ..Properties::default()
            },
            ..subscribe(1, &[("a", SubscriptionOptions::default())])
        });
        assert_eq!(
            encode(V5, &two_ids),
            Err(EncodeError::PropertyNotAllowed {
                id: 0x0B,
                packet: "SUBSCRIBE"
            })
        );
    }
}
