//! The client side of an MQTT 3.1, 3.1.1 or 5.0 connection, as a sans-IO state machine shared by the browser
//! dashboard (wasm32, WebSocket) and the command-line tools (tokio, TCP or WebSocket).
//!
//! [`Client`] does no I/O, reads no clock and draws no random numbers. The driver hands it what happened and asks
//! it what to do, in the style of quinn-proto:
//!
//! - inputs: [`Client::connect`], [`Client::publish`], [`Client::subscribe`], [`Client::unsubscribe`],
//!   [`Client::disconnect`], [`Client::handle_bytes`] (bytes from the transport), [`Client::handle_timeout`],
//!   [`Client::connection_lost`] (the transport closed); for a bridge, [`Client::publish_preferring_id`] and, with
//!   [`ClientOptions::manual_acks`], [`Client::acknowledge`]. Inputs that may send take `now`.
//! - outputs: [`Client::poll_transmit`] (bytes for the transport), [`Client::poll_event`] (what the application
//!   should know), [`Client::poll_timeout`] (when to call `handle_timeout`), and [`Client::state`] (close the
//!   transport once it is [`State::Disconnected`] and `poll_transmit` has nothing left).
//!
//! After every input the driver drains `poll_transmit` and `poll_event` and re-arms its timer from
//! `poll_timeout`. Those queues grow only by what one input produces, so draining them after each input keeps them
//! small; the one queue that can grow across inputs, publications waiting for the server's Receive Maximum, is
//! bounded by [`ClientOptions::max_queued_publications`].
//!
//! The session (our unacknowledged publications, the server's QoS 2 messages awaiting PUBREL, the active
//! subscriptions) outlives connections: after `connection_lost`, `connect` with `clean_start = false` resumes it.
//!
//! Spec rule identifiers (`[MQTT-x.y.z-n]`) are those of MQTT 5.0 unless a comment says otherwise; MQTT 3.1.1
//! numbers many of the same rules differently.
//!
//! ```
//! use roost_codec::client::{Client, ClientOptions, Event, State};
//! use roost_codec::{BytesMut, ProtocolVersion};
//! use web_time::Instant;
//!
//! let mut client = Client::new(ClientOptions::new(ProtocolVersion::V5, "dashboard"));
//! client.connect(Instant::now()).unwrap();
//! let mut out = BytesMut::new();
//! while client.poll_transmit(&mut out) {}
//! // `out` now holds the CONNECT packet: write it to the transport. Then, on every input:
//! //     client.handle_bytes(&received, now)?;  (or handle_timeout(now), publish(..., now), ...)
//! //     while client.poll_transmit(&mut out) {}  and write `out`
//! //     while let Some(event) = client.poll_event() { ... }
//! //     re-arm the timer with client.poll_timeout()
//! assert_eq!(out[0] >> 4, 1); // CONNECT
//! assert_eq!(client.state(), State::Connecting);
//! assert!(client.poll_event().is_none());
//! ```

mod connack;
mod error;
mod event;
mod inbound;
mod incoming;
mod keep_alive;
mod limits;
mod message;
mod options;
mod outbound;
mod packet_ids;
mod requests;
mod subscriptions;
mod topic_alias;

#[cfg(test)]
mod tests;

pub use error::{ClientError, ProtocolError};
pub use event::{Connected, Disconnected, Event, PublishFailure, Refused};
pub use limits::ServerLimits;
pub use message::Message;
pub use options::ClientOptions;
pub use subscriptions::Subscription;

use std::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use bytestring::ByteString;
use web_time::Instant;

use self::inbound::Inbound;
use self::keep_alive::{Expired, KeepAlive};
use self::outbound::Outbound;
use self::packet_ids::PacketIds;
use self::subscriptions::Subscriptions;
use self::topic_alias::InboundAliases;
use crate::packet::{Disconnect, MAX_PACKET_SIZE, Packet, PacketType};
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection: before `connect`, or after it ended (DISCONNECT, refusal, timeout, protocol error, lost
    /// transport). Queued bytes (a final DISCONNECT) may still wait in `poll_transmit`.
    Disconnected,
    /// CONNECT queued, CONNACK not received yet.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
}

