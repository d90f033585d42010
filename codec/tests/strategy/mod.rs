//! proptest strategies for arbitrary *valid* packets of each protocol version: what a correct peer may send.
//! MQTT 3.x packets carry no properties and only the reason codes 3.x can express; MQTT 5 packets carry any
//! property their packet allows (table 2-4) with any value the standard allows.

use std::num::{NonZeroU16, NonZeroU32};

use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use roost_codec::{
    Ack, Auth, ByteString, Bytes, ConnAck, Connect, Disconnect, Packet, PacketId, PacketType, Properties,
    ProtocolVersion, Publish, QoS, QoSPid, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions,
    TopicFilter, TopicName, UnsubAck, Unsubscribe, Will, property_id as id,
};

/// The largest Variable Byte Integer, the largest subscription identifier.
const MAX_VARINT: u32 = 268_435_455;

/// Where a property block sits, with the identifiers table 2-4 allows there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ctx {
    Connect,
    ConnAck,
    Publish,
    PubResponse,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
    Will,
}

impl Ctx {
    fn allowed(self) -> &'static [u8] {
        use id::*;
        match self {
            Self::Connect => &[
                SESSION_EXPIRY_INTERVAL,
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
                REQUEST_PROBLEM_INFORMATION,
                REQUEST_RESPONSE_INFORMATION,
                RECEIVE_MAXIMUM,
                TOPIC_ALIAS_MAXIMUM,
                USER_PROPERTY,
                MAXIMUM_PACKET_SIZE,
            ],
            Self::ConnAck => &[
                SESSION_EXPIRY_INTERVAL,
                ASSIGNED_CLIENT_IDENTIFIER,
                SERVER_KEEP_ALIVE,
                AUTHENTICATION_METHOD,
                AUTHENTICATION_DATA,
                RESPONSE_INFORMATION,
                SERVER_REFERENCE,
                REASON_STRING,
                RECEIVE_MAXIMUM,
                TOPIC_ALIAS_MAXIMUM,
                MAXIMUM_QOS,
                RETAIN_AVAILABLE,
                USER_PROPERTY,
                MAXIMUM_PACKET_SIZE,
                WILDCARD_SUBSCRIPTION_AVAILABLE,
                SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                SHARED_SUBSCRIPTION_AVAILABLE,
            ],
            Self::Publish => &[
                PAYLOAD_FORMAT_INDICATOR,
                MESSAGE_EXPIRY_INTERVAL,
                CONTENT_TYPE,
                RESPONSE_TOPIC,
                CORRELATION_DATA,
                SUBSCRIPTION_IDENTIFIER,
                TOPIC_ALIAS,
                USER_PROPERTY,
            ],
            Self::PubResponse | Self::SubAck | Self::UnsubAck => &[REASON_STRING, USER_PROPERTY],
            Self::Subscribe => &[SUBSCRIPTION_IDENTIFIER, USER_PROPERTY],
            Self::Unsubscribe => &[USER_PROPERTY],
            Self::Disconnect => &[SESSION_EXPIRY_INTERVAL, SERVER_REFERENCE, REASON_STRING, USER_PROPERTY],
            Self::Auth => &[AUTHENTICATION_METHOD, AUTHENTICATION_DATA, REASON_STRING, USER_PROPERTY],
            Self::Will => &[
                PAYLOAD_FORMAT_INDICATOR,
                MESSAGE_EXPIRY_INTERVAL,
                CONTENT_TYPE,
                RESPONSE_TOPIC,
                CORRELATION_DATA,
                WILL_DELAY_INTERVAL,
                USER_PROPERTY,
            ],
        }
    }
}

/// A UTF-8 string without U+0000 ([MQTT-1.5.4-2]), any other character allowed, multi-byte ones included.
pub(crate) fn text() -> impl Strategy<Value = ByteString> {
    "[^\\x00]{0,6}".prop_map(ByteString::from)
}

