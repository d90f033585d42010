//! One bridge's life: connect to the remote broker, then attach the bridge's local session, carry messages both
//! ways with end-to-end acknowledgements, and after any failure close both sides and try again after a back-off.
//!
//! Both clients' sessions outlive their connections (in this task's memory; the local one also in this broker's
//! store), so after a reconnection each side resends what the other has not acknowledged: the local broker its
//! unacknowledged deliveries ([MQTT-4.4.0-1]), the remote broker likewise, and each client its own unacknowledged
//! publications. The maps below pair a message's packet id on one side with its packet id on the other, so a
//! resent delivery whose copy is still in flight on the other side is not sent twice.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use roost_codec::client::{Client, ClientOptions, Event, Message, PublishFailure};
use roost_codec::{
    PacketId, Properties, ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, SubscriptionOptions, TopicFilter,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::config::Backoff;
use super::{BridgeConfig, Status};
use crate::broker::Broker;
use crate::cli::options::{Target, TlsOptions};
use crate::cli::transport::Transport;
use crate::transport::{Peer, Transport as PeerTransport};

/// How long a TCP connection, TLS handshake or WebSocket upgrade to the remote broker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The in-process stream to this broker: its buffer in each direction. A full buffer makes the writer wait, which
/// is this broker's flow control reaching the bridge (and, through it, the remote broker's TCP window).
const LOCAL_BUFFER: usize = 64 * 1024;
/// How long shutdown waits for the remote broker to acknowledge what is in flight.
const DRAIN: Duration = Duration::from_secs(2);
/// How many QoS 1/2 messages each broker may have in flight to the bridge (our Receive Maximum on both sides).
/// Each one waits for the other broker's acknowledgement, so this is the bridge's window.
const WINDOW: u16 = 64;
/// Bytes waiting to be written to this broker above which the bridge stops reading the remote broker, so this
/// broker's flow control reaches the remote one instead of growing a buffer. (Writes to the remote broker are
/// awaited where they are made.)
const MAX_PENDING_WRITE: usize = 1024 * 1024;

/// Runs the bridge until `shutdown`.
pub(crate) async fn run(broker: Arc<Broker>, config: BridgeConfig, status: Arc<Status>, shutdown: CancellationToken) {
    if let Err(why) = prime(&broker, &config, &status).await {
        tracing::warn!(bridge = %status.name, "cannot set up the bridge's local session: {why}");
    }
    let mut bridge = Bridge::new(config, &status);
    let mut backoff = Backoff::new();
    loop {
        let mut connected = false;
        let outcome = bridge.connection(&broker, &status, &shutdown, &mut connected).await;
        if shutdown.is_cancelled() {
            return;
        }
        let why = match outcome {
            Ok(()) => "closed".to_owned(),
            Err(why) => why,
        };
        if connected {
            backoff.reset();
        }
        let wait = backoff.next(random_fraction());
        tracing::warn!(bridge = %status.name, address = %status.address, "bridge down: {why}; next attempt in {wait:.1?}");
        status.disconnected(&broker, why);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// A number in [0, 1) from the OS, for the back-off's jitter; 0.5 if the OS has none to give.
fn random_fraction() -> f64 {
    #[allow(clippy::cast_precision_loss)] // 53 bits are plenty for a jitter.
    getrandom::u64().map_or(0.5, |n| (n >> 11) as f64 / (1u64 << 53) as f64)
}

/// The bridge's state across connections.
#[derive(Debug)]
struct Bridge {
    config: BridgeConfig,
    /// The remote broker's side.
    remote: Client,
    /// This broker's side, `$bridge/<name>`.
    local: Client,
    /// Messages carried out: remote packet id → (local packet id, QoS), until the remote broker acknowledges.
    out_by_remote: HashMap<PacketId, (PacketId, QoS)>,
    /// The local packet ids in `out_by_remote`: a delivery the local broker resends is not sent out again.
    out_local: HashSet<PacketId>,
    /// Messages carried in: local packet id → (remote packet id, QoS), until this broker acknowledges.
    in_by_local: HashMap<PacketId, (PacketId, QoS)>,
    /// SUBSCRIBEs and UNSUBSCRIBEs of this connection not answered yet: the bridge reports itself connected once
    /// both sides have answered, so "connected" means messages flow.
    unanswered: usize,
}

/// The two byte streams of one connection.
struct Io {
    remote: Transport,
    local_read: ReadHalf<DuplexStream>,
    local_write: WriteHalf<DuplexStream>,
    /// Bytes for this broker not yet written.
    local_out: BytesMut,
}

impl Bridge {
    fn new(config: BridgeConfig, status: &Status) -> Self {
        let mut remote = ClientOptions::new(config.version, config.client_id.as_str());
        remote.keep_alive = config.keep_alive;
        remote.clean_start = config.clean_start;
        remote.username = config.username.as_deref().map(Into::into);
        remote.password = config.password.as_ref().map(|p| Bytes::from(p.clone().into_bytes()));
        remote.bridge = config.try_private && !config.version.is_v5();
        remote.manual_acks = true;
        remote.resubscribe = false;
        remote.receive_maximum = NonZeroU16::new(WINDOW);
        remote.connect_timeout = CONNECT_TIMEOUT;
        if config.version.is_v5() && !config.clean_start {
            // The remote session waits for us as long as the remote broker allows.
            remote.session_expiry_interval = Some(u32::MAX);
        }
        let local = local_options(status);
        Bridge {
            config,
            remote: Client::new(remote),
            local: Client::new(local),
            out_by_remote: HashMap::new(),
            out_local: HashSet::new(),
            in_by_local: HashMap::new(),
            unanswered: 0,
        }
    }

    /// One connection: both sides up, then messages until something fails (`Err`, why) or shutdown (`Ok`).
    /// `connected` is set once the remote broker accepted us.
    async fn connection(
        &mut self,
        broker: &Arc<Broker>,
        status: &Status,
        shutdown: &CancellationToken,
        connected: &mut bool,
    ) -> Result<(), String> {
        let connected_io = tokio::select! {
            io = self.connect(broker, status) => io,
            () = shutdown.cancelled() => Err(String::new()),
        };
        let mut io = match connected_io {
            Ok(io) => io,
            Err(why) => {
                // A half-made connection (transport up, CONNECT sent): both clients start afresh next time.
                self.remote.connection_lost();
                self.local.connection_lost();
                return if shutdown.is_cancelled() { Ok(()) } else { Err(why) };
            }
        };
        *connected = true;
        let result = self.serve(&mut io, broker, status, shutdown).await;
        // Whatever happened, both connections end together; their sessions stay for the next one.
        if result.is_ok() && self.remote.disconnect(ReasonCode::NORMAL_DISCONNECTION).is_ok() {
            let _ = send_remote(&mut self.remote, &mut io.remote).await;
        }
        self.remote.connection_lost();
        self.local.connection_lost();
        let close = async {
            io.remote.close().await;
            let _ = io.local_write.shutdown().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        result
    }

    /// Connects to the remote broker, subscribes there, then attaches the local session and subscribes here.
    async fn connect(&mut self, broker: &Arc<Broker>, status: &Status) -> Result<Io, String> {
        let config = &self.config;
        let target = Target {
            host: config.target.host.clone(),
            port: config.target.port,
            websocket_path: config.target.websocket_path.clone(),
            tls: config.target.tls.clone().map(|cafile| TlsOptions {
                cafile,
                ..TlsOptions::default()
            }),
        };
        let mut remote = match tokio::time::timeout(CONNECT_TIMEOUT, Transport::connect(&target)).await {
            Ok(Ok(transport)) => transport,
            Ok(Err(error)) => return Err(format!("cannot connect to {}: {error}", config.address)),
            Err(_) => return Err(format!("cannot connect to {}: timed out", config.address)),
        };
        self.remote.connect(Instant::now()).map_err(|e| e.to_string())?;
        send_remote(&mut self.remote, &mut remote).await?;
        loop {
            match self.remote.poll_event() {
                Some(Event::Connected(_)) => break,
                Some(Event::ConnectionRefused(refused)) => {
                    if refused.reason_code == ReasonCode::UnsupportedProtocolVersion && self.remote.options().bridge {
                        // As Mosquitto does: a broker that does not know the bridge mark gets a plain CONNECT.
                        self.remote.options_mut().bridge = false;
                        return Err(format!("{refused} (the bridge mark; trying without it)"));
                    }
                    return Err(refused.to_string());
                }
                Some(event) => {
                    if let Some(why) = self.on_remote_event(event, Instant::now()) {
                        return Err(why);
                    }
                }
                None => read_remote(&mut self.remote, &mut remote).await?,
            }
        }
        let filters: Vec<(TopicFilter, SubscriptionOptions)> = (self.config.topics.iter())
            .filter(|rule| rule.direction.in_())
            .map(|rule| (rule.remote_filter.clone(), options(rule.qos)))
            .collect();
        self.unanswered = 0;
        if !filters.is_empty() {
            self.remote
                .subscribe(filters, Properties::default(), Instant::now())
                .map_err(|e| format!("cannot subscribe on the remote broker: {e}"))?;
            self.unanswered += 1;
        }

        let (ours, theirs) = tokio::io::duplex(LOCAL_BUFFER);
        tokio::spawn(broker.connection(theirs, internal_peer()));
        let (local_read, local_write) = tokio::io::split(ours);
        let mut io = Io {
            remote,
            local_read,
            local_write,
            local_out: BytesMut::new(),
        };
        self.local.connect(Instant::now()).map_err(|e| e.to_string())?;
        loop {
            while self.local.poll_transmit(&mut io.local_out) {}
            if !io.local_out.is_empty() {
                io.local_write
                    .write_all_buf(&mut io.local_out)
                    .await
                    .map_err(|e| format!("this broker's side: {e}"))?;
            }
            match self.local.poll_event() {
                Some(Event::Connected(_)) => break,
                Some(Event::ConnectionRefused(refused)) => return Err(format!("this broker: {refused}")),
                Some(event) => {
                    if let Some(why) = self.on_local_event(event, Instant::now()) {
                        return Err(why);
                    }
                }
                None => {
                    let mut buf = BytesMut::with_capacity(4096);
                    match io.local_read.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return Err("this broker closed the bridge's session".into()),
                        Ok(_) => self
                            .local
                            .handle_bytes(&buf, Instant::now())
                            .map_err(|e| e.to_string())?,
                    }
                }
            }
        }
        self.unanswered += subscribe_locally(&mut self.local, &self.config, broker, status)?;
        Ok(io)
    }

    /// Carries messages until a side fails or `shutdown`.
    async fn serve(
        &mut self,
        io: &mut Io,
        broker: &Broker,
        status: &Status,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        let mut local_in = BytesMut::new();
        let mut announced = false;
        loop {
            let now = Instant::now();
            self.pump(now)?;
            if !announced && self.unanswered == 0 {
                announced = true;
                tracing::info!(bridge = %status.name, address = %status.address, "bridge connected");
                status.connected(broker);
            }
            send_remote(&mut self.remote, &mut io.remote).await?;
            while self.local.poll_transmit(&mut io.local_out) {}
            let timer = [self.remote.poll_timeout(), self.local.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            // What the remote broker sends becomes bytes for this broker: stop taking it while this broker is not
            // reading (its flow control), so the remote broker's TCP window, not a buffer here, holds it back. This
            // broker is always read: its acknowledgements are what frees it.
            let may_read_remote = io.local_out.len() < MAX_PENDING_WRITE;
            let pending_local = !io.local_out.is_empty();
            local_in.reserve(16 * 1024);
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.drain(io).await;
                    return Ok(());
                }
                received = io.remote.recv(), if may_read_remote => match received {
                    Ok(Some(bytes)) => {
                        let handled = self.remote.handle_bytes(&bytes, Instant::now());
                        if let Err(error) = handled {
                            let _ = send_remote(&mut self.remote, &mut io.remote).await;
                            return Err(format!("the remote broker broke the protocol: {error}"));
                        }
                    }
                    Ok(None) => return Err("the remote broker closed the connection".into()),
                    Err(error) => return Err(format!("connection to the remote broker lost: {error}")),
                },
                read = io.local_read.read_buf(&mut local_in) => match read {
                    Ok(0) | Err(_) => return Err("this broker closed the bridge's session".into()),
                    Ok(_) => {
                        let bytes = local_in.split();
                        self.local.handle_bytes(&bytes, Instant::now()).map_err(|e| format!("this broker: {e}"))?;
                    }
                },
                written = io.local_write.write_buf(&mut io.local_out), if pending_local => {
                    if written.is_err() {
                        return Err("this broker closed the bridge's session".into());
                    }
                }
                () = sleep_until(timer) => {
                    let now = Instant::now();
                    self.remote.handle_timeout(now);
                    self.local.handle_timeout(now);
                }
            }
        }
    }

    /// At shutdown: lets the remote broker finish what is in flight, for at most [`DRAIN`], so no QoS 2 exchange is
    /// left between PUBREC and PUBCOMP in a remote session that the next process (whose client starts afresh)
    /// could not finish. Acknowledgements that complete meanwhile are passed to this broker if it still listens.
    async fn drain(&mut self, io: &mut Io) {
        let deadline = tokio::time::Instant::now() + DRAIN;
        while self.remote.in_flight() > 0 {
            let Ok(Ok(Some(bytes))) = tokio::time::timeout_at(deadline, io.remote.recv()).await else {
                break;
            };
            let now = Instant::now();
            if self.remote.handle_bytes(&bytes, now).is_err() {
                break;
            }
            while let Some(event) = self.remote.poll_event() {
                if !matches!(event, Event::Message(_)) {
                    self.on_remote_event(event, now);
                }
            }
            if send_remote(&mut self.remote, &mut io.remote).await.is_err() {
                break;
            }
        }
        while self.local.poll_transmit(&mut io.local_out) {}
        let _ = tokio::time::timeout_at(deadline, io.local_write.write_all_buf(&mut io.local_out)).await;
    }

    /// Handles every event of both clients; `Err` when one ends the connection.
    fn pump(&mut self, now: Instant) -> Result<(), String> {
        loop {
            if let Some(event) = self.remote.poll_event() {
                if let Some(why) = self.on_remote_event(event, now) {
                    return Err(why);
                }
            } else if let Some(event) = self.local.poll_event() {
                if let Some(why) = self.on_local_event(event, now) {
                    return Err(why);
                }
            } else {
                return Ok(());
            }
        }
    }

    /// What the remote broker's side reports; `Some(why)` when the connection is over.
    fn on_remote_event(&mut self, event: Event, now: Instant) -> Option<String> {
        match event {
            Event::Message(publish) => self.carry_in(publish, now),
            Event::Published { packet_id, .. } => {
                if let Some((local_id, qos)) = self.out_by_remote.remove(&packet_id) {
                    // The remote broker has it (PUBACK, or PUBCOMP for QoS 2): now this broker may let it go.
                    self.out_local.remove(&local_id);
                    self.local.acknowledge(local_id, qos, now);
                }
                None
            }
            Event::PublishFailed { packet_id, reason } => {
                let (local_id, qos) = self.out_by_remote.remove(&packet_id)?;
                self.out_local.remove(&local_id);
                match reason {
                    // The remote session is gone with it: the local broker resends it on the next connection.
                    PublishFailure::SessionLost => {}
                    // Refused for good: acknowledged here too, or it would block the window forever.
                    other => {
                        tracing::warn!(bridge = %self.config.name, "the remote broker refused a message: {other}");
                        self.local.acknowledge(local_id, qos, now);
                    }
                }
                None
            }
            Event::Unsubscribed { .. } => {
                self.unanswered = self.unanswered.saturating_sub(1);
                None
            }
            Event::Subscribed {
                filters, reason_codes, ..
            } => {
                self.unanswered = self.unanswered.saturating_sub(1);
                for (filter, code) in filters.iter().zip(reason_codes) {
                    if code.is_error() {
                        tracing::warn!(bridge = %self.config.name, %filter, %code, "the remote broker refused a subscription");
                    }
                }
                None
            }
            Event::Disconnected(disconnected) => Some(format!("remote broker: {disconnected}")),
            Event::PingTimeout => Some("the remote broker stopped answering (keep alive)".into()),
            Event::ConnectTimeout => Some("no CONNACK from the remote broker".into()),
            Event::ConnectionRefused(refused) => Some(refused.to_string()),
            _ => None,
        }
    }

    /// What this broker's side reports; `Some(why)` when the connection is over.
    fn on_local_event(&mut self, event: Event, now: Instant) -> Option<String> {
        match event {
            Event::Message(publish) => self.carry_out(publish, now),
            Event::Published { packet_id, .. } => {
                if let Some((remote_id, qos)) = self.in_by_local.remove(&packet_id) {
                    // This broker has it (stored, when storage is on): now the remote broker may let it go.
                    self.remote.acknowledge(remote_id, qos, now);
                }
                None
            }
            Event::PublishFailed { packet_id, reason } => {
                let (remote_id, qos) = self.in_by_local.remove(&packet_id)?;
                tracing::warn!(bridge = %self.config.name, "this broker refused a bridged message: {reason}");
                if !matches!(reason, PublishFailure::SessionLost) {
                    self.remote.acknowledge(remote_id, qos, now);
                }
                None
            }
            Event::Unsubscribed { .. } => {
                self.unanswered = self.unanswered.saturating_sub(1);
                None
            }
            Event::Subscribed {
                filters, reason_codes, ..
            } => {
                self.unanswered = self.unanswered.saturating_sub(1);
                for (filter, code) in filters.iter().zip(reason_codes) {
                    if code.is_error() {
                        tracing::warn!(bridge = %self.config.name, %filter, %code, "this broker refused a bridge subscription");
                    }
                }
                None
            }
            Event::Disconnected(disconnected) => Some(format!("this broker: {disconnected}")),
            Event::PingTimeout | Event::ConnectTimeout => Some("this broker stopped answering".into()),
            Event::ConnectionRefused(refused) => Some(format!("this broker: {refused}")),
            _ => None,
        }
    }

    /// A message from the remote broker: published here under its local topic; acknowledged to the remote broker
    /// when this broker acknowledges it.
    fn carry_in(&mut self, publish: Publish, now: Instant) -> Option<String> {
        let remote_id = publish.qos_pid.packet_id();
        let qos = publish.qos_pid.qos();
        let Some(topic) = self
            .config
            .topics
            .iter()
            .find_map(|rule| rule.to_local(publish.topic.as_str()))
        else {
            // Not ours (an overlapping subscription of an earlier configuration): let it go.
            if let Some(id) = remote_id {
                self.remote.acknowledge(id, qos, now);
            }
            return None;
        };
        let message = message(topic, &publish);
        // The remote broker's packet id, so a repeat after a restart of this process is one here too.
        let published = match remote_id {
            Some(id) => self.local.publish_preferring_id(message, id, now),
            None => self.local.publish(message, now),
        };
        match published {
            Ok(Some(local_id)) => {
                if let Some(remote_id) = remote_id {
                    self.in_by_local.insert(local_id, (remote_id, qos));
                }
                None
            }
            Ok(None) => None,
            Err(error) => Some(format!("cannot pass a message on to this broker: {error}")),
        }
    }

    /// A message from this broker: sent to the remote broker under its remote topic; acknowledged here when the
    /// remote broker acknowledges it.
    fn carry_out(&mut self, publish: Publish, now: Instant) -> Option<String> {
        let local_id = publish.qos_pid.packet_id();
        let qos = publish.qos_pid.qos();
        if let Some(id) = local_id
            && self.out_local.contains(&id)
        {
            // Resent after a reconnection while its copy is still in flight to the remote broker, which the
            // remote client resends itself.
            return None;
        }
        let Some(topic) = self
            .config
            .topics
            .iter()
            .find_map(|rule| rule.to_remote(publish.topic.as_str()))
        else {
            if let Some(id) = local_id {
                self.local.acknowledge(id, qos, now);
            }
            return None;
        };
        let message = message(topic, &publish);
        // This broker's packet id: it resends the message with it after a restart (the local session is stored),
        // so a remote broker still holding it awaiting PUBREL sees the repeat, not a new message (see
        // `Client::publish_preferring_id`).
        let published = match local_id {
            Some(id) => self.remote.publish_preferring_id(message, id, now),
            None => self.remote.publish(message, now),
        };
        match published {
            Ok(Some(remote_id)) => {
                if let Some(local_id) = local_id {
                    self.out_by_remote.insert(remote_id, (local_id, qos));
                    self.out_local.insert(local_id);
                }
                None
            }
            Ok(None) => None,
            Err(error) => Some(format!("cannot send a message to the remote broker: {error}")),
        }
    }
}

/// Subscribes `client`, the local session, to the filters `config` carries out, and unsubscribes it from any it
/// still has from an earlier configuration. Returns how many requests await an answer.
fn subscribe_locally(
    client: &mut Client,
    config: &BridgeConfig,
    broker: &Broker,
    status: &Status,
) -> Result<usize, String> {
    let wanted: Vec<(TopicFilter, SubscriptionOptions)> = (config.topics.iter())
        .filter(|rule| rule.direction.out())
        .map(|rule| (rule.local_filter.clone(), options(rule.qos)))
        .collect();
    let stale: Vec<TopicFilter> = broker
        .router()
        .clients()
        .into_iter()
        .find(|c| c.client_id == status.local_client_id)
        .map(|c| c.subscriptions)
        .unwrap_or_default()
        .into_iter()
        .filter(|filter| !wanted.iter().any(|(f, _)| f.as_str() == filter))
        .filter_map(|filter| TopicFilter::new(filter).ok())
        .collect();
    let now = Instant::now();
    let mut requests = 0;
    if !stale.is_empty() {
        tracing::info!(bridge = %status.name, ?stale, "bridge: unsubscribing from filters no longer configured");
        client
            .unsubscribe(stale, Properties::default(), now)
            .map_err(|e| e.to_string())?;
        requests += 1;
    }
    if !wanted.is_empty() {
        client
            .subscribe(wanted, Properties::default(), now)
            .map_err(|e| e.to_string())?;
        requests += 1;
    }
    Ok(requests)
}

/// The options of the bridge's client on this broker: MQTT 5, the persistent session `$bridge/<name>` that never
/// expires, acknowledgements by hand.
fn local_options(status: &Status) -> ClientOptions {
    let mut local = ClientOptions::new(ProtocolVersion::V5, status.local_client_id.clone());
    local.clean_start = false;
    local.session_expiry_interval = Some(u32::MAX);
    local.keep_alive = 0;
    local.manual_acks = true;
    local.resubscribe = false;
    local.receive_maximum = NonZeroU16::new(WINDOW);
    local.connect_timeout = CONNECT_TIMEOUT;
    local
}

/// Who the bridge's local connection is: in process, trusted (see [`Peer::internal`]).
fn internal_peer() -> Peer {
    Peer {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        transport: PeerTransport::Bridge,
        certificate_identity: None,
        session_user: None,
        internal: true,
    }
}

/// Before the first attempt: makes sure the local session exists with its subscriptions, so what is published
/// while the remote broker is unreachable is queued even if it has never been reached (a first start). A
/// throwaway client does it, with a window of one: whatever this broker delivers to it stays unacknowledged and is
/// delivered again to the bridge's own client on its first connection.
async fn prime(broker: &Arc<Broker>, config: &BridgeConfig, status: &Status) -> Result<(), String> {
    let mut options = local_options(status);
    options.receive_maximum = NonZeroU16::new(1);
    let mut client = Client::new(options);
    let (mut stream, theirs) = tokio::io::duplex(LOCAL_BUFFER);
    tokio::spawn(broker.connection(theirs, internal_peer()));
    client.connect(Instant::now()).map_err(|e| e.to_string())?;
    let mut unanswered: Option<usize> = None;
    let mut out = BytesMut::new();
    let mut buf = BytesMut::with_capacity(4096);
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        while let Some(event) = client.poll_event() {
            match event {
                Event::Connected(_) => unanswered = Some(subscribe_locally(&mut client, config, broker, status)?),
                Event::Subscribed { .. } | Event::Unsubscribed { .. } => {
                    unanswered = unanswered.map(|n| n.saturating_sub(1));
                }
                Event::ConnectionRefused(refused) => return Err(refused.to_string()),
                Event::Disconnected(disconnected) => return Err(disconnected.to_string()),
                // Deliveries stay unacknowledged (see above).
                _ => {}
            }
        }
        if unanswered == Some(0) {
            let _ = client.disconnect(ReasonCode::NORMAL_DISCONNECTION);
        }
        while client.poll_transmit(&mut out) {}
        if !out.is_empty() {
            stream.write_all_buf(&mut out).await.map_err(|e| e.to_string())?;
        }
        if unanswered == Some(0) {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        buf.clear();
        match tokio::time::timeout_at(deadline.into(), stream.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => client.handle_bytes(&buf, Instant::now()).map_err(|e| e.to_string())?,
            Ok(_) => return Err("this broker closed the connection".into()),
            Err(_) => return Err("this broker did not answer".into()),
        }
    }
}

/// The message to publish on the other side: same payload, QoS, Retain flag (the subscriptions keep it as
/// published) and MQTT 5 properties, less what belongs to one connection (topic alias, subscription ids).
fn message(topic: roost_codec::TopicName, publish: &Publish) -> Message {
    let mut properties = publish.properties.clone();
    properties.topic_alias = None;
    properties.subscription_identifiers.clear();
    Message {
        topic,
        qos: publish.qos_pid.qos(),
        retain: publish.retain,
        payload: publish.payload.clone(),
        properties,
    }
}

/// The options of every bridge subscription: No Local ([MQTT-3.8.3-3]) so what the bridge publishes on a broker
/// does not come back to it, Retain As Published ([MQTT-3.3.1-12]) so retained messages stay retained across, and
/// retained messages only for a new subscription, so a reconnection does not resend them all.
fn options(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::SendIfNew,
    }
}

/// Writes what the remote client queued.
async fn send_remote(client: &mut Client, transport: &mut Transport) -> Result<(), String> {
    let mut out = BytesMut::new();
    while client.poll_transmit(&mut out) {}
    if out.is_empty() {
        return Ok(());
    }
    transport
        .send(out.freeze())
        .await
        .map_err(|e| format!("connection to the remote broker lost: {e}"))
}

/// Reads from the remote broker once (or runs the client's timer), while connecting.
async fn read_remote(client: &mut Client, transport: &mut Transport) -> Result<(), String> {
    let timer = client.poll_timeout();
    tokio::select! {
        received = transport.recv() => match received {
            Ok(Some(bytes)) => {
                let handled = client.handle_bytes(&bytes, Instant::now());
                send_remote(client, transport).await?;
                handled.map_err(|e| format!("the remote broker broke the protocol: {e}"))
            }
            Ok(None) => Err("the remote broker closed the connection".into()),
            Err(error) => Err(format!("connection to the remote broker lost: {error}")),
        },
        () = sleep_until(timer) => {
            client.handle_timeout(Instant::now());
            Ok(())
        }
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
