//! The routing core: every session, the subscription index and the retained messages, and what happens to them
//! when a client connects, subscribes, publishes, acknowledges or goes away.
//!
//! Pure state: no I/O, no `.await`, time passed in. There is no lock around the whole: the session table, the
//! index and the retained store each have their own, and every session has its own (`SessionCell`), so publishes
//! from different connections to unrelated topics run in parallel. Lock order, where two are held at once:
//! table → session → index → retained. The publish path holds at most one lock at a time: the retained store
//! (retained messages only), then the index for reading (matching clones the matched sessions' `Arc`s out of it),
//! then each matched session in turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use bytestring::ByteString;
use roost_codec::{
    Ack, Packet, PacketId, ProtocolVersion, QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions,
    Unsubscribe,
};

use crate::auth::Auth;
use crate::config::{Config, too_many_levels};
use crate::message::{Message, Outgoing};
use crate::retained::RetainedStore;
use crate::session::{
    Attached, Delivered, Drop, Hold, InFlight, InFlightState, Limits, Session, SessionCell, Subscription,
};
use crate::subscriptions::{Match, SubscriptionIndex};

/// All routing state.
#[derive(Debug)]
pub(crate) struct Router {
    /// Sessions by client id ([MQTT-4.1.0-1]). Only connecting, disconnecting, expiring and `$SYS` use the table:
    /// a connection keeps its own session's `Arc`, and the index hands out the matched ones.
    sessions: Mutex<HashMap<ByteString, Arc<SessionCell>>>,
    /// Which sessions subscribe to what. Read-mostly: every publish reads it, only (un)subscribing writes.
    index: RwLock<SubscriptionIndex<Arc<SessionCell>>>,
    /// The last retained message per topic.
    retained: Mutex<RetainedStore>,
    /// Per-session queue bounds and the slow-subscriber timeout.
    limits: Limits,
    /// `Config::queue_qos0_offline`.
    queue_qos0_offline: bool,
    /// `Config::maximum_qos`: no subscription is granted more.
    maximum_qos: QoS,
    /// `Config::max_topic_levels`: deeper filters are refused.
    max_topic_levels: usize,
    /// `Config::max_subscriptions_per_client` (0: no limit).
    max_subscriptions: usize,
    /// Messages not delivered to a subscription they matched, by reason.
    drops: Drops,
    /// Users and ACLs: every delivery (retained ones on SUBSCRIBE included) needs the subscriber's read right
    /// under the rules in force at that moment, so rights shrunk by a reload apply to the next message at once.
    /// `None` in unit tests of the router alone.
    auth: Option<Arc<Auth>>,
}

/// How many messages matched a subscription and were not delivered to it, by reason: relaxed atomic counters, read
/// by `$SYS`. The first, 2nd, 4th, 8th... drop of each reason is logged at warn level, so a stuck or offline
/// client is visible without flooding the log.
#[derive(Debug, Default)]
pub(crate) struct Drops {
    counts: [AtomicU64; Drop::ALL.len()],
}

impl Drops {
    /// Counts `n` drops for `reason` of a message on `topic` meant for `client_id`.
    pub(crate) fn count(&self, reason: Drop, n: usize, client_id: &str, topic: &str) {
        if n == 0 {
            return;
        }
        let before = self.counts[reason as usize].fetch_add(n as u64, Ordering::Relaxed);
        let after = before + n as u64;
        // A power of two was crossed: log.
        if before == 0 || (before.ilog2() != after.ilog2()) {
            tracing::warn!(
                client_id,
                topic,
                reason = reason.name(),
                dropped = after,
                "message dropped"
            );
        }
    }

    /// How many were dropped for `reason`.
    pub(crate) fn get(&self, reason: Drop) -> u64 {
        self.counts[reason as usize].load(Ordering::Relaxed)
    }

    /// How many were dropped for any reason.
    pub(crate) fn total(&self) -> u64 {
        Drop::ALL.iter().map(|&reason| self.get(reason)).sum()
    }
}

/// How a client's CONNECT found its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connected {
    /// Whether an existing session was resumed (CONNACK Session Present, [MQTT-3.2.2-2], [MQTT-3.2.2-3]).
    pub(crate) session_present: bool,
    /// Whether another connection had the session and was told to go ([MQTT-3.1.4-3]).
    pub(crate) took_over: bool,
}