/// The state of one MQTT client: its session and its current connection. See the [module docs](self).
#[derive(Debug)]
pub struct Client {
    /// What to connect with; `options_mut` changes apply from the next `connect`.
    options: ClientOptions,
    /// Where the connection stands.
    state: State,
    /// The identifier CONNECT carries: `options.client_id`, or the one an MQTT 5 server assigned, so a later
    /// `clean_start = false` finds the same session ([MQTT-3.2.2-16]).
    client_id: ByteString,
    /// Clean Start of the current connection's CONNECT, for checking the CONNACK against it.
    clean_start: bool,
    /// The server's limits, from the last CONNACK.
    limits: ServerLimits,
    /// Received bytes not yet forming a whole packet.
    read_buf: BytesMut,
    /// Packets to send, encoded one by one by `poll_transmit`.
    transmit: VecDeque<Packet>,
    /// Events for the application.
    events: VecDeque<Event>,
    /// Our packet identifiers.
    packet_ids: PacketIds,
    /// Our QoS 1 and 2 publications (session state).
    outbound: Outbound,
    /// The server's QoS 2 publications awaiting PUBREL (session state).
    inbound: Inbound,
    /// With `manual_acks`: the server's QoS 2 messages delivered whose PUBREC waits for `acknowledge` (session
    /// state, a subset of `inbound`), so a repeated PUBLISH is neither delivered again nor answered early.
    unacknowledged: std::collections::BTreeSet<crate::types::PacketId>,
    /// Pending SUBSCRIBE/UNSUBSCRIBE and the granted subscriptions.
    subscriptions: Subscriptions,
    /// The server's topic aliases on this connection.
    aliases: InboundAliases,
    /// PINGREQ and its response deadline.
    keep_alive: KeepAlive,
    /// While connecting: when to give up waiting for CONNACK.
    connect_deadline: Option<Instant>,
}

