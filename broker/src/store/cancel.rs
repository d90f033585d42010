//! Cancelling records within one group-commit frame before it is written: a set of a key followed in the same
//! frame by the delete of that key (a message queued, sent and acknowledged while one fdatasync ran) writes
//! nothing, and a message put whose every reference was cancelled so is not written either.
//!
//! Sound because a frame is recovered whole or not at all (one CRC over the batch, [`super::log`]): no recovered
//! state can stop between the set and the delete, so only the state after the whole frame matters, and the kept
//! records give exactly that state. The LSNs of cancelled submits are still covered by the frame (its header
//! says how many LSNs it holds), so they are reported durable when it is, like any other.

use std::collections::{HashMap, HashSet};

use bytestring::ByteString;

use super::record::{MessageId, OutState, Record};
use super::state::State;

/// What a record sets or deletes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Retained(ByteString),
    Subscription(ByteString, ByteString),
    Queue(ByteString, u64),
    Out(ByteString, u16),
    InboundQos2(ByteString, u16),
}

impl Key {
    fn client(&self) -> Option<&ByteString> {
        match self {
            Key::Retained(_) => None,
            Key::Subscription(c, _) | Key::Queue(c, _) | Key::InboundQos2(c, _) => Some(c),
            Key::Out(c, _) => Some(c),
        }
    }

    /// Whether `state` (before the frame) holds the key.
    fn in_state(&self, state: &State) -> bool {
        match self {
            Key::Retained(topic) => state.retained.contains_key(topic),
            Key::Subscription(c, filter) => state
                .sessions
                .get(c)
                .is_some_and(|s| s.subscriptions.contains_key(filter)),
            Key::Queue(c, seq) => state.sessions.get(c).is_some_and(|s| s.queue.contains_key(seq)),
            Key::Out(c, id) => state.sessions.get(c).is_some_and(|s| s.inflight_out.contains_key(id)),
            Key::InboundQos2(c, id) => state.sessions.get(c).is_some_and(|s| s.inbound_qos2.contains(id)),
        }
    }
}

enum Op {
    Set(Key),
    Delete(Key),
    /// Deletes every key of the client.
    DeleteSession(ByteString),
    Other,
}

fn op(record: &Record) -> Op {
    match record {
        Record::RetainedSet { message } => Op::Set(Key::Retained(message.topic.clone())),
        Record::RetainedDelete { topic } => Op::Delete(Key::Retained(topic.clone())),
        Record::SubscriptionSet { client_id, filter, .. } => {
            Op::Set(Key::Subscription(client_id.clone(), filter.clone()))
        }
        Record::SubscriptionDelete { client_id, filter } => {
            Op::Delete(Key::Subscription(client_id.clone(), filter.clone()))
        }
        Record::QueueAppend { client_id, seq, .. } => Op::Set(Key::Queue(client_id.clone(), *seq)),
        Record::QueueRemove { client_id, seq } => Op::Delete(Key::Queue(client_id.clone(), *seq)),
        Record::InflightOutSet {
            client_id, packet_id, ..
        } => Op::Set(Key::Out(client_id.clone(), *packet_id)),
        Record::InflightOutDelete { client_id, packet_id } => Op::Delete(Key::Out(client_id.clone(), *packet_id)),
        Record::InboundQos2Set { client_id, packet_id } => Op::Set(Key::InboundQos2(client_id.clone(), *packet_id)),
        Record::InboundQos2Delete { client_id, packet_id } => {
            Op::Delete(Key::InboundQos2(client_id.clone(), *packet_id))
        }
        Record::SessionDelete { client_id } => Op::DeleteSession(client_id.clone()),
        Record::MessagePut { .. } | Record::SessionUpsert { .. } => Op::Other,
    }
}

/// The message a record references, if it is a reference (a queue entry or an in-flight publish).
fn reference(record: &Record) -> Option<MessageId> {
    match record {
        Record::QueueAppend { entry, .. }
        | Record::InflightOutSet {
            state: OutState::Publish(entry),
            ..
        } => Some(entry.message),
        _ => None,
    }
}

/// A key's history within the frame.
struct Track {
    /// Whether the key was absent before the set that is still pending.
    absent_before: bool,
    /// Whether the key is absent now (after the records seen so far).
    absent: bool,
    /// The last set of the key, while no delete followed it, if it may be dropped.
    pending_set: Option<usize>,
}

/// Whether a key can hold a reference to a message (its set and delete move reference counts).
fn holds_references(key: &Key) -> bool {
    matches!(key, Key::Queue(..) | Key::Out(..))
}

