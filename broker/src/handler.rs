//! What the broker does with one connection: CONNECT and the session it attaches to, then every packet until the
//! connection ends, then the will and the session's expiry.
//!
//! The connection task is the only writer to its socket. The router never writes to it: it queues to the session
//! and wakes this task through its `Mailbox`, so a slow client only ever slows its own task.

use std::collections::HashMap;
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use roost_codec::{
    ConnAck, Connect, DecodeError, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode, TopicName, Will,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, Identity};
use crate::broker::Broker;
use crate::config::{Config, MAX_OUTGOING_TOPIC_ALIASES};
use crate::connection::{Connection, ConnectionError};
use crate::log_text::{Clipped, Throttle};
use crate::message::Message;
use crate::session::{Attached, Hold, Mailbox, SessionCell};
use crate::transport::Peer;

mod packets;

/// How many queued messages one wake-up sends before the task looks at its socket again, so a long queue cannot
/// starve reading (and keep alive) of the same connection.
const BATCH: usize = 64;

/// How long a closing connection keeps reading (and discarding) what the client still sends, so that closing does
/// not reset the connection under a DISCONNECT the client has not read yet (see [`Connection::close`]). Cut short
/// when the broker shuts down: the drain deadline is the operator's, not the clients'.
const LINGER: Duration = Duration::from_secs(1);
/// CONNECTs refused by `max_connections`, for a throttled warning.
static REFUSED_BUSY: Throttle = Throttle::new();

/// Serves one connection until it ends, then closes it. Never panics on anything the peer sends.
///
/// Not an `async fn`: an async fn keeps its arguments in its state beside the locals they are moved into, for the
/// life of the connection. Built here, the connection is used in place, and the peer (needed by the handshake only)
/// is one pointer.
pub(crate) fn run<S>(
    stream: S,
    id: u64,
    peer: Peer,
    broker: Arc<Broker>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + use<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::new(
        stream,
        broker.config.max_packet_size,
        Arc::clone(&broker.stats),
        broker.router().store().clone(),
    );
    let peer_addr = peer.addr;
    let peer = Box::new(peer);
    async move {
        let mut client_id = None;
        let served = serve(&mut conn, id, peer, &broker, &shutdown, &mut client_id).await;
        let client_id = client_id.as_deref().unwrap_or("");
        let peer = peer_addr;
        match served {
            Ok(()) => tracing::info!(connection = id, %peer, client_id = %Clipped(client_id), "connection closed"),
            Err(error) => {
                tracing::info!(connection = id, %peer, client_id = %Clipped(client_id), %error, "connection closed");
            }
        }
        // Boxed: the linger's state is needed once, at the end, and inline it would be reserved beside the session's.
        Box::pin(conn.close(LINGER, &shutdown)).await;
    }
}

/// One connected client, as this task knows it.
#[derive(Debug)]
struct Client {
    /// The client identifier, assigned by us when the client sent none.
    id: ByteString,
    /// Who logged in (or anonymous), for the ACL checks of every PUBLISH, SUBSCRIBE and the will. One pointer:
    /// an idle connection stays small.
    identity: Identity,
    /// This connection's id, which proves to the router that we still own the session.
    connection_id: u64,
    /// The session this connection serves: everything the connection does goes straight to it, without a lookup
    /// in the router's table.
    session: Arc<SessionCell>,
    /// Woken by the router when messages are queued for us, when another connection takes the session, or when
    /// the session is found stuck.
    mailbox: Arc<Mailbox>,
    /// The will message and its delay, until a normal DISCONNECT discards it ([MQTT-3.1.2-10]). Boxed: most
    /// clients have none, and those bytes would be in every connection's task state.
    will: Option<Box<Will>>,
    /// The Session Expiry Interval asked for in CONNECT: DISCONNECT may not raise it from 0 (section 3.14.2.2.2, a rule without an id).
    connect_expiry: u32,
    /// How many QoS 1/2 messages we may have unacknowledged: the client's Receive Maximum, capped by config.
    inflight_limit: usize,
    /// MQTT 5 incoming topic aliases: alias → topic, for this connection only ([MQTT-3.3.2-7]).
    topic_aliases: HashMap<u16, TopicName>,
    /// A Mosquitto-style bridge (the bridge mark on a 3.x CONNECT, [`roost_codec::Connect::bridge`]): its
    /// subscriptions get No Local and Retain As Published, as Mosquitto gives them, so its own messages do not
    /// come back to it and retained ones stay retained on the other side.
    bridge: bool,
    /// Sessions our last PUBLISH reached at their high-water mark: we read nothing more from this client until each
    /// has room, or is found stuck, or goes away (flow control, see `wait_for_room`).
    wait_for: Vec<Arc<SessionCell>>,
}