impl Client {
    /// A disconnected client with an empty session.
    pub fn new(options: ClientOptions) -> Self {
        Self {
            client_id: options.client_id.clone(),
            clean_start: options.clean_start,
            options,
            state: State::Disconnected,
            limits: ServerLimits::default(),
            read_buf: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            packet_ids: PacketIds::new(),
            outbound: Outbound::default(),
            inbound: Inbound::default(),
            unacknowledged: std::collections::BTreeSet::new(),
            subscriptions: Subscriptions::default(),
            aliases: InboundAliases::default(),
            keep_alive: KeepAlive::new(),
            connect_deadline: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The options, to change for the next `connect` (e.g. `clean_start = false` after a first clean session).
    /// Changing `version` while a session is kept is not supported: use a new client.
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        &mut self.options
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The client identifier in use: the configured one, or the one the server assigned.
    pub fn client_id(&self) -> &ByteString {
        &self.client_id
    }

    /// The server's limits from the last CONNACK (defaults before the first one, and for MQTT 3.x).
    pub fn server_limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// The subscriptions the server granted, by filter.
    pub fn subscriptions(&self) -> &BTreeMap<TopicFilter, Subscription> {
        self.subscriptions.active()
    }

    /// Our QoS 1 and 2 publications sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.outbound.in_flight_len()
    }

    /// The server's QoS 2 messages we delivered and answered with PUBREC whose PUBREL has not come yet. A client
    /// about to disconnect waits for this to reach 0 so the server can finish those exchanges ([MQTT-4.3.3-12]);
    /// otherwise a persistent session resumes them, and a clean one loses nothing we have not delivered already.
    pub fn awaiting_release(&self) -> usize {
        self.inbound.len()
    }

    /// Our QoS 1 and 2 publications accepted but waiting for quota or for a connection.
    pub fn queued(&self) -> usize {
        self.outbound.waiting_len()
    }

    /// Starts a connection on a new transport: queues CONNECT. With `clean_start`, the session is discarded now
    /// ([MQTT-3.1.2-4]): sent publications are reported failed, publications never sent stay queued.
    pub fn connect(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state != State::Disconnected {
            return Err(ClientError::AlreadyConnected);
        }
        let o = &self.options;
        // An identifier the server assigned names only the session it created. Starting clean with no identifier
        // of our own, ask for a new one: after a broker restart the old one may belong to another client now.
        if o.clean_start && o.client_id.is_empty() {
            self.client_id = ByteString::new();
        }
        // MQTT 3.1.1 [MQTT-3.1.3-7]: a zero-byte client identifier requires a clean session.
        if !o.version.is_v5() && self.client_id.is_empty() && !o.clean_start {
            return Err(ClientError::EmptyClientIdWithoutCleanStart);
        }
        let connect = Packet::Connect(Box::new(o.connect_packet(&self.client_id)));
        connect.encoded_len(o.version)?;
        // Everything that belongs to one network connection starts afresh.
        self.read_buf.clear();
        self.transmit.clear();
        self.limits = ServerLimits::default();
        self.aliases = InboundAliases::new(if o.version.is_v5() { o.topic_alias_maximum } else { 0 });
        self.keep_alive = KeepAlive::new();
        self.clean_start = o.clean_start;
        self.connect_deadline = Some(now + o.connect_timeout);
        if self.clean_start {
            self.discard_session();
        }
        self.state = State::Connecting;
        self.send(connect, now);
        Ok(())
    }

    /// Ends the connection: queues DISCONNECT with `reason` (MQTT 5; MQTT 3.x has only the normal disconnection,
    /// which discards the will, so close the transport without `disconnect` to have a 3.x will published) and
    /// becomes [`State::Disconnected`]. The session is kept for a later `connect`.
    pub fn disconnect(&mut self, reason: ReasonCode) -> Result<(), ClientError> {
        if self.state == State::Disconnected {
            return Err(ClientError::NotConnected);
        }
        if !reason.is_valid_for(PacketType::Disconnect) {
            return Err(ClientError::InvalidReasonCode(reason));
        }
        // Packets queued before stay ahead of the DISCONNECT; nothing may follow it ([MQTT-3.14.4-1]).
        self.transmit.push_back(Packet::Disconnect(Disconnect::new(reason)));
        self.end_connection();
        let reason_code = if self.options.version.is_v5() {
            reason
        } else {
            ReasonCode::NORMAL_DISCONNECTION
        };
        self.events.push_back(Event::Disconnected(Disconnected {
            reason_code,
            reason_string: None,
            server_reference: None,
            by_server: false,
        }));
        Ok(())
    }

    /// The transport closed. The connection's state is dropped (unsent packets included); the session is kept.
    /// No event: the driver knows.
    pub fn connection_lost(&mut self) {
        self.end_connection();
        self.transmit.clear();
    }

    /// When `handle_timeout` should next be called; `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Connecting => self.connect_deadline,
            State::Connected => self.keep_alive.poll_timeout(),
            State::Disconnected => None,
        }
    }

    /// Runs the timers due at `now`: the CONNACK deadline, PINGREQ ([MQTT-3.1.2-22]) and its response deadline
    /// (see the keep-alive rule in [`ClientOptions::keep_alive`]: half the keep alive).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Connecting => {
                if self.connect_deadline.is_some_and(|deadline| now >= deadline) {
                    self.end_connection();
                    self.transmit.clear();
                    self.events.push_back(Event::ConnectTimeout);
                }
            }
            State::Connected => match self.keep_alive.on_timeout(now) {
                Some(Expired::SendPing) => self.send(Packet::PingReq, now),
                Some(Expired::Lost) => {
                    self.end_connection();
                    self.transmit.clear();
                    self.events.push_back(Event::PingTimeout);
                }
                None => {}
            },
            State::Disconnected => {}
        }
    }

    /// Appends the next queued packet to `buf`, encoded; `false` when none is queued. Call until `false`.
    ///
    /// Every packet was checked against the server's Maximum Packet Size when it was queued
    /// ([MQTT-3.2.2-15]); one that still does not fit (an acknowledgement larger than an absurdly small
    /// maximum) is not sent.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) -> bool {
        while let Some(packet) = self.transmit.pop_front() {
            if packet
                .encode(self.options.version, buf, self.limits.maximum_packet_size)
                .is_ok()
            {
                return true;
            }
        }
        false
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues `packet`; it counts as sent at `now` for keep alive.
    fn send(&mut self, packet: Packet, now: Instant) {
        self.transmit.push_back(packet);
        self.keep_alive.on_sent(now);
    }

    /// Drops everything that belongs to the network connection; the session stays.
    fn end_connection(&mut self) {
        self.state = State::Disconnected;
        self.read_buf.clear();
        self.keep_alive.stop();
        self.connect_deadline = None;
    }

    /// Discards the session ([MQTT-3.1.2-4], [MQTT-3.2.2-5]): publications sent in it are reported failed, the
    /// server's QoS 2 messages awaiting PUBREL are forgotten. Granted subscriptions are remembered, to be restored.
    fn discard_session(&mut self) {
        for id in self.outbound.discard_sent() {
            self.packet_ids.release(id);
            self.events.push_back(Event::PublishFailed {
                packet_id: id,
                reason: PublishFailure::SessionLost,
            });
        }
        self.inbound.clear();
        self.unacknowledged.clear();
    }

    /// With [`ClientOptions::manual_acks`]: acknowledges the server's message `packet_id` of `qos`, delivered
    /// earlier as [`Event::Message`]: PUBACK for QoS 1, PUBREC for QoS 2 ([MQTT-4.3.2-4], [MQTT-4.3.3-8]); the
    /// PUBREL that follows is answered as usual. Acknowledge in the order the messages arrived ([MQTT-4.6.0-2],
    /// [MQTT-4.6.0-3]). Nothing is sent while disconnected: the server sends the message again on the next
    /// connection of the session, and it is delivered again (QoS 1) or acknowledged at once (QoS 2, after this
    /// call). QoS 0 needs no acknowledgement.
    pub fn acknowledge(&mut self, packet_id: crate::types::PacketId, qos: crate::types::QoS, now: Instant) {
        use crate::packet::Ack;
        use crate::types::QoS;
        let packet = match qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => Packet::PubAck(Ack::new(packet_id)),
            QoS::ExactlyOnce => {
                if !self.unacknowledged.remove(&packet_id) {
                    return;
                }
                Packet::PubRec(Ack::new(packet_id))
            }
        };
        if self.state == State::Connected {
            self.send(packet, now);
        }
    }
}

/// The largest packet we accept.
fn our_maximum_packet_size(options: &ClientOptions) -> u32 {
    options.maximum_packet_size.map_or(MAX_PACKET_SIZE, |m| m.get())
}
