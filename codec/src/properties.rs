//! MQTT 5 properties (section 2.2.2): one struct holding every property, decoded and encoded with the rules of
//! the packet that carries it: which properties it may carry, which may repeat, and each value's range.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::topic::TopicName;
use crate::types::QoS;
use crate::wire::{self, MAX_VARINT, Reader};

/// Property identifiers (section 2.2.2.2, table 2-4).
#[allow(missing_docs)]
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// Where a property block sits: a packet type, or the Will Properties of CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context {
    name: &'static str,
    bit: u16,
}

impl Context {
    pub(crate) const CONNECT: Self = Self {
        name: "CONNECT",
        bit: 1 << 0,
    };
    pub(crate) const CONNACK: Self = Self {
        name: "CONNACK",
        bit: 1 << 1,
    };
    pub(crate) const PUBLISH: Self = Self {
        name: "PUBLISH",
        bit: 1 << 2,
    };
    /// PUBACK, PUBREC, PUBREL and PUBCOMP allow the same properties.
    pub(crate) const PUB_RESPONSE: Self = Self {
        name: "PUBACK/PUBREC/PUBREL/PUBCOMP",
        bit: 1 << 3,
    };
    pub(crate) const SUBSCRIBE: Self = Self {
        name: "SUBSCRIBE",
        bit: 1 << 4,
    };
    pub(crate) const SUBACK: Self = Self {
        name: "SUBACK",
        bit: 1 << 5,
    };
    pub(crate) const UNSUBSCRIBE: Self = Self {
        name: "UNSUBSCRIBE",
        bit: 1 << 6,
    };
    pub(crate) const UNSUBACK: Self = Self {
        name: "UNSUBACK",
        bit: 1 << 7,
    };
    pub(crate) const DISCONNECT: Self = Self {
        name: "DISCONNECT",
        bit: 1 << 8,
    };
    pub(crate) const AUTH: Self = Self {
        name: "AUTH",
        bit: 1 << 9,
    };
    pub(crate) const WILL: Self = Self {
        name: "Will Properties",
        bit: 1 << 10,
    };
}

/// The contexts in which each property identifier may appear (table 2-4).
const fn allowed_in(property: u8) -> u16 {
    const C: u16 = Context::CONNECT.bit;
    const CA: u16 = Context::CONNACK.bit;
    const P: u16 = Context::PUBLISH.bit;
    const PR: u16 = Context::PUB_RESPONSE.bit;
    const S: u16 = Context::SUBSCRIBE.bit;
    const SA: u16 = Context::SUBACK.bit;
    const U: u16 = Context::UNSUBSCRIBE.bit;
    const UA: u16 = Context::UNSUBACK.bit;
    const D: u16 = Context::DISCONNECT.bit;
    const A: u16 = Context::AUTH.bit;
    const W: u16 = Context::WILL.bit;
    match property {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::MESSAGE_EXPIRY_INTERVAL
        | id::CONTENT_TYPE
        | id::RESPONSE_TOPIC
        | id::CORRELATION_DATA => P | W,
        id::SUBSCRIPTION_IDENTIFIER => P | S,
        id::SESSION_EXPIRY_INTERVAL => C | CA | D,
        id::ASSIGNED_CLIENT_IDENTIFIER | id::SERVER_KEEP_ALIVE | id::RESPONSE_INFORMATION => CA,
        id::AUTHENTICATION_METHOD | id::AUTHENTICATION_DATA => C | CA | A,
        id::REQUEST_PROBLEM_INFORMATION | id::REQUEST_RESPONSE_INFORMATION => C,
        id::WILL_DELAY_INTERVAL => W,
        id::SERVER_REFERENCE => CA | D,
        id::REASON_STRING => CA | PR | SA | UA | D | A,
        id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::MAXIMUM_PACKET_SIZE => C | CA,
        id::TOPIC_ALIAS => P,
        id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE => CA,
        id::USER_PROPERTY => C | CA | P | PR | S | SA | U | UA | D | A | W,
        _ => 0,
    }
}

