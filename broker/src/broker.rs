//! State shared by every connection, and the one door through which a transport hands the broker a connection.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytestring::ByteString;

use futures_util::FutureExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::auth::Auth;
use crate::config::Config;
use crate::handler;
use crate::history::History;
use crate::message::Message;
use crate::router::Router;
use crate::store::{State, Store};
use crate::sys::Stats;
use crate::transport::Peer;
use crate::transport::limit::Slot;

/// The broker's shared state: limits, the routing state every connection reads and writes, connection ids and
/// shutdown.
#[derive(Debug)]
pub(crate) struct Broker {
    /// Limits every connection obeys.
    pub(crate) config: Config,
    /// Users and ACLs: checked on CONNECT, PUBLISH, SUBSCRIBE, wills and deliveries; swapped on reload.
    pub(crate) auth: Arc<Auth>,
    /// Sessions, subscriptions and retained messages. Not behind one lock: the router locks its parts (the session
    /// table, the index, the retained store, each session) separately and briefly, so connections routing to
    /// unrelated sessions run in parallel (see `router.rs` for the lock order).
    router: Router,
    /// Traffic counters for `$SYS`: relaxed atomics, shared with every connection, so counting takes no lock.
    pub(crate) stats: Arc<Stats>,
    /// The dashboard's remembered values and history of the panel's topics, recorded by the router.
    pub(crate) history: Arc<History>,
    /// Source of connection ids, so log lines of one connection can be told apart before its client id is known.
    next_connection_id: AtomicU64,
    /// One status per `[[bridge]]`, in configuration order: the bridge tasks write them, the admin API, `/metrics`
    /// and `$SYS` read them.
    pub(crate) bridges: Vec<Arc<crate::bridge::Status>>,
    /// Every connection task, so shutdown can wait for them to say goodbye.
    tracker: TaskTracker,
    /// Cancelled when the broker shuts down; each connection watches it and closes itself.
    shutdown: CancellationToken,
}

impl Broker {
    /// A broker for unit tests: the configuration's `[auth]` names no files, so loading it cannot fail.
    #[cfg(test)]
    pub(crate) fn new(config: Config, shutdown: CancellationToken) -> Arc<Self> {
        let auth = Auth::load(&config.auth).expect("a test configuration names no auth files");
        let history = Arc::new(crate::history::History::memory(config.history.clone()));
        Self::with_auth(config, Arc::new(auth), Store::memory(), None, history, shutdown)
    }

    /// A broker that checks clients with `auth`, writes to `store` and starts from what it recovered, and stops its
    /// connections when `shutdown` is cancelled. Sessions restored from the store get their expiry timers here.
    pub(crate) fn with_auth(
        config: Config,
        auth: Arc<Auth>,
        store: Store,
        recovered: Option<State>,
        history: Arc<History>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let router = Router::new(&config)
            .with_auth(Arc::clone(&auth))
            .with_store(store)
            .with_history(Arc::clone(&history));
        let timers = recovered.map(|state| router.restore(state, Instant::now()));
        // The panels restored with the retained messages say what the history records.
        for panel in &config.history.panel_topics {
            let Ok(filter) = roost_codec::TopicFilter::new(panel.as_str()) else {
                continue;
            };
            for message in router.retained_matching(&filter, Instant::now()) {
                history.record(panel, &message.payload, true);
            }
        }
        let broker = Arc::new(Broker {
            router,
            auth,
            stats: Arc::default(),
            bridges: config
                .bridges
                .iter()
                .map(|bridge| Arc::new(crate::bridge::Status::new(bridge)))
                .collect(),
            config,
            history,
            next_connection_id: AtomicU64::new(1),
            tracker: TaskTracker::new(),
            shutdown,
        });
        for restored in timers.into_iter().flatten() {
            // Generation 0: no connection has attached since the restart.
            if let Some((will, after)) = restored.will {
                broker.publish_will_later(restored.client_id.clone(), restored.user, 0, after, will);
            }
            if let Some(left) = restored.expires_in {
                broker.expire_session_later(restored.client_id, 0, left);
            }
        }
        broker
    }