/// How the connection ended, which decides the will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// DISCONNECT 0x00: the will is discarded ([MQTT-3.14.4-3]).
    Normal,
    /// MQTT 5 DISCONNECT 0x04: disconnect, but publish the will.
    WithWill,
    /// No DISCONNECT: network error, keep-alive timeout, protocol error, takeover, shutdown. The will is published
    /// ([MQTT-3.1.2-8]).
    Abnormal,
}

/// What happened while waiting.
enum Event {
    /// A packet, or `None` when the client closed the connection. Boxed: an inline `Packet` (~450 B) would be
    /// reserved in the session loop's state, which every idle connection carries.
    Packet(Option<Box<Packet>>),
    /// The client sent a packet that breaks the protocol.
    Malformed(DecodeError),
    /// The router queued messages for us.
    Wake,
    /// The keep-alive deadline passed without a packet.
    TimedOut,
    /// Another connection took the session.
    TakenOver,
    /// The users or ACL were reloaded: check that the login is still accepted.
    Recheck,
    /// An administrator disconnected the client.
    Kicked,
    /// The session was found stuck (MQTT 5 only; a 3.x client cannot be told, and stays).
    Stuck,
    /// The broker is shutting down.
    Shutdown,
}

/// Waits for the first packet, at most `limit`, or until shutdown.
async fn first_packet<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    limit: Duration,
    shutdown: &CancellationToken,
) -> Result<Option<Packet>, ConnectionError> {
    tokio::select! {
        () = shutdown.cancelled() => Ok(None),
        read = tokio::time::timeout(limit, conn.read_packet()) => match read {
            Ok(packet) => packet,
            Err(_elapsed) => {
                tracing::debug!("no CONNECT within {limit:?}");
                Ok(None)
            }
        },
    }
}

/// Serves the connection; `client_id` is set once CONNECT is accepted, for the closing log line.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    id: u64,
    peer: Box<Peer>,
    broker: &Arc<Broker>,
    shutdown: &CancellationToken,
    client_id: &mut Option<ByteString>,
) -> Result<(), ConnectionError> {
    // Two steps, so the CONNECT, the CONNACK and the rest of the handshake's state are gone (not merely moved
    // from) while the session runs: an idle connection's task carries only the session loop's state.
    // The handshake is boxed: its state (~1.8 KiB) is needed once, and inline it would be reserved for the life
    // of the connection beside the session loop's.
    let Some((mut client, keep_alive)) = Box::pin(handshake(conn, id, *peer, broker, shutdown)).await? else {
        return Ok(());
    };
    *client_id = Some(client.id.clone());
    let outcome = async {
        // [MQTT-4.4.0-1] a resumed session first gets its unacknowledged PUBLISH and PUBREL packets again.
        let resend = broker.router().resend(&client.session, id, Instant::now());
        if !resend.is_empty() {
            // Boxed: inline, the write's state would be reserved for the life of the session loop beside it.
            Box::pin(conn.write_packets(&resend)).await?;
        }
        session_loop(conn, &mut client, keep_alive, broker, shutdown).await
    }
    .await;
    let end = match &outcome {
        Ok(end) => *end,
        Err(_) => End::Abnormal,
    };
    finish(broker, client, end);
    outcome.map(|_| ())
}

