//! One client's session: its subscriptions, the messages waiting for it, what is in flight both ways, and the
//! flow control that keeps a slow subscriber from losing what its publishers were told was accepted.
//!
//! Each session lives in a [`SessionCell`]: its own `std::sync::Mutex`, so routing to one session never waits
//! for another, plus what others read without that lock (whether it is online, the `Notify` publishers wait on
//! for room). Sessions outlive their connections (persistent sessions), and the router queues to them without
//! awaiting anyone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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

/// How the router reaches a connection task without awaiting it: a wake-up when messages are queued, and news
/// for the connection (another connection took the session over; the session was found stuck). One small
/// allocation per connection, shared by the task and the session (idle connections must stay cheap).
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// `notify_one` stores a permit when the task is busy, so no wake-up is lost, and never blocks the router.
    notify: Notify,
    /// [`Mailbox::TAKEN_OVER`] and [`Mailbox::STUCK`], set once each; [`Mailbox::RECHECK`], set and taken.
    flags: AtomicU8,
}

impl Mailbox {
    /// Another connection took the session ([MQTT-3.1.4-3]).
    const TAKEN_OVER: u8 = 1;
    /// The session's queue stayed full without progress for `slow_subscriber_timeout`.
    const STUCK: u8 = 2;
    /// The users or ACL were reloaded: the task should check that its login is still accepted.
    const RECHECK: u8 = 4;
    /// An administrator disconnected the client (admin API).
    const KICKED: u8 = 8;

    /// Messages were queued: the task should look at the session's queue.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    fn raise(&self, flag: u8) {
        // Release pairs with the Acquire in `has`, read after the wake-up this sends.
        self.flags.fetch_or(flag, Ordering::Release);
        self.notify.notify_one();
    }

    fn has(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Acquire) & flag != 0
    }

    /// Another connection took the session: the task should say DISCONNECT 0x8E and close.
    pub(crate) fn take_over(&self) {
        self.raise(Self::TAKEN_OVER);
    }

    /// Whether `take_over` was called.
    pub(crate) fn is_taken_over(&self) -> bool {
        self.has(Self::TAKEN_OVER)
    }

    /// The session was found stuck: an MQTT 5 connection says DISCONNECT 0x97 and closes.
    pub(crate) fn stuck(&self) {
        self.raise(Self::STUCK);
    }

    /// Whether `stuck` was called.
    pub(crate) fn is_stuck(&self) -> bool {
        self.has(Self::STUCK)
    }

    /// The rules changed: the task should check its login against them (`Auth::still_allowed`).
    pub(crate) fn recheck(&self) {
        self.raise(Self::RECHECK);
    }

    /// An administrator asked for the client to be disconnected: the task says DISCONNECT 0x98 and closes.
    pub(crate) fn kick(&self) {
        self.raise(Self::KICKED);
    }

    /// Whether `kick` was called.
    pub(crate) fn is_kicked(&self) -> bool {
        self.has(Self::KICKED)
    }

    /// Whether `recheck` was called since the last call of this; clears it.
    pub(crate) fn take_recheck(&self) -> bool {
        // AcqRel: clears the flag this wake-up carried, and a later `recheck` raises it again.
        self.flags.fetch_and(!Self::RECHECK, Ordering::AcqRel) & Self::RECHECK != 0
    }

    /// Waits for the next `wake`, `take_over` or `stuck` (or returns at once for one sent while nobody waited).
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
    pub(crate) mailbox: std::sync::Arc<Mailbox>,
    /// The user name the connection authenticated as (`None`: anonymous), for the ACL's read checks.
    pub(crate) user: Option<std::sync::Arc<str>>,
    /// What the admin API shows of the connection; boxed, as it is read rarely and every connection has one.
    pub(crate) info: Option<Box<ConnectionInfo>>,
}

/// A connection as the admin API lists it.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionInfo {
    /// The client's address.
    pub(crate) peer: std::net::SocketAddr,
    /// The keep alive in force (seconds; 0: none).
    pub(crate) keep_alive: u16,
    /// When the CONNECT was accepted, wall-clock Unix milliseconds.
    pub(crate) since_ms: u64,
}

