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
use std::time::{Duration, Instant};

use bytestring::ByteString;
use roost_codec::{
    Ack, Packet, PacketId, ProtocolVersion, QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions,
    Unsubscribe,
};

use crate::auth::Auth;
use crate::config::{Config, too_many_levels};
use crate::message::{Message, Outgoing, StoredAt};
use crate::retained::RetainedStore;
use crate::session::{
    Attached, Delivered, Drop, Hold, InFlight, InFlightState, Limits, Session, SessionCell, Subscription,
};
use crate::store::{Lsn, MessageId, OutState, Record, SessionMeta, Store, StoredSubscription};
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
    /// The bounds of bridges' local sessions (`$bridge/<name>`) that set their own (`[[bridge]]
    /// max_queued_messages`, `max_queued_bytes`); empty when none does, which the publish path checks first.
    bridge_limits: HashMap<ByteString, Limits>,
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
    /// Where every change to retained messages and to sessions that outlive their connection is also written
    /// (issue 11). Records are submitted under the lock of what they change, so the log's order is the order
    /// of the changes in memory; the caller holds the acknowledgement until the returned LSN is durable.
    store: Store,
    /// `[limits] max_memory`: every accepted PUBLISH is charged to it, restored messages too.
    memory: Arc<crate::memory::MemoryBudget>,
    /// `[[retained.expiry]]`, in file order: the first rule matching a retained message's topic sets its life.
    retained_expiry: Vec<crate::config::RetainedExpiry>,
    /// The dashboard's remembered values and history: sees every published message (and ignores most).
    history: Option<Arc<crate::history::History>>,
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

/// The stored form of one routed message, made on first use and at most once however many stored sessions take
/// it (with its id, taken from the store then).
struct StoredCopy<'a> {
    message: &'a Message,
    /// When the message arrived: with the wall clock read on first use, its expiry becomes wall-clock time.
    now: Instant,
    copy: Option<(MessageId, crate::store::StoredMessage)>,
}

impl<'a> StoredCopy<'a> {
    fn new(message: &'a Message, now: Instant) -> Self {
        StoredCopy {
            message,
            now,
            copy: None,
        }
    }

    fn get(&mut self, store: &Store) -> (MessageId, &crate::store::StoredMessage) {
        let (id, copy) = self.copy.get_or_insert_with(|| {
            let stored = self.message.to_stored(self.now, crate::store::now_ms());
            (store.message_id(), stored)
        });
        (*id, copy)
    }
}

/// A session [`Router::restore`] brought back, and what its caller must arm for it.
#[derive(Debug)]
pub(crate) struct Restored {
    /// The session's client id.
    pub(crate) client_id: ByteString,
    /// How long it has left before it expires; `None`: never.
    pub(crate) expires_in: Option<Duration>,
    /// Its delayed will, still due, and how long until it is.
    pub(crate) will: Option<(Message, Duration)>,
    /// The user the session's client last logged in as (`None`: anonymous, or not known), whose rights the will
    /// is published with.
    pub(crate) user: Option<Arc<str>>,
}

/// A session as the admin API lists it.
#[derive(Debug, Clone)]
pub(crate) struct ClientSummary {
    pub(crate) client_id: ByteString,
    /// The connection serving it; `None` while offline.
    pub(crate) connection: Option<crate::session::ConnectionInfo>,
    /// The user it last logged in as.
    pub(crate) user: Option<Arc<str>>,
    pub(crate) protocol: ProtocolVersion,
    /// Seconds it outlives its connection.
    pub(crate) expiry_interval: u32,
    /// Messages waiting to be sent.
    pub(crate) queued: usize,
    /// Messages sent and not yet acknowledged.
    pub(crate) inflight: usize,
    /// Its subscription filters, sorted.
    pub(crate) subscriptions: Vec<String>,
}

/// How a client's CONNECT found its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connected {
    /// Whether an existing session was resumed (CONNACK Session Present, [MQTT-3.2.2-2], [MQTT-3.2.2-3]).
    pub(crate) session_present: bool,
    /// Whether another connection had the session and was told to go ([MQTT-3.1.4-3]).
    pub(crate) took_over: bool,
    /// The log position CONNACK waits for (the session as stored).
    pub(crate) lsn: Lsn,
}