/// The records of one frame, in order, without those that cancel out, given the state before the frame. Applying
/// the result to `state` gives the same state as applying all of `records` (the property test below checks it).
///
/// Keys: a set followed by a delete of its key drops the set, and the delete too if the key was absent before
/// the set; a set overwritten by a later set is dropped. For queue and in-flight keys (which hold references to
/// messages) only when the key was absent before, and only for messages new in this frame. Messages: a new
/// message none of whose references is kept, and which all of `records` leave deleted, is not put. Last, the
/// reference counts of every new message are replayed both ways; where they differ (interleavings the rules above
/// do not see), everything dropped on its keys is written after all.
pub(crate) fn cancel(state: &State, records: Vec<Record>) -> Vec<Record> {
    let mut dropped = vec![false; records.len()];
    let ops: Vec<Op> = records.iter().map(op).collect();
    let mut tracks: HashMap<Key, Track> = HashMap::new();
    let may_drop = |key: &Key, record: &Record| {
        !holds_references(key) || reference(record).is_none_or(|id| !state.knows_message(id))
    };
    for (i, (record, op)) in records.iter().zip(&ops).enumerate() {
        match op {
            Op::Set(key) => {
                let droppable = may_drop(key, record);
                let references = holds_references(key);
                let track = tracks.entry(key.clone()).or_insert_with_key(|key| {
                    let absent = !key.in_state(state);
                    Track {
                        absent_before: absent,
                        absent,
                        pending_set: None,
                    }
                });
                match track.pending_set.take() {
                    // Overwritten before anything read it back: the last set wins, and the key's state before the
                    // first one still decides what a delete may cancel.
                    Some(earlier) if !references || track.absent_before => dropped[earlier] = true,
                    _ => track.absent_before = track.absent,
                }
                if droppable {
                    track.pending_set = Some(i);
                }
                track.absent = false;
            }
            Op::Delete(key) => {
                let references = holds_references(key);
                let track = tracks.entry(key.clone()).or_insert_with_key(|key| {
                    let absent = !key.in_state(state);
                    Track {
                        absent_before: absent,
                        absent,
                        pending_set: None,
                    }
                });
                if let Some(set) = track.pending_set.take() {
                    // Set then deleted: the set never needs writing; the delete does only if the key was there
                    // before the set.
                    if track.absent_before {
                        dropped[set] = true;
                        dropped[i] = true;
                    } else if !references {
                        dropped[set] = true;
                    }
                }
                track.absent = true;
            }
            Op::DeleteSession(client) => {
                // Every key of the client is gone; pending sets stay written (the delete covers them anyway).
                for (key, track) in tracks.iter_mut() {
                    if key.client() == Some(client) {
                        track.absent = true;
                        track.pending_set = None;
                    }
                }
            }
            Op::Other => {}
        }
    }
    // The messages new in this frame, and what all of `records` leave of them.
    let fresh: HashSet<MessageId> = records
        .iter()
        .filter_map(|r| match r {
            Record::MessagePut { id, .. } => Some(*id),
            r => reference(r),
        })
        .filter(|id| !state.knows_message(*id))
        .collect();
    if fresh.is_empty() {
        return keep(records, &dropped);
    }
    let all = replay(&records, &ops, &vec![false; records.len()], &fresh);
    // A new message that no kept record references and that the frame leaves deleted is not put.
    let mut kept_reference: HashSet<MessageId> = HashSet::new();
    for (i, record) in records.iter().enumerate() {
        if let Some(id) = reference(record)
            && !dropped[i]
        {
            kept_reference.insert(id);
        }
    }
    for (i, record) in records.iter().enumerate() {
        if let Record::MessagePut { id, .. } = record
            && fresh.contains(id)
            && !kept_reference.contains(id)
            && all.get(id).is_some_and(|&(present, _)| !present)
        {
            dropped[i] = true;
        }
    }
    loop {
        let kept = replay(&records, &ops, &dropped, &fresh);
        let differ: HashSet<MessageId> = fresh.iter().copied().filter(|id| all.get(id) != kept.get(id)).collect();
        if differ.is_empty() {
            return keep(records, &dropped);
        }
        // Keys that ever hold such a message keep their whole history, and the message its puts.
        let keys: HashSet<&Key> = records
            .iter()
            .zip(&ops)
            .filter(|(r, _)| reference(r).is_some_and(|id| differ.contains(&id)))
            .filter_map(|(_, op)| match op {
                Op::Set(key) => Some(key),
                _ => None,
            })
            .collect();
        for (i, (record, op)) in records.iter().zip(&ops).enumerate() {
            let restore = match (op, record) {
                (Op::Set(key) | Op::Delete(key), _) => keys.contains(key),
                (_, Record::MessagePut { id, .. }) => differ.contains(id),
                _ => false,
            };
            if restore {
                dropped[i] = false;
            }
        }
    }
}