/// A message sent to the client and not yet fully acknowledged, in the order it was first sent.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// Its packet id.
    pub(crate) packet_id: PacketId,
    /// Where in the QoS 1/2 exchange it stands.
    pub(crate) state: InFlightState,
    /// Whether the store has it (`InflightOutSet`), so its end must be stored too.
    pub(crate) stored: bool,
}

/// The states of an outbound QoS 1 or 2 delivery.
#[derive(Debug)]
pub(crate) enum InFlightState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2); resent with DUP on resume.
    Published(Outgoing),
    /// PUBREL sent, waiting for PUBCOMP; resent as PUBREL on resume.
    Released,
}

/// Why a message matched a subscription and was still not delivered to it. Each is counted in `$SYS` under
/// `$SYS/broker/messages/dropped/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drop {
    /// The session's queue was full: it was offline, or online but stuck (it made no progress for
    /// `slow_subscriber_timeout`), or it outgrew its hard bound. The oldest QoS 0 message goes first; a queue full
    /// of QoS 1/2 messages refuses the new one.
    QueueFull,
    /// A QoS 0 message for an offline session, which keeps only QoS 1/2 unless `queue_qos0_offline`.
    Qos0Offline,
    /// Its Message Expiry Interval ran out while it waited in the queue ([MQTT-3.3.2-5]).
    Expired,
    /// Larger than the client's Maximum Packet Size ([MQTT-3.1.2-25]).
    TooLarge,
    /// The store reached `[storage] max_bytes`: a session that outlives its connection only queues what it can
    /// keep across a restart.
    StoreFull,
    /// A retained message sent on SUBSCRIBE that did not fit the session's backlog of retained messages.
    RetainedBacklog,
}

impl Drop {
    /// Every reason, in the order `$SYS` lists them.
    pub(crate) const ALL: [Drop; 6] = [
        Drop::QueueFull,
        Drop::Qos0Offline,
        Drop::Expired,
        Drop::TooLarge,
        Drop::RetainedBacklog,
        Drop::StoreFull,
    ];

    /// The last level of its `$SYS` topic.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Drop::QueueFull => "queue-full",
            Drop::Qos0Offline => "qos0-offline",
            Drop::Expired => "expired",
            Drop::TooLarge => "too-large",
            Drop::RetainedBacklog => "retained-backlog",
            Drop::StoreFull => "store-full",
        }
    }
}

/// The bounds of a session's queue; see [`Queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// High-water mark in messages (`Config::max_queued_messages`): an online session at or above it holds its
    /// publishers back; an offline or stuck one stops taking more.
    pub(crate) messages: usize,
    /// High-water mark in bytes (`Config::max_queued_bytes`), the same way.
    pub(crate) bytes: usize,
    /// The most retained messages sent on SUBSCRIBE that may wait at once (twice the retained store's bound, so a
    /// `#` subscription gets every retained message even from a full store, once more while the first batch is
    /// still going out).
    pub(crate) retained_backlog: usize,
    /// `Config::slow_subscriber_timeout`: how long a full queue may go without progress before it stops holding
    /// publishers back.
    pub(crate) slow_subscriber_timeout: Duration,
}