pub(crate) fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..8).prop_map(Bytes::from)
}

pub(crate) fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|v| PacketId::new(v).unwrap())
}

pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

/// A non-empty topic name without wildcards or U+0000.
pub(crate) fn topic_name() -> impl Strategy<Value = TopicName> {
    "[^\\x00+#]{1,10}".prop_map(|s| TopicName::new(s).unwrap())
}

/// A topic filter: levels that are `+` or plain text, perhaps a final `#`, perhaps shared.
pub(crate) fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![3 => "[^\\x00+#/]{0,4}", 1 => Just("+".to_owned())];
    (vec(level, 1..4), any::<bool>(), of("[^\\x00+#/]{1,4}")).prop_filter_map(
        "an empty filter",
        |(mut levels, hash, share)| {
            if hash {
                levels.push("#".to_owned());
            }
            let filter = levels.join("/");
            let filter = match share {
                Some(group) => format!("$share/{group}/{filter}"),
                None => filter,
            };
            TopicFilter::new(filter).ok()
        },
    )
}

/// Every reason code the standard allows in `packet`.
pub(crate) fn reason(packet: PacketType) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = (0..=255u8)
        .filter_map(ReasonCode::from_u8)
        .filter(|r| r.is_valid_for(packet))
        .collect();
    proptest::sample::select(codes)
}

/// Any properties `ctx` may carry, each with any allowed value.
pub(crate) fn properties(ctx: Ctx) -> BoxedStrategy<Properties> {
    let publish = (
        of(any::<bool>()),
        of(any::<u32>()),
        of(text()),
        of(topic_name()),
        of(binary()),
        vec((1..=MAX_VARINT).prop_map(|v| NonZeroU32::new(v).unwrap()), 0..3),
        of((1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).unwrap())),
    );
    let session = (
        of(any::<u32>()),
        of(text()),
        of(any::<u16>()),
        of(text()),
        of(binary()),
        of(any::<bool>()),
        of(any::<u32>()),
        of(any::<bool>()),
        of(text()),
        of(text()),
    );
    let limits = (
        of(text()),
        of((1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).unwrap())),
        of(any::<u16>()),
        of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        of(any::<bool>()),
        vec((text(), text()), 0..3),
        of((1..=u32::MAX).prop_map(|v| NonZeroU32::new(v).unwrap())),
        of(any::<bool>()),
        of(any::<bool>()),
        of(any::<bool>()),
    );
    (publish, session, limits)
        .prop_map(move |(publish, session, limits)| {
            let allowed = |property: u8| ctx.allowed().contains(&property);
            let mut subscription_identifiers = publish.5;
            if !allowed(id::SUBSCRIPTION_IDENTIFIER) {
                subscription_identifiers.clear();
            }
            if matches!(ctx, Ctx::Subscribe) {
                subscription_identifiers.truncate(1);
            }
            let mut user_properties = limits.5;
            if !allowed(id::USER_PROPERTY) {
                user_properties.clear();
            }
            Properties {
                payload_format_indicator: keep(allowed(id::PAYLOAD_FORMAT_INDICATOR), publish.0),
                message_expiry_interval: keep(allowed(id::MESSAGE_EXPIRY_INTERVAL), publish.1),
                content_type: keep(allowed(id::CONTENT_TYPE), publish.2),
                response_topic: keep(allowed(id::RESPONSE_TOPIC), publish.3),
                correlation_data: keep(allowed(id::CORRELATION_DATA), publish.4),
                subscription_identifiers,
                topic_alias: keep(allowed(id::TOPIC_ALIAS), publish.6),
                session_expiry_interval: keep(allowed(id::SESSION_EXPIRY_INTERVAL), session.0),
                assigned_client_identifier: keep(allowed(id::ASSIGNED_CLIENT_IDENTIFIER), session.1),
                server_keep_alive: keep(allowed(id::SERVER_KEEP_ALIVE), session.2),
                authentication_method: keep(allowed(id::AUTHENTICATION_METHOD), session.3),
                authentication_data: keep(allowed(id::AUTHENTICATION_DATA), session.4),
                request_problem_information: keep(allowed(id::REQUEST_PROBLEM_INFORMATION), session.5),
                will_delay_interval: keep(allowed(id::WILL_DELAY_INTERVAL), session.6),
                request_response_information: keep(allowed(id::REQUEST_RESPONSE_INFORMATION), session.7),
                response_information: keep(allowed(id::RESPONSE_INFORMATION), session.8),
                server_reference: keep(allowed(id::SERVER_REFERENCE), session.9),
                reason_string: keep(allowed(id::REASON_STRING), limits.0),
                receive_maximum: keep(allowed(id::RECEIVE_MAXIMUM), limits.1),
                topic_alias_maximum: keep(allowed(id::TOPIC_ALIAS_MAXIMUM), limits.2),
                maximum_qos: keep(allowed(id::MAXIMUM_QOS), limits.3),
                retain_available: keep(allowed(id::RETAIN_AVAILABLE), limits.4),
                user_properties,
                maximum_packet_size: keep(allowed(id::MAXIMUM_PACKET_SIZE), limits.6),
                wildcard_subscription_available: keep(allowed(id::WILDCARD_SUBSCRIPTION_AVAILABLE), limits.7),
                subscription_identifier_available: keep(allowed(id::SUBSCRIPTION_IDENTIFIER_AVAILABLE), limits.8),
                shared_subscription_available: keep(allowed(id::SHARED_SUBSCRIPTION_AVAILABLE), limits.9),
            }
        })
        .boxed()
}

