//! [`Event`]: what the client tells the application, in the order it happened. Drained with
//! [`super::Client::poll_event`]. The `Display` impls are meant for people (the dashboard shows them).

use std::fmt;

use bytestring::ByteString;

use crate::error::EncodeError;
use crate::packet::Publish;
use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;
use crate::types::{PacketId, QoS};

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server accepted the connection.
    Connected(Connected),
    /// The server refused the connection; the client is disconnected.
    ConnectionRefused(Refused),
    /// An application message from the server. QoS 2 messages are delivered exactly once, even when the server
    /// repeats the PUBLISH ([MQTT-4.3.3-10]). With a topic alias, `topic` is the topic the alias stands for and the
    /// Topic Alias property is removed.
    Message(Publish),
    /// One of our QoS 1 or 2 publications is complete: PUBACK, or PUBCOMP, received. `reason_code` is Success,
    /// No matching subscribers (0x10), or, for PUBCOMP, Packet Identifier not found (0x92).
    Published {
        /// The identifier `publish` returned.
        packet_id: PacketId,
        /// The server's reason code (always Success in MQTT 3.x).
        reason_code: ReasonCode,
    },
    /// One of our QoS 1 or 2 publications will not be completed.
    PublishFailed {
        /// The identifier `publish` returned.
        packet_id: PacketId,
        /// Why.
        reason: PublishFailure,
    },
    /// SUBACK: one reason code per filter, in the order of the SUBSCRIBE ([MQTT-3.9.3-1]). Codes below 0x80
    /// are the granted QoS.
    Subscribed {
        /// The identifier `subscribe` returned (or a new one, for a resubscription after a lost session).
        packet_id: PacketId,
        /// The filters of the SUBSCRIBE, in order.
        filters: Vec<TopicFilter>,
        /// One per filter.
        reason_codes: Vec<ReasonCode>,
        /// MQTT 5 diagnostics from the server.
        reason_string: Option<ByteString>,
    },
    /// UNSUBACK. MQTT 3.x has no reason codes: every filter reads Success.
    Unsubscribed {
        /// The identifier `unsubscribe` returned.
        packet_id: PacketId,
        /// The filters of the UNSUBSCRIBE, in order.
        filters: Vec<TopicFilter>,
        /// One per filter ([MQTT-3.11.3-1]).
        reason_codes: Vec<ReasonCode>,
        /// MQTT 5 diagnostics from the server.
        reason_string: Option<ByteString>,
    },
    /// The connection ended by a DISCONNECT, the server's or ours (including one sent for a protocol error).
    Disconnected(Disconnected),
    /// No packet arrived within half the keep alive after our PINGREQ: the connection is considered lost.
    PingTimeout,
    /// No CONNACK within `ClientOptions::connect_timeout`.
    ConnectTimeout,
}

/// A successful CONNACK, as the application needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The server resumed our session: unacknowledged publications were resent ([MQTT-4.4.0-1]).
    pub session_present: bool,
    /// The client identifier in use: ours, or the one the server assigned ([MQTT-3.2.2-16]).
    pub client_id: ByteString,
    /// The keep alive in force, in seconds: the server's if it sent one ([MQTT-3.1.2-23]), else ours.
    pub keep_alive: u16,
    /// The CONNACK's MQTT 5 properties: the server's limits, response information, user properties.
    pub properties: Properties,
}

/// A refused CONNACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why; MQTT 3.x return codes are mapped to their MQTT 5 equivalents.
    pub reason_code: ReasonCode,
    /// MQTT 5 diagnostics from the server.
    pub reason_string: Option<ByteString>,
    /// MQTT 5: another server to use (with Use another server / Server moved).
    pub server_reference: Option<ByteString>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection refused: {}", self.reason_code)?;
        if let Some(s) = &self.reason_string {
            write!(f, ": {s}")?;
        }
        if let Some(s) = &self.server_reference {
            write!(f, " (server reference: {s})")?;
        }
        Ok(())
    }
}

/// The end of a connection by DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    /// Why. MQTT 3.x servers send no DISCONNECT; a 3.x client's own DISCONNECT reads as a normal disconnection.
    pub reason_code: ReasonCode,
    /// The server's diagnostics, or for a protocol error of the server the client's description of it.
    pub reason_string: Option<ByteString>,
    /// MQTT 5: another server to use (with Use another server / Server moved).
    pub server_reference: Option<ByteString>,
    /// Whether the server sent the DISCONNECT; `false` when the client did.
    pub by_server: bool,
}

impl fmt::Display for Disconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.by_server { "server" } else { "client" };
        write!(f, "disconnected by the {who}: {}", self.reason_code)?;
        if let Some(s) = &self.reason_string {
            write!(f, ": {s}")?;
        }
        if let Some(s) = &self.server_reference {
            write!(f, " (server reference: {s})")?;
        }
        Ok(())
    }
}

/// Why a QoS 1 or 2 publication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishFailure {
    /// The server answered with a PUBACK or PUBREC reason code of 0x80 or above; the message is not resent
    /// ([MQTT-4.4.0-2]).
    Rejected {
        /// The server's reason.
        reason_code: ReasonCode,
        /// MQTT 5 diagnostics from the server.
        reason_string: Option<ByteString>,
    },
    /// It was sent but the session it belonged to is gone (clean start, or the server had no session): it may or
    /// may not have reached the server ([MQTT-3.2.2-5]).
    SessionLost,
    /// It waited for a connection whose server accepts smaller packets ([MQTT-3.2.2-15]).
    PacketTooLarge {
        /// The encoded size.
        size: usize,
        /// The server's limit.
        max: u32,
    },
    /// It waited for a connection whose server supports a lower QoS ([MQTT-3.2.2-11]).
    QoSNotSupported {
        /// The server's maximum.
        maximum: QoS,
    },
    /// It is retained and waited for a connection whose server has no retained messages ([MQTT-3.2.2-14]).
    RetainNotSupported,
    /// It cannot be encoded for this connection.
    Encode(EncodeError),
}

impl fmt::Display for PublishFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected {
                reason_code,
                reason_string,
            } => {
                write!(f, "rejected by the server: {reason_code}")?;
                if let Some(s) = reason_string {
                    write!(f, ": {s}")?;
                }
                Ok(())
            }
            Self::SessionLost => f.write_str("the session was lost before the server acknowledged it"),
            Self::PacketTooLarge { size, max } => {
                write!(f, "{size} bytes exceed the server's maximum packet size of {max}")
            }
            Self::QoSNotSupported { maximum } => write!(f, "the server supports QoS up to {}", *maximum as u8),
            Self::RetainNotSupported => f.write_str("the server does not support retained messages"),
            Self::Encode(e) => write!(f, "cannot be encoded: {e}"),
        }
    }
}