/// What routing one message did.
#[derive(Debug, Default)]
pub(crate) struct Routed {
    /// How many sessions it matched (after No Local).
    pub(crate) matched: usize,
    /// How many of them queued it.
    pub(crate) taken: usize,
    /// The sessions it reached at their high-water mark: the publisher waits for room in each before routing more
    /// (see `SessionCell::hold`). Never the publisher's own session.
    pub(crate) wait_for: Vec<Arc<SessionCell>>,
}

impl Routed {
    /// The reason code acknowledging a QoS 1/2 PUBLISH that routed like this: MQTT 5 says 0x10 when nobody
    /// subscribes (section 3.4.2.1) and 0x97 Quota exceeded when every matching session refused it (none could
    /// take it: offline or stuck with a full queue); 3.x acknowledgements carry no reason.
    pub(crate) fn reason(&self, v5: bool) -> ReasonCode {
        match (v5, self.matched, self.taken) {
            (false, _, _) => ReasonCode::Success,
            (true, 0, _) => ReasonCode::NoMatchingSubscribers,
            (true, _, 0) => ReasonCode::QuotaExceeded,
            (true, _, _) => ReasonCode::Success,
        }
    }
}

/// What routing an inbound QoS 2 PUBLISH did.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// Routed.
    Routed(Routed),
    /// Its packet id awaits PUBREL: already routed once, not routed again ([MQTT-4.3.3-10]).
    Duplicate,
    /// More QoS 2 messages await PUBREL than our Receive Maximum allows ([MQTT-3.3.4-7]).
    ReceiveMaximumExceeded,
}

impl Router {
    /// Empty state with `config`'s bounds.
    pub(crate) fn new(config: &Config) -> Self {
        Router {
            sessions: Mutex::default(),
            index: RwLock::default(),
            retained: Mutex::new(RetainedStore::new(
                config.max_retained_messages,
                config.max_retained_bytes,
            )),
            limits: Limits {
                messages: config.max_queued_messages,
                bytes: config.max_queued_bytes,
                retained_backlog: config.max_retained_messages.saturating_mul(2),
                slow_subscriber_timeout: config.slow_subscriber_timeout,
            },
            queue_qos0_offline: config.queue_qos0_offline,
            maximum_qos: config.maximum_qos,
            max_topic_levels: config.max_topic_levels,
            max_subscriptions: config.max_subscriptions_per_client,
            drops: Drops::default(),
            auth: None,
        }
    }

    /// The same router, checking every delivery against `auth`'s ACL.
    pub(crate) fn with_auth(self, auth: Arc<Auth>) -> Self {
        Router {
            auth: Some(auth),
            ..self
        }
    }

    // Locks. A poisoned lock (a panic while routing, which would be a bug) is recovered rather than taking every
    // other connection down with it: each method leaves the state consistent between its own steps.

    fn table(&self) -> MutexGuard<'_, HashMap<ByteString, Arc<SessionCell>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self) -> RwLockReadGuard<'_, SubscriptionIndex<Arc<SessionCell>>> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, SubscriptionIndex<Arc<SessionCell>>> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn retained(&self) -> MutexGuard<'_, RetainedStore> {
        self.retained.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The drop counters, for `$SYS`.
    pub(crate) fn drops(&self) -> &Drops {
        &self.drops
    }

    /// Attaches connection `connection_id` to `client_id`'s session, creating it, or discarding the old one on
    /// Clean Start ([MQTT-3.1.2-4], [MQTT-3.1.2-5]). A connection already attached is told to go ([MQTT-3.1.4-3]).
    /// Returns the session, which the connection keeps for everything it does from now on.
    pub(crate) fn connect(
        &self,
        client_id: &ByteString,
        version: ProtocolVersion,
        clean_start: bool,
        expiry_interval: u32,
        attached: Attached,
        now: Instant,
    ) -> (Connected, Arc<SessionCell>) {
        let mut table = self.table();
        let mut took_over = false;
        if let Some(old) = table.get(client_id) {
            let mut session = old.lock();
            if let Some(previous) = session.attached.take() {
                previous.mailbox.take_over();
                took_over = true;
            }
            drop(session);
            old.set_online(false);
        }
        if clean_start && let Some(old) = table.remove(client_id) {
            self.end_session(&old);
        }
        let session_present = table.contains_key(client_id);
        let cell = Arc::clone(
            table
                .entry(client_id.clone())
                .or_insert_with(|| Arc::new(SessionCell::new(client_id.clone(), version, now))),
        );
        drop(table);
        let mut session = cell.lock();
        session.version = version;
        session.expiry_interval = expiry_interval;
        session.attach(attached, now);
        drop(session);
        cell.set_online(true);
        (
            Connected {
                session_present,
                took_over,
            },
            cell,
        )
    }

