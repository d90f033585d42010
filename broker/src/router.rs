//! The routing core: every session, the subscription index and the retained messages, and what happens to them
//! when a client connects, subscribes, publishes, acknowledges or goes away.
//!
//! Pure state: no I/O, no `.await`, time passed in. The broker keeps one [`Router`] behind a `std::sync::Mutex`;
//! each method is one short critical section. Publishing only pushes onto bounded queues and wakes connection
//! tasks, so nothing on the publish path ever waits for a client.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use roost_codec::{
    Ack, Packet, PacketId, ProtocolVersion, QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions,
    Unsubscribe,
};

use crate::config::{Config, too_many_levels};
use crate::message::{Message, Outgoing};
use crate::retained::RetainedStore;
use crate::session::{Attached, InFlight, InFlightState, Session, Subscription};
use crate::subscriptions::SubscriptionIndex;

/// All routing state.
#[derive(Debug)]
pub(crate) struct Router {
    /// Sessions by client id ([MQTT-4.1.0-1]). Boxed: the table keeps spare buckets for growth, and a spare bucket
    /// holding a whole `Session` (~230 B) would cost more per connection than the box does.
    sessions: HashMap<ByteString, Box<Session>>,
    /// Which sessions subscribe to what.
    index: SubscriptionIndex,
    /// The last retained message per topic.
    retained: RetainedStore,
    /// Per-session queue bounds (`Config::max_queued_messages`, `Config::max_queued_bytes`).
    max_queued: (usize, usize),
    /// `Config::queue_qos0_offline`.
    queue_qos0_offline: bool,
    /// `Config::maximum_qos`: no subscription is granted more.
    maximum_qos: QoS,
    /// `Config::max_topic_levels`: deeper filters are refused.
    max_topic_levels: usize,
}

/// How a client's CONNECT found its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connected {
    /// Whether an existing session was resumed (CONNACK Session Present, [MQTT-3.2.2-2], [MQTT-3.2.2-3]).
    pub(crate) session_present: bool,
    /// Whether another connection had the session and was told to go ([MQTT-3.1.4-3]).
    pub(crate) took_over: bool,
}

/// What routing an inbound QoS 2 PUBLISH did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Routed to this many sessions.
    Routed(usize),
    /// Its packet id awaits PUBREL: already routed once, not routed again ([MQTT-4.3.3-10]).
    Duplicate,
    /// More QoS 2 messages await PUBREL than our Receive Maximum allows ([MQTT-3.3.4-7]).
    ReceiveMaximumExceeded,
}

impl Router {
    /// Empty state with `config`'s bounds.
    pub(crate) fn new(config: &Config) -> Self {
        Router {
            sessions: HashMap::new(),
            index: SubscriptionIndex::default(),
            retained: RetainedStore::new(config.max_retained_messages, config.max_retained_bytes),
            max_queued: (config.max_queued_messages, config.max_queued_bytes),
            queue_qos0_offline: config.queue_qos0_offline,
            maximum_qos: config.maximum_qos,
            max_topic_levels: config.max_topic_levels,
        }
    }