/// Reads and answers CONNECT: `Some` with the attached client and its keep alive once the CONNACK is sent,
/// `None` when the connection ends here (refused, or no CONNECT).
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    id: u64,
    peer: Peer,
    broker: &Arc<Broker>,
    shutdown: &CancellationToken,
) -> Result<Option<(Client, u16)>, ConnectionError> {
    // A decode error here just closes: the version is not known yet, and MQTT 5 only allows a CONNACK (not a
    // DISCONNECT) before the connection is accepted [MQTT-3.14.0-1]. The one exception is a protocol level we do
    // not speak, which 3.1.1 answers with CONNACK 0x01 before closing ([MQTT-3.1.2-2]); that CONNACK is written
    // in 3.1.1's form, which is what a client of an older or unknown level can read.
    let first = match first_packet(conn, broker.config.connect_timeout, shutdown).await {
        Err(ConnectionError::Decode(error @ DecodeError::UnsupportedProtocolLevel(_))) => {
            tracing::info!(connection = id, peer = %peer.addr, %error, "refused: unsupported protocol level");
            conn.set_version(ProtocolVersion::V311, None);
            refuse(
                conn,
                ReasonCode::UnsupportedProtocolVersion,
                "unsupported protocol level",
            )
            .await?;
            return Err(error.into());
        }
        other => other?,
    };
    let mut connect = match first {
        Some(Packet::Connect(connect)) => connect,
        Some(other) => {
            tracing::debug!(packet = ?other.packet_type(), "[MQTT-3.1.0-1] first packet is not CONNECT");
            return Ok(None);
        }
        None => return Ok(None),
    };
    let peer_max = connect.properties.maximum_packet_size.map(NonZeroU32::get);
    conn.set_version(connect.protocol, peer_max);
    conn.set_problem_information(connect.properties.request_problem_information != Some(false));
    conn.set_outgoing_topic_aliases(outgoing_alias_maximum(&connect, &broker.config));
    if let Some(method) = &connect.properties.authentication_method {
        // Roost has no enhanced authentication methods yet: refuse and close ([MQTT-4.12.0-1]).
        tracing::info!(connection = id, peer = %peer.addr, method = %Clipped(method), "refused: unsupported authentication method");
        let why = "no authentication method is supported";
        return refuse(conn, ReasonCode::BadAuthenticationMethod, why)
            .await
            .map(|()| None);
    }

    let reserved = connect.client_id.starts_with(crate::bridge::LOCAL_CLIENT_PREFIX) && !peer.internal;
    if let Some(why) = client_id_refusal(&connect, &broker.config)
        .or(reserved.then_some("client identifiers starting with $bridge/ are Roost's own bridges'"))
    {
        tracing::info!(
            connection = id,
            peer = %peer.addr,
            client_id = %Clipped(&connect.client_id),
            "refused: {why}"
        );
        return refuse(conn, ReasonCode::ClientIdentifierNotValid, why)
            .await
            .map(|()| None);
    }
    let Some((client_id, mut connack)) = accept(&connect, id, broker) else {
        tracing::info!(connection = id, peer = %peer.addr, protocol = %connect.protocol, "refused: empty client identifier");
        let why = "an empty client identifier needs a clean session";
        return refuse(conn, ReasonCode::ClientIdentifierNotValid, why)
            .await
            .map(|()| None);
    };
    tracing::Span::current().record("client_id", tracing::field::display(Clipped(&client_id)));
    // Who the client is, before anything else of it is accepted: a failed authentication check closes the
    // connection (5.0 [MQTT-3.1.4-2]; 3.1.1 section 3.1.4), after a CONNACK saying why. Never log the password.
    let authenticated = match (
        &peer.certificate_identity,
        session_identity(&connect, &peer, &broker.auth),
    ) {
        // One of our own bridges, in process: vouched for like a certificate, never rechecked on reload.
        _ if peer.internal => Ok(Identity::user(&client_id)),
        // `[tls] use_identity_as_username`: the handshake verified the certificate against `client_ca`, so its
        // Common Name is the user, whatever the CONNECT's user name and password say (as Mosquitto does). A
        // client without a certificate (allowed when `require_client_cert` is off) is checked like any other.
        (Some(user), _) => Ok(Identity::user(user)),
        // The dashboard's login session, from its WebSocket's cookie (see `session_identity`).
        (None, Some(identity)) => Ok(identity),
        (None, None) => {
            broker
                .auth
                .authenticate(connect.username.as_deref(), connect.password.as_deref(), peer.addr.ip())
                .await
        }
    };
    let identity = match authenticated {
        Ok(identity) => identity,
        Err(refusal) => {
            tracing::info!(
                connection = id,
                peer = %peer.addr,
                client_id = %Clipped(&client_id),
                user = connect.username.as_deref().unwrap_or(""),
                "refused: {refusal}"
            );
            return refuse(conn, refusal.reason_code(), &refusal.to_string())
                .await
                .map(|()| None);
        }
    };
    if let Some(will) = &connect.will
        && let Some((reason, why)) = will_refusal(will, &broker.config)
    {
        tracing::info!(connection = id, peer = %peer.addr, client_id = %Clipped(&client_id), %reason, "refused: {why}");
        return refuse(conn, reason, why).await.map(|()| None);
    }
    let Some(keep_alive) = keep_alive(&connect, broker, &mut connack) else {
        tracing::info!(
            connection = id,
            peer = %peer.addr,
            client_id = %Clipped(&client_id),
            keep_alive = connect.keep_alive,
            "refused: keep alive above max_keep_alive"
        );
        // MQTT 3.x has no Server Keep Alive to lower it with; Mosquitto answers "identifier rejected" here too.
        return refuse(conn, ReasonCode::ClientIdentifierNotValid, "keep alive too long")
            .await
            .map(|()| None);
    };
    // Counted here, uncounted in `finish`, which every path from here on reaches. A CONNECT for a client id
    // that is connected takes that connection over ([MQTT-3.1.4-2] 3.1.1, [MQTT-3.1.4-3] 5.0): it does not add
    // a client, so `max_connections` does not refuse it.
    let takeover = broker.router().is_attached(&client_id);
    if !broker
        .stats
        .try_client_connected(broker.config.max_connections, takeover)
    {
        // Throttled (1st, 2nd, 4th... refusal): a full broker under a reconnect storm must not also flood the log.
        if let Some(refused) = REFUSED_BUSY.hit() {
            tracing::warn!(
                connection = id,
                peer = %peer.addr,
                client_id = %Clipped(&client_id),
                limit = broker.config.max_connections,
                refused,
                "refused: max_connections reached"
            );
        }
        return refuse(conn, ReasonCode::ServerBusy, "too many clients connected")
            .await
            .map(|()| None);
    }
    // A bridge's local session never expires (it asks for 0xFFFFFFFF, section 3.1.2.11.2), whatever
    // `max_session_expiry` says: it holds what waits for the remote broker, however long that is away.
    let expiry = if peer.internal {
        u32::MAX
    } else {
        session_expiry(&connect, broker, &mut connack)
    };
    let client_receive_max = connect.properties.receive_maximum.map_or(u16::MAX, NonZeroU16::get);
    let mailbox = Arc::<Mailbox>::default();
    let (connected, session) = broker.router().connect(
        &client_id,
        connect.protocol,
        connect.clean_start,
        expiry,
        Attached {
            connection_id: id,
            mailbox: Arc::clone(&mailbox),
            user: identity.name().map(Arc::from),
            info: Some(Box::new(crate::session::ConnectionInfo {
                peer: peer.addr,
                keep_alive,
                since_ms: crate::store::now_ms(),
            })),
        },
        Instant::now(),
    );
    let client = Client {
        id: client_id,
        identity,
        connection_id: id,
        session,
        mailbox,
        will: connect.will.take().map(Box::new),
        connect_expiry: expiry,
        inflight_limit: usize::from(client_receive_max.min(broker.config.max_inflight).max(1)),
        topic_aliases: HashMap::new(),
        bridge: connect.bridge,
        wait_for: Vec::new(),
    };
    connack.session_present = connected.session_present;
    tracing::info!(
        connection = id,
        peer = %peer.addr,
        transport = %peer.transport,
        client_id = %Clipped(&client.id),
        certificate = peer.certificate_identity.as_deref().map(Clipped).map(tracing::field::display),
        user = client.identity.name().unwrap_or(""),
        protocol = %connect.protocol,
        keep_alive,
        session_present = connected.session_present,
        took_over = connected.took_over,
        bridge = connect.bridge,
        "connected"
    );
    // CONNACK says the session exists: not before the store has it.
    conn.after_durable(connected.lsn);
    if let Err(error) = { conn.write_packet(&Packet::ConnAck(connack)) }.await {
        finish(broker, client, End::Abnormal);
        return Err(error);
    }
    Ok(Some((client, keep_alive)))
}