    /// Whether a connection is attached to `client_id`'s session, so that a CONNECT with this id takes it over.
    pub(crate) fn is_attached(&self, client_id: &ByteString) -> bool {
        self.table().get(client_id).is_some_and(|s| s.is_online())
    }

    /// Detaches `connection_id` from its session, if it is still the one attached. A session with expiry interval
    /// 0 ends now; otherwise it stays, and the caller arms its expiry. Returns the session's generation and expiry
    /// interval when it stays.
    pub(crate) fn disconnect(&self, cell: &Arc<SessionCell>, connection_id: u64) -> Option<(u64, u32)> {
        let mut table = self.table();
        let mut session = cell.lock();
        if !session.is_attached_to(connection_id) {
            return None;
        }
        session.attached = None;
        cell.set_online(false);
        if session.expiry_interval == 0 {
            drop(session);
            if table.get(&cell.client_id).is_some_and(|s| Arc::ptr_eq(s, cell)) {
                table.remove(&cell.client_id);
            }
            drop(table);
            self.end_session(cell);
            return None;
        }
        drop(table);
        if !self.queue_qos0_offline {
            let dropped = session.queue.drop_qos0();
            self.drops.count(Drop::Qos0Offline, dropped, &cell.client_id, "");
        }
        Some((session.generation, session.expiry_interval))
    }

    /// Sets the Session Expiry Interval a DISCONNECT asked for (MQTT 5, section 3.14.2.2.2).
    pub(crate) fn set_expiry_interval(&self, cell: &SessionCell, connection_id: u64, interval: u32) {
        let mut session = cell.lock();
        if session.is_attached_to(connection_id) {
            session.expiry_interval = interval;
        }
    }

    /// Ends the session if it is still offline since the disconnect of connection `generation` that armed this
    /// timer.
    pub(crate) fn expire(&self, client_id: &ByteString, generation: u64) {
        let mut table = self.table();
        let Some(cell) = table.get(client_id) else {
            return;
        };
        let due = {
            let session = cell.lock();
            session.attached.is_none() && session.generation == generation
        };
        if due && let Some(cell) = table.remove(client_id) {
            drop(table);
            tracing::debug!(client_id = &**client_id, "session expired");
            self.end_session(&cell);
        }
    }

    /// Whether the session with `client_id` was resumed since the disconnect of connection `generation` (a delayed
    /// will is then moot, unless the session ended).
    pub(crate) fn session_resumed(&self, client_id: &ByteString, generation: u64) -> bool {
        self.table().get(client_id).is_some_and(|cell| {
            let session = cell.lock();
            session.generation != generation || session.attached.is_some()
        })
    }

    /// How many sessions have no connection (persistent sessions waiting for their client), for `$SYS`.
    pub(crate) fn disconnected_sessions(&self) -> usize {
        self.table().values().filter(|s| !s.is_online()).count()
    }

    /// How many subscriptions every session holds together, for `$SYS`.
    pub(crate) fn subscription_count(&self) -> usize {
        self.index().len()
    }

    /// How many retained messages are kept, for `$SYS`.
    pub(crate) fn retained_count(&self) -> usize {
        self.retained().len()
    }

    /// Takes an ended session's subscriptions out of the index. The caller has removed it from the table; a
    /// publish that matched it a moment ago may still queue to it, which is harmless: nobody will read it.
    fn end_session(&self, cell: &SessionCell) {
        let mut session = cell.lock();
        let filters = std::mem::take(&mut session.subscriptions);
        let mut index = self.index_mut();
        for filter in filters.keys() {
            index.unsubscribe(&cell.client_id, filter);
        }
        drop(index);
        // Nobody waits for a session that is gone.
        session.attached = None;
        drop(session);
        cell.set_online(false);
    }

