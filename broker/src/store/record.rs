//! The records of the storage log: typed changes of the broker's durable state, each an idempotent "set" or
//! "delete" of one key, so replaying them in log order gives the state the broker had (last writer wins).
//!
//! The encoding is a small hand-written binary format: a kind byte, then the fields; integers as LEB128 varints
//! (most are small), byte strings and strings prefixed by their varint length. Client ids and topics, which repeat
//! in almost every record, go through a string table that lives as long as one file ([`Encoder`], [`Decoder`]):
//! the first use in a file writes the string and gives it the next number, later uses write the number (one or two
//! bytes instead of the 10–40 of a client id or topic); message ids and queue sequence numbers are written as the
//! difference from the previous one in the file (usually one byte). The CRC and LSNs live one level up, in the
//! frame that holds a whole batch of submits ([`super::log`]), so a record is never replayed without the others
//! submitted with it.

use std::collections::HashMap;

use bytes::Bytes;
use bytestring::ByteString;
use roost_codec::QoS;

/// Identifies a stored message: queue entries and in-flight publishes of several sessions reference one
/// [`Record::MessagePut`], so fanning a message out to N persistent sessions writes its payload once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// An application message as stored: what the router needs to deliver it again after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Where it was published.
    pub topic: ByteString,
    /// The application payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The publisher's RETAIN flag (for Retain As Published).
    pub retain: bool,
    /// The PUBLISH properties to forward, encoded by the caller (the store does not look inside).
    pub properties: Bytes,
    /// When the Message Expiry Interval runs out, as wall-clock Unix milliseconds: an `Instant` means nothing
    /// after a restart, and expiry must survive one (Mosquitto lost it, eclipse-mosquitto/mosquitto#1464).
    pub expires_at_ms: Option<u64>,
    /// The publishing client, for No Local ([MQTT-3.8.3-3]).
    pub publisher: Option<ByteString>,
}

/// A session's own settings: what CONNECT said, and when the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMeta {
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub protocol_version: u8,
    /// Session Expiry Interval in seconds; `u32::MAX` never expires.
    pub expiry_interval: u32,
    /// When the connection ended (wall-clock Unix ms); `None` while connected. After a crash a session with
    /// `None` was connected when the broker stopped: the router treats it as disconnected at the restart.
    pub disconnected_at_ms: Option<u64>,
    /// The will, if it has one that is not yet published.
    pub will: Option<StoredWill>,
    /// The user the client last logged in as (`None`: anonymous): the ACL checks deliveries to the session while
    /// it is offline, and its delayed will, as this user, after a restart too.
    pub user: Option<ByteString>,
}

/// A will message and its Will Delay Interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWill {
    /// The message (its Message Expiry Interval, if any, stays inside `properties`: it starts at publication).
    pub message: StoredMessage,
    /// Will Delay Interval, seconds.
    pub delay: u32,
}

/// One subscription of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSubscription {
    /// The Subscription Options byte as SUBSCRIBE carries it (section 3.8.3.1): QoS, No Local, Retain As
    /// Published, Retain Handling.
    pub options: u8,
    /// The Subscription Identifier, if the SUBSCRIBE had one.
    pub identifier: Option<u32>,
}

/// One delivery of a stored message to one session: the message plus what the subscription decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The message, put earlier by [`Record::MessagePut`].
    pub message: MessageId,
    /// The QoS of this delivery.
    pub qos: QoS,
    /// The RETAIN flag to send.
    pub retain: bool,
    /// The subscription identifiers to send with it.
    pub subscription_ids: Vec<u32>,
}

/// Where an outbound QoS 1/2 message stands with its packet id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutState {
    /// PUBLISH sent (or about to be), waiting for PUBACK (QoS 1) or PUBREC (QoS 2): resent with DUP on resume.
    Publish(QueueEntry),
    /// PUBREC received, PUBREL sent, waiting for PUBCOMP: PUBREL is resent on resume, never the PUBLISH.
    PubRel,
}