    /// Spawns the task serving one connection over any byte stream; `slot`, its count against the connection
    /// limits, is released when the task ends.
    pub(crate) fn spawn_connection<S>(self: &Arc<Self>, stream: S, peer: Peer, slot: Slot)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        tokio::spawn(self.connection_task(stream, peer, slot));
    }

    /// What [`Broker::spawn_connection`] spawns: every idle connection carries this future's state for its whole
    /// life, so its size is an architecture invariant (see the test below).
    fn connection_task<S>(self: &Arc<Self>, stream: S, peer: Peer, slot: Slot) -> impl Future<Output = ()> + use<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // `map`, not `async move { connection.await }`: an async block keeps the future it captured beside the
        // copy it awaits, which doubled every idle connection's task (3.1 KB instead of 1.5 KB).
        self.connection(stream, peer).map(move |()| drop(slot))
    }

    /// Serves one connection over any byte stream; see [`Broker::spawn_connection`].
    ///
    /// This is the seam between transports and the broker: past this point nothing knows whether the bytes came
    /// over TCP or WebSocket.
    pub(crate) fn connection<S>(self: &Arc<Self>, stream: S, peer: Peer) -> impl Future<Output = ()> + Send + use<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Relaxed: the counter only has to hand out distinct numbers, it orders nothing else.
        let id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        // A debug span: with the `fmt` subscriber an enabled span costs ~500 bytes per connection (its slot, its
        // extensions, its formatted fields), a quarter of an idle connection's whole budget. The info-level
        // events of a connection (connected, refused, closed) carry the connection id, peer and client id
        // themselves, as Mosquitto's log lines do; `RUST_LOG=debug` adds the span to every line.
        let span = tracing::debug_span!(
            "connection",
            id,
            peer = %peer.addr,
            transport = %peer.transport,
            client_id = tracing::field::Empty,
        );
        let broker = Arc::clone(self);
        // A clone, not a child token: a child costs an allocation per connection and nothing needs to cancel
        // one connection alone.
        let shutdown = self.shutdown.clone();
        self.tracker
            .track_future(handler::run(stream, id, peer, broker, shutdown).instrument(span))
    }

    /// Runs a task of the broker's own (a bridge) that shutdown waits for like a connection, so everything holding
    /// the broker (and its store's lock) has ended when `Server::run` returns.
    pub(crate) fn spawn_tracked<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(self.tracker.track_future(task));
    }

    /// The routing state.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// Routes `message`, published by the broker itself or a will, now: nobody waits for room (see
    /// `Router::publish`), so what routing reports beyond that is of no use here.
    pub(crate) fn publish(&self, message: Message) {
        self.router.publish(Arc::new(message), Instant::now());
    }

    /// Ends `client_id`'s session after `after`, unless it was resumed since `generation`. The timer is a task of
    /// its own that stops at shutdown.
    pub(crate) fn expire_session_later(self: &Arc<Self>, client_id: ByteString, generation: u64, after: Duration) {
        let broker = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(after) => broker.router().expire(&client_id, generation),
                () = broker.shutdown.cancelled() => {}
            }
        });
    }

    /// Publishes a will message after its Will Delay Interval, or when the session ends if that comes first, unless
    /// the session was resumed meanwhile (MQTT 5, section 3.1.3.2.2), and if `user` may still publish to its
    /// topic then: the ACL in force at publication decides, as for the will without delay.
    pub(crate) fn publish_will_later(
        self: &Arc<Self>,
        client_id: ByteString,
        user: Option<Arc<str>>,
        generation: u64,
        after: Duration,
        will: Message,
    ) {
        let broker = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(after) => {
                    if !broker.router.session_resumed(&client_id, generation) {
                        if broker.auth.policy().can_publish(user.as_deref(), &client_id, will.topic.as_str()) {
                            broker.publish(will);
                        } else {
                            tracing::info!(
                                client_id = %crate::log_text::Clipped(&client_id),
                                topic = %crate::log_text::Clipped(will.topic.as_str()),
                                "delayed will not published: not authorised"
                            );
                        }
                        broker.router.will_done(&client_id, generation);
                    }
                }
                () = broker.shutdown.cancelled() => {}
            }
        });
    }

    /// After each reload of users and ACL (SIGHUP, the dashboard), has every connection check that its login is
    /// still accepted; those refused now close. A task of its own that stops at shutdown.
    pub(crate) fn recheck_logins_on_reload(self: &Arc<Self>) {
        let mut changes = self.auth.changes();
        let broker = Arc::downgrade(self);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    () = shutdown.cancelled() => return,
                }
                let Some(broker) = broker.upgrade() else { return };
                broker.router.recheck_logins();
            }
        });
    }

    /// Stops tracking new connections and waits until every tracked one has ended.
    pub(crate) async fn drained(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// How many connections are still open, for the shutdown log.
    pub(crate) fn open_connections(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;
    use crate::transport::limit::ConnectionLimits;

    /// Every idle connection carries its task's state for its whole life: the handshake and packet handling are
    /// boxed, packets are not kept inline, the spawned future does not hold a second copy of itself. It was 6.3 KiB
    /// before the first of these, 3.1 KiB when the connection limits' slot was held by an `async` block around it;
    /// `roost bench storm` measures the whole cost per connection. Measured with a real socket, as served.
    #[tokio::test]
    async fn an_idle_connection_task_stays_small() {
        // Port 0 is kept bound (the listener lives until the end), so no other process can take it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (_client, (stream, peer_addr)) = (client.expect("connect"), accepted.expect("accept"));
        let broker = Broker::new(Config::default(), CancellationToken::new());
        let slot = ConnectionLimits::new(0, 0)
            .try_acquire(peer_addr.ip())
            .expect("no limits");
        let task = broker.connection_task(stream, Peer::new(peer_addr, Transport::Tcp), slot);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1408, "the connection task's state grew to {size} bytes");
    }
}
