//! MQTT over TCP: the accept loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Peer, Transport};
use crate::broker::Broker;

/// Accepts TCP connections until `shutdown` is cancelled, spawning one task per connection.
pub(crate) async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, addr)) => {
                // MQTT packets are small and often latency-sensitive (PINGRESP, QoS acks): don't let Nagle hold them.
                if let Err(error) = socket.set_nodelay(true) {
                    tracing::debug!(%addr, %error, "cannot set TCP_NODELAY");
                }
                let peer = Peer {
                    addr,
                    transport: Transport::Tcp,
                };
                tokio::spawn(broker.connection(socket, peer));
            }
            Err(error) => {
                // Usually out of file descriptors. Retrying at once would spin; a short pause lets connections close.
                tracing::warn!(%error, "accepting an MQTT connection failed");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}
