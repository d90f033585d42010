//! The HTTP listener: the dashboard at `/` and MQTT over WebSocket at `/mqtt`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{dashboard, websocket};
use crate::broker::Broker;

/// The HTTP routes. Anything that is neither `/mqtt` nor a file of the dashboard is a 404.
pub(crate) fn router(broker: Arc<Broker>) -> Router {
    Router::new()
        .route("/mqtt", get(websocket::upgrade))
        .route("/", get(dashboard::index))
        .route("/{*path}", get(dashboard::file))
        .with_state(broker)
}

/// Serves HTTP until `shutdown` is cancelled, then lets in-flight requests finish.
///
/// Upgraded WebSocket connections are not waited for here: they belong to the broker, which drains them itself.
pub(crate) async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: CancellationToken) -> io::Result<()> {
    // ConnectInfo gives the WebSocket handler the peer address for its logs.
    let service = router(broker).into_make_service_with_connect_info::<SocketAddr>();
    // As on the MQTT port: small packets (PUBACKs, PINGRESPs, a publisher's next message) must not wait for Nagle's
    // algorithm to meet the peer's delayed ACK. Without this, MQTT over WebSocket ran at a fifth of TCP's rate.
    let listener = listener.tap_io(|socket| {
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