impl Limits {
    /// The bound an online session's queue can never pass, even while it holds publishers back: each publisher
    /// stops after the message that reached the high-water mark, so only as many messages as there are
    /// publishers racing can land above it. Four times the mark covers thousands of them.
    const HARD_FACTOR: usize = 4;
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

/// The messages waiting to be sent to one session.
///
/// Two lines: retained messages sent on SUBSCRIBE go first (they are older than anything published since, and a
/// subscriber must not see a stale retained value after a live one), then routed messages. Only routed messages
/// count towards the high-water mark; retained ones are bounded by their own backlog limit, and already held in
/// memory by the retained store.
///
/// Overflow policy, when a message would exceed a bound (`max_messages`, `max_bytes`): drop the oldest queued QoS 0
/// message (QoS 0 promised nothing) and retry; if no QoS 0 message is left, refuse the new message. Messages
/// already queued at QoS 1/2 are never dropped, so what was accepted is delivered in order. An online session
/// that is keeping up never reaches this: its publishers wait instead (see [`Session::deliver`]).
#[derive(Debug)]
pub(crate) struct Queue {
    /// Retained messages sent on SUBSCRIBE, waiting.
    retained: VecDeque<Outgoing>,
    /// Routed messages, waiting.
    messages: VecDeque<Outgoing>,
    /// The bytes of `messages`, as [`crate::message::Message::size`] counts them.
    bytes: usize,
}

impl Queue {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        Queue {
            retained: VecDeque::new(),
            messages: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Queues `outgoing` per the overflow policy above, with these bounds.
    pub(crate) fn push(&mut self, outgoing: Outgoing, max_messages: usize, max_bytes: usize) -> Pushed {
        let size = outgoing.message.size();
        let mut result = Pushed::Queued;
        while self.messages.len() >= max_messages || self.bytes + size > max_bytes {
            let Some(oldest_qos0) = self.messages.iter().position(|m| m.qos == QoS::AtMostOnce) else {
                return Pushed::Refused;
            };
            if let Some(removed) = self.messages.remove(oldest_qos0) {
                self.bytes -= removed.message.size();
            }
            result = Pushed::DroppedOldestQoS0;
        }
        self.bytes += size;
        self.messages.push_back(outgoing);
        result
    }

    /// Takes the oldest message, retained ones first.
    pub(crate) fn pop(&mut self) -> Option<Outgoing> {
        if let Some(retained) = self.retained.pop_front() {
            return Some(retained);
        }
        let outgoing = self.messages.pop_front()?;
        self.bytes -= outgoing.message.size();
        Some(outgoing)
    }

    /// Puts a message back at the front (it could not be sent yet).
    pub(crate) fn push_front(&mut self, outgoing: Outgoing) {
        if outgoing.retain_on_subscribe {
            self.retained.push_front(outgoing);
        } else {
            self.bytes += outgoing.message.size();
            self.messages.push_front(outgoing);
        }
    }

    /// Forgets every queued QoS 0 message (a session going offline keeps only what was promised, unless configured
    /// otherwise); how many.
    pub(crate) fn drop_qos0(&mut self) -> usize {
        let before = self.len();
        self.retained.retain(|m| m.qos != QoS::AtMostOnce);
        self.messages.retain(|m| m.qos != QoS::AtMostOnce);
        self.bytes = self.messages.iter().map(|m| m.message.size()).sum();
        before - self.len()
    }

    /// How many messages wait, retained ones included.
    pub(crate) fn len(&self) -> usize {
        self.retained.len() + self.messages.len()
    }

    /// Whether routed messages are at or above either high-water mark.
    fn is_high(&self, limits: &Limits) -> bool {
        self.messages.len() >= limits.messages || self.bytes >= limits.bytes
    }

    /// Whether routed messages are at or below half of both marks: publishers waiting for room may go on. The gap
    /// between the marks makes a publisher wait once per half queue, not once per message.
    fn is_low(&self, limits: &Limits) -> bool {
        self.messages.len() <= limits.messages / 2 && self.bytes <= limits.bytes / 2
    }
}

/// What [`Session::deliver`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Queued. `high` says the session's queue is at its high-water mark, so the publisher should wait for room
    /// before it routes more ([`SessionCell::hold`]).
    Queued {
        /// Whether the publisher should wait.
        high: bool,
    },
    /// Queued after dropping the session's oldest queued QoS 0 message (counted as [`Drop::QueueFull`]).
    QueuedDroppingOldest,
    /// Not queued, for this reason.
    Dropped(Drop),
}

/// Whether a publisher must wait for a session, as [`SessionCell::hold`] answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Go on: the session has room, or it is offline or stuck and holds nobody back.
    Go,
    /// Wait until the session makes room, at most until this instant; then ask again.
    Until(Instant),
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
    /// The id of the connection that last attached. Connection ids are unique for the life of the process, so
    /// timers (session expiry, delayed wills) armed for an earlier connection can tell that the session was
    /// resumed since, even when it was ended and created anew in between.
    pub(crate) generation: u64,
    /// When the connection last took a message off the queue, or the session went online: a queue that is full
    /// and has not moved for `slow_subscriber_timeout` is stuck.
    last_progress: Instant,
    /// Since when the queue has been at its high-water mark, while it is.
    high_since: Option<Instant>,
    /// Whether the session was found stuck: it no longer holds publishers back and drops what does not fit,
    /// until its queue drains to the low-water mark.
    stuck: bool,
    /// The user name of the connection that last attached (`None`: anonymous): deliveries, offline ones
    /// included, are checked against the ACL as this user.
    pub(crate) user: Option<std::sync::Arc<str>>,
    /// Whether the store holds this session (it outlives its connection): its changes are stored as they happen.
    pub(crate) stored: bool,
    /// The sequence number of the next stored queue entry.
    pub(crate) next_seq: u64,
    /// When the session went offline (wall-clock Unix ms), stored so that its expiry and a delayed will keep
    /// running across a restart.
    pub(crate) offline_since_ms: Option<u64>,
}