/// Every MQTT 5 property, each `None` or empty when absent. A packet may carry only the properties its section of
/// the standard lists; decoding enforces that and encoding refuses to break it. MQTT 3.x packets carry none: their
/// encoders ignore this struct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// 0x01: the payload is UTF-8 text (`true`) or unspecified bytes (`false`).
    pub payload_format_indicator: Option<bool>,
    /// 0x02: seconds until the message expires.
    pub message_expiry_interval: Option<u32>,
    /// 0x03: the payload's content type, e.g. a MIME type.
    pub content_type: Option<ByteString>,
    /// 0x08: the topic a request's response should be published to (no wildcards, [MQTT-3.3.2-14]).
    pub response_topic: Option<TopicName>,
    /// 0x09: correlates a response with its request.
    pub correlation_data: Option<Bytes>,
    /// 0x0B: at most one in SUBSCRIBE; in PUBLISH, one per matching subscription that had one.
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// 0x11: seconds the session outlives the connection.
    pub session_expiry_interval: Option<u32>,
    /// 0x12: the client identifier the server assigned to a client that sent an empty one.
    pub assigned_client_identifier: Option<ByteString>,
    /// 0x13: the keep alive the server imposes instead of the client's.
    pub server_keep_alive: Option<u16>,
    /// 0x15: the name of the extended authentication method.
    pub authentication_method: Option<ByteString>,
    /// 0x16: data of the extended authentication exchange.
    pub authentication_data: Option<Bytes>,
    /// 0x17: whether the server may send reason strings and user properties on failures.
    pub request_problem_information: Option<bool>,
    /// 0x18: seconds the server waits before publishing the will message.
    pub will_delay_interval: Option<u32>,
    /// 0x19: whether the client asks for response information in CONNACK.
    pub request_response_information: Option<bool>,
    /// 0x1A: the basis for response topics the server offers.
    pub response_information: Option<ByteString>,
    /// 0x1C: another server the client should use.
    pub server_reference: Option<ByteString>,
    /// 0x1F: human-readable diagnostics for a reason code.
    pub reason_string: Option<ByteString>,
    /// 0x21: how many QoS 1 and 2 publications the sender is willing to process at once.
    pub receive_maximum: Option<NonZeroU16>,
    /// 0x22: the highest topic alias the sender accepts.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23: a number standing in for the topic name.
    pub topic_alias: Option<NonZeroU16>,
    /// 0x24: the highest QoS the server supports (0 or 1; absent means 2).
    pub maximum_qos: Option<QoS>,
    /// 0x25: whether the server supports retained messages.
    pub retain_available: Option<bool>,
    /// 0x26: name/value pairs, in order; a name may repeat.
    pub user_properties: Vec<(ByteString, ByteString)>,
    /// 0x27: the largest packet the sender accepts.
    pub maximum_packet_size: Option<NonZeroU32>,
    /// 0x28: whether the server supports wildcard subscriptions.
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29: whether the server supports subscription identifiers.
    pub subscription_identifier_available: Option<bool>,
    /// 0x2A: whether the server supports shared subscriptions.
    pub shared_subscription_available: Option<bool>,
}

/// One property value as it is written.
enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl Value<'_> {
    fn len(&self) -> Result<usize, EncodeError> {
        Ok(match self {
            Self::Byte(_) => 1,
            Self::Two(_) => 2,
            Self::Four(_) => 4,
            Self::Var(v) => wire::varint_len(*v),
            Self::Str(s) => wire::string_len(s)?,
            Self::Bin(b) => wire::field_len(b)?,
            Self::Pair(k, v) => wire::string_len(k)? + wire::string_len(v)?,
        })
    }

    fn put(&self, buf: &mut BytesMut) {
        match self {
            Self::Byte(v) => buf.put_u8(*v),
            Self::Two(v) => buf.put_u16(*v),
            Self::Four(v) => buf.put_u32(*v),
            Self::Var(v) => wire::put_varint(buf, *v),
            Self::Str(s) => wire::put_binary(buf, s.as_bytes()),
            Self::Bin(b) => wire::put_binary(buf, b),
            Self::Pair(k, v) => {
                wire::put_binary(buf, k.as_bytes());
                wire::put_binary(buf, v.as_bytes());
            }
        }
    }
}

fn bool_byte(property: u8, r: &mut Reader) -> Result<bool, DecodeError> {
    match r.u8("property value")? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue(property)),
    }
}

