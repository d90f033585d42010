//! [`Message`]: an application message the client is asked to publish. The client, not the caller, picks its
//! packet identifier, so this is not a [`Publish`] yet.

use bytes::Bytes;

use crate::error::EncodeError;
use crate::packet::{Publish, QoSPid};
use crate::properties::{Properties, id};
use crate::topic::TopicName;
use crate::types::{PacketId, QoS};

/// An application message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Where it goes.
    pub topic: TopicName,
    /// The delivery guarantee asked for.
    pub qos: QoS,
    /// Whether the server keeps it as the topic's retained message.
    pub retain: bool,
    /// The application payload.
    pub payload: Bytes,
    /// MQTT 5 PUBLISH properties (message expiry, content type, response topic, user properties, ...). Topic
    /// Alias and Subscription Identifier are the client's and the server's business and are refused.
    pub properties: Properties,
}

impl Message {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            topic,
            qos: QoS::AtMostOnce,
            retain: false,
            payload: payload.into(),
            properties: Properties::default(),
        }
    }

    /// The same message at `qos`.
    pub fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same message with the RETAIN flag set to `retain`.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Refuses properties a client may not choose freely.
    pub(crate) fn check_properties(&self) -> Result<(), EncodeError> {
        // [MQTT-3.3.4-6]: a PUBLISH from a client carries no Subscription Identifier.
        if !self.properties.subscription_identifiers.is_empty() {
            return Err(EncodeError::PropertyNotAllowed {
                id: id::SUBSCRIPTION_IDENTIFIER,
                packet: "PUBLISH",
            });
        }
        // Outgoing topic aliases are not implemented; an alias chosen by the caller could break
        // [MQTT-3.2.2-17] and would not survive a reconnect ([MQTT-3.3.2-7]).
        if self.properties.topic_alias.is_some() {
            return Err(EncodeError::PropertyNotAllowed {
                id: id::TOPIC_ALIAS,
                packet: "PUBLISH",
            });
        }
        Ok(())
    }

    /// The first PUBLISH of this message: DUP 0 ([MQTT-4.3.2-2], [MQTT-4.3.3-2]). `packet_id` is ignored at QoS 0.
    pub(crate) fn into_publish(self, packet_id: Option<PacketId>) -> Publish {
        let qos_pid = match (self.qos, packet_id) {
            (QoS::AtLeastOnce, Some(id)) => QoSPid::AtLeastOnce(id),
            (QoS::ExactlyOnce, Some(id)) => QoSPid::ExactlyOnce(id),
            _ => QoSPid::AtMostOnce,
        };
        Publish {
            dup: false,
            qos_pid,
            retain: self.retain,
            topic: self.topic,
            properties: self.properties,
            payload: self.payload,
        }
    }
}
