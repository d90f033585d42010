//! [`Link`]: the dashboard's connection to the broker without I/O (a `roost_codec::client::Client` per attempt,
//! its events in words, reconnects with backoff).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::BytesMut;
use roost_codec::client::{Client, ClientOptions, Event, State};
use roost_codec::{Properties, ProtocolVersion, Publish, QoS, ReasonCode, SubscriptionOptions, TopicFilter};
use web_time::Instant;

use super::backoff::Backoff;
use super::outgoing::Outgoing;
use super::{ConnectionState, why};

/// The largest packet the dashboard accepts, announced to the broker in CONNECT ([MQTT-3.1.2-24]).
pub(super) const MAX_PACKET_SIZE: u32 = 1024 * 1024;

/// The topic aliases the dashboard lets the broker set up (MQTT 5 Topic Alias Maximum): on a busy `#` the same
/// long topics (Home Assistant's) arrive again and again, and an alias carries each in 2 bytes after the first
/// time. Roost uses at most 1024 per connection, so more would only be memory the broker never asks for.
pub(super) const TOPIC_ALIAS_MAXIMUM: u16 = 1024;

/// What the driver must do with the WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a new WebSocket (dropping any old one) and report it with `socket_opened`, `socket_closed` or
    /// `socket_unavailable`.
    OpenSocket,
    /// Close the WebSocket, after writing what `poll_transmit` returned; its close event is of no interest.
    CloseSocket,
}

/// Where the WebSocket of the current attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    /// None, or one whose close was asked for: its events are ignored.
    Closed,
    /// Asked for; not open yet.
    Opening,
    /// Open: CONNECT was sent on it.
    Open,
}

/// The dashboard's link to the broker without I/O. It drives one [`Client`] per connection attempt, turns the
/// client's events into the [`ConnectionState`] the components show, and decides when to open and close the
/// WebSocket, reconnecting after 1 s, doubling up to 30 s, back to 1 s after a CONNACK. Time is passed in, so
/// tests drive it with bytes and explicit instants alone.
///
/// The driver ([`super::MqttService`] in the browser) calls an input method (`socket_opened`, `received`,
/// `socket_closed`, `handle_timeout`, …), then drains [`Link::poll_transmit`] into the socket, carries out
/// [`Link::poll_action`], shows [`Link::state`] and sets its single timer to [`Link::poll_timeout`].
#[derive(Debug)]
pub struct Link {
    /// What each attempt's client connects with.
    options: ClientOptions,
    /// The current attempt's client. A fresh one per attempt: the dashboard keeps no session (clean start, no
    /// session expiry), and a fresh client asks the broker to assign an identifier again instead of reusing one
    /// that a since-restarted broker may have handed to another client (taking that client's place).
    client: Client,
    /// The current attempt's WebSocket.
    socket: Socket,
    /// The delays between automatic attempts.
    backoff: Backoff,
    /// When the next automatic attempt starts, while one is planned.
    reconnect_at: Option<Instant>,
    /// The keep alive of the last accepted connection, to say how long a PINGREQ went unanswered.
    keep_alive: u16,
    /// What the components show.
    state: ConnectionState,
    /// What the driver must do with the WebSocket, in order.
    actions: VecDeque<Action>,
    /// Messages received and not yet taken with `poll_message`. The driver drains it after every input, so it
    /// holds at most the messages of one WebSocket frame (itself bounded by the 1 MiB Maximum Packet Size).
    messages: VecDeque<Publish>,
    /// The previous client's last bytes (its DISCONNECT) after [`Link::reconfigure`] replaced it; written
    /// before anything of the new client, to the old socket, which the driver closes next.
    farewell: BytesMut,
    /// What the explorer subscribes to after each CONNACK (`#` unless the person chose another filter).
    filter: TopicFilter,
    /// The subscriptions the broker refused on the current connection, in words (SUBACK reason codes of 0x80
    /// and above, [MQTT-3.9.3-1]); a refused `#` must not look like an empty broker.
    subscription_problems: Vec<String>,
}

