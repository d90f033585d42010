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
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary("protocol name")?;
        let level = r.u8("protocol level")?;
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
        len += wire::field_len(self.client_id.as_bytes())?;
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
            len += wire::field_len(username.as_bytes())?;
        }
        if let Some(password) = &self.password {
            len += wire::field_len(password)?;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        let v5 = self.protocol.is_v5();
        wire::put_binary(buf, self.protocol.protocol_name().as_bytes());
        buf.put_u8(self.protocol.level());
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