impl Session {
    /// A new, empty session.
    pub(crate) fn new(version: ProtocolVersion, now: Instant) -> Self {
        Session {
            version,
            subscriptions: HashMap::new(),
            queue: Queue::new(),
            inflight: VecDeque::new(),
            next_packet_id: PacketId::new(1).expect("1 is not 0"),
            inbound_qos2: HashSet::new(),
            attached: None,
            expiry_interval: 0,
            generation: 0,
            last_progress: now,
            high_since: None,
            stuck: false,
            user: None,
            stored: false,
            next_seq: 1,
            offline_since_ms: None,
        }
    }

    /// Whether this session holds publishers back when its queue is high: it is online and not stuck.
    fn holds_back(&self) -> bool {
        self.attached.is_some() && !self.stuck
    }

    /// Queues a routed message and wakes the connection, if any. Never blocks: this runs on the publish path.
    ///
    /// Flow control: an online session that keeps up never loses a message. It takes every message, and once its
    /// queue reaches the high-water mark it answers `high`, so the publisher stops reading (and acknowledging)
    /// until there is room again ([`SessionCell::hold`]). An offline session, or one found stuck, holds nobody
    /// back: it queues up to the marks and then drops per the [`Queue`] policy, counted. Offline sessions keep only
    /// QoS 1/2 unless `queue_qos0_offline`.
    pub(crate) fn deliver(
        &mut self,
        outgoing: Outgoing,
        limits: &Limits,
        queue_qos0_offline: bool,
        now: Instant,
    ) -> Delivered {
        if self.attached.is_none() && outgoing.qos == QoS::AtMostOnce && !queue_qos0_offline {
            return Delivered::Dropped(Drop::Qos0Offline);
        }
        let (max_messages, max_bytes) = if self.holds_back() {
            (
                limits.messages.saturating_mul(Limits::HARD_FACTOR),
                limits.bytes.saturating_mul(Limits::HARD_FACTOR),
            )
        } else {
            (limits.messages, limits.bytes)
        };
        let pushed = self.queue.push(outgoing, max_messages, max_bytes);
        if pushed != Pushed::Refused
            && let Some(attached) = &self.attached
        {
            attached.mailbox.wake();
        }
        let high = self.queue.is_high(limits);
        if high && self.high_since.is_none() {
            self.high_since = Some(now);
        }
        match pushed {
            Pushed::Queued => Delivered::Queued {
                high: high && self.holds_back(),
            },
            Pushed::DroppedOldestQoS0 => Delivered::QueuedDroppingOldest,
            Pushed::Refused => Delivered::Dropped(Drop::QueueFull),
        }
    }

    /// Queues retained messages sent on SUBSCRIBE. They do not count towards the high-water mark (so a `#`
    /// subscription on a broker holding 50,000 of them gets all 50,000, at the pace the client reads), only
    /// towards the retained backlog's bound. Returns how many did not fit.
    pub(crate) fn deliver_retained(&mut self, messages: impl IntoIterator<Item = Outgoing>, limits: &Limits) -> usize {
        let mut dropped = 0;
        for outgoing in messages {
            if self.queue.retained.len() >= limits.retained_backlog {
                dropped += 1;
            } else {
                self.queue.retained.push_back(outgoing);
            }
        }
        if let Some(attached) = &self.attached {
            attached.mailbox.wake();
        }
        dropped
    }