/// What routing one message did.
#[derive(Debug, Default)]
pub(crate) struct Routed {
    /// How many sessions it matched (after No Local).
    pub(crate) matched: usize,
    /// How many of them queued it.
    pub(crate) taken: usize,
    /// The log position the acknowledgement waits for (the retained message and stored queue entries).
    pub(crate) lsn: Lsn,
    /// Whether the store was too full (`[storage] max_bytes`) to keep it as the retained message.
    pub(crate) store_full: bool,
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
            // Not kept as asked: the store is full.
            (true, _, _) if self.store_full => ReasonCode::QuotaExceeded,
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
    /// Its packet id awaits PUBREL: already routed once, not routed again ([MQTT-4.3.3-10]). PUBREC waits for
    /// this LSN.
    Duplicate(Lsn),
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
            bridge_limits: config
                .bridges
                .iter()
                .filter(|b| b.max_queued_messages.is_some() || b.max_queued_bytes.is_some())
                .map(|b| {
                    let id = ByteString::from(format!("{}{}", crate::bridge::LOCAL_CLIENT_PREFIX, b.name));
                    let limits = Limits {
                        messages: b.max_queued_messages.unwrap_or(config.max_queued_messages),
                        bytes: b.max_queued_bytes.unwrap_or(config.max_queued_bytes),
                        retained_backlog: config.max_retained_messages.saturating_mul(2),
                        slow_subscriber_timeout: config.slow_subscriber_timeout,
                    };
                    (id, limits)
                })
                .collect(),
            queue_qos0_offline: config.queue_qos0_offline,
            maximum_qos: config.maximum_qos,
            max_topic_levels: config.max_topic_levels,
            max_subscriptions: config.max_subscriptions_per_client,
            drops: Drops::default(),
            auth: None,
            store: Store::memory(),
            memory: crate::memory::MemoryBudget::new(config.max_memory),
            retained_expiry: config.retained_expiry.clone(),
            history: None,
        }
    }

    /// The queue bounds of `client_id`'s session: a bridge's own, or everyone's.
    fn limits_of(&self, client_id: &str) -> &Limits {
        if self.bridge_limits.is_empty() {
            return &self.limits;
        }
        self.bridge_limits.get(client_id).unwrap_or(&self.limits)
    }

    /// The `max_memory` budget.
    pub(crate) fn memory(&self) -> &Arc<crate::memory::MemoryBudget> {
        &self.memory
    }

    /// A message read back from the store, charged to the budget whatever its state (it was accepted before).
    fn restored_message(&self, stored: crate::store::StoredMessage, now: Instant, wall_ms: u64) -> Option<Message> {
        let mut message = Message::from_stored(stored, now, wall_ms)?;
        message.charge = self.memory.charge(message.size());
        Some(message)
    }

    /// The same router, writing its changes to `store`.
    pub(crate) fn with_store(self, store: Store) -> Self {
        Router { store, ..self }
    }

    /// The store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Submits `records` (one all-or-nothing entry) and returns the LSN to wait for. A failed store answers an LSN
    /// that never becomes durable: waiting for it reports the failure, so nothing is acknowledged.
    fn submit(&self, records: Vec<Record>) -> Lsn {
        if records.is_empty() {
            return 0;
        }
        match self.store.submit(records) {
            Ok(lsn) => lsn,
            Err(error) => {
                tracing::error!(%error, "storage: change not written; it will not be acknowledged");
                Lsn::MAX
            }
        }
    }

    /// The same router, checking every delivery against `auth`'s ACL.
    /// The router, recording the panel's topics in `history`.
    pub(crate) fn with_history(self, history: Arc<crate::history::History>) -> Self {
        Router {
            history: Some(history),
            ..self
        }
    }

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
        let mut lsn = 0;
        if clean_start && let Some(old) = table.remove(client_id) {
            lsn = self.end_session(&old);
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
        // A session that outlives its connection is stored before CONNACK says it exists; one that ends with
        // its connection is not (and a stored one resumed without expiry is forgotten: it ends at disconnect).
        if expiry_interval > 0 {
            session.stored = true;
            lsn = lsn.max(self.submit(vec![session_upsert(&cell.client_id, &session)]));
        } else if std::mem::take(&mut session.stored) {
            lsn = lsn.max(self.submit(vec![Record::SessionDelete {
                client_id: cell.client_id.clone(),
            }]));
        }
        drop(session);
        cell.set_online(true);
        (
            Connected {
                session_present,
                took_over,
                lsn,
            },
            cell,
        )
    }

    /// Loads what the store recovered at start: retained messages, and every session that outlived its connection
    /// with its subscriptions, queue, in-flight messages and inbound QoS 2 packet ids, all offline. Returns each
    /// restored session's client id with how long it has left, for the caller to arm its expiry (`None`: never
    /// expires); its generation is 0, which no connection has.
    pub(crate) fn restore(&self, state: crate::store::State, now: Instant) -> Vec<Restored> {
        let wall_ms = crate::store::now_ms();
        let mut unreadable = 0usize;
        {
            let mut retained = self.retained();
            for (_, stored) in state.retained {
                match self.restored_message(stored, now, wall_ms) {
                    Some(message) => {
                        retained.retain(&Arc::new(message));
                    }
                    None => unreadable += 1,
                }
            }
        }
        // One shared copy per stored message, however many queues reference it.
        let mut messages: HashMap<MessageId, Arc<Message>> = HashMap::new();
        for (id, stored) in state.messages {
            match self.restored_message(stored, now, wall_ms) {
                Some(message) => {
                    messages.insert(id, Arc::new(message));
                }
                None => unreadable += 1,
            }
        }
        let outgoing = |entry: crate::store::QueueEntry, seq: u64| {
            let message = messages.get(&entry.message)?;
            Some(Outgoing {
                message: Arc::clone(message),
                qos: entry.qos,
                retain: entry.retain,
                subscription_ids: entry
                    .subscription_ids
                    .iter()
                    .filter_map(|&id| std::num::NonZeroU32::new(id))
                    .collect(),
                retain_on_subscribe: false,
                stored: Some(StoredAt {
                    message: entry.message,
                    seq,
                }),
            })
        };
        let mut timers = Vec::new();
        let mut table = self.table();
        let mut index = self.index_mut();
        for (client_id, stored) in state.sessions {
            let Some(meta) = stored.meta else {
                // Contents without settings: never written by this router. Forgotten, here and in the store.
                tracing::warn!(
                    client_id = &*client_id,
                    "storage: a session without settings was not restored"
                );
                self.submit(vec![Record::SessionDelete { client_id }]);
                continue;
            };
            let version = match meta.protocol_version {
                3 => ProtocolVersion::V31,
                4 => ProtocolVersion::V311,
                _ => ProtocolVersion::V5,
            };
            let cell = Arc::new(SessionCell::new(client_id.clone(), version, now));
            let mut session = cell.lock();
            session.stored = true;
            session.expiry_interval = meta.expiry_interval;
            // Offline deliveries and a delayed will are checked against the ACL as this user, as before the restart.
            session.user = meta.user.as_deref().map(Arc::from);
            for (filter, subscription) in stored.subscriptions {
                let (Ok(filter), Some(options)) = (
                    roost_codec::TopicFilter::new(filter),
                    options_from_byte(subscription.options),
                ) else {
                    unreadable += 1;
                    continue;
                };
                let subscription = Subscription {
                    options,
                    id: subscription.identifier.and_then(std::num::NonZeroU32::new),
                };
                session.subscriptions.insert(filter.clone(), subscription);
                index.subscribe(&client_id, &filter, Arc::clone(&cell), subscription);
            }
            for (seq, entry) in stored.queue {
                session.next_seq = session.next_seq.max(seq + 1);
                match outgoing(entry, seq) {
                    // Everything stored was accepted: no bound drops any of it now.
                    Some(o) => _ = session.queue.push(o, usize::MAX, usize::MAX),
                    None => unreadable += 1,
                }
            }
            // By packet id: the order they were sent in, but for a wrap past 65535 ([MQTT-4.4.0-1] asks for the
            // original order; ids are handed out in increasing order).
            for (packet_id, state) in stored.inflight_out {
                let Some(packet_id) = PacketId::new(packet_id) else {
                    unreadable += 1;
                    continue;
                };
                let state = match state {
                    OutState::PubRel => InFlightState::Released,
                    OutState::Publish(entry) => match outgoing(entry, 0) {
                        Some(o) => InFlightState::Published(o),
                        None => {
                            unreadable += 1;
                            continue;
                        }
                    },
                };
                session.inflight.push_back(InFlight {
                    packet_id,
                    state,
                    stored: true,
                });
            }
            session
                .inbound_qos2
                .extend(stored.inbound_qos2.into_iter().filter_map(PacketId::new));
            // Connected when the broker stopped: it went offline with the restart.
            let since = meta.disconnected_at_ms.unwrap_or(wall_ms);
            session.offline_since_ms = Some(since);
            let left = (meta.expiry_interval != u32::MAX).then(|| {
                let gone = Duration::from_millis(wall_ms.saturating_sub(since));
                Duration::from_secs(u64::from(meta.expiry_interval)).saturating_sub(gone)
            });
            // A delayed will still due: what is left of its delay, never past the session's end.
            let will = meta.will.and_then(|will| {
                let Some(message) = Message::from_stored(will.message, now, wall_ms) else {
                    unreadable += 1;
                    return None;
                };
                let gone = Duration::from_millis(wall_ms.saturating_sub(since));
                let delay = Duration::from_secs(u64::from(will.delay)).saturating_sub(gone);
                Some((message, left.map_or(delay, |left| delay.min(left))))
            });
            let user = session.user.clone();
            drop(session);
            table.insert(client_id.clone(), cell);
            timers.push(Restored {
                client_id,
                expires_in: left,
                will,
                user,
            });
        }
        drop(index);
        drop(table);
        if unreadable > 0 {
            tracing::error!(
                unreadable,
                "storage: stored entries that are not valid MQTT were not restored"
            );
        }
        timers
    }

    /// Stores the delayed will of `cell`'s session, offline since the disconnect of connection `generation`, so a
    /// restart before its delay runs out still publishes it (section 3.1.3.2.2). `delay` is the Will Delay
    /// Interval in seconds.
    pub(crate) fn store_will(&self, cell: &SessionCell, generation: u64, will: &Message, delay: u32) {
        let session = cell.lock();
        if !session.stored || session.attached.is_some() || session.generation != generation {
            return;
        }
        let mut meta = session_meta(&session);
        meta.will = Some(crate::store::StoredWill {
            message: will.to_stored(Instant::now(), crate::store::now_ms()),
            delay,
        });
        self.submit(vec![Record::SessionUpsert {
            client_id: cell.client_id.clone(),
            meta,
        }]);
    }

    /// The delayed will of `client_id`'s session was published (or became moot): forgets it in the store, if the
    /// session is still the one offline since connection `generation`.
    pub(crate) fn will_done(&self, client_id: &ByteString, generation: u64) {
        let Some(cell) = self.table().get(client_id).cloned() else {
            return;
        };
        let session = cell.lock();
        if session.stored && session.attached.is_none() && session.generation == generation {
            self.submit(vec![session_upsert(client_id, &session)]);
        }
    }

    /// Whether a connection is attached to `client_id`'s session, so that a CONNECT with this id takes it over.
    pub(crate) fn is_attached(&self, client_id: &ByteString) -> bool {
        self.table().get(client_id).is_some_and(|s| s.is_online())
    }

    /// Tells every connected client's task to check its login against rules just reloaded. The table is
    /// copied first, so no session lock is taken under the table's.
    pub(crate) fn recheck_logins(&self) {
        let cells: Vec<Arc<SessionCell>> = self.table().values().filter(|cell| cell.is_online()).cloned().collect();
        for cell in cells {
            if let Some(attached) = &cell.lock().attached {
                attached.mailbox.recheck();
            }
        }
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
        // When it went offline, so that its expiry runs on across a restart.
        session.offline_since_ms = Some(crate::store::now_ms());
        if session.stored {
            let record = session_upsert(&cell.client_id, &session);
            self.submit(vec![record]);
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

    /// Messages waiting in session queues (retained-on-subscribe ones included): the sum over every session and
    /// the largest one, for `/metrics`. The table is copied first, so no session lock is taken under it.
    pub(crate) fn queue_depths(&self) -> (usize, usize) {
        let cells: Vec<Arc<SessionCell>> = self.table().values().cloned().collect();
        cells.iter().fold((0, 0), |(sum, max), cell| {
            let len = cell.lock().queue.len();
            (sum + len, max.max(len))
        })
    }

    /// Every session, for the admin API, in client id order. The table is copied first, so no session lock is
    /// taken under it.
    pub(crate) fn clients(&self) -> Vec<ClientSummary> {
        let mut cells: Vec<Arc<SessionCell>> = self.table().values().cloned().collect();
        cells.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
        cells
            .iter()
            .map(|cell| {
                let session = cell.lock();
                let mut subscriptions: Vec<String> = session
                    .subscriptions
                    .keys()
                    .map(|filter| filter.as_str().to_owned())
                    .collect();
                subscriptions.sort_unstable();
                ClientSummary {
                    client_id: cell.client_id.clone(),
                    connection: session.attached.as_ref().and_then(|a| a.info.as_deref().cloned()),
                    user: session.user.clone(),
                    protocol: session.version,
                    expiry_interval: session.expiry_interval,
                    queued: session.queue.len(),
                    inflight: session.inflight.len(),
                    subscriptions,
                }
            })
            .collect()
    }

    /// Messages waiting in `client_id`'s session: queued, and sent but not acknowledged (0 without a session). For
    /// the bridges' status, read on every scrape, so one table lookup and one session lock rather than `clients`.
    pub(crate) fn backlog(&self, client_id: &str) -> usize {
        let Some(cell) = self.table().get(client_id).cloned() else {
            return 0;
        };
        let session = cell.lock();
        session.queue.len() + session.inflight.len()
    }

    /// Tells `client_id`'s connection to close (DISCONNECT 0x98); whether it was connected.
    pub(crate) fn kick(&self, client_id: &str) -> bool {
        let Some(cell) = self.table().get(client_id).cloned() else {
            return false;
        };
        let session = cell.lock();
        let Some(attached) = &session.attached else {
            return false;
        };
        attached.mailbox.kick();
        true
    }

    /// The unexpired retained messages matching `filter`, in topic order.
    pub(crate) fn retained_matching(&self, filter: &roost_codec::TopicFilter, now: Instant) -> Vec<Arc<Message>> {
        self.retained().matching(filter, now)
    }

    /// Deletes the retained messages matching `filter` (not `$SYS`'s), in memory and in the store, without
    /// publishing anything; how many, and the LSN to wait for before saying so.
    pub(crate) fn delete_retained(&self, filter: &roost_codec::TopicFilter, now: Instant) -> (usize, Lsn) {
        let mut retained = self.retained();
        let mut records = Vec::new();
        let mut deleted = 0;
        for message in retained.matching(filter, now) {
            if message.topic.as_str().starts_with("$SYS/") {
                continue;
            }
            let empty = Arc::new(Message {
                topic: message.topic.clone(),
                payload: roost_codec::Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: roost_codec::Properties::default(),
                expires_at: None,
                publisher: None,
                charge: Default::default(),
            });
            retained.retain(&empty);
            records.push(Record::RetainedDelete {
                topic: message.topic.as_str().into(),
            });
            deleted += 1;
        }
        // Submitted under the retained store's lock, as every retained change is, so the log's order is memory's.
        (deleted, self.submit(records))
    }

    /// How many sessions exist, connected or not, and the bytes of the retained messages kept, for `/metrics`.
    pub(crate) fn sessions_and_retained_bytes(&self) -> (usize, usize) {
        let sessions = self.table().len();
        (sessions, self.retained().bytes())
    }

    /// How many retained messages the retained store refused to keep (full), since start.
    pub(crate) fn retained_refused(&self) -> u64 {
        self.retained().refused
    }

    /// Takes an ended session's subscriptions out of the index. The caller has removed it from the table; a
    /// publish that matched it a moment ago may still queue to it, which is harmless: nobody will read it.
    fn end_session(&self, cell: &SessionCell) -> Lsn {
        let mut session = cell.lock();
        let lsn = if std::mem::take(&mut session.stored) {
            self.submit(vec![Record::SessionDelete {
                client_id: cell.client_id.clone(),
            }])
        } else {
            0
        };
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
        lsn
    }

    /// Routes a message to every matching session and keeps it if retained. `now` is when it arrived.
    pub(crate) fn publish(&self, message: Arc<Message>, now: Instant) -> Routed {
        if let Some(history) = &self.history {
            history.record(message.topic.as_str(), &message.payload, message.retain);
        }
        let mut routed = Routed::default();
        let mut stored = StoredCopy::new(&message, now);
        if message.retain {
            match self.publish_retained(&message, &mut stored) {
                Some(lsn) => routed.lsn = lsn,
                None => routed.store_full = true,
            }
        }
        let mut matches = Vec::new();
        self.index()
            .matching(message.topic.as_str(), |cell| cell.is_online(), &mut matches);
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
            let (delivered, lsn) = self.deliver(cell, &mut session, outgoing, &mut stored, now);
            routed.lsn = routed.lsn.max(lsn);
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

    /// Queues a routed delivery for `cell`'s locked session. A session that outlives its connection keeps its
    /// QoS 1/2 deliveries across a restart: stored under its lock, in the order they are queued, and the LSN to
    /// wait for is returned (0 otherwise). The message is put with each stored session's entry (an idempotent
    /// put by id): put once, another session's acknowledgement could drop it from the store before this
    /// session's entry references it.
    fn deliver(
        &self,
        cell: &SessionCell,
        session: &mut Session,
        mut outgoing: Outgoing,
        stored: &mut StoredCopy<'_>,
        now: Instant,
    ) -> (Delivered, Lsn) {
        if !session.stored || outgoing.qos == QoS::AtMostOnce {
            return (
                session.deliver(outgoing, self.limits_of(&cell.client_id), self.queue_qos0_offline, now),
                0,
            );
        }
        let (id, copy) = stored.get(&self.store);
        let put = Record::MessagePut {
            id,
            message: copy.clone(),
        };
        let seq = session.next_seq;
        let append = Record::QueueAppend {
            client_id: cell.client_id.clone(),
            seq,
            entry: outgoing.to_queue_entry(id),
        };
        if self.store.admit(put.growth() + append.growth()).is_err() {
            return (Delivered::Dropped(Drop::StoreFull), 0);
        }
        outgoing.stored = Some(StoredAt { message: id, seq });
        session.next_seq += 1;
        let delivered = session.deliver(outgoing, self.limits_of(&cell.client_id), self.queue_qos0_offline, now);
        let lsn = match delivered {
            Delivered::Queued { .. } | Delivered::QueuedDroppingOldest => self.submit(vec![put, append]),
            Delivered::Dropped(_) => 0,
        };
        (delivered, lsn)
    }

    /// Keeps (or, empty, deletes) a retained message, in memory and in the store; the LSN to wait for.
    /// `None` when the store is full (`[storage] max_bytes`): then it is not retained at all, since what a client
    /// reads back must be what a restart gives back.
    fn publish_retained(&self, message: &Arc<Message>, stored: &mut StoredCopy<'_>) -> Option<Lsn> {
        if message.topic.as_str().starts_with("$SYS/") {
            // The broker's own status, published again every `sys_interval` and stale after a restart: kept in
            // memory only, so an idle broker writes nothing to its disk.
            self.retained().retain(message);
            return Some(0);
        }
        // `[[retained.expiry]]`: the retained copy of a topic whose publisher never cleans up expires after the
        // configured time (or its own Message Expiry, if sooner). Live deliveries keep the message as published.
        if let Some(copy) = self.with_configured_expiry(message, stored.now) {
            let mut own = StoredCopy::new(&copy, stored.now);
            return self.keep_retained(&copy, &mut own);
        }
        self.keep_retained(message, stored)
    }

    /// `message` as the retained store should keep it under `[[retained.expiry]]`, when a rule shortens its life:
    /// a copy expiring after the first matching rule's time. `None` when no rule matches, or its own expiry is
    /// sooner, or it deletes.
    fn with_configured_expiry(&self, message: &Message, now: Instant) -> Option<Arc<Message>> {
        if message.payload.is_empty() {
            return None;
        }
        let after = self
            .retained_expiry
            .iter()
            .find(|rule| rule.filter.matches(&message.topic))?
            .after;
        let expires_at = now + after;
        if message.expires_at.is_some_and(|own| own <= expires_at) {
            return None;
        }
        Some(Arc::new(Message {
            topic: message.topic.clone(),
            payload: message.payload.clone(),
            qos: message.qos,
            retain: message.retain,
            properties: message.properties.clone(),
            expires_at: Some(expires_at),
            publisher: message.publisher.clone(),
            // The live message carries the budget's charge; the copy shares its payload bytes.
            charge: Default::default(),
        }))
    }

    /// Keeps (or deletes) `message` in the retained store and submits its record.
    fn keep_retained(&self, message: &Arc<Message>, stored: &mut StoredCopy<'_>) -> Option<Lsn> {
        let mut retained = self.retained();
        let record = if message.payload.is_empty() {
            Record::RetainedDelete {
                topic: message.topic.as_str().into(),
            }
        } else {
            Record::RetainedSet {
                message: stored.get(&self.store).1.clone(),
            }
        };
        if self.store.admit(record.growth()).is_err() {
            self.drops.count(Drop::StoreFull, 1, "", message.topic.as_str());
            return None;
        }
        Some(if retained.retain(message) {
            self.submit(vec![record])
        } else {
            0
        })
    }

    /// Whether `packet_id` is a QoS 2 message of this session's already received and awaiting PUBREL.
    pub(crate) fn is_inbound_duplicate(&self, cell: &SessionCell, packet_id: PacketId) -> bool {
        cell.lock().inbound_qos2.contains(&packet_id)
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
                // Its PUBREC waits for everything submitted so far: the first copy's records may not be durable
                // yet (it may have come on a connection that is gone).
                return Inbound::Duplicate(self.store.last_lsn());
            }
            if session.inbound_qos2.len() >= usize::from(receive_maximum) {
                return Inbound::ReceiveMaximumExceeded;
            }
            session.inbound_qos2.insert(packet_id);
        }
        let mut routed = self.publish(message, now);
        // The packet id is stored after the message's records, never before: the log is recovered as a prefix,
        // so a stored id always has its message. (Before, a crash between the two would leave an id whose
        // retransmission is answered as a duplicate although the message was never kept: acknowledged and lost.)
        // A crash after the message's records and before the id can deliver the retransmission again; PUBREC,
        // which waits for both, was never sent then. [MQTT-4.3.3-10]
        let session = cell.lock();
        if session.stored && session.inbound_qos2.contains(&packet_id) {
            let lsn = self.submit(vec![Record::InboundQos2Set {
                client_id: cell.client_id.clone(),
                packet_id: packet_id.get(),
            }]);
            routed.lsn = routed.lsn.max(lsn);
        }
        Inbound::Routed(routed)
    }

    /// PUBREL: forgets the inbound QoS 2 packet id; whether it was known ([MQTT-4.3.3-10]), and the LSN PUBCOMP
    /// waits for (else a new PUBLISH reusing the id after a restart would be taken for a retransmission).
    pub(crate) fn release(&self, cell: &SessionCell, packet_id: PacketId) -> (bool, Lsn) {
        let mut session = cell.lock();
        let known = session.inbound_qos2.remove(&packet_id);
        let lsn = if known && session.stored {
            self.submit(vec![Record::InboundQos2Delete {
                client_id: cell.client_id.clone(),
                packet_id: packet_id.get(),
            }])
        } else {
            0
        };
        (known, lsn)
    }

    /// SUBSCRIBE: adds or replaces each subscription ([MQTT-3.8.4-3]) and queues the retained messages its Retain
    /// Handling asks for; returns the SUBACK reason codes, one per filter in order ([MQTT-3.8.4-6]).
    pub(crate) fn subscribe(
        &self,
        cell: &Arc<SessionCell>,
        subscribe: &Subscribe,
        now: Instant,
    ) -> (Vec<ReasonCode>, Lsn) {
        let mut session = cell.lock();
        let id = subscribe.properties.subscription_identifiers.first().copied();
        let mut reasons = Vec::with_capacity(subscribe.filters.len());
        let mut records = Vec::new();
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
            if session.stored {
                records.push(Record::SubscriptionSet {
                    client_id: cell.client_id.clone(),
                    filter: filter.as_str().into(),
                    subscription: StoredSubscription {
                        options: options_byte(options),
                        identifier: id.map(std::num::NonZeroU32::get),
                    },
                });
            }
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
                    stored: None,
                });
                let dropped = session.deliver_retained(outgoing, self.limits_of(&cell.client_id));
                self.drops
                    .count(Drop::RetainedBacklog, dropped, &cell.client_id, filter.as_str());
            }
        }
        // SUBACK waits until the subscriptions are stored.
        let lsn = self.submit(records);
        (reasons, lsn)
    }

    /// UNSUBSCRIBE: removes each subscription; MQTT 5 reason codes 0x00 or 0x11 per filter ([MQTT-3.11.3-1]).
    pub(crate) fn unsubscribe(&self, cell: &SessionCell, unsubscribe: &Unsubscribe) -> (Vec<ReasonCode>, Lsn) {
        let mut session = cell.lock();
        let mut records = Vec::new();
        let reasons = unsubscribe
            .filters
            .iter()
            .map(|filter| {
                // [MQTT-3.11.3-1]: an invalid filter is answered 0x8F on its own (MQTT 3.x UNSUBACK has no codes).
                let Ok(filter) = filter else {
                    return ReasonCode::TopicFilterInvalid;
                };
                self.index_mut().unsubscribe(&cell.client_id, filter);
                if session.subscriptions.remove(filter).is_some() {
                    if session.stored {
                        records.push(Record::SubscriptionDelete {
                            client_id: cell.client_id.clone(),
                            filter: filter.as_str().into(),
                        });
                    }
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect();
        (reasons, self.submit(records))
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
    ) -> Option<(Vec<Packet>, bool, Lsn)> {
        let mut session = cell.lock();
        if !session.is_attached_to(connection_id) {
            return None;
        }
        let mut packets = Vec::new();
        let mut taken = 0;
        let mut blocked = false;
        let mut records = Vec::new();
        let mut wait = false;
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
            let removed = outgoing.stored.map(|at| Record::QueueRemove {
                client_id: cell.client_id.clone(),
                seq: at.seq,
            });
            let Some(publish) = outgoing.to_publish(packet_id, now) else {
                tracing::trace!(topic = %outgoing.message.topic, "message expired in the queue");
                self.drops
                    .count(Drop::Expired, 1, &cell.client_id, outgoing.message.topic.as_str());
                records.extend(removed);
                continue;
            };
            let packet = Packet::Publish(publish);
            if !fits(&packet) {
                self.drops
                    .count(Drop::TooLarge, 1, &cell.client_id, outgoing.message.topic.as_str());
                records.extend(removed);
                continue;
            }
            if let Some(packet_id) = packet_id {
                // In flight before out of the queue, in one entry: the message keeps a reference throughout.
                let stored = outgoing.stored.is_some();
                if let Some(at) = outgoing.stored {
                    records.push(Record::InflightOutSet {
                        client_id: cell.client_id.clone(),
                        packet_id: packet_id.get(),
                        state: OutState::Publish(outgoing.to_queue_entry(at.message)),
                    });
                    // A QoS 2 PUBLISH goes out only once its packet id is stored: after a restart it must be
                    // resent with the same id, never delivered anew under another ([MQTT-4.3.3-10] on the
                    // client's side). A QoS 1 one may go first: at worst it is delivered twice, which QoS 1 allows.
                    wait |= outgoing.qos == QoS::ExactlyOnce;
                }
                session.inflight.push_back(InFlight {
                    packet_id,
                    state: InFlightState::Published(outgoing),
                    stored,
                });
            }
            records.extend(removed);
            packets.push(packet);
        }
        let room = taken > 0 && session.progressed(now, self.limits_of(&cell.client_id));
        let more = !blocked && session.queue.len() > 0;
        let lsn = self.submit(records);
        drop(session);
        if room {
            cell.make_room();
        }
        Some((packets, more, if wait { lsn } else { 0 }))
    }

    /// PUBACK, PUBREC or PUBCOMP from the client. Returns the PUBREL to send back for a PUBREC, and the LSN it
    /// waits for: the PUBREL state is stored first, so a restart resends PUBREL, never the PUBLISH, which the
    /// client, having completed, would take for a new message.
    pub(crate) fn acknowledge(&self, cell: &SessionCell, packet: &Packet) -> (Option<Packet>, Lsn) {
        let mut session = cell.lock();
        let (reply, change) = acknowledge(&mut session, packet);
        let record = change.map(|(packet_id, released)| {
            let (client_id, packet_id) = (cell.client_id.clone(), packet_id.get());
            if released {
                Record::InflightOutSet {
                    client_id,
                    packet_id,
                    state: OutState::PubRel,
                }
            } else {
                Record::InflightOutDelete { client_id, packet_id }
            }
        });
        let lsn = self.submit(record.into_iter().collect());
        let lsn = if reply.is_some() { lsn } else { 0 };
        (reply, lsn)
    }

    /// Whether a publisher must wait for `cell` now; see `SessionCell::hold`.
    pub(crate) fn hold(&self, cell: &SessionCell, now: Instant) -> Hold {
        cell.hold(self.limits_of(&cell.client_id), now)
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

/// PUBACK, PUBREC or PUBCOMP from the client, applied to its session. Returns the PUBREL to send back for a PUBREC,
/// and the stored in-flight entry that changed: its packet id, and whether it is now waiting for PUBCOMP (else
/// it is gone).
fn acknowledge(session: &mut Session, packet: &Packet) -> (Option<Packet>, Option<(PacketId, bool)>) {
    match packet {
        Packet::PubAck(ack) | Packet::PubComp(ack) => {
            let taken = session.take_inflight(ack.packet_id);
            (None, taken.filter(|f| f.stored).map(|_| (ack.packet_id, false)))
        }
        Packet::PubRec(ack) => {
            let inflight = session.inflight.iter_mut().find(|f| f.packet_id == ack.packet_id);
            match inflight {
                // [MQTT-4.3.3-4] an error PUBREC ends the exchange; nothing to release.
                Some(_) if ack.reason_code.is_error() => {
                    let taken = session.take_inflight(ack.packet_id);
                    (None, taken.filter(|f| f.stored).map(|_| (ack.packet_id, false)))
                }
                Some(inflight) => {
                    inflight.state = InFlightState::Released;
                    let change = inflight.stored.then_some((ack.packet_id, true));
                    (Some(Packet::PubRel(Ack::new(ack.packet_id))), change)
                }
                // Unknown id: answer anyway so the client can finish; MQTT 5 says it was not found.
                None => {
                    let mut pubrel = Ack {
                        reason_code: ReasonCode::PacketIdentifierNotFound,
                        ..Ack::new(ack.packet_id)
                    };
                    pubrel.properties.reason_string = Some("unknown packet identifier".into());
                    (Some(Packet::PubRel(pubrel)), None)
                }
            }
        }
        _ => (None, None),
    }
}

/// The stored form of a session's settings, without a will.
fn session_meta(session: &Session) -> SessionMeta {
    SessionMeta {
        protocol_version: session.version.level(),
        expiry_interval: session.expiry_interval,
        disconnected_at_ms: session.attached.is_none().then_some(session.offline_since_ms).flatten(),
        will: None,
        user: session.user.as_deref().map(ByteString::from),
    }
}

/// The record that stores a session's settings (and forgets a stored will).
fn session_upsert(client_id: &ByteString, session: &Session) -> Record {
    Record::SessionUpsert {
        client_id: client_id.clone(),
        meta: session_meta(session),
    }
}

/// The Subscription Options byte as SUBSCRIBE carries it (section 3.8.3.1).
fn options_byte(options: &SubscriptionOptions) -> u8 {
    options.qos as u8
        | u8::from(options.no_local) << 2
        | u8::from(options.retain_as_published) << 3
        | (options.retain_handling as u8) << 4
}

/// The options a stored byte says; `None` for a byte SUBSCRIBE could not carry.
fn options_from_byte(byte: u8) -> Option<SubscriptionOptions> {
    let qos = match byte & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => return None,
    };
    let retain_handling = match (byte >> 4) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return None,
    };
    Some(SubscriptionOptions {
        qos,
        no_local: byte & 0b100 != 0,
        retain_as_published: byte & 0b1000 != 0,
        retain_handling,
    })
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
            info: None,
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
        router.subscribe(cell, &subscribe, Instant::now()).0
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
        let (packets, more, _) = router.outgoing(&cell, 2, 10, 10, now, |_| true).unwrap();
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
        let (sent, _, _) = router.outgoing(&sub, 1, 100, 3, now, |_| true).unwrap();
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
            let (packets, _, _) = router.outgoing(&cell, 1, 1000, 64, now, |_| true).unwrap();
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
        let (sent, _, _) = router.outgoing(&cell, 1, 1, 10, t0, |_| true).unwrap();
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
        assert!(matches!(router.acknowledge(&cell, &pubrec).0, Some(Packet::PubRel(_))));
        let (sent, more, _) = router.outgoing(&cell, 2, 10, 10, later, |_| true).unwrap();
        assert_eq!((sent.len(), more), (0, false));
        assert_eq!(router.drops().get(Drop::Expired), 1);
    }

    /// A router writing to a store in `dir`, and the store; `restore` loads what the store recovered.
    fn stored_router(dir: &std::path::Path, restore: bool) -> (Router, Store, Vec<Restored>) {
        let (store, recovered) = Store::open(dir, crate::store::StoreOptions::default()).unwrap();
        let router = Router::new(&Config::default()).with_store(store.clone());
        let timers = if restore {
            router.restore(recovered.state, Instant::now())
        } else {
            Vec::new()
        };
        (router, store, timers)
    }

    fn topics(packets: &[Packet]) -> Vec<(String, bool, Option<u16>)> {
        packets
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((
                    p.topic.as_str().to_owned(),
                    p.dup,
                    p.qos_pid.packet_id().map(PacketId::get),
                )),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_session_that_outlives_its_connection_survives_a_restart_with_all_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (sub, publisher): (ByteString, ByteString) = ("sub".into(), "pub".into());
        {
            let (router, store, _) = stored_router(dir.path(), false);
            let (connected, cell) = connect(&router, &sub, true, 3600, 1);
            store.durable(connected.lsn).await.unwrap();
            assert_eq!(
                subscribe(&router, &cell, "a/#", QoS::ExactlyOnce),
                [ReasonCode::GrantedQoS2]
            );
            let mut last = 0;
            for topic in ["a/1", "a/2", "a/3"] {
                last = router.publish(message(topic, QoS::AtLeastOnce), Instant::now()).lsn;
            }
            let mut retained = Message::from_publish(
                Publish::new(TopicName::new("r/1").unwrap(), "on"),
                TopicName::new("r/1").unwrap(),
                publisher.clone(),
                Instant::now(),
            );
            retained.retain = true;
            last = last.max(router.publish(Arc::new(retained), Instant::now()).lsn);
            // One message in flight (packet id 1), two still queued.
            let (sent, _, _) = router.outgoing(&cell, 1, 1, 10, Instant::now(), |_| true).unwrap();
            assert_eq!(topics(&sent), [("a/1".to_owned(), false, Some(1))]);
            // A QoS 2 publisher with a session: its packet id 9 awaits PUBREL ([MQTT-4.3.3-10]).
            let (_, publisher_cell) = connect(&router, &publisher, true, 3600, 2);
            let Inbound::Routed(routed) = router.publish_exactly_once(
                &publisher_cell,
                pid(9),
                message("b", QoS::ExactlyOnce),
                10,
                Instant::now(),
            ) else {
                panic!("routed")
            };
            last = last.max(routed.lsn);
            router.disconnect(&cell, 1);
            store.durable(last).await.unwrap();
            store.close().unwrap();
        }
        let (router, _store, timers) = stored_router(dir.path(), true);
        let sub_timer = timers
            .iter()
            .find(|r| r.client_id == sub)
            .expect("sub restored")
            .expires_in;
        let left = sub_timer.expect("expires");
        assert!(
            left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
            "{left:?}"
        );
        assert_eq!(router.retained_count(), 1);
        let (connected, cell) = connect(&router, &sub, false, 3600, 3);
        assert!(connected.session_present, "[MQTT-3.2.2-3]");
        // [MQTT-4.4.0-1] the unacknowledged PUBLISH again, with DUP and its packet id; then the queue in order.
        assert_eq!(
            topics(&router.resend(&cell, 3, Instant::now())),
            [("a/1".to_owned(), true, Some(1))]
        );
        let (queued, _, _) = router.outgoing(&cell, 3, 10, 10, Instant::now(), |_| true).unwrap();
        assert_eq!(
            topics(&queued),
            [("a/2".to_owned(), false, Some(2)), ("a/3".to_owned(), false, Some(3))]
        );
        // The subscription is back in the index.
        router.publish(message("a/4", QoS::AtLeastOnce), Instant::now());
        let (live, _, _) = router.outgoing(&cell, 3, 10, 10, Instant::now(), |_| true).unwrap();
        assert_eq!(topics(&live), [("a/4".to_owned(), false, Some(4))]);
        let (_, publisher_cell) = connect(&router, &publisher, false, 3600, 4);
        assert!(matches!(
            router.publish_exactly_once(
                &publisher_cell,
                pid(9),
                message("b", QoS::ExactlyOnce),
                10,
                Instant::now()
            ),
            Inbound::Duplicate(_)
        ));
    }

    #[tokio::test]
    async fn acknowledged_and_ended_things_are_gone_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (sub, gone): (ByteString, ByteString) = ("sub".into(), "gone".into());
        {
            let (router, store, _) = stored_router(dir.path(), false);
            let (_, cell) = connect(&router, &sub, true, 3600, 1);
            subscribe(&router, &cell, "a", QoS::ExactlyOnce);
            router.publish(message("a", QoS::ExactlyOnce), Instant::now());
            router.outgoing(&cell, 1, 10, 10, Instant::now(), |_| true).unwrap();
            // PUBREC: PUBREL waits for the stored PUBREL state; PUBCOMP then forgets the packet id.
            let (reply, lsn) = router.acknowledge(&cell, &Packet::PubRec(Ack::new(pid(1))));
            assert!(matches!(reply, Some(Packet::PubRel(_))));
            assert!(lsn > 0, "PUBREL waits for the store");
            router.acknowledge(&cell, &Packet::PubComp(Ack::new(pid(1))));
            let unsubscribe = Unsubscribe {
                packet_id: pid(2),
                properties: Default::default(),
                filters: vec![Ok("a".try_into().unwrap())],
            };
            let (_, lsn) = router.unsubscribe(&cell, &unsubscribe);
            store.durable(lsn).await.unwrap();
            let mut sys = Message::from_publish(
                Publish::new(TopicName::new("$SYS/broker/uptime").unwrap(), "5"),
                TopicName::new("$SYS/broker/uptime").unwrap(),
                "pub".into(),
                Instant::now(),
            );
            sys.retain = true;
            router.publish(Arc::new(sys), Instant::now());
            // A session that does not outlive its connection is never stored; a clean start forgets the old one.
            let (_, gone_cell) = connect(&router, &gone, true, 3600, 2);
            router.disconnect(&gone_cell, 2);
            let (connected, _) = connect(&router, &gone, true, 0, 3);
            store.durable(connected.lsn).await.unwrap();
            store.close().unwrap();
        }
        let (router, _store, timers) = stored_router(dir.path(), true);
        let restored: Vec<&ByteString> = timers.iter().map(|r| &r.client_id).collect();
        assert_eq!(restored, [&sub]);
        assert_eq!(router.retained_count(), 0, "$SYS is not stored");
        let (_, cell) = connect(&router, &sub, false, 3600, 4);
        assert!(
            router.resend(&cell, 4, Instant::now()).is_empty(),
            "PUBCOMP ended the exchange"
        );
        assert!(router.subscription_count() == 0, "unsubscribed");
    }

    #[tokio::test]
    async fn a_stored_will_is_restored_until_published_and_keeps_the_time_the_session_went_offline() {
        let dir = tempfile::tempdir().unwrap();
        let id: ByteString = "sensor".into();
        let will = message("sensor/status", QoS::AtLeastOnce);
        let generation = {
            let (router, store, _) = stored_router(dir.path(), false);
            let (_, cell) = connect(&router, &id, true, 60, 1);
            let (generation, _) = router.disconnect(&cell, 1).expect("stays");
            router.store_will(&cell, generation, &will, 30);
            store.close().unwrap();
            generation
        };
        let left_at_first_restart = {
            let (router, store, restored) = stored_router(dir.path(), true);
            let restored = restored.into_iter().find(|r| r.client_id == id).expect("restored");
            let (message, due) = restored.will.expect("the will is still due");
            assert_eq!(message.topic.as_str(), "sensor/status");
            assert!(
                due <= Duration::from_secs(30) && due > Duration::from_secs(25),
                "{due:?}"
            );
            // Published: forgotten in the store, without moving the time the session went offline.
            assert_ne!(generation, 0);
            router.will_done(&id, 0);
            store.close().unwrap();
            restored.expires_in.expect("expires")
        };
        let (_, _store, restored) = stored_router(dir.path(), true);
        let restored = restored.into_iter().find(|r| r.client_id == id).expect("restored");
        assert!(restored.will.is_none(), "published once, not again after a restart");
        let left = restored.expires_in.expect("expires");
        assert!(
            left <= left_at_first_restart,
            "the expiry did not start again: {left:?}"
        );
    }

    fn pid(id: u16) -> PacketId {
        PacketId::new(id).unwrap()
    }

    fn retained_message(topic: &str, expiry: Option<u32>) -> Arc<Message> {
        let mut publish = Publish::new(TopicName::new(topic).unwrap(), "x");
        publish.retain = true;
        publish.properties.message_expiry_interval = expiry;
        let topic = publish.topic.clone();
        Arc::new(Message::from_publish(publish, topic, "pub".into(), Instant::now()))
    }

    #[test]
    fn retained_expiry_rules_shorten_the_life_of_retained_copies_only() {
        let rule = |filter: &str, secs| crate::config::RetainedExpiry {
            filter: roost_codec::TopicFilter::new(filter).unwrap(),
            after: Duration::from_secs(secs),
        };
        let router = Router::new(&Config {
            // The first matching rule applies: tele/plug/# is 60 s although tele/# would say 3,600.
            retained_expiry: vec![rule("tele/plug/#", 60), rule("tele/#", 3600)],
            ..Config::default()
        });
        let start = Instant::now();
        let plug = retained_message("tele/plug/STATE", None);
        router.publish(Arc::clone(&plug), start);
        router.publish(retained_message("tele/lamp/STATE", None), start);
        // Its own Message Expiry (10 s) is sooner than the rule's 3,600 s: it stays.
        router.publish(retained_message("tele/door/STATE", Some(10)), start);
        router.publish(retained_message("stat/plug/POWER", None), start);
        let all = roost_codec::TopicFilter::new("#").unwrap();
        let kept = |at: Instant| -> Vec<String> {
            let mut topics: Vec<String> = router
                .retained_matching(&all, at)
                .iter()
                .map(|m| m.topic.as_str().to_owned())
                .collect();
            topics.sort();
            topics
        };
        assert_eq!(kept(start + Duration::from_secs(5)).len(), 4);
        assert_eq!(
            kept(start + Duration::from_secs(15)),
            ["stat/plug/POWER", "tele/lamp/STATE", "tele/plug/STATE"],
            "the door's own 10 s expiry, sooner than its rule's, still applies"
        );
        assert_eq!(
            kept(start + Duration::from_secs(61)),
            ["stat/plug/POWER", "tele/lamp/STATE"],
            "the plug's retained copy expired after its rule's 60 s"
        );
        assert!(plug.expires_at.is_none(), "the live message never had an expiry");
        assert_eq!(kept(start + Duration::from_secs(3601)), ["stat/plug/POWER"]);
    }
}