/// The user of the dashboard's login session (see [`Peer::session_user`]) for a CONNECT that names no user or
/// that same one: the session already proved the password. A CONNECT naming another user is checked as usual.
fn session_identity(connect: &Connect, peer: &Peer, auth: &Auth) -> Option<Identity> {
    let user = peer.session_user.as_deref()?;
    match connect.username.as_deref() {
        None => auth.session_identity(user),
        Some(named) if named == user => auth.session_identity(user),
        Some(_) => None,
    }
}

/// The client identifier and the CONNACK for an acceptable CONNECT, or `None` when the identifier cannot be
/// accepted.
fn accept(connect: &Connect, id: u64, broker: &Broker) -> Option<(ByteString, ConnAck)> {
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    let mut client_id = connect.client_id.clone();
    if client_id.is_empty() {
        // Connection ids are unique for the life of the process, which is as long as any session lives.
        let assigned = ByteString::from(format!("roost-{id}"));
        match connect.protocol {
            // [MQTT-3.2.2-16] an empty client id gets one assigned, and the CONNACK must say which.
            ProtocolVersion::V5 => connack.properties.assigned_client_identifier = Some(assigned.clone()),
            // [MQTT-3.1.3-6], [MQTT-3.1.3-8] 3.1.1 allows an empty id only with a clean session.
            ProtocolVersion::V311 if connect.clean_start => {}
            // MQTT 3.1 requires 1 to 23 characters.
            ProtocolVersion::V311 | ProtocolVersion::V31 => return None,
        }
        client_id = assigned;
    }
    if connect.protocol.is_v5() {
        // CONNACK properties tell the truth about our limits (section 3.2.2.3). Retain, wildcard, subscription
        // identifier and shared subscriptions are all available, which is what their absence means.
        let config = &broker.config;
        let properties = &mut connack.properties;
        properties.receive_maximum = NonZeroU16::new(config.receive_maximum.max(1)).filter(|max| max.get() != u16::MAX);
        properties.maximum_packet_size = NonZeroU32::new(config.max_packet_size);
        properties.topic_alias_maximum = Some(config.topic_alias_maximum).filter(|max| *max > 0);
        // [MQTT-3.2.2-9] below QoS 2 the client must be told; absent means 2.
        properties.maximum_qos = Some(config.maximum_qos).filter(|max| *max < QoS::ExactlyOnce);
    }
    Some((client_id, connack))
}