/// One change of durable state. Keys: retained topic; message id; client id; (client id, filter);
/// (client id, queue sequence); (client id, packet id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Set the retained message of `message.topic`.
    RetainedSet {
        /// The message; its topic is the key.
        message: StoredMessage,
    },
    /// Delete the retained message of a topic.
    RetainedDelete {
        /// The topic.
        topic: ByteString,
    },
    /// A message referenced by queue entries and in-flight publishes; it is dropped when the last reference goes.
    /// Submit it with its first reference: one left unreferenced is dropped at the next compaction or recovery.
    MessagePut {
        /// Its id, from [`super::Store::message_id`].
        id: MessageId,
        /// The message.
        message: StoredMessage,
    },
    /// Create or update a session's settings.
    SessionUpsert {
        /// The session's client id.
        client_id: ByteString,
        /// Its settings.
        meta: SessionMeta,
    },
    /// Delete a session with everything it holds (subscriptions, queue, in-flight state, inbound ids).
    SessionDelete {
        /// The session's client id.
        client_id: ByteString,
    },
    /// Set a subscription.
    SubscriptionSet {
        /// The session's client id.
        client_id: ByteString,
        /// The topic filter as subscribed (shared ones with their `$share/group/` prefix).
        filter: ByteString,
        /// Its options and identifier.
        subscription: StoredSubscription,
    },
    /// Delete a subscription.
    SubscriptionDelete {
        /// The session's client id.
        client_id: ByteString,
        /// The topic filter.
        filter: ByteString,
    },
    /// Queue a message for a session (not yet sent).
    QueueAppend {
        /// The session's client id.
        client_id: ByteString,
        /// The entry's place in the session's queue (increasing; the router numbers them).
        seq: u64,
        /// What to deliver.
        entry: QueueEntry,
    },
    /// Remove a queue entry (sent, dropped or expired).
    QueueRemove {
        /// The session's client id.
        client_id: ByteString,
        /// The entry.
        seq: u64,
    },
    /// Set the state of an outbound packet id.
    InflightOutSet {
        /// The session's client id.
        client_id: ByteString,
        /// The packet id used towards the client.
        packet_id: u16,
        /// What is outstanding.
        state: OutState,
    },
    /// Forget an outbound packet id (PUBACK or PUBCOMP received).
    InflightOutDelete {
        /// The session's client id.
        client_id: ByteString,
        /// The packet id.
        packet_id: u16,
    },
    /// An inbound QoS 2 packet id awaiting PUBREL: a PUBLISH with it again is a retransmission, not routed twice.
    InboundQos2Set {
        /// The session's client id.
        client_id: ByteString,
        /// The publisher's packet id.
        packet_id: u16,
    },
    /// PUBREL received: the packet id is free again.
    InboundQos2Delete {
        /// The session's client id.
        client_id: ByteString,
        /// The packet id.
        packet_id: u16,
    },
}

/// Why bytes could not be read as records. Never a panic: a corrupt file is reported and set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed record: {0}")]
pub struct DecodeError(pub &'static str);

mod kind {
    pub(super) const RETAINED_SET: u8 = 1;
    pub(super) const RETAINED_DELETE: u8 = 2;
    pub(super) const MESSAGE_PUT: u8 = 3;
    pub(super) const SESSION_UPSERT: u8 = 4;
    pub(super) const SESSION_DELETE: u8 = 5;
    pub(super) const SUBSCRIPTION_SET: u8 = 6;
    pub(super) const SUBSCRIPTION_DELETE: u8 = 7;
    pub(super) const QUEUE_APPEND: u8 = 8;
    pub(super) const QUEUE_REMOVE: u8 = 9;
    pub(super) const INFLIGHT_OUT_SET: u8 = 10;
    pub(super) const INFLIGHT_OUT_DELETE: u8 = 11;
    pub(super) const INBOUND_QOS2_SET: u8 = 12;
    pub(super) const INBOUND_QOS2_DELETE: u8 = 13;
}

/// The most strings one file's table holds: beyond it strings are written out each time (a workload with millions of
/// distinct topics must not grow the table, in the writer or in recovery, without bound).
const MAX_STRINGS: usize = 1 << 16;

/// An interned string field starts with this varint, then the string, which takes the table's next number.
const STRING_NEW: u64 = 0;
/// ... or this, then the string, not added (the table is full).
const STRING_LITERAL: u64 = 1;
/// ... or the string's number plus this.
const STRING_NUMBER: u64 = 2;

/// The writer's string table of one file (a log segment or a snapshot): numbers the client ids and topics written
/// in it. A new file starts a new table, so every file reads on its own (a snapshot replaces the segments before
/// it, and recovery reads each segment from its start).
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    strings: HashMap<ByteString, u64>,
    /// The last message id and queue sequence number written in the file: the next ones are written as the
    /// difference (a put and the queue entry and in-flight entry that reference it are a few ids apart).
    last_message: u64,
    last_seq: u64,
}