impl Properties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Calls `f` with each present property in identifier order (user properties in their own order).
    fn visit(&self, mut f: impl FnMut(u8, Value<'_>) -> Result<(), EncodeError>) -> Result<(), EncodeError> {
        use Value::*;
        let b = |v: bool| Byte(u8::from(v));
        if let Some(v) = self.payload_format_indicator {
            f(id::PAYLOAD_FORMAT_INDICATOR, b(v))?;
        }
        if let Some(v) = self.message_expiry_interval {
            f(id::MESSAGE_EXPIRY_INTERVAL, Four(v))?;
        }
        if let Some(v) = &self.content_type {
            f(id::CONTENT_TYPE, Str(v))?;
        }
        if let Some(v) = &self.response_topic {
            f(id::RESPONSE_TOPIC, Str(v.as_str()))?;
        }
        if let Some(v) = &self.correlation_data {
            f(id::CORRELATION_DATA, Bin(v))?;
        }
        for v in &self.subscription_identifiers {
            f(id::SUBSCRIPTION_IDENTIFIER, Var(v.get()))?;
        }
        if let Some(v) = self.session_expiry_interval {
            f(id::SESSION_EXPIRY_INTERVAL, Four(v))?;
        }
        if let Some(v) = &self.assigned_client_identifier {
            f(id::ASSIGNED_CLIENT_IDENTIFIER, Str(v))?;
        }
        if let Some(v) = self.server_keep_alive {
            f(id::SERVER_KEEP_ALIVE, Two(v))?;
        }
        if let Some(v) = &self.authentication_method {
            f(id::AUTHENTICATION_METHOD, Str(v))?;
        }
        if let Some(v) = &self.authentication_data {
            f(id::AUTHENTICATION_DATA, Bin(v))?;
        }
        if let Some(v) = self.request_problem_information {
            f(id::REQUEST_PROBLEM_INFORMATION, b(v))?;
        }
        if let Some(v) = self.will_delay_interval {
            f(id::WILL_DELAY_INTERVAL, Four(v))?;
        }
        if let Some(v) = self.request_response_information {
            f(id::REQUEST_RESPONSE_INFORMATION, b(v))?;
        }
        if let Some(v) = &self.response_information {
            f(id::RESPONSE_INFORMATION, Str(v))?;
        }
        if let Some(v) = &self.server_reference {
            f(id::SERVER_REFERENCE, Str(v))?;
        }
        if let Some(v) = &self.reason_string {
            f(id::REASON_STRING, Str(v))?;
        }
        if let Some(v) = self.receive_maximum {
            f(id::RECEIVE_MAXIMUM, Two(v.get()))?;
        }
        if let Some(v) = self.topic_alias_maximum {
            f(id::TOPIC_ALIAS_MAXIMUM, Two(v))?;
        }
        if let Some(v) = self.topic_alias {
            f(id::TOPIC_ALIAS, Two(v.get()))?;
        }
        if let Some(v) = self.maximum_qos {
            f(id::MAXIMUM_QOS, Byte(v as u8))?;
        }
        if let Some(v) = self.retain_available {
            f(id::RETAIN_AVAILABLE, b(v))?;
        }
        for (k, v) in &self.user_properties {
            f(id::USER_PROPERTY, Pair(k, v))?;
        }
        if let Some(v) = self.maximum_packet_size {
            f(id::MAXIMUM_PACKET_SIZE, Four(v.get()))?;
        }
        if let Some(v) = self.wildcard_subscription_available {
            f(id::WILDCARD_SUBSCRIPTION_AVAILABLE, b(v))?;
        }
        if let Some(v) = self.subscription_identifier_available {
            f(id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, b(v))?;
        }
        if let Some(v) = self.shared_subscription_available {
            f(id::SHARED_SUBSCRIPTION_AVAILABLE, b(v))?;
        }
        Ok(())
    }

    /// Length of the property block without its length prefix, checking every property is allowed in `ctx` and
    /// every value is one the standard allows.
    fn content_len(&self, ctx: Context) -> Result<usize, EncodeError> {
        if self.subscription_identifiers.len() > 1 && ctx == Context::SUBSCRIBE {
            return Err(EncodeError::PropertyNotAllowed {
                id: id::SUBSCRIPTION_IDENTIFIER,
                packet: ctx.name,
            });
        }
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(EncodeError::InvalidPropertyValue(id::MAXIMUM_QOS));
        }
        let mut len = 0;
        self.visit(|property, value| {
            if allowed_in(property) & ctx.bit == 0 {
                return Err(EncodeError::PropertyNotAllowed {
                    id: property,
                    packet: ctx.name,
                });
            }
            if let Value::Var(v) = value
                && v > MAX_VARINT
            {
                return Err(EncodeError::InvalidPropertyValue(property));
            }
            len += 1 + value.len()?;
            Ok(())
        })?;
        Ok(len)
    }

    /// Length of the property block including its Variable Byte Integer length prefix.
    pub(crate) fn encoded_len(&self, ctx: Context) -> Result<usize, EncodeError> {
        let len = self.content_len(ctx)?;
        Ok(wire::varint_len(len as u32) + len)
    }

    /// Writes the property block; [`Self::encoded_len`] must have accepted it.
    pub(crate) fn encode(&self, ctx: Context, buf: &mut BytesMut) {
        let len = self.content_len(ctx).expect("validated by encoded_len");
        wire::put_varint(buf, len as u32);
        let _ = self.visit(|property, value| {
            buf.put_u8(property);
            value.put(buf);
            Ok(())
        });
    }

    /// The property block of a PUBLISH (or, with `will`, of a CONNECT's Will Properties) as bytes, length prefix
    /// included: how the broker stores a message's properties on disk. Refuses a property that block may not
    /// carry, as encoding a packet would.
    pub fn to_block(&self, will: bool) -> Result<Bytes, EncodeError> {
        let ctx = if will { Context::WILL } else { Context::PUBLISH };
        let mut buf = BytesMut::with_capacity(self.encoded_len(ctx)?);
        self.encode(ctx, &mut buf);
        Ok(buf.freeze())
    }

    /// Reads back what [`Properties::to_block`] wrote; the whole of `block` must be one property block.
    pub fn from_block(block: Bytes, will: bool) -> Result<Self, DecodeError> {
        let ctx = if will { Context::WILL } else { Context::PUBLISH };
        let mut r = Reader::new(block);
        let properties = Self::decode(&mut r, ctx)?;
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes(crate::packet::PacketType::Publish));
        }
        Ok(properties)
    }

    /// Reads a property block: its length, then properties until that length is used up.
    pub(crate) fn decode(r: &mut Reader, ctx: Context) -> Result<Self, DecodeError> {
        let len = r.varint("property length")? as usize;
        let mut r = Reader::new(r.take(len, "properties")?);
        let mut p = Self::default();
        let mut seen = 0u64;
        while !r.is_empty() {
            // The identifier is a Variable Byte Integer; every defined one fits in a single byte.
            let raw = r.varint("property identifier")?;
            let property = u8::try_from(raw).map_err(|_| DecodeError::UnknownProperty(0xFF))?;
            let allowed = allowed_in(property);
            if allowed == 0 {
                return Err(DecodeError::UnknownProperty(property));
            }
            if allowed & ctx.bit == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    id: property,
                    packet: ctx.name,
                });
            }
            let repeatable =
                property == id::USER_PROPERTY || (property == id::SUBSCRIPTION_IDENTIFIER && ctx == Context::PUBLISH);
            if !repeatable {
                if seen & (1 << property) != 0 {
                    return Err(DecodeError::DuplicateProperty(property));
                }
                seen |= 1 << property;
            }
            let invalid = DecodeError::InvalidPropertyValue(property);
            match property {
                id::PAYLOAD_FORMAT_INDICATOR => p.payload_format_indicator = Some(bool_byte(property, &mut r)?),
                id::MESSAGE_EXPIRY_INTERVAL => p.message_expiry_interval = Some(r.u32("property value")?),
                id::CONTENT_TYPE => p.content_type = Some(r.string("content type")?),
                id::RESPONSE_TOPIC => {
                    p.response_topic = Some(TopicName::new(r.string("response topic")?)?);
                }
                id::CORRELATION_DATA => p.correlation_data = Some(r.binary("correlation data")?),
                id::SUBSCRIPTION_IDENTIFIER => {
                    let v = NonZeroU32::new(r.varint("subscription identifier")?)
                        .ok_or(DecodeError::ZeroSubscriptionIdentifier)?;
                    p.subscription_identifiers.push(v);
                }
                id::SESSION_EXPIRY_INTERVAL => p.session_expiry_interval = Some(r.u32("property value")?),
                id::ASSIGNED_CLIENT_IDENTIFIER => {
                    p.assigned_client_identifier = Some(r.string("assigned client identifier")?);
                }
                id::SERVER_KEEP_ALIVE => p.server_keep_alive = Some(r.u16("property value")?),
                id::AUTHENTICATION_METHOD => p.authentication_method = Some(r.string("authentication method")?),
                id::AUTHENTICATION_DATA => p.authentication_data = Some(r.binary("authentication data")?),
                id::REQUEST_PROBLEM_INFORMATION => {
                    p.request_problem_information = Some(bool_byte(property, &mut r)?);
                }
                id::WILL_DELAY_INTERVAL => p.will_delay_interval = Some(r.u32("property value")?),
                id::REQUEST_RESPONSE_INFORMATION => {
                    p.request_response_information = Some(bool_byte(property, &mut r)?);
                }
                id::RESPONSE_INFORMATION => p.response_information = Some(r.string("response information")?),
                id::SERVER_REFERENCE => p.server_reference = Some(r.string("server reference")?),
                id::REASON_STRING => p.reason_string = Some(r.string("reason string")?),
                id::RECEIVE_MAXIMUM => {
                    p.receive_maximum = Some(NonZeroU16::new(r.u16("property value")?).ok_or(invalid)?);
                }
                id::TOPIC_ALIAS_MAXIMUM => p.topic_alias_maximum = Some(r.u16("property value")?),
                id::TOPIC_ALIAS => {
                    p.topic_alias = Some(NonZeroU16::new(r.u16("property value")?).ok_or(DecodeError::ZeroTopicAlias)?);
                }
                id::MAXIMUM_QOS => {
                    p.maximum_qos = Some(match r.u8("property value")? {
                        0 => QoS::AtMostOnce,
                        1 => QoS::AtLeastOnce,
                        _ => return Err(invalid),
                    });
                }
                id::RETAIN_AVAILABLE => p.retain_available = Some(bool_byte(property, &mut r)?),
                id::USER_PROPERTY => {
                    let name = r.string("user property name")?;
                    let value = r.string("user property value")?;
                    p.user_properties.push((name, value));
                }
                id::MAXIMUM_PACKET_SIZE => {
                    p.maximum_packet_size = Some(NonZeroU32::new(r.u32("property value")?).ok_or(invalid)?);
                }
                id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                    p.wildcard_subscription_available = Some(bool_byte(property, &mut r)?);
                }
                id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                    p.subscription_identifier_available = Some(bool_byte(property, &mut r)?);
                }
                id::SHARED_SUBSCRIPTION_AVAILABLE => {
                    p.shared_subscription_available = Some(bool_byte(property, &mut r)?);
                }
                _ => return Err(DecodeError::UnknownProperty(property)),
            }
        }
        Ok(p)
    }
}