    /// Attaches a connection to `client_id`'s session, creating it, or discarding the old one on Clean Start
    /// ([MQTT-3.1.2-4], [MQTT-3.1.2-5]). A connection already attached is told to go ([MQTT-3.1.4-3]).
    pub(crate) fn connect(
        &mut self,
        client_id: &ByteString,
        version: ProtocolVersion,
        clean_start: bool,
        expiry_interval: u32,
        attached: Attached,
    ) -> Connected {
        let mut took_over = false;
        if let Some(old) = self.sessions.get_mut(client_id)
            && let Some(previous) = old.attached.take()
        {
            previous.mailbox.take_over();
            took_over = true;
        }
        if clean_start {
            self.remove_session(client_id);
        }
        let session_present = self.sessions.contains_key(client_id);
        let (max_queued, max_bytes) = self.max_queued;
        let session = self
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Box::new(Session::new(version, max_queued, max_bytes)));
        session.version = version;
        session.expiry_interval = expiry_interval;
        session.generation += 1;
        session.attached = Some(attached);
        Connected {
            session_present,
            took_over,
        }
    }

    /// Whether a connection is attached to `client_id`'s session, so that a CONNECT with this id takes it over.
    pub(crate) fn is_attached(&self, client_id: &ByteString) -> bool {
        self.sessions.get(client_id).is_some_and(|s| s.attached.is_some())
    }

    /// Detaches `connection_id` from its session, if it is still the one attached. A session with expiry interval
    /// 0 ends now; otherwise it stays, and the caller arms its expiry. Returns the session's generation and expiry
    /// interval when it stays.
    pub(crate) fn disconnect(&mut self, client_id: &ByteString, connection_id: u64) -> Option<(u64, u32)> {
        let session = self.sessions.get_mut(client_id)?;
        if !session.is_attached_to(connection_id) {
            return None;
        }
        session.attached = None;
        if session.expiry_interval == 0 {
            self.remove_session(client_id);
            return None;
        }
        if !self.queue_qos0_offline {
            session.queue.drop_qos0();
        }
        Some((session.generation, session.expiry_interval))
    }

    /// Sets the Session Expiry Interval a DISCONNECT asked for (MQTT 5, section 3.14.2.2.2).
    pub(crate) fn set_expiry_interval(&mut self, client_id: &ByteString, connection_id: u64, interval: u32) {
        if let Some(session) = self.sessions.get_mut(client_id)
            && session.is_attached_to(connection_id)
        {
            session.expiry_interval = interval;
        }
    }

    /// Ends the session if it is still offline since the disconnect that armed this timer.
    pub(crate) fn expire(&mut self, client_id: &ByteString, generation: u64) {
        if self
            .sessions
            .get(client_id)
            .is_some_and(|s| s.attached.is_none() && s.generation == generation)
        {
            tracing::debug!(client_id = &**client_id, "session expired");
            self.remove_session(client_id);
        }
    }

    /// Whether the session with `client_id` was resumed or ended since `generation` (a delayed will is then moot,
    /// unless the session ended).
    pub(crate) fn session_resumed(&self, client_id: &ByteString, generation: u64) -> bool {
        self.sessions
            .get(client_id)
            .is_some_and(|s| s.generation != generation || s.attached.is_some())
    }

    /// How many sessions have no connection (persistent sessions waiting for their client), for `$SYS`.
    pub(crate) fn disconnected_sessions(&self) -> usize {
        self.sessions.values().filter(|s| s.attached.is_none()).count()
    }

    /// How many subscriptions every session holds together, for `$SYS`.
    pub(crate) fn subscription_count(&self) -> usize {
        self.sessions.values().map(|s| s.subscriptions.len()).sum()
    }

    /// How many retained messages are kept, for `$SYS`.
    pub(crate) fn retained_count(&self) -> usize {
        self.retained.len()
    }

    fn remove_session(&mut self, client_id: &ByteString) {
        if let Some(session) = self.sessions.remove(client_id) {
            for filter in session.subscriptions.keys() {
                self.index.unsubscribe(client_id, filter);
            }
        }
    }

    /// Routes a message to every matching session and keeps it if retained; returns how many sessions it went to.
    pub(crate) fn publish(&mut self, message: Arc<Message>) -> usize {
        if message.retain {
            self.retained.retain(&message);
        }
        let Router {
            sessions,
            index,
            queue_qos0_offline,
            ..
        } = self;
        let matched = index.matching(&message.topic, |id| {
            sessions.get(id).is_some_and(|s| s.attached.is_some())
        });
        let mut delivered = 0;
        for (client_id, subscriptions) in matched.plain {
            // [MQTT-3.8.3-3] No Local: not back to the publisher.
            let own = message.publisher.as_ref() == Some(&client_id);
            let mut subscriptions = subscriptions
                .into_iter()
                .filter(|s| !(own && s.options.no_local))
                .peekable();
            if subscriptions.peek().is_none() {
                continue;
            }
            // [MQTT-3.3.4-2] overlapping subscriptions: one delivery at the highest QoS, with every identifier.
            let mut outgoing = Outgoing {
                message: Arc::clone(&message),
                qos: QoS::AtMostOnce,
                retain: false,
                subscription_ids: Vec::new(),
            };
            for subscription in subscriptions {
                outgoing.qos = outgoing.qos.max(message.qos.min(subscription.options.qos));
                // [MQTT-3.3.1-12], [MQTT-3.3.1-13] RETAIN only kept with Retain As Published.
                outgoing.retain |= message.retain && subscription.options.retain_as_published;
                outgoing.subscription_ids.extend(subscription.id);
            }
            if let Some(session) = sessions.get_mut(&client_id) {
                session.deliver(&client_id, outgoing, *queue_qos0_offline);
                delivered += 1;
            }
        }
        for (client_id, subscription) in matched.shared {
            let outgoing = Outgoing {
                message: Arc::clone(&message),
                qos: message.qos.min(subscription.options.qos),
                retain: message.retain && subscription.options.retain_as_published,
                subscription_ids: subscription.id.into_iter().collect(),
            };
            if let Some(session) = sessions.get_mut(&client_id) {
                session.deliver(&client_id, outgoing, *queue_qos0_offline);
                delivered += 1;
            }
        }
        delivered
    }

    /// Routes an inbound QoS 2 message unless its packet id already awaits PUBREL ([MQTT-4.3.3-10]).
    pub(crate) fn publish_exactly_once(
        &mut self,
        client_id: &ByteString,
        packet_id: PacketId,
        message: Arc<Message>,
        receive_maximum: u16,
    ) -> Inbound {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return Inbound::Routed(0);
        };
        if session.inbound_qos2.contains(&packet_id) {
            return Inbound::Duplicate;
        }
        if session.inbound_qos2.len() >= usize::from(receive_maximum) {
            return Inbound::ReceiveMaximumExceeded;
        }
        session.inbound_qos2.insert(packet_id);
        Inbound::Routed(self.publish(message))
    }

    /// PUBREL: forgets the inbound QoS 2 packet id; whether it was known ([MQTT-4.3.3-10]).
    pub(crate) fn release(&mut self, client_id: &ByteString, packet_id: PacketId) -> bool {
        self.sessions
            .get_mut(client_id)
            .is_some_and(|s| s.inbound_qos2.remove(&packet_id))
    }

    /// SUBSCRIBE: adds or replaces each subscription ([MQTT-3.8.4-3]) and queues the retained messages its Retain
    /// Handling asks for; returns the SUBACK reason codes, one per filter in order ([MQTT-3.8.4-6]).
    pub(crate) fn subscribe(&mut self, client_id: &ByteString, subscribe: &Subscribe, now: Instant) -> Vec<ReasonCode> {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return vec![ReasonCode::UnspecifiedError; subscribe.filters.len()];
        };
        let id = subscribe.properties.subscription_identifiers.first().copied();
        let mut reasons = Vec::with_capacity(subscribe.filters.len());
        for (filter, options) in &subscribe.filters {
            // [MQTT-3.8.4-6], [MQTT-3.9.3-1]: an invalid filter gets a failure of its own (0x8F; MQTT 3.x SUBACK
            // says 0x80) and the other filters are served as if each came in a SUBSCRIBE of its own
            // ([MQTT-3.8.4-5]).
            let Ok(filter) = filter else {
                reasons.push(ReasonCode::TopicFilterInvalid);
                continue;
            };
            if too_many_levels(self.max_topic_levels, filter.matching_part()) {
                reasons.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            // Granted: the QoS asked for, at most our maximum ([MQTT-3.2.2-10] a SUBSCRIBE asking for more is
            // still accepted; 3.1.1 [MQTT-3.8.4-6] the server may grant less). Deliveries use the granted QoS.
            let options = &SubscriptionOptions {
                qos: options.qos.min(self.maximum_qos),
                ..*options
            };
            let subscription = Subscription { options: *options, id };
            let existed = session.subscriptions.insert(filter.clone(), subscription).is_some();
            self.index.subscribe(client_id, filter, subscription);
            reasons.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::GRANTED_QOS0,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
            // Retained messages on subscribe ([MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11]); not for shared
            // subscriptions (section 4.8.2).
            let send_retained = filter.shared().is_none()
                && match options.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained {
                for message in self.retained.matching(filter, now) {
                    let outgoing = Outgoing {
                        qos: message.qos.min(options.qos),
                        message,
                        retain: true,
                        subscription_ids: id.into_iter().collect(),
                    };
                    session.deliver(client_id, outgoing, self.queue_qos0_offline);
                }
            }
        }
        reasons
    }

    /// UNSUBSCRIBE: removes each subscription; MQTT 5 reason codes 0x00 or 0x11 per filter ([MQTT-3.11.3-1]).
    pub(crate) fn unsubscribe(&mut self, client_id: &ByteString, unsubscribe: &Unsubscribe) -> Vec<ReasonCode> {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return vec![ReasonCode::NoSubscriptionExisted; unsubscribe.filters.len()];
        };
        unsubscribe
            .filters
            .iter()
            .map(|filter| {
                // [MQTT-3.11.3-1]: an invalid filter is answered 0x8F on its own (MQTT 3.x UNSUBACK has no codes).
                let Ok(filter) = filter else {
                    return ReasonCode::TopicFilterInvalid;
                };
                self.index.unsubscribe(client_id, filter);
                if session.subscriptions.remove(filter).is_some() {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect()
    }

    /// On resume: every unacknowledged PUBLISH again with DUP set, and every unanswered PUBREL, in their original
    /// order ([MQTT-4.4.0-1]). A PUBLISH is resent even if it expired meanwhile ([MQTT-4.3.3-7]).
    pub(crate) fn resend(&mut self, client_id: &ByteString, connection_id: u64, now: Instant) -> Vec<Packet> {
        let Some(session) = self
            .sessions
            .get_mut(client_id)
            .filter(|s| s.is_attached_to(connection_id))
        else {
            return Vec::new();
        };
        let mut packets = Vec::new();
        for inflight in &session.inflight {
            packets.push(match &inflight.state {
                InFlightState::Published(outgoing) => Packet::Publish(outgoing.to_resend(inflight.packet_id, now)),
                InFlightState::Released => Packet::PubRel(Ack::new(inflight.packet_id)),
            });
        }
        packets
    }

    /// Takes up to `limit` queued messages for the connection to send, moving QoS 1/2 ones in flight with fresh
    /// packet ids while fewer than `inflight_limit` are unacknowledged (the client's Receive Maximum,
    /// [MQTT-3.3.4-9]). A message `fits` rejects (over the client's Maximum Packet Size) is dropped for this client
    /// only ([MQTT-3.1.2-25]). Returns the packets and whether more could be sent right away; `None` if this
    /// connection no longer has the session.
    pub(crate) fn outgoing(
        &mut self,
        client_id: &ByteString,
        connection_id: u64,
        inflight_limit: usize,
        limit: usize,
        now: Instant,
        fits: impl Fn(&Packet) -> bool,
    ) -> Option<(Vec<Packet>, bool)> {
        let session = self
            .sessions
            .get_mut(client_id)
            .filter(|s| s.is_attached_to(connection_id))?;
        let mut packets = Vec::new();
        while packets.len() < limit {
            let Some(outgoing) = session.queue.pop() else {
                break;
            };
            let packet_id = if outgoing.qos == QoS::AtMostOnce {
                None
            } else if session.inflight.len() >= inflight_limit {
                session.queue.push_front(outgoing);
                return Some((packets, false));
            } else {
                let Some(id) = session.allocate_packet_id() else {
                    session.queue.push_front(outgoing);
                    return Some((packets, false));
                };
                Some(id)
            };
            let Some(publish) = outgoing.to_publish(packet_id, now) else {
                tracing::trace!(topic = %outgoing.message.topic, "message expired in the queue");
                continue;
            };
            let packet = Packet::Publish(publish);
            if !fits(&packet) {
                tracing::debug!(topic = %outgoing.message.topic, "dropped: larger than the client's maximum packet size");
                continue;
            }
            if let Some(packet_id) = packet_id {
                session.inflight.push_back(InFlight {
                    packet_id,
                    state: InFlightState::Published(outgoing),
                });
            }
            packets.push(packet);
        }
        Some((packets, session.queue.len() > 0))
    }

    /// PUBACK, PUBREC or PUBCOMP from the client. Returns the PUBREL to send back for a PUBREC.
    pub(crate) fn acknowledge(&mut self, client_id: &ByteString, packet: &Packet) -> Option<Packet> {
        let session = self.sessions.get_mut(client_id)?;
        match packet {
            Packet::PubAck(ack) | Packet::PubComp(ack) => {
                session.take_inflight(ack.packet_id);
                None
            }
            Packet::PubRec(ack) => {
                let inflight = session.inflight.iter_mut().find(|f| f.packet_id == ack.packet_id);
                match inflight {
                    // [MQTT-4.3.3-4] an error PUBREC ends the exchange; nothing to release.
                    Some(_) if ack.reason_code.is_error() => {
                        session.take_inflight(ack.packet_id);
                        None
                    }
                    Some(inflight) => {
                        inflight.state = InFlightState::Released;
                        Some(Packet::PubRel(Ack::new(ack.packet_id)))
                    }
                    // Unknown id: answer anyway so the client can finish; MQTT 5 says it was not found.
                    None => {
                        let mut pubrel = Ack {
                            reason_code: ReasonCode::PacketIdentifierNotFound,
                            ..Ack::new(ack.packet_id)
                        };
                        pubrel.properties.reason_string = Some("unknown packet identifier".into());
                        Some(Packet::PubRel(pubrel))
                    }
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Mailbox;
    use roost_codec::{Publish, SubscriptionOptions, TopicName};

    fn attach(connection_id: u64) -> Attached {
        Attached {
            connection_id,
            mailbox: Arc::new(Mailbox::default()),
        }
    }

    fn message(topic: &str, qos: QoS) -> Arc<Message> {
        let publish = Publish::new(TopicName::new(topic).unwrap(), "x");
        let topic = publish.topic.clone();
        let mut message = Message::from_publish(publish, topic, "pub".into(), Instant::now());
        message.qos = qos;
        Arc::new(message)
    }

    fn subscribe(router: &mut Router, client: &ByteString, filter: &str, qos: QoS) {
        let subscribe = Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Default::default(),
            filters: vec![(Ok(filter.try_into().unwrap()), SubscriptionOptions::qos(qos))],
        };
        router.subscribe(client, &subscribe, Instant::now());
    }

    #[test]
    fn expiry_timer_of_an_old_disconnect_does_not_end_a_resumed_session() {
        let mut router = Router::new(&Config::default());
        let id = ByteString::from("c");
        router.connect(&id, ProtocolVersion::V5, true, 60, attach(1));
        let (generation, interval) = router.disconnect(&id, 1).unwrap();
        assert_eq!(interval, 60);
        let resumed = router.connect(&id, ProtocolVersion::V5, false, 60, attach(2));
        assert!(resumed.session_present && !resumed.took_over);
        router.expire(&id, generation);
        assert!(router.sessions.contains_key(&id));
        assert!(router.session_resumed(&id, generation));
        let (generation, _) = router.disconnect(&id, 2).unwrap();
        router.expire(&id, generation);
        assert!(!router.sessions.contains_key(&id));
    }

    #[test]
    fn takeover_cancels_the_old_connection_and_it_cannot_detach_the_new_one() {
        let mut router = Router::new(&Config::default());
        let id = ByteString::from("c");
        let old = attach(1);
        let old_mailbox = Arc::clone(&old.mailbox);
        router.connect(&id, ProtocolVersion::V311, false, 60, old);
        let connected = router.connect(&id, ProtocolVersion::V311, false, 60, attach(2));
        assert!(connected.took_over && connected.session_present);
        assert!(old_mailbox.is_taken_over());
        assert_eq!(router.disconnect(&id, 1), None);
        assert!(router.sessions[&id].is_attached_to(2));
    }

    #[test]
    fn offline_session_queues_qos1_but_not_qos0() {
        let mut router = Router::new(&Config::default());
        let id = ByteString::from("c");
        router.connect(&id, ProtocolVersion::V311, false, 60, attach(1));
        subscribe(&mut router, &id, "t", QoS::AtLeastOnce);
        router.disconnect(&id, 1);
        router.publish(message("t", QoS::AtMostOnce));
        router.publish(message("t", QoS::AtLeastOnce));
        assert_eq!(router.sessions[&id].queue.len(), 1);
        router.connect(&id, ProtocolVersion::V311, false, 60, attach(2));
        let (packets, more) = router.outgoing(&id, 2, 10, 10, Instant::now(), |_| true).unwrap();
        assert_eq!((packets.len(), more), (1, false));
        // Connection 1 no longer owns the session.
        assert!(router.outgoing(&id, 1, 10, 10, Instant::now(), |_| true).is_none());
    }

    /// A QoS 2 message to `t` with a Message Expiry Interval of `secs`, received at `now`.
    fn expiring(secs: u32, now: Instant) -> Arc<Message> {
        let mut publish = Publish::new(TopicName::new("t").unwrap(), "x");
        publish.properties.message_expiry_interval = Some(secs);
        let topic = publish.topic.clone();
        let mut message = Message::from_publish(publish, topic, "pub".into(), now);
        message.qos = QoS::ExactlyOnce;
        Arc::new(message)
    }

    #[test]
    fn in_flight_messages_are_resent_after_they_expire_but_unsent_ones_are_dropped() {
        // [MQTT-4.3.3-7] no expiry once a QoS 2 PUBLISH is sent; [MQTT-3.3.2-5] a copy not yet sent is dropped.
        let (t0, later) = (Instant::now(), Instant::now() + std::time::Duration::from_secs(60));
        let mut router = Router::new(&Config::default());
        let id = ByteString::from("c");
        router.connect(&id, ProtocolVersion::V5, false, 600, attach(1));
        subscribe(&mut router, &id, "t", QoS::ExactlyOnce);
        router.publish(expiring(5, t0));
        let (sent, _) = router.outgoing(&id, 1, 1, 10, t0, |_| true).unwrap();
        assert_eq!(sent.len(), 1);
        // The second one waits behind the in-flight window of 1, and expires there.
        router.publish(expiring(5, t0));
        router.disconnect(&id, 1);
        router.connect(&id, ProtocolVersion::V5, false, 600, attach(2));
        let resent = router.resend(&id, 2, later);
        let [Packet::Publish(publish)] = &resent[..] else {
            panic!("expected the in-flight PUBLISH again, got {resent:?}");
        };
        assert!(publish.dup);
        assert_eq!(publish.properties.message_expiry_interval, Some(1));
        // PUBREC, PUBREL: the exchange goes on. The expired queued copy is never sent.
        let pubrec = Packet::PubRec(Ack::new(publish.qos_pid.packet_id().unwrap()));
        assert!(matches!(router.acknowledge(&id, &pubrec), Some(Packet::PubRel(_))));
        let (sent, more) = router.outgoing(&id, 2, 10, 10, later, |_| true).unwrap();
        assert_eq!((sent.len(), more), (0, false));
    }
}