/// `v` if the property is allowed, else `None`.
fn keep<T>(allowed: bool, v: Option<T>) -> Option<T> {
    if allowed { v } else { None }
}

/// Properties for `version`: none at all before MQTT 5.
fn props(version: ProtocolVersion, ctx: Ctx) -> BoxedStrategy<Properties> {
    if version.is_v5() {
        properties(ctx)
    } else {
        Just(Properties::default()).boxed()
    }
}

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    (topic_name(), binary(), qos(), any::<bool>(), props(version, Ctx::Will)).prop_map(
        |(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        },
    )
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<u16>(),
        props(version, Ctx::Connect),
        text(),
        of(will(version)),
        of(text()),
        of(binary()),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                // Before MQTT 5 a password needs a user name ([MQTT-3.1.2-22]).
                let password = if version.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                    // The bridge mark has byte tests of its own (`packet/connect.rs`).
                    bridge: false,
                }))
            },
        )
}

fn connack(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match version {
        ProtocolVersion::V5 => (any::<bool>(), reason(PacketType::ConnAck), properties(Ctx::ConnAck))
            .prop_map(|(session_present, reason_code, properties)| {
                Packet::ConnAck(ConnAck {
                    session_present,
                    reason_code,
                    properties,
                })
            })
            .boxed(),
        // The six return codes of 3.x; 3.1 has no session present flag.
        _ => (
            any::<bool>(),
            (0..=5u8).prop_map(|c| ReasonCode::from_v3_connack_code(c).unwrap()),
        )
            .prop_map(move |(session_present, reason)| {
                let session_present = session_present && version == ProtocolVersion::V311;
                Packet::ConnAck(ConnAck::new(session_present, reason))
            })
            .boxed(),
    }
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        qos(),
        packet_id(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        props(version, Ctx::Publish),
        vec(any::<u8>(), 0..32),
        any::<bool>(),
    )
        .prop_map(
            move |(qos, packet_id, dup, retain, topic, mut properties, payload, aliased)| {
                // An empty topic name only with a topic alias, only in MQTT 5.
                let topic = if aliased && version.is_v5() {
                    properties.topic_alias.get_or_insert(NonZeroU16::MIN);
                    TopicName::empty()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    // DUP only on QoS 1 and 2 ([MQTT-3.3.1-2]).
                    dup: dup && qos != QoS::AtMostOnce,
                    qos_pid: QoSPid::new(qos, packet_id),
                    retain,
                    topic,
                    properties,
                    payload: Bytes::from(payload),
                })
            },
        )
}