/// Table 2-4 of section 2.2.2.2 written out again, independently of `allowed_in`, and every property decoded and
/// encoded in every context.
#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::types::QoS;

    #[test]
    fn a_property_block_round_trips_as_bytes() {
        let properties = Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(60),
            content_type: Some("text/plain".into()),
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
            ..Properties::default()
        };
        let block = properties.to_block(false).unwrap();
        assert_eq!(Properties::from_block(block.clone(), false).unwrap(), properties);
        assert_eq!(Properties::from_block(block.clone(), true).unwrap(), properties);
        let mut longer = block.to_vec();
        longer.push(0);
        assert!(Properties::from_block(Bytes::from(longer), false).is_err());
        let will = Properties {
            will_delay_interval: Some(5),
            ..Properties::default()
        };
        assert!(will.to_block(false).is_err(), "not a PUBLISH property");
        assert_eq!(
            Properties::from_block(will.to_block(true).unwrap(), true).unwrap(),
            will
        );
        assert_eq!(Properties::default().to_block(false).unwrap().as_ref(), [0]);
    }

    const CONTEXTS: [Context; 11] = [
        Context::CONNECT,
        Context::CONNACK,
        Context::PUBLISH,
        Context::PUB_RESPONSE,
        Context::SUBSCRIBE,
        Context::SUBACK,
        Context::UNSUBSCRIBE,
        Context::UNSUBACK,
        Context::DISCONNECT,
        Context::AUTH,
        Context::WILL,
    ];

    /// Table 2-4: each identifier and the packets (or Will Properties) that may carry it.
    fn table_2_4() -> Vec<(u8, Vec<Context>)> {
        use Context as C;
        let every = CONTEXTS.to_vec();
        vec![
            (0x01, vec![C::PUBLISH, C::WILL]),
            (0x02, vec![C::PUBLISH, C::WILL]),
            (0x03, vec![C::PUBLISH, C::WILL]),
            (0x08, vec![C::PUBLISH, C::WILL]),
            (0x09, vec![C::PUBLISH, C::WILL]),
            (0x0B, vec![C::PUBLISH, C::SUBSCRIBE]),
            (0x11, vec![C::CONNECT, C::CONNACK, C::DISCONNECT]),
            (0x12, vec![C::CONNACK]),
            (0x13, vec![C::CONNACK]),
            (0x15, vec![C::CONNECT, C::CONNACK, C::AUTH]),
            (0x16, vec![C::CONNECT, C::CONNACK, C::AUTH]),
            (0x17, vec![C::CONNECT]),
            (0x18, vec![C::WILL]),
            (0x19, vec![C::CONNECT]),
            (0x1A, vec![C::CONNACK]),
            (0x1C, vec![C::CONNACK, C::DISCONNECT]),
            (
                0x1F,
                vec![
                    C::CONNACK,
                    C::PUB_RESPONSE,
                    C::SUBACK,
                    C::UNSUBACK,
                    C::DISCONNECT,
                    C::AUTH,
                ],
            ),
            (0x21, vec![C::CONNECT, C::CONNACK]),
            (0x22, vec![C::CONNECT, C::CONNACK]),
            (0x23, vec![C::PUBLISH]),
            (0x24, vec![C::CONNACK]),
            (0x25, vec![C::CONNACK]),
            (0x26, every),
            (0x27, vec![C::CONNECT, C::CONNACK]),
            (0x28, vec![C::CONNACK]),
            (0x29, vec![C::CONNACK]),
            (0x2A, vec![C::CONNACK]),
        ]
    }

    fn s(v: &str) -> ByteString {
        ByteString::from(v.to_owned())
    }

    /// One valid encoding of property `id` (identifier and value) and the properties it decodes to.
    fn sample(id: u8) -> (Vec<u8>, Properties) {
        let mut p = Properties::default();
        let bytes = match id {
            0x01 => {
                p.payload_format_indicator = Some(true);
                vec![0x01, 0x01]
            }
            0x02 => {
                p.message_expiry_interval = Some(10);
                vec![0x02, 0x00, 0x00, 0x00, 0x0A]
            }
            0x03 => {
                p.content_type = Some(s("t"));
                vec![0x03, 0x00, 0x01, b't']
            }
            0x08 => {
                p.response_topic = Some(TopicName::new("r").unwrap());
                vec![0x08, 0x00, 0x01, b'r']
            }
            0x09 => {
                p.correlation_data = Some(Bytes::from_static(&[0xFF]));
                vec![0x09, 0x00, 0x01, 0xFF]
            }
            0x0B => {
                p.subscription_identifiers = vec![NonZeroU32::new(5).unwrap()];
                vec![0x0B, 0x05]
            }
            0x11 => {
                p.session_expiry_interval = Some(1);
                vec![0x11, 0x00, 0x00, 0x00, 0x01]
            }
            0x12 => {
                p.assigned_client_identifier = Some(s("c"));
                vec![0x12, 0x00, 0x01, b'c']
            }
            0x13 => {
                p.server_keep_alive = Some(5);
                vec![0x13, 0x00, 0x05]
            }
            0x15 => {
                p.authentication_method = Some(s("m"));
                vec![0x15, 0x00, 0x01, b'm']
            }
            0x16 => {
                p.authentication_data = Some(Bytes::from_static(&[0x00]));
                vec![0x16, 0x00, 0x01, 0x00]
            }
            0x17 => {
                p.request_problem_information = Some(true);
                vec![0x17, 0x01]
            }
            0x18 => {
                p.will_delay_interval = Some(9);
                vec![0x18, 0x00, 0x00, 0x00, 0x09]
            }
            0x19 => {
                p.request_response_information = Some(false);
                vec![0x19, 0x00]
            }
            0x1A => {
                p.response_information = Some(s("i"));
                vec![0x1A, 0x00, 0x01, b'i']
            }
            0x1C => {
                p.server_reference = Some(s("s"));
                vec![0x1C, 0x00, 0x01, b's']
            }
            0x1F => {
                p.reason_string = Some(s("r"));
                vec![0x1F, 0x00, 0x01, b'r']
            }
            0x21 => {
                p.receive_maximum = Some(NonZeroU16::new(1).unwrap());
                vec![0x21, 0x00, 0x01]
            }
            0x22 => {
                // Topic Alias Maximum 0 is allowed: it means no aliases.
                p.topic_alias_maximum = Some(0);
                vec![0x22, 0x00, 0x00]
            }
            0x23 => {
                p.topic_alias = Some(NonZeroU16::new(0xFFFF).unwrap());
                vec![0x23, 0xFF, 0xFF]
            }
            0x24 => {
                p.maximum_qos = Some(QoS::AtMostOnce);
                vec![0x24, 0x00]
            }
            0x25 => {
                p.retain_available = Some(true);
                vec![0x25, 0x01]
            }
            0x26 => {
                // An empty value is a valid UTF-8 string.
                p.user_properties = vec![(s("k"), s(""))];
                vec![0x26, 0x00, 0x01, b'k', 0x00, 0x00]
            }
            0x27 => {
                p.maximum_packet_size = Some(NonZeroU32::new(u32::MAX).unwrap());
                vec![0x27, 0xFF, 0xFF, 0xFF, 0xFF]
            }
            0x28 => {
                p.wildcard_subscription_available = Some(true);
                vec![0x28, 0x01]
            }
            0x29 => {
                p.subscription_identifier_available = Some(false);
                vec![0x29, 0x00]
            }
            0x2A => {
                p.shared_subscription_available = Some(true);
                vec![0x2A, 0x01]
            }
            _ => unreachable!("no property 0x{id:02X}"),
        };
        (bytes, p)
    }

    /// A property block: its length, then `content`.
    fn block(content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 128);
        [&[content.len() as u8][..], content].concat()
    }

    /// Decodes a whole property block, checking it consumes exactly the block.
    fn decode(ctx: Context, block: &[u8]) -> Result<Properties, DecodeError> {
        let mut r = Reader::new(Bytes::copy_from_slice(block));
        let p = Properties::decode(&mut r, ctx)?;
        assert!(r.is_empty(), "the block was not consumed exactly");
        Ok(p)
    }

    fn encode(ctx: Context, p: &Properties) -> Result<Vec<u8>, EncodeError> {
        let len = p.encoded_len(ctx)?;
        let mut buf = BytesMut::new();
        p.encode(ctx, &mut buf);
        assert_eq!(buf.len(), len, "encoded_len");
        Ok(buf.to_vec())
    }

    #[test]
    fn every_property_in_every_context() {
        for (id, allowed) in table_2_4() {
            let (bytes, expected) = sample(id);
            for ctx in CONTEXTS {
                let block = block(&bytes);
                if allowed.contains(&ctx) {
                    assert_eq!(decode(ctx, &block), Ok(expected.clone()), "0x{id:02X} in {}", ctx.name);
                    assert_eq!(encode(ctx, &expected), Ok(block), "0x{id:02X} in {}", ctx.name);
                } else {
                    assert_eq!(
                        decode(ctx, &block),
                        Err(DecodeError::PropertyNotAllowed { id, packet: ctx.name })
                    );
                    assert_eq!(
                        encode(ctx, &expected),
                        Err(EncodeError::PropertyNotAllowed { id, packet: ctx.name })
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_identifiers() {
        let known: Vec<u8> = table_2_4().iter().map(|(id, _)| *id).collect();
        for id in (0..=0x7F).filter(|id| !known.contains(id)) {
            for ctx in CONTEXTS {
                assert_eq!(
                    decode(ctx, &block(&[id, 0x00])),
                    Err(DecodeError::UnknownProperty(id)),
                    "0x{id:02X}"
                );
            }
        }
        // An identifier is a Variable Byte Integer: two-byte encodings of unknown ones, the second above 255.
        assert_eq!(
            decode(Context::PUBLISH, &block(&[0x80, 0x01, 0x00])),
            Err(DecodeError::UnknownProperty(0x80))
        );
        assert_eq!(
            decode(Context::PUBLISH, &block(&[0x80, 0x02])),
            Err(DecodeError::UnknownProperty(0xFF))
        );
        // ...and a non-minimal encoding of 0x26 is malformed.
        assert_eq!(
            decode(Context::PUBLISH, &block(&[0xA6, 0x00, 0x00, 0x00, 0x00, 0x00])),
            Err(DecodeError::MalformedVarInt)
        );
    }

    #[test]
    fn each_property_but_user_property_at_most_once() {
        for (id, allowed) in table_2_4() {
            let (bytes, _) = sample(id);
            let twice = block(&[&bytes[..], &bytes].concat());
            for ctx in allowed {
                let repeatable =
                    id == id::USER_PROPERTY || (id == id::SUBSCRIPTION_IDENTIFIER && ctx == Context::PUBLISH);
                if repeatable {
                    assert!(decode(ctx, &twice).is_ok(), "0x{id:02X} twice in {}", ctx.name);
                } else {
                    assert_eq!(
                        decode(ctx, &twice),
                        Err(DecodeError::DuplicateProperty(id)),
                        "0x{id:02X} twice in {}",
                        ctx.name
                    );
                    assert_eq!(
                        DecodeError::DuplicateProperty(id).reason_code(),
                        crate::ReasonCode::ProtocolError
                    );
                }
            }
        }
    }

    #[test]
    fn two_user_properties_keep_their_order() {
        // Name repeated, order kept ([MQTT-3.3.2-18] relies on it).
        let content = [
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'2', //
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1',
        ];
        let expected = Properties {
            user_properties: vec![(s("a"), s("2")), (s("a"), s("1"))],
            ..Properties::default()
        };
        for ctx in CONTEXTS {
            assert_eq!(decode(ctx, &block(&content)), Ok(expected.clone()));
            assert_eq!(encode(ctx, &expected), Ok(block(&content)));
        }
    }

    #[test]
    fn both_strings_of_a_user_property_must_be_well_formed_mqtt_1_5_7_1() {
        // [MQTT-1.5.7-1]: name and value are each a UTF-8 Encoded String: ill-formed UTF-8 or U+0000 in either
        // is malformed (0x81).
        let cases: [(&[u8], DecodeError); 4] = [
            (&[0x26, 0x00, 0x01, 0xFF, 0x00, 0x01, b'v'], DecodeError::InvalidUtf8),
            (
                &[0x26, 0x00, 0x01, b'k', 0x00, 0x02, 0xC3, 0x28],
                DecodeError::InvalidUtf8,
            ),
            (&[0x26, 0x00, 0x01, 0x00, 0x00, 0x01, b'v'], DecodeError::NullCharacter),
            (&[0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0x00], DecodeError::NullCharacter),
        ];
        for (content, error) in cases {
            for ctx in CONTEXTS {
                assert_eq!(
                    decode(ctx, &block(content)),
                    Err(error),
                    "{content:02X?} in {}",
                    ctx.name
                );
            }
            assert_eq!(error.reason_code(), crate::ReasonCode::MalformedPacket);
        }
    }

    #[test]
    fn subscription_identifiers_repeat_in_publish_only() {
        let content = [0x0B, 0x01, 0x0B, 0x80, 0x01];
        let expected = Properties {
            subscription_identifiers: vec![NonZeroU32::new(1).unwrap(), NonZeroU32::new(128).unwrap()],
            ..Properties::default()
        };
        assert_eq!(decode(Context::PUBLISH, &block(&content)), Ok(expected.clone()));
        assert_eq!(encode(Context::PUBLISH, &expected), Ok(block(&content)));
        assert_eq!(
            decode(Context::SUBSCRIBE, &block(&content)),
            Err(DecodeError::DuplicateProperty(0x0B))
        );
        assert_eq!(
            encode(Context::SUBSCRIBE, &expected),
            Err(EncodeError::PropertyNotAllowed {
                id: 0x0B,
                packet: "SUBSCRIBE"
            })
        );
    }

    #[test]
    fn values_out_of_range() {
        use crate::ReasonCode::{ProtocolError, TopicAliasInvalid};
        let cases: [(Context, &[u8], DecodeError, crate::ReasonCode); 13] = [
            (
                Context::CONNECT,
                &[0x21, 0x00, 0x00],
                DecodeError::InvalidPropertyValue(0x21),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x27, 0x00, 0x00, 0x00, 0x00],
                DecodeError::InvalidPropertyValue(0x27),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x24, 0x02],
                DecodeError::InvalidPropertyValue(0x24),
                ProtocolError,
            ),
            (
                Context::PUBLISH,
                &[0x23, 0x00, 0x00],
                DecodeError::ZeroTopicAlias,
                TopicAliasInvalid,
            ),
            (
                Context::PUBLISH,
                &[0x0B, 0x00],
                DecodeError::ZeroSubscriptionIdentifier,
                ProtocolError,
            ),
            (
                Context::SUBSCRIBE,
                &[0x0B, 0x00],
                DecodeError::ZeroSubscriptionIdentifier,
                ProtocolError,
            ),
            // Every boolean property is a byte that is 0 or 1.
            (
                Context::PUBLISH,
                &[0x01, 0x02],
                DecodeError::InvalidPropertyValue(0x01),
                ProtocolError,
            ),
            (
                Context::CONNECT,
                &[0x17, 0x02],
                DecodeError::InvalidPropertyValue(0x17),
                ProtocolError,
            ),
            (
                Context::CONNECT,
                &[0x19, 0xFF],
                DecodeError::InvalidPropertyValue(0x19),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x25, 0x02],
                DecodeError::InvalidPropertyValue(0x25),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x28, 0x02],
                DecodeError::InvalidPropertyValue(0x28),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x29, 0x80],
                DecodeError::InvalidPropertyValue(0x29),
                ProtocolError,
            ),
            (
                Context::CONNACK,
                &[0x2A, 0x02],
                DecodeError::InvalidPropertyValue(0x2A),
                ProtocolError,
            ),
        ];
        for (ctx, content, error, reason) in cases {
            assert_eq!(decode(ctx, &block(content)), Err(error), "{}", ctx.name);
            assert_eq!(error.reason_code(), reason);
        }
    }

    #[test]
    fn a_property_length_running_past_the_packet() {
        // The block claims 10 bytes; the packet has 4 left.
        let mut r = Reader::new(Bytes::from_static(&[0x0A, 0x11, 0x00, 0x00]));
        assert_eq!(
            Properties::decode(&mut r, Context::CONNECT),
            Err(DecodeError::UnexpectedEnd("properties"))
        );
        // A value running past the end of its block, though not of the packet.
        let mut r = Reader::new(Bytes::from_static(&[0x03, 0x11, 0x00, 0x00, 0x00, 0x00]));
        assert_eq!(
            Properties::decode(&mut r, Context::CONNECT),
            Err(DecodeError::UnexpectedEnd("property value"))
        );
        let mut r = Reader::new(Bytes::from_static(&[0x04, 0x26, 0x00, 0x01, b'k', 0x00, 0x00]));
        assert_eq!(
            Properties::decode(&mut r, Context::CONNECT),
            Err(DecodeError::UnexpectedEnd("user property value"))
        );
    }

    #[test]
    fn order_on_the_wire_does_not_matter_to_decode() {
        let content = [0x27, 0x00, 0x00, 0x04, 0x00, 0x11, 0x00, 0x00, 0x00, 0x3C];
        let expected = Properties {
            session_expiry_interval: Some(60),
            maximum_packet_size: Some(NonZeroU32::new(1024).unwrap()),
            ..Properties::default()
        };
        assert_eq!(decode(Context::CONNECT, &block(&content)), Ok(expected.clone()));
        // The encoder writes identifier order.
        assert_eq!(
            encode(Context::CONNECT, &expected),
            Ok(block(&[0x11, 0x00, 0x00, 0x00, 0x3C, 0x27, 0x00, 0x00, 0x04, 0x00]))
        );
    }

    #[test]
    fn empty_block() {
        for ctx in CONTEXTS {
            assert_eq!(decode(ctx, &[0x00]), Ok(Properties::default()));
            assert_eq!(encode(ctx, &Properties::default()), Ok(vec![0x00]));
        }
        assert!(Properties::default().is_empty());
        assert!(!sample(0x26).1.is_empty());
    }

    #[test]
    fn encode_refuses_values_the_standard_does_not_allow() {
        let qos2 = Properties {
            maximum_qos: Some(QoS::ExactlyOnce),
            ..Properties::default()
        };
        assert_eq!(
            encode(Context::CONNACK, &qos2),
            Err(EncodeError::InvalidPropertyValue(0x24))
        );
        let big_id = Properties {
            subscription_identifiers: vec![NonZeroU32::new(MAX_VARINT + 1).unwrap()],
            ..Properties::default()
        };
        assert_eq!(
            encode(Context::PUBLISH, &big_id),
            Err(EncodeError::InvalidPropertyValue(0x0B))
        );
        let long = Properties {
            reason_string: Some(ByteString::from("x".repeat(65_536))),
            ..Properties::default()
        };
        assert_eq!(encode(Context::DISCONNECT, &long), Err(EncodeError::FieldTooLong));
        let longest = Properties {
            reason_string: Some(ByteString::from("x".repeat(65_535))),
            ..Properties::default()
        };
        // 1 identifier + 2 length + 65,535 bytes, behind a three-byte Variable Byte Integer block length.
        assert_eq!(
            encode(Context::DISCONNECT, &longest).map(|b| b.len()),
            Ok(3 + 1 + 2 + 65_535)
        );
    }
}