/// The dashboard's MQTT options: MQTT 5, an empty client identifier so the broker assigns one ([MQTT-3.2.2-16]),
/// clean start, keep alive 60 s, packets up to 1 MiB, up to 1024 topic aliases from the broker.
pub fn dashboard_options() -> ClientOptions {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "");
    options.maximum_packet_size = NonZeroU32::new(MAX_PACKET_SIZE);
    options.topic_alias_maximum = TOPIC_ALIAS_MAXIMUM;
    options
}

impl Link {
    /// A link whose first attempt starts now: [`Action::OpenSocket`] is waiting. The explorer subscribes to `#`.
    pub fn new(options: ClientOptions) -> Self {
        Self::with_filter(options, everything())
    }

    /// [`Link::new`] with the explorer subscribing to `filter`.
    pub fn with_filter(options: ClientOptions, filter: TopicFilter) -> Self {
        let mut link = Self {
            client: Client::new(options.clone()),
            options,
            socket: Socket::Closed,
            backoff: Backoff::new(),
            reconnect_at: None,
            keep_alive: 0,
            state: ConnectionState::Connecting,
            actions: VecDeque::new(),
            messages: VecDeque::new(),
            farewell: BytesMut::new(),
            filter,
            subscription_problems: Vec::new(),
        };
        link.start_attempt();
        link
    }

    /// The subscriptions the broker refused on the current connection, each a sentence.
    pub fn subscription_problems(&self) -> &[String] {
        &self.subscription_problems
    }

    /// New connection settings: ends the current connection (DISCONNECT if connected, so the broker drops the
    /// old will unpublished, [MQTT-3.14.4-3]) and starts an attempt with `options` and `filter` now, with the
    /// reconnect delays back at their start.
    pub fn reconfigure(&mut self, options: ClientOptions, filter: TopicFilter) {
        self.shutdown();
        while self.client.poll_transmit(&mut self.farewell) {}
        self.options = options;
        self.filter = filter;
        self.backoff.reset();
        self.start_attempt();
    }

    /// What the components show.
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// The current attempt's MQTT client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The next thing to do with the WebSocket; call until `None` after every input, after `poll_transmit`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next application message received (on the `#` subscription the link makes after each CONNACK); call
    /// until `None` after every input.
    pub fn poll_message(&mut self) -> Option<Publish> {
        self.messages.pop_front()
    }

