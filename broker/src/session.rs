//! One client's session: its subscriptions, the messages waiting for it, what is in flight both ways.
//!
//! Sessions live in the router's state (behind the broker's one mutex), not in the connection task, so they
//! survive the connection (persistent sessions) and the router can queue to them without awaiting anyone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytestring::ByteString;
use roost_codec::{PacketId, ProtocolVersion, QoS, SubscriptionOptions, TopicFilter};
use tokio::sync::Notify;

use crate::message::Outgoing;

/// One subscription of a session, as asked for in SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscription {
    /// Requested options, with `qos` lowered to the granted QoS.
    pub(crate) options: SubscriptionOptions,
    /// MQTT 5 Subscription Identifier, sent back with every message this subscription delivers.
    pub(crate) id: Option<NonZeroU32>,
}

/// How the router reaches a connection task without awaiting it: a wake-up when messages are queued, and the
/// news that another connection took the session over. One small allocation per connection, shared by the task
/// and the session (idle connections must stay cheap).
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// `notify_one` stores a permit when the task is busy, so no wake-up is lost, and never blocks the router.
    notify: Notify,
    /// Set once, when another connection takes the session over ([MQTT-3.1.4-3]).
    taken_over: AtomicBool,
}

impl Mailbox {
    /// Messages were queued: the task should look at the session's queue.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Another connection took the session: the task should say DISCONNECT 0x8E and close.
    pub(crate) fn take_over(&self) {
        // Release pairs with the Acquire in `is_taken_over`, read after the wake-up this sends.
        self.taken_over.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether `take_over` was called.
    pub(crate) fn is_taken_over(&self) -> bool {
        self.taken_over.load(Ordering::Acquire)
    }

    /// Waits for the next `wake` or `take_over` (or returns at once for one sent while nobody waited).
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// The connection currently attached to a session, as the router sees it.
#[derive(Debug)]
pub(crate) struct Attached {
    /// The connection id (unique per process), so a connection that was taken over cannot detach its successor.
    pub(crate) connection_id: u64,
    /// Wakes the connection task, or tells it the session was taken over.
    pub(crate) mailbox: Arc<Mailbox>,
}

/// A message sent to the client and not yet fully acknowledged, in the order it was first sent.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// Its packet id.
    pub(crate) packet_id: PacketId,
    /// Where in the QoS 1/2 exchange it stands.
    pub(crate) state: InFlightState,
}

/// The states of an outbound QoS 1 or 2 delivery.
#[derive(Debug)]
pub(crate) enum InFlightState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2); resent with DUP on resume.
    Published(Outgoing),
    /// PUBREL sent, waiting for PUBCOMP; resent as PUBREL on resume.
    Released,
}

/// What `Queue::push` did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; nothing dropped.
    Queued,
    /// Queued after dropping the oldest queued QoS 0 message to make room.
    DroppedOldestQoS0,
    /// Not queued: the queue is full of QoS 1/2 messages, or the message alone exceeds the byte bound.
    Refused,
}

/// The messages waiting to be sent to one session: bounded by count and by bytes.
///
/// Overflow policy, when a new message would exceed either bound: drop the oldest queued QoS 0 message (QoS 0
/// promised nothing) and retry; if no QoS 0 message is left, refuse the new message. Either way the drop is counted
/// in `dropped` and logged at debug level by the router. Messages already queued at QoS 1/2 are never dropped, so
/// what was accepted is delivered in order.
#[derive(Debug)]
pub(crate) struct Queue {
    messages: VecDeque<Outgoing>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// How many messages this queue has dropped or refused, for logs and tests.
    pub(crate) dropped: u64,
}