fn keep(records: Vec<Record>, dropped: &[bool]) -> Vec<Record> {
    records
        .into_iter()
        .zip(dropped)
        .filter_map(|(record, dropped)| (!dropped).then_some(record))
        .collect()
}

/// Replays the records not `dropped` for the messages in `fresh` only (none of them stored or referenced before
/// the frame, so keys the frame does not set cannot hold them): whether each is stored at the end, and its
/// reference count, following `State::apply` (a reference added before the one it replaces is dropped; a message
/// goes when its count falls to zero).
fn replay(
    records: &[Record],
    ops: &[Op],
    dropped: &[bool],
    fresh: &HashSet<MessageId>,
) -> HashMap<MessageId, (bool, u32)> {
    let mut messages: HashMap<MessageId, (bool, u32)> = fresh.iter().map(|id| (*id, (false, 0))).collect();
    let mut values: HashMap<Key, MessageId> = HashMap::new();
    let release = |messages: &mut HashMap<MessageId, (bool, u32)>, id: Option<MessageId>| {
        if let Some((present, count)) = id.and_then(|id| messages.get_mut(&id))
            && *count > 0
        {
            *count -= 1;
            if *count == 0 {
                *present = false;
            }
        }
    };
    for ((record, op), _) in records.iter().zip(ops).zip(dropped).filter(|(_, dropped)| !**dropped) {
        match op {
            Op::Set(key) => {
                let new = reference(record).filter(|id| fresh.contains(id));
                if let Some((_, count)) = new.and_then(|id| messages.get_mut(&id)) {
                    *count += 1;
                }
                let old = match new {
                    Some(id) => values.insert(key.clone(), id),
                    None => values.remove(key),
                };
                release(&mut messages, old);
            }
            Op::Delete(key) => {
                let old = values.remove(key);
                release(&mut messages, old);
            }
            Op::DeleteSession(client) => {
                let gone: Vec<Key> = values.keys().filter(|k| k.client() == Some(client)).cloned().collect();
                for key in gone {
                    let old = values.remove(&key);
                    release(&mut messages, old);
                }
            }
            Op::Other => {
                if let Record::MessagePut { id, .. } = record
                    && let Some((present, _)) = messages.get_mut(id)
                {
                    *present = true;
                }
            }
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use roost_codec::QoS;

    use super::*;
    use crate::store::record::QueueEntry;
    use crate::store::record::tests::message;

    fn entry(id: u64) -> QueueEntry {
        QueueEntry {
            message: MessageId(id),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: vec![],
        }
    }

    /// One QoS 1 message through a persistent subscriber's session: put and queued, sent (in flight, out of the
    /// queue), acknowledged.
    fn delivery(client: &str, id: u64, seq: u64, packet_id: u16) -> [Record; 5] {
        let c: ByteString = client.into();
        [
            Record::MessagePut {
                id: MessageId(id),
                message: message("t", b"payload"),
            },
            Record::QueueAppend {
                client_id: c.clone(),
                seq,
                entry: entry(id),
            },
            Record::InflightOutSet {
                client_id: c.clone(),
                packet_id,
                state: OutState::Publish(entry(id)),
            },
            Record::QueueRemove {
                client_id: c.clone(),
                seq,
            },
            Record::InflightOutDelete {
                client_id: c,
                packet_id,
            },
        ]
    }

    #[test]
    fn a_delivery_finished_within_the_frame_writes_nothing() {
        let records = delivery("sub", 1, 1, 1).to_vec();
        assert_eq!(cancel(&State::default(), records), vec![]);
    }

    #[test]
    fn a_delivery_still_in_flight_keeps_its_message_and_in_flight_entry() {
        let records = delivery("sub", 1, 1, 1)[..4].to_vec();
        let kept = cancel(&State::default(), records.clone());
        assert_eq!(kept, vec![records[0].clone(), records[2].clone()]);
    }

    #[test]
    fn a_delete_of_a_key_stored_before_the_frame_is_kept() {
        let mut state = State::default();
        let retained = Record::RetainedSet {
            message: message("r", b"old"),
        };
        state.apply(retained.clone());
        for record in delivery("sub", 1, 1, 1)[..3].iter().cloned() {
            state.apply(record);
        }
        // A retained message stored before the frame, set again and cleared: the clear is written.
        let clear = Record::RetainedDelete { topic: "r".into() };
        assert_eq!(cancel(&state, vec![retained, clear.clone()]), vec![clear]);
        // Packet id 1 is in flight before the frame: its new state and its delete are both written (a key that
        // holds references is cancelled only when it was absent before).
        let records = vec![
            Record::InflightOutSet {
                client_id: "sub".into(),
                packet_id: 1,
                state: OutState::PubRel,
            },
            Record::InflightOutDelete {
                client_id: "sub".into(),
                packet_id: 1,
            },
        ];
        assert_eq!(cancel(&state, records.clone()), records);
    }

    /// Fan-out: the message is put again with each session's queue entry; one session's delivery completes within
    /// the frame, the other's is still queued: the message stays, the finished delivery goes.
    #[test]
    fn a_message_another_session_still_queues_is_kept() {
        let a = delivery("a", 1, 1, 1);
        let b = delivery("b", 1, 1, 1);
        let records = vec![
            a[0].clone(),
            a[1].clone(),
            b[0].clone(),
            b[1].clone(),
            a[2].clone(),
            a[3].clone(),
            a[4].clone(),
        ];
        let kept = cancel(&State::default(), records);
        assert_eq!(kept, vec![a[0].clone(), b[0].clone(), b[1].clone()]);
    }

    /// Records over a small key space (two clients, a few sequence numbers, packet ids, topics and messages), so
    /// that sets, overwrites, deletes and session deletes collide.
    fn record() -> impl Strategy<Value = Record> {
        let client = prop_oneof![Just("a"), Just("b")].prop_map(ByteString::from);
        prop_oneof![
            (1..4u64).prop_map(|id| Record::MessagePut {
                id: MessageId(id),
                message: message("t", b"m"),
            }),
            (client.clone(), 1..4u64, 1..4u64).prop_map(|(c, seq, id)| Record::QueueAppend {
                client_id: c,
                seq,
                entry: entry(id),
            }),
            (client.clone(), 1..4u64).prop_map(|(c, seq)| Record::QueueRemove { client_id: c, seq }),
            (client.clone(), 1..3u16, 0..4u64).prop_map(|(c, p, id)| Record::InflightOutSet {
                client_id: c,
                packet_id: p,
                state: if id == 0 {
                    OutState::PubRel
                } else {
                    OutState::Publish(entry(id))
                },
            }),
            (client.clone(), 1..3u16).prop_map(|(c, p)| Record::InflightOutDelete {
                client_id: c,
                packet_id: p
            }),
            (client.clone(), 1..3u16).prop_map(|(c, p)| Record::InboundQos2Set {
                client_id: c,
                packet_id: p
            }),
            (client.clone(), 1..3u16).prop_map(|(c, p)| Record::InboundQos2Delete {
                client_id: c,
                packet_id: p
            }),
            (client.clone(), 0..2u8).prop_map(|(c, f)| Record::SubscriptionSet {
                client_id: c,
                filter: format!("f/{f}").into(),
                subscription: crate::store::StoredSubscription {
                    options: 1,
                    identifier: None,
                },
            }),
            (client.clone(), 0..2u8).prop_map(|(c, f)| Record::SubscriptionDelete {
                client_id: c,
                filter: format!("f/{f}").into(),
            }),
            (0..2u8).prop_map(|t| Record::RetainedSet {
                message: message(&format!("r/{t}"), b"v"),
            }),
            (0..2u8).prop_map(|t| Record::RetainedDelete {
                topic: format!("r/{t}").into()
            }),
            client.clone().prop_map(|c| Record::SessionDelete { client_id: c }),
            client.prop_map(|c| Record::SessionUpsert {
                client_id: c,
                meta: crate::store::SessionMeta {
                    protocol_version: 5,
                    expiry_interval: 60,
                    disconnected_at_ms: None,
                    will: None,
                    user: None,
                },
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the state before the frame and whatever the frame holds, the kept records lead to the same
        /// state (content, reference counts and byte estimate) as all of them.
        #[test]
        fn the_kept_records_lead_to_the_same_state(
            before in prop::collection::vec(record(), 0..20),
            frame in prop::collection::vec(record(), 0..30),
        ) {
            let mut state = State::default();
            for record in before {
                state.apply(record);
            }
            let mut all = state.clone();
            for record in frame.clone() {
                all.apply(record);
            }
            let mut kept = state.clone();
            let survivors = cancel(&state, frame.clone());
            prop_assert!(survivors.len() <= frame.len());
            for record in survivors {
                kept.apply(record);
            }
            prop_assert_eq!(&kept, &all);
            prop_assert_eq!(kept.live_bytes(), all.live_bytes());
            prop_assert_eq!(kept.references(), all.references());
            let (mut kept_gc, mut all_gc) = (kept.clone(), all.clone());
            kept_gc.collect_garbage();
            all_gc.collect_garbage();
            prop_assert_eq!(&kept_gc, &all_gc);
        }
    }
}
