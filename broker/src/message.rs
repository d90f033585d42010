//! Application messages as the router holds them: one shared copy per publication, however many subscribers.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use roost_codec::{Bytes, Properties, Publish, QoS, QoSPid, TopicName};

use crate::memory::Charge;
use crate::store::{MessageId, QueueEntry, StoredMessage};

/// One published application message. Held in an [`Arc`] by every queue it is routed to, so fan-out is a
/// reference-count bump; topic and payload are `Bytes`-backed slices of the frame it arrived in.
#[derive(Debug)]
pub(crate) struct Message {
    /// Where it was published.
    pub(crate) topic: TopicName,
    /// The application payload.
    pub(crate) payload: Bytes,
    /// The QoS it was published with; each subscriber gets at most its granted QoS.
    pub(crate) qos: QoS,
    /// The publisher's RETAIN flag, kept for Retain As Published.
    pub(crate) retain: bool,
    /// The PUBLISH properties forwarded unaltered ([MQTT-3.3.2-4] payload format, [MQTT-3.3.2-15] response topic,
    /// [MQTT-3.3.2-16] correlation data, [MQTT-3.3.2-17] user properties in order, [MQTT-3.3.2-20] content type),
    /// without the Topic Alias and Subscription Identifiers, which are per connection and per subscriber.
    pub(crate) properties: Properties,
    /// When the Message Expiry Interval runs out; expired messages are not delivered ([MQTT-3.3.2-5]).
    pub(crate) expires_at: Option<Instant>,
    /// The publishing client, for No Local ([MQTT-3.8.3-3]); `None` for will messages of ended sessions.
    pub(crate) publisher: Option<ByteString>,
    /// Its bytes in the `max_memory` budget, given back when the last holder drops the message.
    pub(crate) charge: Charge,
}

impl Message {
    /// A message from a received PUBLISH (topic alias already resolved into `topic`).
    pub(crate) fn from_publish(publish: Publish, topic: TopicName, publisher: ByteString, now: Instant) -> Self {
        let mut properties = publish.properties;
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        let expires_at = properties
            .message_expiry_interval
            .map(|secs| now + std::time::Duration::from_secs(u64::from(secs)));
        Message {
            topic,
            payload: publish.payload,
            qos: publish.qos_pid.qos(),
            retain: publish.retain,
            properties,
            expires_at,
            publisher: Some(publisher),
            charge: Default::default(),
        }
    }

    /// The bytes this message costs a queue or the retained store: topic, payload and every property a peer can
    /// make large (user properties, correlation data, response topic, content type), each with the length prefix
    /// it has on the wire. Counting only topic and payload let 700 KB of user properties per message through every
    /// byte bound.
    pub(crate) fn size(&self) -> usize {
        let p = &self.properties;
        let string = |s: &str| 2 + s.len();
        let properties = p
            .user_properties
            .iter()
            .map(|(k, v)| 1 + string(k) + string(v))
            .sum::<usize>()
            + p.correlation_data.as_ref().map_or(0, |d| 1 + 2 + d.len())
            + p.response_topic.as_ref().map_or(0, |t| 1 + string(t.as_str()))
            + p.content_type.as_ref().map_or(0, |c| 1 + string(c));
        self.topic.as_str().len() + self.payload.len() + properties
    }

    /// Whether the Message Expiry Interval has passed.
    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The message as the store keeps it. Expiry becomes wall-clock time (`wall_ms` is the wall clock at `now`):
    /// an `Instant` means nothing after a restart, and the interval must keep running across one.
    pub(crate) fn to_stored(&self, now: Instant, wall_ms: u64) -> StoredMessage {
        StoredMessage {
            topic: self.topic.as_str().into(),
            payload: self.payload.clone(),
            qos: self.qos,
            retain: self.retain,
            // Encoding properties that were decoded from a valid PUBLISH (or built by us) cannot fail; an empty
            // block would lose them, never corrupt the store.
            properties: self.properties.to_block(false).unwrap_or_default(),
            expires_at_ms: self.expires_at.map(|at| {
                let left = at.saturating_duration_since(now);
                wall_ms.saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
            }),
            publisher: self.publisher.clone(),
        }
    }

    /// The message the store kept, with its expiry back on this process's clock; `None` if what was stored is no
    /// longer a valid message (never written by Roost; recovery reports it).
    pub(crate) fn from_stored(stored: StoredMessage, now: Instant, wall_ms: u64) -> Option<Self> {
        let topic = TopicName::new(stored.topic).ok()?;
        let properties = Properties::from_block(stored.properties, false).ok()?;
        let expires_at = stored
            .expires_at_ms
            .map(|at| now + std::time::Duration::from_millis(at.saturating_sub(wall_ms)));
        Some(Message {
            topic,
            payload: stored.payload,
            qos: stored.qos,
            retain: stored.retain,
            properties,
            expires_at,
            publisher: stored.publisher,
            charge: Default::default(),
        })
    }
}

/// Where a queued delivery is in the store: the stored message it references and its place in the session's
/// stored queue. Only deliveries at QoS 1/2 to sessions that outlive their connection are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredAt {
    /// The `MessagePut` it references.
    pub(crate) message: MessageId,
    /// Its `QueueAppend` sequence number.
    pub(crate) seq: u64,
}