    /// The connection took messages off the queue at `now`: progress. Returns whether publishers waiting for room
    /// may go on (the queue drained to its low-water mark).
    pub(crate) fn progressed(&mut self, now: Instant, limits: &Limits) -> bool {
        self.last_progress = now;
        if self.high_since.is_some() && self.queue.is_low(limits) {
            self.high_since = None;
            self.stuck = false;
            return true;
        }
        false
    }

    /// Whether a publisher must wait for this session now, marking it stuck (and telling its connection) when its
    /// queue has been high without progress for `slow_subscriber_timeout`. Returns whether it was just found
    /// stuck, for the log and the waiting publishers.
    fn hold(&mut self, limits: &Limits, now: Instant) -> (Hold, bool) {
        if !self.holds_back() || !self.queue.is_high(limits) {
            return (Hold::Go, false);
        }
        let since = self.high_since.unwrap_or(now).max(self.last_progress);
        let deadline = since + limits.slow_subscriber_timeout;
        if now < deadline {
            return (Hold::Until(deadline), false);
        }
        self.stuck = true;
        if let Some(attached) = &self.attached {
            attached.mailbox.stuck();
        }
        (Hold::Go, true)
    }

    /// Attaches a connection at `now`: it is a fresh start for the flow-control clock.
    pub(crate) fn attach(&mut self, attached: Attached, now: Instant) {
        self.user.clone_from(&attached.user);
        self.attached = Some(attached);
        self.generation = self.attached.as_ref().map_or(0, |a| a.connection_id);
        self.last_progress = now;
        self.stuck = false;
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

/// A session with its own lock, shared by the router's table, the subscription index (which hands it back for
/// each match, so routing needs no table lookup) and the connection attached to it.
#[derive(Debug)]
pub(crate) struct SessionCell {
    /// The client identifier, the session's key.
    pub(crate) client_id: ByteString,
    /// Whether a connection is attached, readable without the lock (a shared group picks among online members).
    online: AtomicBool,
    /// Publishers waiting for this session's queue to drain wait here; woken when it reaches its low-water mark,
    /// goes offline or is found stuck.
    room: Notify,
    /// The state. A `std::sync::Mutex`: every critical section is short, synchronous and never awaits.
    state: Mutex<Session>,
}

impl SessionCell {
    /// A new session for `client_id`.
    pub(crate) fn new(client_id: ByteString, version: ProtocolVersion, now: Instant) -> Self {
        SessionCell {
            client_id,
            online: AtomicBool::new(false),
            room: Notify::new(),
            state: Mutex::new(Session::new(version, now)),
        }
    }

    /// The state, locked. Never hold the guard across an `.await`.
    ///
    /// A poisoned lock (a panic while routing, which would be a bug) is recovered: each method leaves the state
    /// consistent between its own steps.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a connection is attached.
    pub(crate) fn is_online(&self) -> bool {
        // Relaxed: a hint for picking a shared group member; the session's lock decides everything else.
        self.online.load(Ordering::Relaxed)
    }

    /// Records whether a connection is attached; going offline releases every publisher waiting for room.
    pub(crate) fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
        if !online {
            self.room.notify_waiters();
        }
    }

    /// Wakes every publisher waiting for room.
    pub(crate) fn make_room(&self) {
        self.room.notify_waiters();
    }

    /// Whether a publisher must wait for this session now; see [`Session::hold`]. A session just found stuck
    /// releases every publisher waiting for it.
    pub(crate) fn hold(&self, limits: &Limits, now: Instant) -> Hold {
        let (hold, became_stuck) = self.lock().hold(limits, now);
        if became_stuck {
            let stuck_for = limits.slow_subscriber_timeout;
            tracing::warn!(
                client_id = &*self.client_id,
                ?stuck_for,
                "slow subscriber: its queue stayed full without progress; it no longer holds publishers back, and what does not fit its queue is dropped"
            );
            self.room.notify_waiters();
        }
        hold
    }

    /// Waits until [`SessionCell::make_room`] or going offline; register before checking (see `hold`).
    pub(crate) fn room(&self) -> tokio::sync::futures::Notified<'_> {
        self.room.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use roost_codec::{Bytes, Properties, TopicName};
    use std::sync::Arc;

    fn outgoing(qos: QoS, payload: &'static [u8]) -> Outgoing {
        Outgoing::new(
            Arc::new(Message {
                topic: TopicName::new("t").unwrap(),
                payload: Bytes::from_static(payload),
                qos,
                retain: false,
                properties: Properties::default(),
                expires_at: None,
                publisher: None,
                charge: Default::default(),
            }),
            qos,
        )
    }

    fn payloads(queue: &mut Queue) -> Vec<Bytes> {
        std::iter::from_fn(|| queue.pop())
            .map(|o| o.message.payload.clone())
            .collect()
    }

    fn limits(messages: usize) -> Limits {
        Limits {
            messages,
            bytes: 1 << 20,
            retained_backlog: 4,
            slow_subscriber_timeout: Duration::from_secs(2),
        }
    }

    fn attached() -> (Attached, Arc<Mailbox>) {
        let mailbox = Arc::new(Mailbox::default());
        let attached = Attached {
            connection_id: 7,
            mailbox: Arc::clone(&mailbox),
            user: None,
            info: None,
        };
        (attached, mailbox)
    }

    #[test]
    fn full_queue_drops_oldest_qos0_first_then_refuses() {
        let mut queue = Queue::new();
        let push = |q: &mut Queue, qos, p| q.push(outgoing(qos, p), 3, 1000);
        assert_eq!(push(&mut queue, QoS::AtMostOnce, b"a"), Pushed::Queued);
        assert_eq!(push(&mut queue, QoS::AtLeastOnce, b"b"), Pushed::Queued);
        assert_eq!(push(&mut queue, QoS::AtMostOnce, b"c"), Pushed::Queued);
        assert_eq!(push(&mut queue, QoS::AtLeastOnce, b"d"), Pushed::DroppedOldestQoS0);
        assert_eq!(push(&mut queue, QoS::ExactlyOnce, b"e"), Pushed::DroppedOldestQoS0);
        assert_eq!(push(&mut queue, QoS::AtMostOnce, b"f"), Pushed::Refused);
        assert_eq!(payloads(&mut queue), [&b"b"[..], b"d", b"e"]);
    }

    #[test]
    fn byte_bound_counts_topic_and_payload() {
        // Each message costs 1 (topic) + 4 (payload) bytes.
        let mut queue = Queue::new();
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"1234"), 100, 10), Pushed::Queued);
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"5678"), 100, 10), Pushed::Queued);
        assert_eq!(
            queue.push(outgoing(QoS::AtLeastOnce, b"9abc"), 100, 10),
            Pushed::Refused
        );
        queue.pop();
        assert_eq!(queue.push(outgoing(QoS::AtLeastOnce, b"9abc"), 100, 10), Pushed::Queued);
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn an_online_session_takes_everything_and_asks_publishers_to_wait() {
        let now = Instant::now();
        let limits = limits(2);
        let mut session = Session::new(ProtocolVersion::V5, now);
        let (attached, mailbox) = attached();
        session.attach(attached, now);
        let deliver = |s: &mut Session| s.deliver(outgoing(QoS::AtMostOnce, b"x"), &limits, false, now);
        assert_eq!(deliver(&mut session), Delivered::Queued { high: false });
        assert_eq!(deliver(&mut session), Delivered::Queued { high: true });
        // Past the mark nothing is dropped, not even QoS 0: the publisher is told to wait each time.
        assert_eq!(deliver(&mut session), Delivered::Queued { high: true });
        assert_eq!(session.queue.len(), 3);
        assert!(!mailbox.is_stuck());
        // Up to the hard bound (4 times the mark); beyond it the queue policy applies.
        for _ in 3..8 {
            deliver(&mut session);
        }
        assert_eq!(session.queue.len(), 8);
        assert_eq!(deliver(&mut session), Delivered::QueuedDroppingOldest);
    }

    #[test]
    fn a_queue_without_progress_is_found_stuck_and_stops_holding_back() {
        let t0 = Instant::now();
        let limits = limits(2);
        let mut session = Session::new(ProtocolVersion::V5, t0);
        let (attached, mailbox) = attached();
        session.attach(attached, t0);
        for _ in 0..2 {
            session.deliver(outgoing(QoS::AtLeastOnce, b"x"), &limits, false, t0);
        }
        let timeout = limits.slow_subscriber_timeout;
        assert_eq!(session.hold(&limits, t0), (Hold::Until(t0 + timeout), false));
        // Progress moves the deadline.
        let t1 = t0 + Duration::from_secs(1);
        session.queue.pop();
        session.queue.push(outgoing(QoS::AtLeastOnce, b"x"), 10, 1000);
        assert!(!session.progressed(t1, &limits), "still above the low-water mark");
        assert_eq!(session.hold(&limits, t1), (Hold::Until(t1 + timeout), false));
        // No progress for the whole timeout: stuck, the connection is told, publishers go on.
        assert_eq!(session.hold(&limits, t1 + timeout), (Hold::Go, true));
        assert!(mailbox.is_stuck());
        // A stuck session drops what does not fit, counted.
        assert_eq!(
            session.deliver(outgoing(QoS::AtLeastOnce, b"y"), &limits, false, t1 + timeout),
            Delivered::Dropped(Drop::QueueFull)
        );
        // Draining to the low-water mark ends it.
        session.queue.pop();
        assert!(session.progressed(t1 + timeout, &limits));
        assert!(!session.stuck);
    }

    #[test]
    fn an_offline_session_holds_nobody_back_and_keeps_no_qos0() {
        let now = Instant::now();
        let limits = limits(2);
        let mut session = Session::new(ProtocolVersion::V5, now);
        let deliver = |s: &mut Session, qos| s.deliver(outgoing(qos, b"x"), &limits, false, now);
        assert_eq!(
            deliver(&mut session, QoS::AtMostOnce),
            Delivered::Dropped(Drop::Qos0Offline)
        );
        assert_eq!(
            deliver(&mut session, QoS::AtLeastOnce),
            Delivered::Queued { high: false }
        );
        assert_eq!(
            deliver(&mut session, QoS::AtLeastOnce),
            Delivered::Queued { high: false }
        );
        assert_eq!(
            deliver(&mut session, QoS::AtLeastOnce),
            Delivered::Dropped(Drop::QueueFull)
        );
        assert_eq!(session.hold(&limits, now), (Hold::Go, false));
    }

    #[test]
    fn retained_messages_go_first_and_are_bounded_apart() {
        let now = Instant::now();
        let limits = limits(2);
        let mut session = Session::new(ProtocolVersion::V5, now);
        session.attach(attached().0, now);
        session.deliver(outgoing(QoS::AtLeastOnce, b"live"), &limits, false, now);
        let retained = (0..6).map(|_| {
            let mut o = outgoing(QoS::AtLeastOnce, b"old");
            o.retain_on_subscribe = true;
            o
        });
        assert_eq!(session.deliver_retained(retained, &limits), 2, "the backlog holds 4");
        assert!(
            !session.queue.is_high(&limits),
            "retained messages do not count towards the mark"
        );
        let order = payloads(&mut session.queue);
        assert_eq!(order, [&b"old"[..], b"old", b"old", b"old", b"live"]);
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_never_zero() {
        let mut session = Session::new(ProtocolVersion::V5, Instant::now());
        let first = session.allocate_packet_id().unwrap();
        assert_eq!(first.get(), 1);
        session.inflight.push_back(InFlight {
            packet_id: first,
            state: InFlightState::Released,
            stored: false,
        });
        session.next_packet_id = PacketId::new(u16::MAX).unwrap();
        assert_eq!(session.allocate_packet_id().unwrap().get(), u16::MAX);
        // Wraps past 0 and skips 1, which is in flight.
        assert_eq!(session.allocate_packet_id().unwrap().get(), 2);
    }
}
