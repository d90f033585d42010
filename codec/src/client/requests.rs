//! What the application asks the server for: [`Client::publish`], [`Client::subscribe`],
//! [`Client::unsubscribe`], and the checks against the server's limits that every outgoing request passes.

use web_time::Instant;

use super::error::ClientError;
use super::event::{Event, PublishFailure};
use super::message::Message;
use super::{Client, State};
use crate::error::EncodeError;
use crate::packet::{Packet, Publish, QoSPid, Subscribe, Unsubscribe};
use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;
use crate::types::{PacketId, QoS, SubscriptionOptions};

impl Client {
    /// Publishes `message`. QoS 0 needs a connection and returns `None`. QoS 1 and 2 return the packet identifier
    /// that later `Published`/`PublishFailed` events name; they are accepted without a connection too (they are
    /// session state, sent once connected) and wait in order while the server's Receive Maximum is used up
    /// ([MQTT-3.3.4-7]), up to [`super::ClientOptions::max_queued_publications`].
    pub fn publish(&mut self, message: Message, now: Instant) -> Result<Option<PacketId>, ClientError> {
        self.publish_with(message, None, now)
    }

    /// [`Client::publish`] with `preferred` as the packet identifier when it is free (another free one when it is
    /// not). A bridge passes the identifier the message had on the broker it came from: that broker resends an
    /// unacknowledged message with its identifier, so after a restart of the bridge the repeat takes the same
    /// identifier here too, and a server still holding it awaiting PUBREL takes it for the repeat it is
    /// ([MQTT-4.3.3-10]) rather than taking a later message for a repeat.
    pub fn publish_preferring_id(
        &mut self,
        message: Message,
        preferred: PacketId,
        now: Instant,
    ) -> Result<Option<PacketId>, ClientError> {
        self.publish_with(message, Some(preferred), now)
    }

    fn publish_with(
        &mut self,
        message: Message,
        preferred: Option<PacketId>,
        now: Instant,
    ) -> Result<Option<PacketId>, ClientError> {
        message.check_properties()?;
        let connected = self.state == State::Connected;
        if message.qos == QoS::AtMostOnce {
            if !connected {
                return Err(ClientError::NotConnected);
            }
            let publish = message.into_publish(None);
            self.check_publish(&publish)?;
            self.send(Packet::Publish(publish), now);
            return Ok(None);
        }
        let can_send_now = connected
            && self.outbound.waiting_len() == 0
            && self.outbound.in_flight_len() < usize::from(self.limits.receive_maximum);
        if !can_send_now && self.outbound.waiting_len() >= self.options.max_queued_publications {
            return Err(ClientError::QueueFull {
                limit: self.options.max_queued_publications,
            });
        }
        // Checked before an identifier is taken: the size does not depend on the identifier's value.
        let mut publish = message.into_publish(Some(PLACEHOLDER_ID));
        if connected {
            self.check_publish(&publish)?;
        } else {
            // The server's limits are not known yet; refuse only what no server could take.
            Packet::Publish(publish.clone()).encoded_len(self.options.version)?;
        }
        let id = match preferred {
            Some(id) if self.packet_ids.take(id) => id,
            _ => self.packet_ids.allocate().ok_or(ClientError::PacketIdsExhausted)?,
        };
        publish.qos_pid = QoSPid::new(publish.qos(), id);
        self.outbound.push(id, publish);
        if connected {
            self.send_waiting(now);
        }
        Ok(Some(id))
    }