    /// Routes a message to every matching session and keeps it if retained. `now` is when it arrived.
    pub(crate) fn publish(&self, message: Arc<Message>, now: Instant) -> Routed {
        if message.retain {
            self.retained().retain(&message);
        }
        let mut matches = Vec::new();
        self.index()
            .matching(message.topic.as_str(), |cell| cell.is_online(), &mut matches);
        let mut routed = Routed::default();
        if matches.is_empty() {
            return routed;
        }
        let policy = self.auth.as_ref().map(|auth| auth.policy());
        // One delivery per session for its ordinary subscriptions ([MQTT-3.3.4-2]): group them. Shared picks are
        // deliveries of their own.
        matches.sort_unstable_by_key(|m| (m.shared, Arc::as_ptr(&m.target) as usize));
        for group in matches.chunk_by(|a, b| !a.shared && !b.shared && Arc::ptr_eq(&a.target, &b.target)) {
            let cell = &group[0].target;
            // [MQTT-3.8.3-3] No Local: not back to the publisher (a shared subscription cannot set it,
            // [MQTT-3.8.3-4]).
            let own = message.publisher.as_ref() == Some(&cell.client_id);
            let Some(outgoing) = outgoing_for(&message, group, own) else {
                continue;
            };
            let mut session = cell.lock();
            // Read access, as the session's user, under the rules in force now (Mosquitto's read check on
            // delivery): a subscription the ACL allowed does not reach topics a rule denies it.
            if let Some(policy) = &policy
                && !policy.can_read(session.user.as_deref(), &cell.client_id, message.topic.as_str())
            {
                continue;
            }
            routed.matched += 1;
            let delivered = session.deliver(outgoing, &self.limits, self.queue_qos0_offline, now);
            drop(session);
            match delivered {
                Delivered::Queued { high } => {
                    routed.taken += 1;
                    if high && !own {
                        routed.wait_for.push(Arc::clone(cell));
                    }
                }
                Delivered::QueuedDroppingOldest => {
                    routed.taken += 1;
                    self.drops
                        .count(Drop::QueueFull, 1, &cell.client_id, message.topic.as_str());
                }
                Delivered::Dropped(reason) => {
                    self.drops.count(reason, 1, &cell.client_id, message.topic.as_str());
                }
            }
        }
        routed
    }

    /// Routes an inbound QoS 2 message from `cell`'s client unless its packet id already awaits PUBREL
    /// ([MQTT-4.3.3-10]).
    pub(crate) fn publish_exactly_once(
        &self,
        cell: &SessionCell,
        packet_id: PacketId,
        message: Arc<Message>,
        receive_maximum: u16,
        now: Instant,
    ) -> Inbound {
        {
            let mut session = cell.lock();
            if session.inbound_qos2.contains(&packet_id) {
                return Inbound::Duplicate;
            }
            if session.inbound_qos2.len() >= usize::from(receive_maximum) {
                return Inbound::ReceiveMaximumExceeded;
            }
            session.inbound_qos2.insert(packet_id);
        }
        Inbound::Routed(self.publish(message, now))
    }

    /// PUBREL: forgets the inbound QoS 2 packet id; whether it was known ([MQTT-4.3.3-10]).
    pub(crate) fn release(&self, cell: &SessionCell, packet_id: PacketId) -> bool {
        cell.lock().inbound_qos2.remove(&packet_id)
    }