/// The reader's string table of one file: [`Encoder`]'s numbering, rebuilt by reading the file in order.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    strings: Vec<ByteString>,
    last_message: u64,
    last_seq: u64,
}

/// A signed difference as an unsigned varint (zigzag: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...).
fn zigzag(from: u64, to: u64) -> u64 {
    let d = to.wrapping_sub(from) as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

/// What [`zigzag`] encoded, applied to `from`.
fn unzigzag(from: u64, z: u64) -> u64 {
    let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
    from.wrapping_add(d as u64)
}

/// Appends LEB128 varints and length-prefixed bytes to a buffer.
pub(crate) struct Writer<'a>(pub(crate) &'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// A message id, as the difference from the last one written in the file.
    fn message_id(&mut self, id: MessageId, enc: &mut Encoder) {
        self.varint(zigzag(enc.last_message, id.0));
        enc.last_message = id.0;
    }

    /// A queue sequence number, as the difference from the last one written in the file.
    fn seq(&mut self, seq: u64, enc: &mut Encoder) {
        self.varint(zigzag(enc.last_seq, seq));
        enc.last_seq = seq;
    }

    /// A client id or topic, through the file's string table.
    fn interned(&mut self, s: &ByteString, enc: &mut Encoder) {
        if let Some(&n) = enc.strings.get(s) {
            return self.varint(n + STRING_NUMBER);
        }
        if enc.strings.len() < MAX_STRINGS {
            let n = enc.strings.len() as u64;
            enc.strings.insert(s.clone(), n);
            self.varint(STRING_NEW);
        } else {
            self.varint(STRING_LITERAL);
        }
        self.bytes(s.as_bytes());
    }
}