    /// Subscribes to `filters`, each with its options. `properties` (MQTT 5) may carry a Subscription Identifier
    /// and user properties. Returns the packet identifier the `Subscribed` event names.
    pub fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: Properties,
        now: Instant,
    ) -> Result<PacketId, ClientError> {
        if self.state != State::Connected {
            return Err(ClientError::NotConnected);
        }
        if filters.is_empty() {
            return Err(ClientError::NoTopicFilters);
        }
        let mut subscribe = Subscribe {
            packet_id: PLACEHOLDER_ID,
            properties,
            filters: filters.into_iter().map(|(f, o)| (Ok(f), o)).collect(),
        };
        self.check_size(&Packet::Subscribe(subscribe.clone()))?;
        subscribe.packet_id = self.packet_ids.allocate().ok_or(ClientError::PacketIdsExhausted)?;
        let packet_id = subscribe.packet_id;
        self.subscriptions.subscribe_sent(subscribe.clone());
        self.send(Packet::Subscribe(subscribe), now);
        Ok(packet_id)
    }

    /// Unsubscribes from `filters`. `properties` (MQTT 5) may carry user properties. Returns the packet
    /// identifier the `Unsubscribed` event names.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<TopicFilter>,
        properties: Properties,
        now: Instant,
    ) -> Result<PacketId, ClientError> {
        if self.state != State::Connected {
            return Err(ClientError::NotConnected);
        }
        if filters.is_empty() {
            return Err(ClientError::NoTopicFilters);
        }
        let mut unsubscribe = Unsubscribe {
            packet_id: PLACEHOLDER_ID,
            properties,
            filters: filters.into_iter().map(Ok).collect(),
        };
        self.check_size(&Packet::Unsubscribe(unsubscribe.clone()))?;
        unsubscribe.packet_id = self.packet_ids.allocate().ok_or(ClientError::PacketIdsExhausted)?;
        let packet_id = unsubscribe.packet_id;
        self.subscriptions.unsubscribe_sent(unsubscribe.clone());
        self.send(Packet::Unsubscribe(unsubscribe), now);
        Ok(packet_id)
    }

    /// Refuses a packet larger than the server accepts ([MQTT-3.2.2-15]) or that cannot be encoded.
    pub(super) fn check_size(&self, packet: &Packet) -> Result<(), Refusal> {
        let size = packet.encoded_len(self.options.version).map_err(Refusal::Encode)?;
        let max = self.limits.maximum_packet_size;
        if size > max as usize {
            return Err(Refusal::TooLarge { size, max });
        }
        Ok(())
    }

    /// Checks a PUBLISH against the server's limits: Maximum QoS ([MQTT-3.2.2-11]), Retain Available
    /// ([MQTT-3.2.2-14]), size.
    fn check_publish(&self, publish: &Publish) -> Result<(), Refusal> {
        if publish.qos() > self.limits.maximum_qos {
            return Err(Refusal::QoS {
                requested: publish.qos(),
                maximum: self.limits.maximum_qos,
            });
        }
        if publish.retain && !self.limits.retain_available {
            return Err(Refusal::Retain);
        }
        self.check_size(&Packet::Publish(publish.clone()))
    }

    /// Sends waiting publications, oldest first, while the server's Receive Maximum allows ([MQTT-4.9.0-2]).
    /// One that the server's limits refuse is reported failed instead.
    pub(super) fn send_waiting(&mut self, now: Instant) {
        let quota = usize::from(self.limits.receive_maximum);
        while let Some(ready) = self.outbound.pop_ready(quota) {
            match self.check_publish(&ready.publish) {
                Ok(()) => {
                    let packet = Packet::Publish(ready.publish.clone());
                    self.outbound.start(ready);
                    self.send(packet, now);
                }
                Err(e) => {
                    self.outbound.forget(ready.id);
                    self.packet_ids.release(ready.id);
                    self.events.push_back(Event::PublishFailed {
                        packet_id: ready.id,
                        reason: e.into(),
                    });
                }
            }
        }
    }
}

/// Stands in for the packet identifier while a packet's size is checked, before a real one is taken.
const PLACEHOLDER_ID: PacketId = PacketId::new(1).expect("1 is not 0");

/// Why the server's limits, or the encoder, refuse a packet: an error for `publish`, `subscribe` and
/// `unsubscribe`, a failure event for a publication that waited.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal {
    TooLarge { size: usize, max: u32 },
    QoS { requested: QoS, maximum: QoS },
    Retain,
    Encode(EncodeError),
}

impl From<Refusal> for ClientError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TooLarge { size, max } => Self::PacketTooLarge { size, max },
            Refusal::QoS { requested, maximum } => Self::QoSNotSupported { requested, maximum },
            Refusal::Retain => Self::RetainNotSupported,
            Refusal::Encode(e) => Self::Encode(e),
        }
    }
}

impl From<Refusal> for PublishFailure {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TooLarge { size, max } => Self::PacketTooLarge { size, max },
            Refusal::QoS { maximum, .. } => Self::QoSNotSupported { maximum },
            Refusal::Retain => Self::RetainNotSupported,
            Refusal::Encode(e) => Self::Encode(e),
        }
    }
}

impl Refusal {
    /// The reason code a failure event reports for a request the client could not send.
    pub(super) fn reason_code(self) -> ReasonCode {
        match self {
            Self::TooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::QoS { .. } => ReasonCode::QoSNotSupported,
            Self::Retain => ReasonCode::RetainNotSupported,
            Self::Encode(_) => ReasonCode::ImplementationSpecificError,
        }
    }
}