    /// Appends the next packet to send to `buf`; `false` when none is left. Call until `false`.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) -> bool {
        if !self.farewell.is_empty() {
            buf.extend_from_slice(&self.farewell.split());
            return true;
        }
        self.client.poll_transmit(buf)
    }

    /// When `handle_timeout` is next due: the next second of the reconnect countdown, or the client's timer
    /// (CONNACK deadline, keep alive).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.reconnect_at, &self.state) {
            // The shown number drops when exactly `shown - 1` seconds are left.
            (
                Some(at),
                ConnectionState::Disconnected {
                    reconnect_in: Some(shown),
                    ..
                },
            ) => {
                let left = Duration::from_secs(shown.saturating_sub(1));
                Some(at.checked_sub(left).unwrap_or(at))
            }
            (Some(at), _) => Some(at),
            (None, _) => self.client.poll_timeout(),
        }
    }

    /// Publishes `outgoing` on the current connection, or says in words why it cannot be: not connected (the
    /// dashboard keeps no session, so nothing is queued across a reconnect), a bad topic, a QoS or size the broker
    /// refuses ([MQTT-3.2.2-11], [MQTT-3.2.2-15]), retain not available ([MQTT-3.2.2-14]).
    pub fn publish(&mut self, outgoing: &Outgoing, now: Instant) -> Result<(), String> {
        if self.client.state() != State::Connected {
            return Err("Not connected to the broker: nothing was published.".to_owned());
        }
        if !self.client.options().version.is_v5() && outgoing.has_v5_properties() {
            // MQTT 3.x PUBLISH has no properties: the encoder would leave them out, and the message would go
            // without what the person typed. Say so instead of sending it silently changed.
            return Err(
                "MQTT 3.1.1 cannot carry message properties (content type, response topic, correlation data, \
                 message expiry, user properties): clear them, or connect with MQTT 5."
                    .to_owned(),
            );
        }
        let message = outgoing.to_message()?;
        self.client
            .publish(message, now)
            .map(|_| ())
            .map_err(|error| format!("The message was not published: {error}."))
    }

    /// The WebSocket opened: sends CONNECT.
    pub fn socket_opened(&mut self, now: Instant) {
        if self.socket != Socket::Opening {
            return;
        }
        self.socket = Socket::Open;
        match self.client.connect(now) {
            Ok(()) => self.drain_events(now),
            // A fresh client always connects; should options one day be refused, say so.
            Err(error) => self.lost(format!("The dashboard cannot connect: {error}."), now),
        }
    }

    /// The browser refused to even create the WebSocket (a malformed URL, a blocked port). That will not change
    /// by itself: no automatic attempt follows.
    pub fn socket_unavailable(&mut self, why: String) {
        self.socket = Socket::Closed;
        self.client.connection_lost();
        self.reconnect_at = None;
        self.state = ConnectionState::Disconnected {
            why,
            reconnect_in: None,
        };
    }

    /// Bytes of a binary WebSocket frame, in any slicing ([MQTT-6.0.0-2]).
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        if self.socket != Socket::Open {
            return;
        }
        // A protocol error of the broker also comes as an `Event::Disconnected` (with our DISCONNECT queued),
        // whose words are what the person sees; the error value itself adds nothing.
        let _ = self.client.handle_bytes(bytes, now);
        self.drain_events(now);
    }

    /// A text frame: not MQTT, so the connection ends ([MQTT-6.0.0-1]).
    pub fn received_text(&mut self, now: Instant) {
        if self.socket != Socket::Open {
            return;
        }
        self.client.connection_lost();
        self.lost(why::TEXT_FRAME.to_owned(), now);
    }

    /// The WebSocket closed with `code` and `reason`. Ignored when the link had already closed it (the earlier,
    /// more specific reason stays).
    pub fn socket_closed(&mut self, code: u16, reason: &str, now: Instant) {
        let why = match (self.socket, self.client.state()) {
            (Socket::Closed, _) => return,
            (Socket::Opening, _) => why::unreachable(code),
            (Socket::Open, State::Connecting) => why::closed_before_connack(code),
            (Socket::Open, _) => why::connection_closed(code, reason),
        };
        self.socket = Socket::Closed;
        self.client.connection_lost();
        self.lost(why, now);
    }

    /// Runs what is due at `now`: a countdown step or the planned attempt, else the client's timers (PINGREQ,
    /// the PINGREQ's answer deadline, the CONNACK deadline).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.reconnect_at {
            Some(at) if now >= at => self.start_attempt(),
            Some(at) => {
                if let ConnectionState::Disconnected { reconnect_in, .. } = &mut self.state {
                    *reconnect_in = Some(secs_left(at, now));
                }
            }
            None => {
                self.client.handle_timeout(now);
                self.drain_events(now);
            }
        }
    }

    /// The person asked to reconnect: while disconnected, the next attempt starts now. The backoff stays as it
    /// is, so a failing manual attempt does not shorten the automatic delays.
    pub fn reconnect_now(&mut self) {
        if self.socket == Socket::Closed {
            self.start_attempt();
        }
    }

    /// The dashboard goes away: DISCONNECT if connected (the broker then drops no will, [MQTT-3.14.4-3]), close
    /// the WebSocket, plan nothing.
    pub fn shutdown(&mut self) {
        // Only fails when already disconnected, which is fine.
        let _ = self.client.disconnect(ReasonCode::NORMAL_DISCONNECTION);
        while self.client.poll_event().is_some() {}
        if self.socket != Socket::Closed {
            self.socket = Socket::Closed;
            self.actions.push_back(Action::CloseSocket);
        }
        self.reconnect_at = None;
        self.state = ConnectionState::Disconnected {
            why: "The dashboard closed the connection.".to_owned(),
            reconnect_in: None,
        };
    }

    /// A new attempt: a fresh client and a new WebSocket.
    fn start_attempt(&mut self) {
        self.reconnect_at = None;
        self.client = Client::new(self.options.clone());
        self.subscription_problems.clear();
        self.socket = Socket::Opening;
        self.actions.push_back(Action::OpenSocket);
        self.state = ConnectionState::Connecting;
    }

    /// Turns the client's events into the shown state.
    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.client.poll_event() {
            let why = match event {
                Event::Connected(connected) => {
                    self.backoff.reset();
                    self.keep_alive = connected.keep_alive;
                    self.state = ConnectionState::Connected {
                        client_id: self.client.client_id().to_string(),
                        keep_alive: connected.keep_alive,
                    };
                    self.subscribe_all(now);
                    continue;
                }
                Event::Message(publish) => {
                    self.messages.push_back(publish);
                    continue;
                }
                Event::ConnectionRefused(refused) => why::refused(&refused),
                Event::Disconnected(disconnected) => why::disconnected(&disconnected),
                Event::PingTimeout => why::ping_timeout(self.keep_alive),
                Event::ConnectTimeout => why::connect_timeout(self.options.connect_timeout),
                Event::Subscribed {
                    filters,
                    reason_codes,
                    reason_string,
                    ..
                } => {
                    self.subscription_problems.extend(why::refused_subscriptions(
                        &filters,
                        &reason_codes,
                        reason_string.as_deref(),
                    ));
                    continue;
                }
                _ => continue,
            };
            self.lost(why, now);
        }
    }

    /// Subscribes to the explorer's filter (`#`, every topic, unless chosen otherwise; QoS 0), and to
    /// `$SYS/broker/#` for the broker view: topics starting with `$` do not match `#` ([MQTT-4.7.2-1]). A fresh client per attempt keeps no session,
    /// so this follows every CONNACK. MQTT 5 subscriptions ask for Retain As Published, so the explorer sees
    /// which live messages are retained ([MQTT-3.3.1-12]); MQTT 3.x leaves the flag out.
    fn subscribe_all(&mut self, now: Instant) {
        let mut options = SubscriptionOptions::qos(QoS::AtMostOnce);
        options.retain_as_published = true;
        let mut filters = vec![(self.filter.clone(), options)];
        // Topics starting with `$` do not match `#` ([MQTT-4.7.2-1]): the broker view's own subscription.
        if let Ok(sys) = TopicFilter::new("$SYS/broker/#")
            && sys != self.filter
        {
            filters.push((sys, options));
        }
        // Only fails when not connected, and the client just said it is.
        let _ = self.client.subscribe(filters, Properties::default(), now);
    }

    /// The attempt is over: close its WebSocket and plan the next one.
    fn lost(&mut self, why: String, now: Instant) {
        if self.socket != Socket::Closed {
            self.socket = Socket::Closed;
            self.actions.push_back(Action::CloseSocket);
        }
        let at = now + self.backoff.next_delay();
        self.reconnect_at = Some(at);
        self.state = ConnectionState::Disconnected {
            why,
            reconnect_in: Some(secs_left(at, now)),
        };
    }
}

/// `#`: every topic (but those starting with `$`).
fn everything() -> TopicFilter {
    TopicFilter::new("#").expect("`#` is a valid filter")
}

/// Whole seconds from `now` to `at`, rounded up: "reconnecting in 1 s" until the moment it happens.
fn secs_left(at: Instant, now: Instant) -> u64 {
    let left = at.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}