/// Why a client identifier is refused, if it is: longer than `max_client_id_length` (MQTT 5 CONNACK 0x85 Client
/// Identifier not valid, 3.x 0x02 identifier rejected; [MQTT-3.1.3-5] lets a server refuse long ones).
fn client_id_refusal(connect: &Connect, config: &Config) -> Option<&'static str> {
    (connect.client_id.len() > config.max_client_id_length)
        .then_some("client identifier longer than max_client_id_length")
}

/// Why a will cannot be accepted, if it cannot: a Will QoS above our maximum ([MQTT-3.2.2-12]: CONNACK 0x9B,
/// then close), a will topic deeper than `max_topic_levels`, or a payload that is not UTF-8 although its Payload
/// Format Indicator says it is (section 3.1.3.2.3: the server may refuse it with 0x99).
fn will_refusal(will: &Will, config: &Config) -> Option<(ReasonCode, &'static str)> {
    if will.qos > config.maximum_qos {
        Some((ReasonCode::QoSNotSupported, "will QoS above the server's maximum"))
    } else if config.too_many_levels(will.topic.as_str()) {
        Some((ReasonCode::TopicNameInvalid, "will topic has too many levels"))
    } else if will.topic.as_str().len() > config.max_topic_length {
        Some((ReasonCode::TopicNameInvalid, "will topic longer than max_topic_length"))
    } else if will.properties.payload_format_indicator == Some(true) && std::str::from_utf8(&will.payload).is_err() {
        Some((ReasonCode::PayloadFormatInvalid, "will payload is not UTF-8"))
    } else {
        None
    }
}

/// How many topic aliases we may use in what we send this client: none unless it is MQTT 5, `outgoing_topic_aliases`
/// is on and its CONNECT allows some (absent or 0: none, [MQTT-3.1.2-27]); never more than it allows
/// ([MQTT-3.1.2-26]) nor [`MAX_OUTGOING_TOPIC_ALIASES`].
fn outgoing_alias_maximum(connect: &Connect, config: &Config) -> u16 {
    if !config.outgoing_topic_aliases || !connect.protocol.is_v5() {
        return 0;
    }
    connect
        .properties
        .topic_alias_maximum
        .unwrap_or(0)
        .min(MAX_OUTGOING_TOPIC_ALIASES)
}

/// The keep alive the connection runs with: the client's, or for MQTT 5 `max_keep_alive` when the client asked
/// for more (or for none, while a bound is set), announced as Server Keep Alive in the CONNACK ([MQTT-3.2.2-21]).
/// `None` refuses an MQTT 3.x client asking for more than the bound.
fn keep_alive(connect: &Connect, broker: &Broker, connack: &mut ConnAck) -> Option<u16> {
    let max = broker.config.max_keep_alive;
    let asked = connect.keep_alive;
    let within = asked <= max && (asked > 0 || max == u16::MAX);
    match (within, connect.protocol.is_v5()) {
        (true, _) => Some(asked),
        (false, true) => {
            connack.properties.server_keep_alive = Some(max);
            Some(max)
        }
        (false, false) if asked == 0 => Some(0),
        (false, false) => None,
    }
}

/// The session's expiry interval in seconds: MQTT 5 asks for it (lowered to our maximum, and then the CONNACK says
/// so); MQTT 3.x has none, so a persistent session gets the configured one.
fn session_expiry(connect: &Connect, broker: &Broker, connack: &mut ConnAck) -> u32 {
    let config = &broker.config;
    if connect.protocol.is_v5() {
        let asked = connect.properties.session_expiry_interval.unwrap_or(0);
        let granted = asked.min(config.max_session_expiry);
        if granted != asked {
            connack.properties.session_expiry_interval = Some(granted);
        }
        granted
    } else if connect.clean_start {
        0
    } else {
        u32::try_from(config.v3_session_expiry.as_secs()).unwrap_or(u32::MAX)
    }
}

