//! The durable state as plain data: what recovery hands the router, what a snapshot writes, and the model the
//! committer keeps current by applying every record (so a snapshot needs nothing from the router's locks).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytestring::ByteString;

use super::record::{MessageId, OutState, QueueEntry, Record, SessionMeta, StoredMessage, StoredSubscription};

/// One persistent session as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSession {
    /// Its settings; `None` if only its contents survived (a torn log can lose the upsert written before them, or
    /// the router wrote contents without one): the router applies its defaults.
    pub meta: Option<SessionMeta>,
    /// Subscriptions by topic filter.
    pub subscriptions: BTreeMap<ByteString, StoredSubscription>,
    /// Messages waiting to be sent, in queue order.
    pub queue: BTreeMap<u64, QueueEntry>,
    /// Outbound packet ids and where each stands: resent (PUBLISH with DUP, or PUBREL) on resume.
    pub inflight_out: BTreeMap<u16, OutState>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub inbound_qos2: BTreeSet<u16>,
}

/// Everything stored: retained messages, sessions, and the messages their queues reference.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Retained messages by topic.
    pub retained: HashMap<ByteString, StoredMessage>,
    /// Sessions by client id.
    pub sessions: HashMap<ByteString, StoredSession>,
    /// Messages referenced by queue entries and in-flight publishes.
    pub messages: HashMap<MessageId, StoredMessage>,
    /// How many queue entries and in-flight publishes reference each message.
    refs: HashMap<MessageId, u32>,
    /// Approximate live bytes (the size cap and the compaction trigger read it).
    bytes: u64,
}

impl PartialEq for State {
    /// Equal content; the byte estimate and reference counts follow from it.
    fn eq(&self, other: &Self) -> bool {
        self.retained == other.retained && self.sessions == other.sessions && self.messages == other.messages
    }
}

impl State {
    /// Approximate bytes of live state.
    pub fn live_bytes(&self) -> u64 {
        self.bytes
    }

    /// The highest message id in use, so new ids continue above it.
    pub(crate) fn max_message_id(&self) -> u64 {
        self.messages.keys().map(|id| id.0).max().unwrap_or(0)
    }

    /// Whether `id` is stored or referenced (a put of it is not new).
    pub(crate) fn knows_message(&self, id: MessageId) -> bool {
        self.messages.contains_key(&id) || self.refs.contains_key(&id)
    }

    /// The reference counts, for tests that compare states in full.
    #[cfg(test)]
    pub(crate) fn references(&self) -> &HashMap<MessageId, u32> {
        &self.refs
    }

    fn add_ref(&mut self, id: MessageId) {
        *self.refs.entry(id).or_default() += 1;
    }

