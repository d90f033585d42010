//! State shared by every connection, and the one door through which a transport hands the broker a connection.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::Config;
use crate::handler;
use crate::transport::Peer;

/// The broker's shared state. The skeleton only needs limits, connection ids and shutdown; sessions, the topic tree
/// and routing will live here, behind the same [`Broker::connection`] door.
#[derive(Debug)]
pub(crate) struct Broker {
    /// Limits every connection obeys.
    pub(crate) config: Config,
    /// Source of connection ids, so log lines of one connection can be told apart before its client id is known.
    next_connection_id: AtomicU64,
    /// Every connection task, so shutdown can wait for them to say goodbye.
    tracker: TaskTracker,
    /// Cancelled when the broker shuts down; each connection watches it and closes itself.
    shutdown: CancellationToken,
}

impl Broker {
    /// A broker that stops its connections when `shutdown` is cancelled.
    pub(crate) fn new(config: Config, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Broker {
            config,
            next_connection_id: AtomicU64::new(1),
            tracker: TaskTracker::new(),
            shutdown,
        })
    }

    /// Serves one connection over any byte stream; the caller spawns (TCP) or awaits (WebSocket upgrade) it.
    ///
    /// This is the seam between transports and the broker: past this point nothing knows whether the bytes came
    /// over TCP or WebSocket.
    pub(crate) fn connection<S>(self: &Arc<Self>, stream: S, peer: Peer) -> impl Future<Output = ()> + Send + use<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Relaxed: the counter only has to hand out distinct numbers, it orders nothing else.
        let id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "connection",
            id,
            peer = %peer.addr,
            transport = %peer.transport,
            client_id = tracing::field::Empty,
        );
        let broker = Arc::clone(self);
        let shutdown = self.shutdown.child_token();
        self.tracker
            .track_future(handler::run(stream, id, broker, shutdown).instrument(span))
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