/// After the connection: detach from the session (ending it, or arming its expiry) and deal with the will.
fn finish(broker: &Arc<Broker>, mut client: Client, end: End) {
    broker.stats.client_disconnected();
    let detached = broker.router().disconnect(&client.session, client.connection_id);
    if let Some((generation, interval)) = detached
        && interval != u32::MAX
    {
        broker.expire_session_later(client.id.clone(), generation, Duration::from_secs(u64::from(interval)));
    }
    let Some(will) = client.will.take().filter(|_| end != End::Normal) else {
        return;
    };
    // The ACL as it is now, not as it was at CONNECT: a will is a publication like any other.
    if !broker
        .auth
        .can_publish(&client.identity, &client.id, will.topic.as_str())
    {
        tracing::info!(client_id = &*client.id, topic = %will.topic, "will not published: not authorised");
        return;
    }
    let delay = will.properties.will_delay_interval.unwrap_or(0);
    let message = will_message(*will, client.id.clone(), Instant::now());
    if packets::is_reserved_for_the_broker(&message.topic) {
        // The same rule as for PUBLISH: a will cannot be used to publish to `$SYS` either.
        tracing::debug!(topic = %Clipped(message.topic.as_str()), "will not published: $SYS topics are the broker's own");
        return;
    }
    match detached {
        // The will waits for its delay or the end of the session, whichever comes first (section 3.1.3.2.2).
        Some((generation, interval)) if delay > 0 => {
            let after = Duration::from_secs(u64::from(delay.min(interval)));
            broker
                .router()
                .store_will(&client.session, generation, &message, delay.min(interval));
            let user = client.identity.name().map(Arc::from);
            broker.publish_will_later(client.id, user, generation, after, message);
        }
        // Taken over with a delay: the session lives on in the new connection, so the will is not due.
        None if delay > 0 && end == End::Abnormal && client.mailbox.is_taken_over() => {}
        _ => {
            tracing::debug!(topic = %Clipped(message.topic.as_str()), "publishing will");
            broker.publish(message);
        }
    }
}

/// The will as an application message; its properties are forwarded like a PUBLISH's (section 3.1.3.2), without
/// the Will Delay Interval, which is for us.
fn will_message(will: Will, client_id: ByteString, now: Instant) -> Message {
    let mut properties = will.properties;
    properties.will_delay_interval = None;
    let expires_at = properties
        .message_expiry_interval
        .map(|secs| now + Duration::from_secs(u64::from(secs)));
    Message {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties,
        expires_at,
        publisher: Some(client_id),
        charge: Default::default(),
    }
}