/// One delivery of a message to one session: the message plus what this subscriber's subscriptions decided.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The shared message.
    pub(crate) message: Arc<Message>,
    /// min(published QoS, granted QoS), the highest over the session's matching subscriptions.
    pub(crate) qos: QoS,
    /// The RETAIN flag to send: set for retained messages sent on subscribe ([MQTT-3.3.1-9]) and with Retain As
    /// Published, clear otherwise ([MQTT-3.3.1-12]).
    pub(crate) retain: bool,
    /// The identifiers of every matching subscription that has one ([MQTT-3.3.4-3]).
    pub(crate) subscription_ids: Vec<NonZeroU32>,
    /// Whether it is a retained message sent on SUBSCRIBE, which waits in the session's retained line
    /// (`session::Queue`) rather than among routed messages.
    pub(crate) retain_on_subscribe: bool,
    /// Its entry in the store, if it has one.
    pub(crate) stored: Option<StoredAt>,
}

impl Outgoing {
    /// A delivery of `message` at `qos`, with the RETAIN flag clear and no subscription identifiers.
    pub(crate) fn new(message: Arc<Message>, qos: QoS) -> Self {
        Outgoing {
            message,
            qos,
            retain: false,
            subscription_ids: Vec::new(),
            retain_on_subscribe: false,
            stored: None,
        }
    }

    /// The store's queue entry for this delivery of the message stored as `message`.
    pub(crate) fn to_queue_entry(&self, message: MessageId) -> QueueEntry {
        QueueEntry {
            message,
            qos: self.qos,
            retain: self.retain,
            subscription_ids: self.subscription_ids.iter().map(|id| id.get()).collect(),
        }
    }

    /// The PUBLISH to send first, with `packet_id` when QoS > 0, or `None` when the message has expired: onward
    /// delivery has not started, so the copy is dropped ([MQTT-3.3.2-5]).
    pub(crate) fn to_publish(&self, packet_id: Option<roost_codec::PacketId>, now: Instant) -> Option<Publish> {
        if self.message.is_expired(now) {
            return None;
        }
        Some(self.publish(packet_id, false, now))
    }

    /// The PUBLISH to send again, with DUP, on resume ([MQTT-4.4.0-1]). Sent even when the message has expired
    /// meanwhile: its delivery started with the first send ([MQTT-3.3.2-5] drops only copies not yet sent), and
    /// a QoS 2 sender must not apply expiry once the PUBLISH is out ([MQTT-4.3.3-7]).
    pub(crate) fn to_resend(&self, packet_id: roost_codec::PacketId, now: Instant) -> Publish {
        self.publish(Some(packet_id), true, now)
    }

    fn publish(&self, packet_id: Option<roost_codec::PacketId>, dup: bool, now: Instant) -> Publish {
        let message = &self.message;
        let mut properties = message.properties.clone();
        if let Some(at) = message.expires_at {
            let left = at.saturating_duration_since(now);
            // [MQTT-3.3.2-6] the interval forwarded is what is left of it, rounded up so it never reads 0 (a
            // resent message past its expiry says 1).
            let secs = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
            properties.message_expiry_interval = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        }
        properties.subscription_identifiers.clone_from(&self.subscription_ids);
        let qos_pid = match packet_id {
            Some(id) => QoSPid::new(self.qos, id),
            None => QoSPid::AtMostOnce,
        };
        Publish {
            dup: dup && qos_pid.packet_id().is_some(),
            qos_pid,
            retain: self.retain,
            topic: message.topic.clone(),
            properties,
            payload: message.payload.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn expiring(now: Instant, secs: u32) -> Outgoing {
        let mut publish = Publish::new(TopicName::new("t").unwrap(), "x");
        publish.properties.message_expiry_interval = Some(secs);
        publish.properties.topic_alias = std::num::NonZeroU16::new(3);
        let topic = publish.topic.clone();
        Outgoing {
            message: Arc::new(Message::from_publish(publish, topic, "p".into(), now)),
            qos: QoS::AtMostOnce,
            retain: false,
            subscription_ids: vec![NonZeroU32::new(7).unwrap()],
            retain_on_subscribe: false,
            stored: None,
        }
    }

    #[test]
    fn forwarded_expiry_is_the_time_left_and_expired_messages_are_not_sent() {
        // [MQTT-3.3.2-5], [MQTT-3.3.2-6]
        let now = Instant::now();
        let outgoing = expiring(now, 10);
        let later = outgoing.to_publish(None, now + Duration::from_millis(3500)).unwrap();
        assert_eq!(later.properties.message_expiry_interval, Some(7));
        assert_eq!(later.properties.topic_alias, None, "aliases are per connection");
        assert_eq!(later.properties.subscription_identifiers, [NonZeroU32::new(7).unwrap()]);
        assert!(outgoing.to_publish(None, now + Duration::from_secs(10)).is_none());
        assert!(outgoing.message.is_expired(now + Duration::from_secs(10)));
    }

    #[test]
    fn a_resent_message_is_sent_even_after_its_expiry() {
        // [MQTT-4.3.3-7], [MQTT-3.3.2-5]: delivery started with the first send.
        let now = Instant::now();
        let mut outgoing = expiring(now, 10);
        outgoing.qos = QoS::ExactlyOnce;
        let id = roost_codec::PacketId::new(4).unwrap();
        let early = outgoing.to_resend(id, now + Duration::from_millis(2500));
        assert_eq!((early.dup, early.properties.message_expiry_interval), (true, Some(8)));
        let late = outgoing.to_resend(id, now + Duration::from_secs(60));
        assert_eq!((late.dup, late.properties.message_expiry_interval), (true, Some(1)));
        assert_eq!(late.qos_pid.packet_id(), Some(id));
    }

    #[test]
    fn dup_is_never_set_at_qos0() {
        let outgoing = expiring(Instant::now(), 100);
        assert!(!outgoing.publish(None, true, Instant::now()).dup);
    }
}