impl Queue {
    /// An empty queue with these bounds.
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        Queue {
            messages: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            dropped: 0,
        }
    }

    /// Queues `outgoing` per the overflow policy above.
    pub(crate) fn push(&mut self, outgoing: Outgoing) -> Pushed {
        let size = outgoing.message.size();
        let mut result = Pushed::Queued;
        while self.messages.len() >= self.max_messages || self.bytes + size > self.max_bytes {
            let Some(oldest_qos0) = self.messages.iter().position(|m| m.qos == QoS::AtMostOnce) else {
                self.dropped += 1;
                return Pushed::Refused;
            };
            if let Some(removed) = self.messages.remove(oldest_qos0) {
                self.bytes -= removed.message.size();
            }
            self.dropped += 1;
            result = Pushed::DroppedOldestQoS0;
        }
        self.bytes += size;
        self.messages.push_back(outgoing);
        result
    }

    /// Takes the oldest message.
    pub(crate) fn pop(&mut self) -> Option<Outgoing> {
        let outgoing = self.messages.pop_front()?;
        self.bytes -= outgoing.message.size();
        Some(outgoing)
    }

    /// Puts a message back at the front (it could not be sent yet).
    pub(crate) fn push_front(&mut self, outgoing: Outgoing) {
        self.bytes += outgoing.message.size();
        self.messages.push_front(outgoing);
    }

    /// Forgets every queued QoS 0 message (a session going offline keeps only what was promised, unless configured
    /// otherwise).
    pub(crate) fn drop_qos0(&mut self) {
        self.messages.retain(|m| m.qos != QoS::AtMostOnce);
        self.bytes = self.messages.iter().map(|m| m.message.size()).sum();
    }

    /// How many messages wait.
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }
}

/// One client's session state ([MQTT-4.1.0-1]).
#[derive(Debug)]
pub(crate) struct Session {
    /// The protocol version of the latest connection, which decides what is queued while offline.
    pub(crate) version: ProtocolVersion,
    /// Subscriptions by filter; a repeated filter replaces its subscription ([MQTT-3.8.4-3]).
    pub(crate) subscriptions: HashMap<TopicFilter, Subscription>,
    /// Messages routed to the session and not yet sent.
    pub(crate) queue: Queue,
    /// Outbound QoS 1/2 messages sent and not yet acknowledged, oldest first ([MQTT-4.4.0-1] resend order).
    pub(crate) inflight: VecDeque<InFlight>,
    /// The packet id tried next for an outbound message.
    next_packet_id: PacketId,
    /// Inbound QoS 2 packet ids whose PUBLISH was routed and whose PUBREL has not arrived: a repeated PUBLISH
    /// with one of these ids is acknowledged but not routed again (exactly once, [MQTT-4.3.3-10]).
    pub(crate) inbound_qos2: HashSet<PacketId>,
    /// The connection serving the session, `None` while offline.
    pub(crate) attached: Option<Attached>,
    /// Seconds the session outlives its connection (MQTT 5 Session Expiry Interval; from config for 3.x).
    pub(crate) expiry_interval: u32,
    /// Bumped on every connect, so timers (session expiry, delayed wills) armed for an earlier disconnect can tell
    /// that the session was resumed since.
    pub(crate) generation: u64,
}

impl Session {
    /// A new, empty session.
    pub(crate) fn new(version: ProtocolVersion, max_queued: usize, max_queued_bytes: usize) -> Self {
        Session {
            version,
            subscriptions: HashMap::new(),
            queue: Queue::new(max_queued, max_queued_bytes),
            inflight: VecDeque::new(),
            next_packet_id: PacketId::new(1).expect("1 is not 0"),
            inbound_qos2: HashSet::new(),
            attached: None,
            expiry_interval: 0,
            generation: 0,
        }
    }