    /// SUBSCRIBE: adds or replaces each subscription ([MQTT-3.8.4-3]) and queues the retained messages its Retain
    /// Handling asks for; returns the SUBACK reason codes, one per filter in order ([MQTT-3.8.4-6]).
    pub(crate) fn subscribe(&self, cell: &Arc<SessionCell>, subscribe: &Subscribe, now: Instant) -> Vec<ReasonCode> {
        let mut session = cell.lock();
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
            let existed = session.subscriptions.contains_key(filter);
            if !existed && self.max_subscriptions > 0 && session.subscriptions.len() >= self.max_subscriptions {
                // Section 3.9.3: 0x97 Quota exceeded (3.x SUBACK: 0x80, the one failure code it has).
                reasons.push(ReasonCode::QuotaExceeded);
                continue;
            }
            // Granted: the QoS asked for, at most our maximum ([MQTT-3.2.2-10] a SUBSCRIBE asking for more is
            // still accepted; 3.1.1 [MQTT-3.8.4-6] the server may grant less). Deliveries use the granted QoS.
            let options = &SubscriptionOptions {
                qos: options.qos.min(self.maximum_qos),
                ..*options
            };
            let subscription = Subscription { options: *options, id };
            session.subscriptions.insert(filter.clone(), subscription);
            self.index_mut()
                .subscribe(&cell.client_id, filter, Arc::clone(cell), subscription);
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
                let mut messages = self.retained().matching(filter, now);
                if let Some(auth) = &self.auth {
                    let policy = auth.policy();
                    let user = session.user.clone();
                    messages.retain(|m| policy.can_read(user.as_deref(), &cell.client_id, m.topic.as_str()));
                }
                let outgoing = messages.into_iter().map(|message| Outgoing {
                    qos: message.qos.min(options.qos),
                    message,
                    retain: true,
                    subscription_ids: id.into_iter().collect(),
                    retain_on_subscribe: true,
                });
                let dropped = session.deliver_retained(outgoing, &self.limits);
                self.drops
                    .count(Drop::RetainedBacklog, dropped, &cell.client_id, filter.as_str());
            }
        }
        reasons
    }

    /// UNSUBSCRIBE: removes each subscription; MQTT 5 reason codes 0x00 or 0x11 per filter ([MQTT-3.11.3-1]).
    pub(crate) fn unsubscribe(&self, cell: &SessionCell, unsubscribe: &Unsubscribe) -> Vec<ReasonCode> {
        let mut session = cell.lock();
        unsubscribe
            .filters
            .iter()
            .map(|filter| {
                // [MQTT-3.11.3-1]: an invalid filter is answered 0x8F on its own (MQTT 3.x UNSUBACK has no codes).
                let Ok(filter) = filter else {
                    return ReasonCode::TopicFilterInvalid;
                };
                self.index_mut().unsubscribe(&cell.client_id, filter);
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
    pub(crate) fn resend(&self, cell: &SessionCell, connection_id: u64, now: Instant) -> Vec<Packet> {
        let session = cell.lock();
        if !session.is_attached_to(connection_id) {
            return Vec::new();
        }
        session
            .inflight
            .iter()
            .map(|inflight| match &inflight.state {
                InFlightState::Published(outgoing) => Packet::Publish(outgoing.to_resend(inflight.packet_id, now)),
                InFlightState::Released => Packet::PubRel(Ack::new(inflight.packet_id)),
            })
            .collect()
    }

    /// Takes up to `limit` queued messages for the connection to send, moving QoS 1/2 ones in flight with fresh
    /// packet ids while fewer than `inflight_limit` are unacknowledged (the client's Receive Maximum,
    /// [MQTT-3.3.4-9]). A message `fits` rejects (over the client's Maximum Packet Size) is dropped for this client
    /// only ([MQTT-3.1.2-25]). Returns the packets and whether more could be sent right away; `None` if this
    /// connection no longer has the session. Taking messages is progress: publishers waiting for room are released
    /// once the queue is down to its low-water mark.
    pub(crate) fn outgoing(
        &self,
        cell: &SessionCell,
        connection_id: u64,
        inflight_limit: usize,
        limit: usize,
        now: Instant,
        fits: impl Fn(&Packet) -> bool,
    ) -> Option<(Vec<Packet>, bool)> {
        let mut session = cell.lock();
        if !session.is_attached_to(connection_id) {
            return None;
        }
        let mut packets = Vec::new();
        let mut taken = 0;
        let mut blocked = false;
        while packets.len() < limit {
            let Some(outgoing) = session.queue.pop() else {
                break;
            };
            let packet_id = if outgoing.qos == QoS::AtMostOnce {
                None
            } else if session.inflight.len() >= inflight_limit {
                session.queue.push_front(outgoing);
                blocked = true;
                break;
            } else {
                let Some(id) = session.allocate_packet_id() else {
                    session.queue.push_front(outgoing);
                    blocked = true;
                    break;
                };
                Some(id)
            };
            taken += 1;
            let Some(publish) = outgoing.to_publish(packet_id, now) else {
                tracing::trace!(topic = %outgoing.message.topic, "message expired in the queue");
                self.drops
                    .count(Drop::Expired, 1, &cell.client_id, outgoing.message.topic.as_str());
                continue;
            };
            let packet = Packet::Publish(publish);
            if !fits(&packet) {
                self.drops
                    .count(Drop::TooLarge, 1, &cell.client_id, outgoing.message.topic.as_str());
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
        let room = taken > 0 && session.progressed(now, &self.limits);
        let more = !blocked && session.queue.len() > 0;
        drop(session);
        if room {
            cell.make_room();
        }
        Some((packets, more))
    }

    /// PUBACK, PUBREC or PUBCOMP from the client. Returns the PUBREL to send back for a PUBREC.
    pub(crate) fn acknowledge(&self, cell: &SessionCell, packet: &Packet) -> Option<Packet> {
        let mut session = cell.lock();
        acknowledge(&mut session, packet)
    }

    /// Whether a publisher must wait for `cell` now; see `SessionCell::hold`.
    pub(crate) fn hold(&self, cell: &SessionCell, now: Instant) -> Hold {
        cell.hold(&self.limits, now)
    }
}

/// The delivery of `message` to one session for the subscriptions in `group` that matched it, or `None` when No
/// Local leaves none (`own`: the session is the publisher's).
fn outgoing_for(message: &Arc<Message>, group: &[Match<Arc<SessionCell>>], own: bool) -> Option<Outgoing> {
    let mut outgoing: Option<Outgoing> = None;
    for m in group {
        let options = &m.subscription.options;
        if own && options.no_local && !m.shared {
            continue;
        }
        let o = outgoing.get_or_insert_with(|| Outgoing::new(Arc::clone(message), QoS::AtMostOnce));
        // [MQTT-3.3.4-2] overlapping subscriptions: one delivery at the highest QoS, with every identifier.
        o.qos = o.qos.max(message.qos.min(options.qos));
        // [MQTT-3.3.1-12], [MQTT-3.3.1-13] RETAIN only kept with Retain As Published.
        o.retain |= message.retain && options.retain_as_published;
        o.subscription_ids.extend(m.subscription.id);
    }
    outgoing
}

/// PUBACK, PUBREC or PUBCOMP from the client, applied to its session. Returns the PUBREL to send back for a PUBREC.
fn acknowledge(session: &mut Session, packet: &Packet) -> Option<Packet> {
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

/// A new mailbox-backed attachment for connection `connection_id`, for tests and benchmarks of the router.
#[cfg(test)]
pub(crate) fn attachment(connection_id: u64) -> (Attached, Arc<crate::session::Mailbox>) {
    let mailbox = Arc::new(crate::session::Mailbox::default());
    (
        Attached {
            connection_id,
            mailbox: Arc::clone(&mailbox),
            user: None,
        },
        mailbox,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_codec::{Publish, SubscriptionOptions, TopicName};
    use std::time::Duration;

    fn attach(connection_id: u64) -> Attached {
        attachment(connection_id).0
    }

    fn message(topic: &str, qos: QoS) -> Arc<Message> {
        let publish = Publish::new(TopicName::new(topic).unwrap(), "x");
        let topic = publish.topic.clone();
        let mut message = Message::from_publish(publish, topic, "pub".into(), Instant::now());
        message.qos = qos;
        Arc::new(message)
    }

    fn subscribe(router: &Router, cell: &Arc<SessionCell>, filter: &str, qos: QoS) -> Vec<ReasonCode> {
        let subscribe = Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Default::default(),
            filters: vec![(Ok(filter.try_into().unwrap()), SubscriptionOptions::qos(qos))],
        };
        router.subscribe(cell, &subscribe, Instant::now())
    }

    fn connect(router: &Router, id: &ByteString, clean: bool, expiry: u32, conn: u64) -> (Connected, Arc<SessionCell>) {
        router.connect(id, ProtocolVersion::V5, clean, expiry, attach(conn), Instant::now())
    }

    fn contains(router: &Router, id: &ByteString) -> bool {
        router.table().contains_key(id)
    }

    #[test]
    fn expiry_timer_of_an_old_disconnect_does_not_end_a_resumed_session() {
        let router = Router::new(&Config::default());
        let id = ByteString::from("c");
        let (_, cell) = connect(&router, &id, true, 60, 1);
        let (generation, interval) = router.disconnect(&cell, 1).unwrap();
        assert_eq!(interval, 60);
        let (resumed, cell) = connect(&router, &id, false, 60, 2);
        assert!(resumed.session_present && !resumed.took_over);
        router.expire(&id, generation);
        assert!(contains(&router, &id));
        assert!(router.session_resumed(&id, generation));
        let (generation, _) = router.disconnect(&cell, 2).unwrap();
        router.expire(&id, generation);
        assert!(!contains(&router, &id));
    }

    #[test]
    fn an_old_timer_does_not_end_a_session_created_anew_with_the_same_id() {
        // Issue 13, fault 2: connection 1 leaves a persistent session with a timer armed; connection 2 starts
        // clean (a new session) and leaves with a longer expiry; connection 1's timer must not end it.
        let router = Router::new(&Config::default());
        let id = ByteString::from("myclientid");
        let (_, cell) = connect(&router, &id, true, 1, 1);
        let (old_generation, _) = router.disconnect(&cell, 1).unwrap();
        let (_, cell) = connect(&router, &id, true, 5, 2);
        router.disconnect(&cell, 2).unwrap();
        router.expire(&id, old_generation);
        assert!(contains(&router, &id), "the new session survives the old timer");
        assert!(router.session_resumed(&id, old_generation));
    }

    #[test]
    fn takeover_cancels_the_old_connection_and_it_cannot_detach_the_new_one() {
        let router = Router::new(&Config::default());
        let id = ByteString::from("c");
        let (old, old_mailbox) = attachment(1);
        let (_, cell) = router.connect(&id, ProtocolVersion::V311, false, 60, old, Instant::now());
        let (connected, new_cell) = router.connect(&id, ProtocolVersion::V311, false, 60, attach(2), Instant::now());
        assert!(connected.took_over && connected.session_present);
        assert!(Arc::ptr_eq(&cell, &new_cell));
        assert!(old_mailbox.is_taken_over());
        assert_eq!(router.disconnect(&cell, 1), None);
        assert!(cell.lock().is_attached_to(2));
    }

    #[test]
    fn offline_session_queues_qos1_but_not_qos0() {
        let router = Router::new(&Config::default());
        let id = ByteString::from("c");
        let (_, cell) = router.connect(&id, ProtocolVersion::V311, false, 60, attach(1), Instant::now());
        subscribe(&router, &cell, "t", QoS::AtLeastOnce);
        router.disconnect(&cell, 1);
        let now = Instant::now();
        router.publish(message("t", QoS::AtMostOnce), now);
        router.publish(message("t", QoS::AtLeastOnce), now);
        assert_eq!(cell.lock().queue.len(), 1);
        assert_eq!(router.drops().get(Drop::Qos0Offline), 1);
        router.connect(&id, ProtocolVersion::V311, false, 60, attach(2), now);
        let (packets, more) = router.outgoing(&cell, 2, 10, 10, now, |_| true).unwrap();
        assert_eq!((packets.len(), more), (1, false));
        // Connection 1 no longer owns the session.
        assert!(router.outgoing(&cell, 1, 10, 10, now, |_| true).is_none());
    }

    #[test]
    fn a_full_queue_asks_the_publisher_to_wait_and_a_drained_one_releases_it() {
        let config = Config {
            max_queued_messages: 4,
            ..Config::default()
        };
        let router = Router::new(&config);
        let (_, sub) = connect(&router, &"sub".into(), true, 0, 1);
        subscribe(&router, &sub, "t", QoS::AtLeastOnce);
        let now = Instant::now();
        let routed = (0..4)
            .map(|_| router.publish(message("t", QoS::AtLeastOnce), now))
            .collect::<Vec<_>>();
        assert!(routed[..3].iter().all(|r| r.wait_for.is_empty() && r.taken == 1));
        assert!(Arc::ptr_eq(&routed[3].wait_for[0], &sub));
        assert_eq!(
            router.hold(&sub, now),
            Hold::Until(now + config.slow_subscriber_timeout)
        );
        // Past the mark a message is still taken, never dropped: the publisher was asked to wait.
        assert_eq!(router.publish(message("t", QoS::AtLeastOnce), now).taken, 1);
        let (sent, _) = router.outgoing(&sub, 1, 100, 3, now, |_| true).unwrap();
        assert_eq!(sent.len(), 3);
        assert_eq!(router.hold(&sub, now), Hold::Go);
        assert_eq!(router.drops().total(), 0);
    }

    #[test]
    fn a_stuck_subscriber_stops_holding_back_and_an_mqtt5_publisher_hears_quota_exceeded() {
        let config = Config {
            max_queued_messages: 2,
            ..Config::default()
        };
        let router = Router::new(&config);
        let (sub, mailbox) = attachment(1);
        let (_, cell) = router.connect(&"sub".into(), ProtocolVersion::V5, true, 0, sub, Instant::now());
        subscribe(&router, &cell, "t", QoS::AtLeastOnce);
        let t0 = Instant::now();
        router.publish(message("t", QoS::AtLeastOnce), t0);
        router.publish(message("t", QoS::AtLeastOnce), t0);
        let later = t0 + config.slow_subscriber_timeout + Duration::from_millis(1);
        assert_eq!(router.hold(&cell, later), Hold::Go);
        assert!(mailbox.is_stuck());
        let routed = router.publish(message("t", QoS::AtLeastOnce), later);
        assert_eq!((routed.matched, routed.taken), (1, 0));
        assert_eq!(routed.reason(true), ReasonCode::QuotaExceeded);
        assert_eq!(routed.reason(false), ReasonCode::Success);
        assert_eq!(router.drops().get(Drop::QueueFull), 1);
    }

    #[test]
    fn retained_messages_on_subscribe_all_arrive_past_the_queue_bound() {
        let config = Config {
            max_queued_messages: 10,
            ..Config::default()
        };
        let router = Router::new(&config);
        let now = Instant::now();
        for i in 0..500 {
            let mut publish = Publish::new(TopicName::new(format!("r/{i}")).unwrap(), "x");
            publish.retain = true;
            publish.qos_pid = roost_codec::QoSPid::new(QoS::AtLeastOnce, PacketId::new(1).unwrap());
            let topic = publish.topic.clone();
            router.publish(Arc::new(Message::from_publish(publish, topic, "pub".into(), now)), now);
        }
        let (_, cell) = connect(&router, &"sub".into(), true, 0, 1);
        subscribe(&router, &cell, "#", QoS::AtLeastOnce);
        let mut received = 0;
        loop {
            let (packets, _) = router.outgoing(&cell, 1, 1000, 64, now, |_| true).unwrap();
            if packets.is_empty() {
                break;
            }
            for packet in &packets {
                let Packet::Publish(p) = packet else { panic!() };
                assert!(p.retain);
                router.acknowledge(&cell, &Packet::PubAck(Ack::new(p.qos_pid.packet_id().unwrap())));
            }
            received += packets.len();
        }
        assert_eq!(received, 500);
        assert_eq!(router.drops().total(), 0);
    }

    #[test]
    fn subscriptions_per_client_are_bounded() {
        let config = Config {
            max_subscriptions_per_client: 2,
            ..Config::default()
        };
        let router = Router::new(&config);
        let (_, cell) = connect(&router, &"c".into(), true, 0, 1);
        assert_eq!(
            subscribe(&router, &cell, "a", QoS::AtMostOnce),
            [ReasonCode::GRANTED_QOS0]
        );
        assert_eq!(
            subscribe(&router, &cell, "b", QoS::AtMostOnce),
            [ReasonCode::GRANTED_QOS0]
        );
        assert_eq!(
            subscribe(&router, &cell, "c", QoS::AtMostOnce),
            [ReasonCode::QuotaExceeded]
        );
        // Replacing an existing subscription is not a new one.
        assert_eq!(
            subscribe(&router, &cell, "a", QoS::AtLeastOnce),
            [ReasonCode::GrantedQoS1]
        );
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
        let (t0, later) = (Instant::now(), Instant::now() + Duration::from_secs(60));
        let router = Router::new(&Config::default());
        let id = ByteString::from("c");
        let (_, cell) = connect(&router, &id, false, 600, 1);
        subscribe(&router, &cell, "t", QoS::ExactlyOnce);
        router.publish(expiring(5, t0), t0);
        let (sent, _) = router.outgoing(&cell, 1, 1, 10, t0, |_| true).unwrap();
        assert_eq!(sent.len(), 1);
        // The second one waits behind the in-flight window of 1, and expires there.
        router.publish(expiring(5, t0), t0);
        router.disconnect(&cell, 1);
        connect(&router, &id, false, 600, 2);
        let resent = router.resend(&cell, 2, later);
        let [Packet::Publish(publish)] = &resent[..] else {
            panic!("expected the in-flight PUBLISH again, got {resent:?}");
        };
        assert!(publish.dup);
        assert_eq!(publish.properties.message_expiry_interval, Some(1));
        // PUBREC, PUBREL: the exchange goes on. The expired queued copy is never sent.
        let pubrec = Packet::PubRec(Ack::new(publish.qos_pid.packet_id().unwrap()));
        assert!(matches!(router.acknowledge(&cell, &pubrec), Some(Packet::PubRel(_))));
        let (sent, more) = router.outgoing(&cell, 2, 10, 10, later, |_| true).unwrap();
        assert_eq!((sent.len(), more), (0, false));
        assert_eq!(router.drops().get(Drop::Expired), 1);
    }
}