/// Serves packets and queued messages until the connection ends.
async fn session_loop<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &mut Client,
    keep_alive: u16,
    broker: &Arc<Broker>,
    shutdown: &CancellationToken,
) -> Result<End, ConnectionError> {
    // [MQTT-3.1.2-22] a client silent for one and a half times its Keep Alive is gone; 0 turns the check off.
    let keep_alive = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
    // A client that takes no bytes for as long as it may stay silent is as gone as a silent one.
    conn.set_write_timeout(keep_alive);
    let mut deadline = keep_alive.map(|limit| tokio::time::Instant::now() + limit);
    // Anything queued before we attached (retained or offline messages) goes out first.
    send_queued(conn, client, broker).await?;
    loop {
        if !client.wait_for.is_empty() {
            // Boxed: needed only while a subscriber is behind; inline, its state would sit in every idle task.
            Box::pin(wait_for_room(conn, client, broker, shutdown)).await?;
            // Nothing was read while we waited: the client was not silent, we were not listening.
            deadline = keep_alive.map(|limit| tokio::time::Instant::now() + limit);
        }
        let timer = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        // Acknowledgements waiting for the disk do not stop reading: the next PUBLISH is routed while they wait.
        // Boxed, and only while something waits: inline, the wait's state would sit in every idle task.
        let mut durable = conn.held_lsn().map(|lsn| {
            let store = conn.store().clone();
            Box::pin(async move { store.durable(lsn).await })
        });
        let backlogged = conn.is_backlogged();
        let event = tokio::select! {
            () = shutdown.cancelled() => Event::Shutdown,
            done = async { durable.as_mut().expect("guarded").await }, if durable.is_some() => match done {
                Ok(()) => {
                    if backlogged {
                        // Nothing was read while we waited: the client was not silent, we were not listening.
                        deadline = keep_alive.map(|limit| tokio::time::Instant::now() + limit);
                    }
                    Event::Wake
                }
                Err(error) => return Err(error.into()),
            },
            read = conn.read_packet(), if !backlogged => match read {
                Ok(packet) => Event::Packet(packet.map(Box::new)),
                Err(ConnectionError::Decode(error)) => Event::Malformed(error),
                Err(error) => return Err(error),
            },
            () = client.mailbox.notified() => news(conn.version().is_v5(), &client.mailbox),
            // Not while backlogged: then we are not reading, so the client's silence proves nothing.
            () = timer, if !backlogged => Event::TimedOut,
        };
        match event {
            Event::Packet(None) => return Ok(End::Abnormal),
            Event::Packet(Some(packet)) => {
                deadline = keep_alive.map(|limit| tokio::time::Instant::now() + limit);
                // Boxed: handling packets needs ~2.5 KiB of future state, for the moment it runs. Inline, every
                // connection would carry it all its life, idle or not; an allocation per batch is cheaper.
                if let Some(end) = Box::pin(handle_batch(conn, client, broker, *packet)).await? {
                    // The client is leaving: what we queued for it (acks of its last packets) goes out if it can.
                    // Boxed, as this path is rare and a flush's state would otherwise sit in every idle task.
                    let _ = Box::pin(conn.flush()).await;
                    return Ok(end);
                }
            }
            Event::Malformed(error) => {
                // Protocol violations: MQTT 5 is told why, 3.x is closed ([MQTT-4.13.1-1]).
                disconnect(conn, error.reason_code(), &error.to_string()).await?;
                return Err(error.into());
            }
            Event::Wake => {}
            Event::TimedOut => {
                disconnect(
                    conn,
                    ReasonCode::KeepAliveTimeout,
                    "nothing received for 1.5 times the keep alive",
                )
                .await?;
                return Ok(End::Abnormal);
            }
            Event::TakenOver => {
                tracing::info!(
                    client_id = %Clipped(&client.id),
                    "[MQTT-3.1.4-3] session taken over by a new connection"
                );
                let why = "another connection took over this client identifier";
                disconnect(conn, ReasonCode::SessionTakenOver, why).await?;
                return Ok(End::Abnormal);
            }
            Event::Recheck => {
                if !broker.auth.still_allowed(&client.identity) {
                    tracing::info!(
                        client_id = %Clipped(&client.id),
                        user = client.identity.name().unwrap_or(""),
                        "disconnecting: the reloaded users no longer accept this login"
                    );
                    // Not allowed in any more, so not allowed to publish on its way out either.
                    client.will = None;
                    // [MQTT-3.14.2-1] 0x87 Not authorized; an MQTT 3.x client is closed without a word.
                    disconnect(conn, ReasonCode::NotAuthorized, "your login is no longer accepted").await?;
                    return Ok(End::Abnormal);
                }
            }
            Event::Kicked => {
                tracing::info!(client_id = %Clipped(&client.id), "disconnected by an administrator");
                // 0x98 Administrative action (section 3.14.2.1); an MQTT 3.x client is closed without a word.
                disconnect(
                    conn,
                    ReasonCode::AdministrativeAction,
                    "disconnected by an administrator",
                )
                .await?;
                return Ok(End::Abnormal);
            }
            Event::Stuck => {
                tracing::info!(
                    client_id = &*client.id,
                    "disconnecting a stuck subscriber: its queue stayed full without progress"
                );
                let why = "too slow: the queue for this client stayed full without progress";
                disconnect(conn, ReasonCode::QuotaExceeded, why).await?;
                return Ok(End::Abnormal);
            }
            Event::Shutdown => {
                disconnect(
                    conn,
                    ReasonCode::ServerShuttingDown,
                    "the broker is stopping; try again later",
                )
                .await?;
                return Ok(End::Abnormal);
            }
        }
        send_queued(conn, client, broker).await?;
    }
}

/// Handles `first`, then every packet already whole in the read buffer, queueing the replies: a burst of
/// PUBLISHes or PUBACKs is answered by one write (`send_queued` flushes), not one per packet. `Some` when the
/// connection ends.
async fn handle_batch<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &mut Client,
    broker: &Arc<Broker>,
    first: Packet,
) -> Result<Option<End>, ConnectionError> {
    let mut packet = first;
    loop {
        if let Some(end) = packets::handle_packet(conn, client, broker, packet).await? {
            return Ok(Some(end));
        }
        if !client.wait_for.is_empty() {
            // Flow control: a subscriber is at its high-water mark. The rest of the burst stays in the read
            // buffer until it has room.
            return Ok(None);
        }
        packet = match conn.buffered_packet() {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(None),
            Err(error) => {
                // Protocol violations: MQTT 5 is told why, 3.x is closed ([MQTT-4.13.1-1]).
                disconnect(conn, error.reason_code(), &error.to_string()).await?;
                return Err(error.into());
            }
        };
    }
}