/// Reads what [`Writer`] wrote, refusing anything short or out of range.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.0.split_first().ok_or(DecodeError("short"))?;
        self.0 = rest;
        Ok(first)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError("value above u32"))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        u16::try_from(self.varint()?).map_err(|_| DecodeError("value above u16"))
    }

    fn slice(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DecodeError("length"))?;
        if len > self.0.len() {
            return Err(DecodeError("length past the end"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    /// A copy, so a long-lived value never pins the whole file buffer it was read from.
    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        Ok(Bytes::copy_from_slice(self.slice()?))
    }

    fn string(&mut self) -> Result<ByteString, DecodeError> {
        let s = std::str::from_utf8(self.slice()?).map_err(|_| DecodeError("string not UTF-8"))?;
        Ok(ByteString::from(s))
    }

    /// What [`Writer::message_id`] wrote.
    fn message_id(&mut self, dec: &mut Decoder) -> Result<MessageId, DecodeError> {
        dec.last_message = unzigzag(dec.last_message, self.varint()?);
        Ok(MessageId(dec.last_message))
    }

    /// What [`Writer::seq`] wrote.
    fn seq(&mut self, dec: &mut Decoder) -> Result<u64, DecodeError> {
        dec.last_seq = unzigzag(dec.last_seq, self.varint()?);
        Ok(dec.last_seq)
    }

    /// What [`Writer::interned`] wrote; a new string joins the table (a clone shares its bytes).
    fn interned(&mut self, dec: &mut Decoder) -> Result<ByteString, DecodeError> {
        match self.varint()? {
            STRING_NEW => {
                if dec.strings.len() >= MAX_STRINGS {
                    return Err(DecodeError("string table full"));
                }
                let s = self.string()?;
                dec.strings.push(s.clone());
                Ok(s)
            }
            STRING_LITERAL => self.string(),
            n => usize::try_from(n - STRING_NUMBER)
                .ok()
                .and_then(|i| dec.strings.get(i))
                .cloned()
                .ok_or(DecodeError("unknown string number")),
        }
    }
}

const FLAG_RETAIN: u8 = 1 << 2;
const FLAG_EXPIRY: u8 = 1 << 3;
const FLAG_PUBLISHER: u8 = 1 << 4;

impl StoredMessage {
    fn encode(&self, w: &mut Writer<'_>, enc: &mut Encoder) {
        let mut flags = self.qos as u8;
        if self.retain {
            flags |= FLAG_RETAIN;
        }
        if self.expires_at_ms.is_some() {
            flags |= FLAG_EXPIRY;
        }
        if self.publisher.is_some() {
            flags |= FLAG_PUBLISHER;
        }
        w.u8(flags);
        w.interned(&self.topic, enc);
        w.bytes(&self.payload);
        w.bytes(&self.properties);
        if let Some(at) = self.expires_at_ms {
            w.varint(at);
        }
        if let Some(p) = &self.publisher {
            w.interned(p, enc);
        }
    }

    fn decode(r: &mut Reader<'_>, dec: &mut Decoder) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        if flags & !(3 | FLAG_RETAIN | FLAG_EXPIRY | FLAG_PUBLISHER) != 0 {
            return Err(DecodeError("message flags"));
        }
        Ok(StoredMessage {
            qos: QoS::from_u8(flags & 3).ok_or(DecodeError("QoS"))?,
            retain: flags & FLAG_RETAIN != 0,
            topic: r.interned(dec)?,
            payload: r.bytes()?,
            properties: r.bytes()?,
            expires_at_ms: if flags & FLAG_EXPIRY != 0 {
                Some(r.varint()?)
            } else {
                None
            },
            publisher: if flags & FLAG_PUBLISHER != 0 {
                Some(r.interned(dec)?)
            } else {
                None
            },
        })
    }

    /// Roughly what it costs on disk and in the store's memory: the size cap counts this.
    pub(crate) fn approx_size(&self) -> u64 {
        (self.topic.len() + self.payload.len() + self.properties.len() + self.publisher.as_ref().map_or(0, |p| p.len()))
            as u64
            + 16
    }

    /// Whether its Message Expiry Interval has run out at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

impl QueueEntry {
    fn encode(&self, w: &mut Writer<'_>, enc: &mut Encoder) {
        w.message_id(self.message, enc);
        w.u8(self.qos as u8 | if self.retain { FLAG_RETAIN } else { 0 });
        w.varint(self.subscription_ids.len() as u64);
        for id in &self.subscription_ids {
            w.varint(u64::from(*id));
        }
    }

    fn decode(r: &mut Reader<'_>, dec: &mut Decoder) -> Result<Self, DecodeError> {
        let message = r.message_id(dec)?;
        let flags = r.u8()?;
        if flags & !(3 | FLAG_RETAIN) != 0 {
            return Err(DecodeError("queue entry flags"));
        }
        let count = r.varint()?;
        // Each id takes at least one byte: a count beyond what is left is corruption, not an allocation to try.
        if count > r.0.len() as u64 {
            return Err(DecodeError("subscription id count"));
        }
        let subscription_ids = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
        Ok(QueueEntry {
            message,
            qos: QoS::from_u8(flags & 3).ok_or(DecodeError("QoS"))?,
            retain: flags & FLAG_RETAIN != 0,
            subscription_ids,
        })
    }

    pub(crate) fn approx_size(&self) -> u64 {
        24 + 4 * self.subscription_ids.len() as u64
    }
}

impl SessionMeta {
    pub(crate) fn approx_size(&self) -> u64 {
        24 + self.will.as_ref().map_or(0, |w| w.message.approx_size())
            + self.user.as_ref().map_or(0, |u| u.len() as u64)
    }
}

impl Record {
    /// Appends the record's encoding to `buf`, numbering its strings in `enc` (the table of the file it goes to).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>, enc: &mut Encoder) {
        let mut w = Writer(buf);
        match self {
            Record::RetainedSet { message } => {
                w.u8(kind::RETAINED_SET);
                message.encode(&mut w, enc);
            }
            Record::RetainedDelete { topic } => {
                w.u8(kind::RETAINED_DELETE);
                w.interned(topic, enc);
            }
            Record::MessagePut { id, message } => {
                w.u8(kind::MESSAGE_PUT);
                w.message_id(*id, enc);
                message.encode(&mut w, enc);
            }
            Record::SessionUpsert { client_id, meta } => {
                w.u8(kind::SESSION_UPSERT);
                w.interned(client_id, enc);
                w.u8(meta.protocol_version);
                w.varint(u64::from(meta.expiry_interval));
                match meta.disconnected_at_ms {
                    Some(at) => w.varint(at + 1),
                    None => w.varint(0),
                }
                match &meta.will {
                    Some(will) => {
                        w.u8(1);
                        w.varint(u64::from(will.delay));
                        will.message.encode(&mut w, enc);
                    }
                    None => w.u8(0),
                }
                match &meta.user {
                    Some(user) => {
                        w.u8(1);
                        w.interned(user, enc);
                    }
                    None => w.u8(0),
                }
            }
            Record::SessionDelete { client_id } => {
                w.u8(kind::SESSION_DELETE);
                w.interned(client_id, enc);
            }
            Record::SubscriptionSet {
                client_id,
                filter,
                subscription,
            } => {
                w.u8(kind::SUBSCRIPTION_SET);
                w.interned(client_id, enc);
                w.bytes(filter.as_bytes());
                w.u8(subscription.options);
                w.varint(subscription.identifier.map_or(0, |id| u64::from(id) + 1));
            }
            Record::SubscriptionDelete { client_id, filter } => {
                w.u8(kind::SUBSCRIPTION_DELETE);
                w.interned(client_id, enc);
                w.bytes(filter.as_bytes());
            }
            Record::QueueAppend { client_id, seq, entry } => {
                w.u8(kind::QUEUE_APPEND);
                w.interned(client_id, enc);
                w.seq(*seq, enc);
                entry.encode(&mut w, enc);
            }
            Record::QueueRemove { client_id, seq } => {
                w.u8(kind::QUEUE_REMOVE);
                w.interned(client_id, enc);
                w.seq(*seq, enc);
            }
            Record::InflightOutSet {
                client_id,
                packet_id,
                state,
            } => {
                w.u8(kind::INFLIGHT_OUT_SET);
                w.interned(client_id, enc);
                w.varint(u64::from(*packet_id));
                match state {
                    OutState::Publish(entry) => {
                        w.u8(0);
                        entry.encode(&mut w, enc);
                    }
                    OutState::PubRel => w.u8(1),
                }
            }
            Record::InflightOutDelete { client_id, packet_id } => {
                w.u8(kind::INFLIGHT_OUT_DELETE);
                w.interned(client_id, enc);
                w.varint(u64::from(*packet_id));
            }
            Record::InboundQos2Set { client_id, packet_id } => {
                w.u8(kind::INBOUND_QOS2_SET);
                w.interned(client_id, enc);
                w.varint(u64::from(*packet_id));
            }
            Record::InboundQos2Delete { client_id, packet_id } => {
                w.u8(kind::INBOUND_QOS2_DELETE);
                w.interned(client_id, enc);
                w.varint(u64::from(*packet_id));
            }
        }
    }

    /// Reads one record from the front of `r`, with the string table of the file it is read from.
    pub(crate) fn decode(r: &mut Reader<'_>, dec: &mut Decoder) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            kind::RETAINED_SET => Record::RetainedSet {
                message: StoredMessage::decode(r, dec)?,
            },
            kind::RETAINED_DELETE => Record::RetainedDelete {
                topic: r.interned(dec)?,
            },
            kind::MESSAGE_PUT => Record::MessagePut {
                id: r.message_id(dec)?,
                message: StoredMessage::decode(r, dec)?,
            },
            kind::SESSION_UPSERT => {
                let client_id = r.interned(dec)?;
                let protocol_version = r.u8()?;
                let expiry_interval = r.u32()?;
                let disconnected_at_ms = r.varint()?.checked_sub(1);
                let will = match r.u8()? {
                    0 => None,
                    1 => {
                        let delay = r.u32()?;
                        Some(StoredWill {
                            delay,
                            message: StoredMessage::decode(r, dec)?,
                        })
                    }
                    _ => return Err(DecodeError("will flag")),
                };
                let user = match r.u8()? {
                    0 => None,
                    1 => Some(r.interned(dec)?),
                    _ => return Err(DecodeError("user flag")),
                };
                Record::SessionUpsert {
                    client_id,
                    meta: SessionMeta {
                        protocol_version,
                        expiry_interval,
                        disconnected_at_ms,
                        will,
                        user,
                    },
                }
            }
            kind::SESSION_DELETE => Record::SessionDelete {
                client_id: r.interned(dec)?,
            },
            kind::SUBSCRIPTION_SET => Record::SubscriptionSet {
                client_id: r.interned(dec)?,
                filter: r.string()?,
                subscription: StoredSubscription {
                    options: r.u8()?,
                    identifier: match r.varint()? {
                        0 => None,
                        id => Some(u32::try_from(id - 1).map_err(|_| DecodeError("subscription id"))?),
                    },
                },
            },
            kind::SUBSCRIPTION_DELETE => Record::SubscriptionDelete {
                client_id: r.interned(dec)?,
                filter: r.string()?,
            },
            kind::QUEUE_APPEND => Record::QueueAppend {
                client_id: r.interned(dec)?,
                seq: r.seq(dec)?,
                entry: QueueEntry::decode(r, dec)?,
            },
            kind::QUEUE_REMOVE => Record::QueueRemove {
                client_id: r.interned(dec)?,
                seq: r.seq(dec)?,
            },
            kind::INFLIGHT_OUT_SET => Record::InflightOutSet {
                client_id: r.interned(dec)?,
                packet_id: r.u16()?,
                state: match r.u8()? {
                    0 => OutState::Publish(QueueEntry::decode(r, dec)?),
                    1 => OutState::PubRel,
                    _ => return Err(DecodeError("outbound state")),
                },
            },
            kind::INFLIGHT_OUT_DELETE => Record::InflightOutDelete {
                client_id: r.interned(dec)?,
                packet_id: r.u16()?,
            },
            kind::INBOUND_QOS2_SET => Record::InboundQos2Set {
                client_id: r.interned(dec)?,
                packet_id: r.u16()?,
            },
            kind::INBOUND_QOS2_DELETE => Record::InboundQos2Delete {
                client_id: r.interned(dec)?,
                packet_id: r.u16()?,
            },
            _ => return Err(DecodeError("unknown record kind")),
        })
    }

    /// Roughly the bytes this record adds to the live state (0 for deletes): what the size cap checks.
    pub fn growth(&self) -> u64 {
        match self {
            Record::RetainedSet { message } | Record::MessagePut { message, .. } => message.approx_size(),
            Record::SessionUpsert { client_id, meta } => client_id.len() as u64 + meta.approx_size(),
            Record::SubscriptionSet { filter, .. } => filter.len() as u64 + 16,
            Record::QueueAppend { entry, .. } => entry.approx_size(),
            Record::InflightOutSet { state, .. } => match state {
                OutState::Publish(entry) => entry.approx_size(),
                OutState::PubRel => 8,
            },
            Record::InboundQos2Set { .. } => 8,
            _ => 0,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn message(topic: &str, payload: &[u8]) -> StoredMessage {
        StoredMessage {
            topic: topic.into(),
            payload: Bytes::copy_from_slice(payload),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Bytes::new(),
            expires_at_ms: None,
            publisher: None,
        }
    }

    fn round_trip(record: &Record) {
        let mut buf = Vec::new();
        record.encode(&mut buf, &mut Encoder::default());
        let mut r = Reader(&buf);
        assert_eq!(&Record::decode(&mut r, &mut Decoder::default()).unwrap(), record);
        assert!(r.is_empty());
        // Every strict prefix is an error, never a panic or a different record.
        for cut in 0..buf.len() {
            assert!(
                Record::decode(&mut Reader(&buf[..cut]), &mut Decoder::default()).is_err(),
                "prefix {cut} of {record:?}"
            );
        }
    }

    /// The second use of a client id or topic in a file costs its number, and reads back as the same string.
    #[test]
    fn strings_repeated_in_a_file_are_written_once() {
        let put = |id: u64| Record::MessagePut {
            id: MessageId(id),
            message: StoredMessage {
                publisher: Some("a-publisher-client-id".into()),
                ..message("sensors/building-7/floor-3/temperature", b"21.5")
            },
        };
        let append = Record::QueueAppend {
            client_id: "a-subscriber-client-id".into(),
            seq: 1,
            entry: QueueEntry {
                message: MessageId(1),
                qos: QoS::AtLeastOnce,
                retain: false,
                subscription_ids: vec![],
            },
        };
        let mut enc = Encoder::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        put(1).encode(&mut first, &mut enc);
        append.encode(&mut first, &mut enc);
        put(2).encode(&mut second, &mut enc);
        append.encode(&mut second, &mut enc);
        // Topic (38 bytes), publisher (21) and subscriber (22): each is a one-byte number the second time, instead
        // of a tag, a length and the string.
        assert_eq!(first.len() - second.len(), (1 + 38) + (1 + 21) + (1 + 22));
        let mut dec = Decoder::default();
        let mut all = Reader(&first);
        assert_eq!(Record::decode(&mut all, &mut dec).unwrap(), put(1));
        assert_eq!(Record::decode(&mut all, &mut dec).unwrap(), append);
        let mut all = Reader(&second);
        assert_eq!(Record::decode(&mut all, &mut dec).unwrap(), put(2));
        assert_eq!(Record::decode(&mut all, &mut dec).unwrap(), append);
        // Read without the file's earlier records, a number means nothing: an error, not another string.
        assert_eq!(
            Record::decode(&mut Reader(&second), &mut Decoder::default()),
            Err(DecodeError("unknown string number"))
        );
    }

    /// Message ids and queue sequence numbers are written as differences: a queue entry referencing the message
    /// put just before it, or the next sequence number, costs one byte however large the ids are.
    #[test]
    fn ids_close_to_the_last_one_cost_one_byte() {
        assert_eq!(unzigzag(7, zigzag(7, 3)), 3);
        assert_eq!(unzigzag(u64::MAX, zigzag(u64::MAX, 0)), 0);
        assert_eq!(unzigzag(0, zigzag(0, u64::MAX)), u64::MAX);
        let mut enc = Encoder::default();
        let mut dec = Decoder::default();
        let mut buf = Vec::new();
        let remove = |seq| Record::QueueRemove {
            client_id: "c".into(),
            seq,
        };
        remove(1_000_000).encode(&mut buf, &mut enc);
        let before = buf.len();
        remove(1_000_001).encode(&mut buf, &mut enc);
        assert_eq!(buf.len() - before, 3, "kind, client number, seq difference");
        let mut r = Reader(&buf);
        assert_eq!(Record::decode(&mut r, &mut dec).unwrap(), remove(1_000_000));
        assert_eq!(Record::decode(&mut r, &mut dec).unwrap(), remove(1_000_001));
    }

    /// Past `MAX_STRINGS` distinct strings a file writes them out in full: the tables stay bounded.
    #[test]
    fn a_full_string_table_writes_strings_out() {
        let mut enc = Encoder::default();
        let mut dec = Decoder::default();
        let mut buf = Vec::new();
        let records: Vec<Record> = (0..MAX_STRINGS + 3)
            .map(|i| Record::RetainedDelete {
                topic: format!("t/{i}").into(),
            })
            .collect();
        for record in &records {
            record.encode(&mut buf, &mut enc);
        }
        let late = records.last().unwrap().clone();
        let before = buf.len();
        late.encode(&mut buf, &mut enc);
        assert_eq!(buf.len() - before, 1 + 1 + 1 + "t/65538".len(), "written in full again");
        assert_eq!(enc.strings.len(), MAX_STRINGS);
        let mut r = Reader(&buf);
        for record in records.iter().chain([&late]) {
            assert_eq!(&Record::decode(&mut r, &mut dec).unwrap(), record);
        }
        assert!(r.is_empty());
        assert_eq!(dec.strings.len(), MAX_STRINGS);
    }

    #[test]
    fn every_kind_round_trips_and_prefixes_are_errors() {
        let full = StoredMessage {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"\x00payload"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Bytes::from_static(b"\x01\x01"),
            expires_at_ms: Some(1_700_000_000_000),
            publisher: Some("pub".into()),
        };
        let entry = QueueEntry {
            message: MessageId(300),
            qos: QoS::AtLeastOnce,
            retain: true,
            subscription_ids: vec![1, 268_435_455],
        };
        let c: ByteString = "client".into();
        for record in [
            Record::RetainedSet { message: full.clone() },
            Record::RetainedSet {
                message: message("t", b""),
            },
            Record::RetainedDelete { topic: "a/b".into() },
            Record::MessagePut {
                id: MessageId(u64::MAX),
                message: full.clone(),
            },
            Record::SessionUpsert {
                client_id: c.clone(),
                meta: SessionMeta {
                    protocol_version: 5,
                    expiry_interval: u32::MAX,
                    disconnected_at_ms: Some(0),
                    will: Some(StoredWill {
                        message: full.clone(),
                        delay: 30,
                    }),
                    user: Some("alice".into()),
                },
            },
            Record::SessionUpsert {
                client_id: c.clone(),
                meta: SessionMeta {
                    protocol_version: 4,
                    expiry_interval: 0,
                    disconnected_at_ms: None,
                    will: None,
                    user: None,
                },
            },
            Record::SessionDelete { client_id: c.clone() },
            Record::SubscriptionSet {
                client_id: c.clone(),
                filter: "$share/g/a/#".into(),
                subscription: StoredSubscription {
                    options: 0b0010_1110,
                    identifier: Some(0),
                },
            },
            Record::SubscriptionDelete {
                client_id: c.clone(),
                filter: "a/+".into(),
            },
            Record::QueueAppend {
                client_id: c.clone(),
                seq: 7,
                entry: entry.clone(),
            },
            Record::QueueRemove {
                client_id: c.clone(),
                seq: 7,
            },
            Record::InflightOutSet {
                client_id: c.clone(),
                packet_id: 65535,
                state: OutState::Publish(entry),
            },
            Record::InflightOutSet {
                client_id: c.clone(),
                packet_id: 1,
                state: OutState::PubRel,
            },
            Record::InflightOutDelete {
                client_id: c.clone(),
                packet_id: 1,
            },
            Record::InboundQos2Set {
                client_id: c.clone(),
                packet_id: 9,
            },
            Record::InboundQos2Delete {
                client_id: c,
                packet_id: 9,
            },
        ] {
            round_trip(&record);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let d = &mut Decoder::default();
        assert_eq!(
            Record::decode(&mut Reader(&[0xEE]), d),
            Err(DecodeError("unknown record kind"))
        );
        // A subscription id count far beyond the bytes left is refused before anything is allocated.
        let mut buf = vec![kind::QUEUE_APPEND, 0, 1, b'c', 1, 1, 1];
        Writer(&mut buf).varint(u64::MAX);
        assert_eq!(
            Record::decode(&mut Reader(&buf), d),
            Err(DecodeError("subscription id count"))
        );
        // Invalid UTF-8 in a topic.
        assert!(Record::decode(&mut Reader(&[kind::RETAINED_DELETE, 0, 1, 0xFF]), d).is_err());
        // A varint that never ends.
        assert!(Reader(&[0xFF; 11]).varint().is_err());
    }
}