    /// Queues a delivery and wakes the connection, if any. Never blocks: this runs on the publish path.
    /// Offline sessions keep only QoS 1/2 unless `queue_qos0_offline`.
    pub(crate) fn deliver(&mut self, client_id: &ByteString, outgoing: Outgoing, queue_qos0_offline: bool) {
        if self.attached.is_none() && outgoing.qos == QoS::AtMostOnce && !queue_qos0_offline {
            return;
        }
        let what = match self.queue.push(outgoing) {
            Pushed::Queued => None,
            Pushed::DroppedOldestQoS0 => Some("queue full: dropped the oldest QoS 0 message"),
            Pushed::Refused => Some("queue full: message refused"),
        };
        if let Some(what) = what {
            let dropped = self.queue.dropped;
            // Warn at the 1st, 2nd, 4th, 8th... drop: a stuck client is visible without flooding the log.
            if dropped.is_power_of_two() {
                tracing::warn!(client_id = &**client_id, dropped, "{what}");
            } else {
                tracing::debug!(client_id = &**client_id, dropped, "{what}");
            }
        }
        if let Some(attached) = &self.attached {
            attached.mailbox.wake();
        }
    }

    /// A packet id not used by any in-flight message, or `None` if all 65535 are.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            let id = self.next_packet_id;
            self.next_packet_id = id.next();
            if !self.inflight.iter().any(|f| f.packet_id == id) {
                return Some(id);
            }
        }
        None
    }

    /// Removes the in-flight entry with `packet_id`, returning it.
    pub(crate) fn take_inflight(&mut self, packet_id: PacketId) -> Option<InFlight> {
        let at = self.inflight.iter().position(|f| f.packet_id == packet_id)?;
        self.inflight.remove(at)
    }

    /// Whether `connection_id` is the connection attached to this session.
    pub(crate) fn is_attached_to(&self, connection_id: u64) -> bool {
        self.attached.as_ref().is_some_and(|a| a.connection_id == connection_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use roost_codec::{Bytes, Properties, TopicName};

    fn outgoing(qos: QoS, payload: &'static [u8]) -> Outgoing {
        Outgoing {
            message: Arc::new(Message {
                topic: TopicName::new("t").unwrap(),
                payload: Bytes::from_static(payload),
                qos,
                retain: false,
                properties: Properties::default(),
                expires_at: None,
                publisher: None,
            }),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
        }
    }

    fn payloads(queue: &mut Queue) -> Vec<Bytes> {
        std::iter::from_fn(|| queue.pop())
            .map(|o| o.message.payload.clone())
            .collect()
    }

    #[test]
    fn full_queue_drops_oldest_qos0_first_then_refuses() {
        let mut queue = Queue::new(3, 1000);
        assert_eq!(queue.push(outgoing(QoS::AtMostOnce, b"a")), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"b")), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtMostOnce, b"c")), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"d")), Pushed::DroppedOldestQoS0);
        assert_eq!(queue.push(outgoing(QoS::ExactlyOnce, b"e")), Pushed::DroppedOldestQoS0);
        assert_eq!(queue.push(outgoing(QoS::AtMostOnce, b"f")), Pushed::Refused);
        assert_eq!(queue.dropped, 3);
        assert_eq!(payloads(&mut queue), [&b"b"[..], b"d", b"e"]);
    }

    #[test]
    fn byte_bound_counts_topic_and_payload() {
        // Each message costs 1 (topic) + 4 (payload) bytes.
        let mut queue = Queue::new(100, 10);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"1234")), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"5678")), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"9abc")), Pushed::Refused);
        queue.pop();
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"9abc")), Pushed::Queued);
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_never_zero() {
        let mut session = Session::new(ProtocolVersion::V5, 10, 1000);
        let first = session.allocate_packet_id().unwrap();
        assert_eq!(first.get(), 1);
        session.inflight.push_back(InFlight {
            packet_id: first,
            state: InFlightState::Released,
        });
        session.next_packet_id = PacketId::new(u16::MAX).unwrap();
        assert_eq!(session.allocate_packet_id().unwrap().get(), u16::MAX);
        // Wraps past 0 and skips 1, which is in flight.
        assert_eq!(session.allocate_packet_id().unwrap().get(), 2);
    }
}