    fn drop_ref(&mut self, id: MessageId) {
        if let Some(n) = self.refs.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.refs.remove(&id);
                if let Some(m) = self.messages.remove(&id) {
                    self.bytes -= m.approx_size();
                }
            }
        }
    }

    fn drop_out_state(&mut self, state: OutState) {
        if let OutState::Publish(entry) = state {
            self.bytes -= entry.approx_size();
            self.drop_ref(entry.message);
        } else {
            self.bytes -= 8;
        }
    }

    /// Applies one record: idempotent set/delete by key, so replaying a log twice changes nothing.
    pub fn apply(&mut self, record: Record) {
        let emptied = match &record {
            Record::SubscriptionDelete { client_id, .. }
            | Record::QueueRemove { client_id, .. }
            | Record::InflightOutDelete { client_id, .. }
            | Record::InboundQos2Delete { client_id, .. } => Some(client_id.clone()),
            _ => None,
        };
        self.apply_inner(record);
        // A session known only by its contents (no upsert) is gone once they are: a snapshot could not say it
        // exists, so the model does not keep it either.
        if let Some(client_id) = emptied
            && self
                .sessions
                .get(&client_id)
                .is_some_and(|s| *s == StoredSession::default())
        {
            self.sessions.remove(&client_id);
            self.bytes -= client_id.len() as u64 + 32;
        }
    }

    fn apply_inner(&mut self, record: Record) {
        match record {
            Record::RetainedSet { message } => {
                self.bytes += message.approx_size();
                if let Some(old) = self.retained.insert(message.topic.clone(), message) {
                    self.bytes -= old.approx_size();
                }
            }
            Record::RetainedDelete { topic } => {
                if let Some(old) = self.retained.remove(&topic) {
                    self.bytes -= old.approx_size();
                }
            }
            Record::MessagePut { id, message } => {
                self.bytes += message.approx_size();
                if let Some(old) = self.messages.insert(id, message) {
                    self.bytes -= old.approx_size();
                }
            }
            Record::SessionUpsert { client_id, meta } => {
                let added = meta.approx_size();
                let session = self.session(client_id);
                let old = session.meta.replace(meta);
                self.bytes += added;
                if let Some(old) = old {
                    self.bytes -= old.approx_size();
                }
            }
            Record::SessionDelete { client_id } => {
                if let Some(session) = self.sessions.remove(&client_id) {
                    self.bytes -= client_id.len() as u64 + 32;
                    if let Some(meta) = &session.meta {
                        self.bytes -= meta.approx_size();
                    }
                    for filter in session.subscriptions.keys() {
                        self.bytes -= filter.len() as u64 + 16;
                    }
                    for entry in session.queue.into_values() {
                        self.bytes -= entry.approx_size();
                        self.drop_ref(entry.message);
                    }
                    for state in session.inflight_out.into_values() {
                        self.drop_out_state(state);
                    }
                    self.bytes -= 8 * session.inbound_qos2.len() as u64;
                }
            }
            Record::SubscriptionSet {
                client_id,
                filter,
                subscription,
            } => {
                let size = filter.len() as u64 + 16;
                if self
                    .session(client_id)
                    .subscriptions
                    .insert(filter, subscription)
                    .is_none()
                {
                    self.bytes += size;
                }
            }
            Record::SubscriptionDelete { client_id, filter } => {
                if let Some(session) = self.sessions.get_mut(&client_id)
                    && session.subscriptions.remove(&filter).is_some()
                {
                    self.bytes -= filter.len() as u64 + 16;
                }
            }
            Record::QueueAppend { client_id, seq, entry } => {
                self.bytes += entry.approx_size();
                self.add_ref(entry.message);
                if let Some(old) = self.session(client_id).queue.insert(seq, entry) {
                    self.bytes -= old.approx_size();
                    self.drop_ref(old.message);
                }
            }
            Record::QueueRemove { client_id, seq } => {
                if let Some(old) = self.sessions.get_mut(&client_id).and_then(|s| s.queue.remove(&seq)) {
                    self.bytes -= old.approx_size();
                    self.drop_ref(old.message);
                }
            }
            Record::InflightOutSet {
                client_id,
                packet_id,
                state,
            } => {
                match &state {
                    OutState::Publish(entry) => {
                        self.bytes += entry.approx_size();
                        self.add_ref(entry.message);
                    }
                    OutState::PubRel => self.bytes += 8,
                }
                if let Some(old) = self.session(client_id).inflight_out.insert(packet_id, state) {
                    self.drop_out_state(old);
                }
            }
            Record::InflightOutDelete { client_id, packet_id } => {
                if let Some(old) = self
                    .sessions
                    .get_mut(&client_id)
                    .and_then(|s| s.inflight_out.remove(&packet_id))
                {
                    self.drop_out_state(old);
                }
            }
            Record::InboundQos2Set { client_id, packet_id } => {
                if self.session(client_id).inbound_qos2.insert(packet_id) {
                    self.bytes += 8;
                }
            }
            Record::InboundQos2Delete { client_id, packet_id } => {
                if let Some(session) = self.sessions.get_mut(&client_id)
                    && session.inbound_qos2.remove(&packet_id)
                {
                    self.bytes -= 8;
                }
            }
        }
    }

    /// The session of `client_id`, made empty if it does not exist yet.
    fn session(&mut self, client_id: ByteString) -> &mut StoredSession {
        let bytes = &mut self.bytes;
        self.sessions.entry(client_id).or_insert_with_key(|id| {
            *bytes += id.len() as u64 + 32;
            StoredSession::default()
        })
    }

    /// Drops messages nothing references (a put whose references were lost with a torn tail), and references to
    /// messages that are gone (an entry whose put was in a log file set aside as corrupt).
    pub(crate) fn collect_garbage(&mut self) {
        let unreferenced: Vec<MessageId> = self
            .messages
            .keys()
            .filter(|id| !self.refs.contains_key(id))
            .copied()
            .collect();
        for id in unreferenced {
            if let Some(m) = self.messages.remove(&id) {
                self.bytes -= m.approx_size();
            }
        }
        let messages = &self.messages;
        let mut dangling = Vec::new();
        for (client_id, session) in &self.sessions {
            for (seq, entry) in &session.queue {
                if !messages.contains_key(&entry.message) {
                    dangling.push(Record::QueueRemove {
                        client_id: client_id.clone(),
                        seq: *seq,
                    });
                }
            }
            for (packet_id, state) in &session.inflight_out {
                if matches!(state, OutState::Publish(e) if !messages.contains_key(&e.message)) {
                    dangling.push(Record::InflightOutDelete {
                        client_id: client_id.clone(),
                        packet_id: *packet_id,
                    });
                }
            }
        }
        for record in dangling {
            self.apply(record);
        }
    }

    /// Drops what has expired by `now_ms` (wall clock): retained messages and queued (not yet sent) messages past
    /// their Message Expiry Interval ([MQTT-3.3.2-5]), and sessions whose Session Expiry Interval ran out after
    /// their connection ended. In-flight messages stay: their delivery has started.
    pub(crate) fn drop_expired(&mut self, now_ms: u64) -> Vec<Record> {
        let mut deletes = Vec::new();
        for (topic, message) in &self.retained {
            if message.is_expired(now_ms) {
                deletes.push(Record::RetainedDelete { topic: topic.clone() });
            }
        }
        for (client_id, session) in &self.sessions {
            let ended = session.meta.as_ref().and_then(|meta| {
                let at = meta.disconnected_at_ms?;
                (meta.expiry_interval != u32::MAX).then(|| at.saturating_add(u64::from(meta.expiry_interval) * 1000))
            });
            if ended.is_some_and(|end| end <= now_ms) {
                deletes.push(Record::SessionDelete {
                    client_id: client_id.clone(),
                });
                continue;
            }
            for (seq, entry) in &session.queue {
                if self.messages.get(&entry.message).is_some_and(|m| m.is_expired(now_ms)) {
                    deletes.push(Record::QueueRemove {
                        client_id: client_id.clone(),
                        seq: *seq,
                    });
                }
            }
        }
        for record in &deletes {
            self.apply(record.clone());
        }
        deletes
    }

    /// The records that rebuild this state from nothing: what a snapshot holds. Messages come before the entries
    /// that reference them.
    pub(crate) fn to_records(&self) -> impl Iterator<Item = Record> + '_ {
        let messages = self.messages.iter().map(|(id, message)| Record::MessagePut {
            id: *id,
            message: message.clone(),
        });
        let retained = self.retained.values().map(|message| Record::RetainedSet {
            message: message.clone(),
        });
        let sessions = self.sessions.iter().flat_map(|(client_id, s)| {
            let c = client_id.clone();
            let meta = s.meta.clone().map(|meta| Record::SessionUpsert {
                client_id: c.clone(),
                meta,
            });
            let subs = s.subscriptions.iter().map({
                let c = c.clone();
                move |(filter, subscription)| Record::SubscriptionSet {
                    client_id: c.clone(),
                    filter: filter.clone(),
                    subscription: *subscription,
                }
            });
            let queue = s.queue.iter().map({
                let c = c.clone();
                move |(seq, entry)| Record::QueueAppend {
                    client_id: c.clone(),
                    seq: *seq,
                    entry: entry.clone(),
                }
            });
            let inflight = s.inflight_out.iter().map({
                let c = c.clone();
                move |(packet_id, state)| Record::InflightOutSet {
                    client_id: c.clone(),
                    packet_id: *packet_id,
                    state: state.clone(),
                }
            });
            let inbound = s.inbound_qos2.iter().map(move |packet_id| Record::InboundQos2Set {
                client_id: c.clone(),
                packet_id: *packet_id,
            });
            meta.into_iter().chain(subs).chain(queue).chain(inflight).chain(inbound)
        });
        messages.chain(retained).chain(sessions)
    }

    /// Recomputes the byte estimate from scratch (tests check the incremental one against it).
    #[cfg(test)]
    pub(crate) fn recount(&self) -> u64 {
        let mut fresh = State::default();
        for record in self.to_records() {
            fresh.apply(record);
        }
        fresh.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::tests::message;
    use roost_codec::QoS;

    fn entry(id: u64) -> QueueEntry {
        QueueEntry {
            message: MessageId(id),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: vec![],
        }
    }

    #[test]
    fn a_message_lives_while_referenced() {
        let mut state = State::default();
        let c = |s: &str| ByteString::from(s);
        state.apply(Record::MessagePut {
            id: MessageId(1),
            message: message("t", b"x"),
        });
        for client in ["a", "b"] {
            state.apply(Record::QueueAppend {
                client_id: c(client),
                seq: 1,
                entry: entry(1),
            });
        }
        state.apply(Record::QueueRemove {
            client_id: c("a"),
            seq: 1,
        });
        state.apply(Record::InflightOutSet {
            client_id: c("b"),
            packet_id: 5,
            state: OutState::Publish(entry(1)),
        });
        state.apply(Record::QueueRemove {
            client_id: c("b"),
            seq: 1,
        });
        assert!(state.messages.contains_key(&MessageId(1)), "still in flight to b");
        state.apply(Record::InflightOutSet {
            client_id: c("b"),
            packet_id: 5,
            state: OutState::PubRel,
        });
        assert!(
            state.messages.is_empty(),
            "PUBREC received: the message is no longer needed"
        );
        assert_eq!(state.live_bytes(), state.recount());
        state.apply(Record::SessionDelete { client_id: c("b") });
        state.apply(Record::SessionDelete { client_id: c("a") });
        assert_eq!(state.live_bytes(), 0);
    }

    #[test]
    fn expiry_uses_wall_clock_deadlines() {
        let mut state = State::default();
        let mut m = message("t", b"x");
        m.expires_at_ms = Some(1000);
        state.apply(Record::RetainedSet { message: m.clone() });
        state.apply(Record::SessionUpsert {
            client_id: "gone".into(),
            meta: SessionMeta {
                protocol_version: 5,
                expiry_interval: 10,
                disconnected_at_ms: Some(500),
                will: None,
                user: None,
            },
        });
        state.apply(Record::SessionUpsert {
            client_id: "forever".into(),
            meta: SessionMeta {
                protocol_version: 5,
                expiry_interval: u32::MAX,
                disconnected_at_ms: Some(0),
                will: None,
                user: None,
            },
        });
        state.apply(Record::MessagePut {
            id: MessageId(2),
            message: m,
        });
        state.apply(Record::QueueAppend {
            client_id: "forever".into(),
            seq: 0,
            entry: entry(2),
        });
        assert!(state.drop_expired(999).is_empty());
        let deletes = state.drop_expired(10_500);
        assert_eq!(deletes.len(), 3, "{deletes:?}");
        assert!(state.retained.is_empty() && state.messages.is_empty());
        assert_eq!(state.sessions.keys().collect::<Vec<_>>(), ["forever"]);
        assert_eq!(state.live_bytes(), state.recount());
    }
}