fn ack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    type Wrap = fn(Ack) -> Packet;
    let kinds: [(PacketType, Wrap); 4] = [
        (PacketType::PubAck, Packet::PubAck),
        (PacketType::PubRec, Packet::PubRec),
        (PacketType::PubRel, Packet::PubRel),
        (PacketType::PubComp, Packet::PubComp),
    ];
    proptest::sample::select(kinds.to_vec()).prop_flat_map(move |(packet, wrap)| {
        let reason = if version.is_v5() {
            reason(packet).boxed()
        } else {
            Just(ReasonCode::Success).boxed()
        };
        (packet_id(), reason, props(version, Ctx::PubResponse)).prop_map(move |(packet_id, reason_code, properties)| {
            wrap(Ack {
                packet_id,
                reason_code,
                properties,
            })
        })
    })
}

fn subscription(version: ProtocolVersion) -> impl Strategy<Value = (TopicFilter, SubscriptionOptions)> {
    let retain_handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend),
    ];
    (topic_filter(), qos(), any::<bool>(), any::<bool>(), retain_handling).prop_map(
        move |(filter, qos, no_local, retain_as_published, retain_handling)| {
            let options = if version.is_v5() {
                SubscriptionOptions {
                    qos,
                    // [MQTT-3.8.3-4]: not on a shared subscription.
                    no_local: no_local && filter.shared().is_none(),
                    retain_as_published,
                    retain_handling,
                }
            } else {
                SubscriptionOptions::qos(qos)
            };
            (filter, options)
        },
    )
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        props(version, Ctx::Subscribe),
        vec(subscription(version), 1..4),
    )
        .prop_map(|(packet_id, properties, filters)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters: filters.into_iter().map(|(f, o)| (Ok(f), o)).collect(),
            })
        })
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let code = if version.is_v5() {
        reason(PacketType::SubAck).boxed()
    } else {
        proptest::sample::select(vec![
            ReasonCode::GRANTED_QOS0,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed()
    };
    (packet_id(), props(version, Ctx::SubAck), vec(code, 0..4)).prop_map(|(packet_id, properties, reason_codes)| {
        Packet::SubAck(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (packet_id(), props(version, Ctx::Unsubscribe), vec(topic_filter(), 1..4)).prop_map(
        |(packet_id, properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters: filters.into_iter().map(Ok).collect(),
            })
        },
    )
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let max_codes = if version.is_v5() { 4 } else { 1 };
    (
        packet_id(),
        props(version, Ctx::UnsubAck),
        vec(reason(PacketType::UnsubAck), 0..max_codes),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    if version.is_v5() {
        (reason(PacketType::Disconnect), properties(Ctx::Disconnect))
            .prop_map(|(reason_code, properties)| {
                Packet::Disconnect(Disconnect {
                    reason_code,
                    properties,
                })
            })
            .boxed()
    } else {
        Just(Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))).boxed()
    }
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(PacketType::Auth), properties(Ctx::Auth)).prop_map(|(reason_code, properties)| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    })
}

/// Any valid packet of `version`.
pub(crate) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        2 => connect(version),
        1 => connack(version),
        3 => publish(version),
        2 => ack(version),
        1 => subscribe(version),
        1 => suback(version),
        1 => unsubscribe(version),
        1 => unsuback(version),
        1 => Just(Packet::PingReq),
        1 => Just(Packet::PingResp),
        1 => disconnect(version),
    ];
    if version.is_v5() {
        prop_oneof![10 => common, 1 => auth()].boxed()
    } else {
        common.boxed()
    }
}
