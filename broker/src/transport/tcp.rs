//! MQTT over TCP and over TLS: the accept loop, with the per-address connection cap.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::limit::{ConnectionLimits, Refused};
use super::tls::Tls;
use super::{Peer, Transport};
use crate::broker::Broker;
use crate::log_text::Throttle;

/// Connections refused by `max_connections_per_address`, for a throttled warning: a host hammering the port must
/// not also flood the log.
static REFUSED: Throttle = Throttle::new();
/// Failed TLS handshakes (scanners, clients without the right CA or certificate), throttled the same way.
static HANDSHAKE_FAILED: Throttle = Throttle::new();

/// Accepts connections until `shutdown` is cancelled, spawning one task per connection. With `tls`, each task first
/// does the TLS handshake (bounded by the CONNECT timeout, so half-open handshakes cannot pile up).
pub(crate) async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    limits: Arc<ConnectionLimits>,
    tls: Option<Arc<Tls>>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, addr)) => {
                // Checked before anything is read or spawned: an over-limit socket costs nothing but its close.
                let slot = match limits.try_acquire(addr.ip()) {
                    Ok(slot) => slot,
                    Err(Refused::PerAddress | Refused::Total) => {
                        if let Some(refused) = REFUSED.hit() {
                            tracing::warn!(%addr, refused, "MQTT connection closed: max_connections_per_address reached");
                        }
                        continue;
                    }
                };
                // MQTT packets are small and often latency-sensitive (PINGRESP, QoS acks): don't let Nagle hold them.
                if let Err(error) = socket.set_nodelay(true) {
                    tracing::debug!(%addr, %error, "cannot set TCP_NODELAY");
                }
                let broker = Arc::clone(&broker);
                let Some(tls) = tls.clone() else {
                    broker.spawn_connection(socket, Peer::new(addr, Transport::Tcp), slot);
                    continue;
                };
                let limit = broker.config.connect_timeout;
                let shutdown = shutdown.clone();
                // The handshake has a task of its own, which ends when the connection's task starts: inline, its
                // state would be reserved beside the connection's for the connection's life.
                tokio::spawn(async move {
                    let accepted = tokio::select! {
                        () = shutdown.cancelled() => return,
                        accepted = tokio::time::timeout(limit, tls.accept(socket)) => accepted,
                    };
                    match accepted {
                        Ok(Ok(accepted)) => {
                            let peer = Peer {
                                addr,
                                transport: Transport::Tls,
                                certificate_identity: accepted.identity,
                                session_user: None,
                                internal: false,
                            };
                            broker.spawn_connection(accepted.stream, peer, slot);
                        }
                        Ok(Err(error)) => {
                            if let Some(failed) = HANDSHAKE_FAILED.hit() {
                                tracing::info!(%addr, %error, failed, "TLS handshake failed");
                            }
                        }
                        Err(_elapsed) => {
                            if let Some(failed) = HANDSHAKE_FAILED.hit() {
                                tracing::info!(%addr, failed, "TLS handshake not finished within {limit:?}");
                            }
                        }
                    }
                });
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