/// What a mailbox wake-up means for this connection.
fn news(v5: bool, mailbox: &Mailbox) -> Event {
    if mailbox.is_taken_over() {
        Event::TakenOver
    } else if mailbox.is_kicked() {
        Event::Kicked
    } else if mailbox.take_recheck() {
        Event::Recheck
    } else if mailbox.is_stuck() && v5 {
        Event::Stuck
    } else {
        Event::Wake
    }
}

/// Flow control: the last PUBLISH reached subscribers at their high-water mark, so reading from this client (and
/// acknowledging it) pauses until each of them has room again, is found stuck (no progress for
/// `slow_subscriber_timeout`), or goes offline. Nothing accepted is dropped for a subscriber that keeps up, and a
/// stuck one delays us by at most the timeout.
///
/// Meanwhile the acknowledgements already queued go out and our own session keeps being served, so two clients
/// publishing to each other cannot wait on each other's queue forever. Takeover, a stuck verdict on our own session
/// and shutdown end the wait early; the session loop then handles them.
async fn wait_for_room<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &mut Client,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Result<(), ConnectionError> {
    conn.flush().await?;
    while let Some(cell) = client.wait_for.pop() {
        loop {
            // Registered before the check, so a wake-up between the two is not lost.
            let room = cell.room();
            tokio::pin!(room);
            room.as_mut().enable();
            let Hold::Until(deadline) = broker.router().hold(&cell, Instant::now()) else {
                break;
            };
            tokio::select! {
                () = room => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = shutdown.cancelled() => {
                    client.wait_for.clear();
                    return Ok(());
                }
                () = client.mailbox.notified() => {
                    let news = news(conn.version().is_v5(), &client.mailbox);
                    if !matches!(news, Event::Wake) {
                        // Put the news back for the session loop (a recheck was taken: raise it again).
                        if matches!(news, Event::Recheck) {
                            client.mailbox.recheck();
                        } else {
                            client.mailbox.wake();
                        }
                        client.wait_for.clear();
                        return Ok(());
                    }
                    send_queued(conn, client, broker).await?;
                    // What waits for the store goes out too: this wait can be long, and nothing else flushes.
                    conn.flush().await?;
                }
            }
        }
    }
    Ok(())
}

/// Queues one batch of the session's messages behind whatever replies are queued, and sends in one write what does
/// not wait for the store (`Connection::flush_ready`; the session loop sends the rest once it is durable); if more
/// messages are ready, wakes ourselves so the loop comes back after checking the socket.
async fn send_queued<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &Client,
    broker: &Broker,
) -> Result<(), ConnectionError> {
    let batch = broker.router().outgoing(
        &client.session,
        client.connection_id,
        client.inflight_limit,
        BATCH,
        Instant::now(),
        |packet| conn.fits(packet),
    );
    if let Some((packets, more, lsn)) = batch {
        if more {
            client.mailbox.wake();
        }
        conn.after_durable(lsn);
        for packet in &packets {
            if let Packet::Publish(publish) = packet {
                broker.stats.publish_sent(publish.qos(), publish.payload.len());
            }
            conn.queue_packet(packet)?;
        }
    }
    conn.flush_ready().await
}

/// Refuses a CONNECT: a CONNACK with `reason` and no session ([MQTT-3.2.2-6]); the caller then closes
/// ([MQTT-3.2.2-7]).
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    reason: ReasonCode,
    why: &str,
) -> Result<(), ConnectionError> {
    // Built inside the block so the packet is not kept in this future's state while the write waits.
    let write = {
        let mut connack = ConnAck::new(false, reason);
        // MQTT 5 only (3.x encodes no properties): a few words for people reading the client's logs.
        connack.properties.reason_string = Some(why.into());
        conn.write_packet(&Packet::ConnAck(connack))
    };
    write.await
}

/// Tells an MQTT 5 client why the connection ends ([MQTT-4.13.2-1]); MQTT 3.x has no server DISCONNECT, the
/// connection is simply closed.
/// `why` goes in its Reason String, in words for a person reading the client's logs.
async fn disconnect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    reason: ReasonCode,
    why: &str,
) -> Result<(), ConnectionError> {
    tracing::debug!(%reason, why, "disconnecting");
    if conn.version().is_v5() {
        // Built inside the block so the packet is not kept in the session loop's state while the write waits (see
        // `write_packet`): a local declared outside it would be.
        let write = {
            let mut packet = Disconnect::new(reason);
            packet.properties.reason_string = Some(why.into());
            conn.write_packet(&Packet::Disconnect(packet))
        };
        write.await?;
    }
    Ok(())
}
