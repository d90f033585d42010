//! The HTTP listeners (plain and TLS): the dashboard at `/` and MQTT over WebSocket at `/mqtt`.
//!
//! Its own accept loop over hyper's HTTP/1 server rather than `axum::serve`, for what a port open to a LAN (or the
//! internet) needs and `axum::serve` does not offer: a header read timeout, an idle timeout, caps on connections
//! in total and per client address, and TLS. Before these, 500 clients trickling request headers held their
//! sockets for over a minute, and 1,100 of them used up 1,024 file descriptors and locked MQTT clients out.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, header};
use axum::routing::{any, delete, get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::set_header::SetResponseHeaderLayer;

use super::limit::{ConnectionLimits, Refused, Slot};
use super::tls::Tls;
use super::{admin_api, dashboard, history_api, login, operations, websocket};
use crate::auth::sessions::Sessions;
use crate::broker::Broker;
use crate::config::HttpLimits;
use crate::log_text::Throttle;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// The broker WebSocket connections are handed to.
    pub(crate) broker: Arc<Broker>,
    /// The MQTT per-address cap, which a WebSocket connection counts against once upgraded.
    pub(crate) mqtt_limits: Arc<ConnectionLimits>,
    /// The dashboard's login sessions, shared by the HTTP and HTTPS listeners.
    pub(crate) sessions: Arc<Sessions>,
    /// The TLS state, when a TLS listener is configured, for the dashboard's reload.
    pub(crate) tls: Option<Arc<Tls>>,
}

/// Who sent a request, put in each request's extensions by the accept loop.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    /// The remote socket address.
    pub(crate) addr: SocketAddr,
    /// Whether the connection is TLS (`https`/`wss`), which decides the dashboard's own origin.
    pub(crate) secure: bool,
    /// The client certificate's Common Name, with `use_identity_as_username`.
    pub(crate) identity: Option<Arc<str>>,
}

/// The answer to a connection over a cap: written without waiting (the socket's buffer is empty), then closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 31\r\n\
Retry-After: 10\r\nConnection: close\r\n\r\ntoo many connections; try later\n";

/// Connections refused by a cap, for a throttled warning.
static REFUSED: Throttle = Throttle::new();

/// The HTTP routes: `/mqtt`, the dashboard's login API under `/api/` (see `login.rs`) and the dashboard's files;
/// anything else is a 404. Every response carries
/// the security headers: a Content-Security-Policy (the dashboard's page sets its own, with the hash of the
/// inline script Trunk writes), no MIME sniffing, no framing, no referrer.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/mqtt", get(websocket::upgrade))
        .route("/api/session", get(login::session))
        // Anyone may send a login: its body is a user name and a password, never more than a few KiB.
        .route(
            "/api/login",
            post(login::login).layer(DefaultBodyLimit::max(login::MAX_BODY)),
        )
        .route("/api/logout", post(login::logout))
        .route("/api/reload", post(login::reload))
        .route("/api/history", get(history_api::history))
        .route("/api/v1/clients", get(admin_api::clients))
        .route("/api/v1/clients/{client_id}", delete(admin_api::disconnect))
        .route(
            "/api/v1/retained",
            get(admin_api::retained).delete(admin_api::delete_retained),
        )
        .route("/api/v1/reload", post(admin_api::reload))
        .route("/api/v1/bridges", get(admin_api::bridges))
        .route("/api/v1/{*rest}", any(admin_api::not_found))
        .route("/metrics", get(operations::metrics))
        .route("/healthz", get(operations::healthz))
        .route("/", get(dashboard::index))
        .route("/{*path}", get(dashboard::file))
        .with_state(state)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            dashboard::content_security_policy(&[]),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // frame-ancestors 'none' in the CSP says the same to current browsers; this header to older ones.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// Serves HTTP (HTTPS with `tls`) until `shutdown` is cancelled, then lets in-flight requests finish.
///
/// Upgraded WebSocket connections are not waited for here: they belong to the broker, which drains them itself.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<Tls>>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let limits = state.broker.config.http.clone();
    let caps = ConnectionLimits::new(limits.max_connections, limits.max_connections_per_address);
    let router = router(state);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors. Retrying at once would spin; a short pause lets connections close.
                tracing::warn!(%error, "accepting an HTTP connection failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
        };
        let slot = match caps.try_acquire(addr.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                // A fresh socket's send buffer is empty, so this never blocks; if it fails the close says enough.
                let _ = socket.try_write(BUSY);
                if let Some(count) = REFUSED.hit() {
                    let cap = match refused {
                        Refused::Total => "http.max_connections",
                        Refused::PerAddress => "http.max_connections_per_address",
                    };
                    tracing::warn!(%addr, refused = count, "HTTP connection refused with 503: {cap} reached");
                }
                continue;
            }
        };
        // As on the MQTT port: small packets (PUBACKs, PINGRESPs, a publisher's next message) must not wait for
        // Nagle's algorithm to meet the peer's delayed ACK. Without this, MQTT over WebSocket ran at a fifth of
        // TCP's rate.
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        connections.spawn(connection(
            socket,
            addr,
            slot,
            router.clone(),
            tls.clone(),
            limits.clone(),
            shutdown.clone(),
        ));
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// One HTTP connection: the TLS handshake if any, then requests until the client leaves, a timeout passes, the
/// connection becomes a WebSocket, or shutdown. `_slot` is held until then.
async fn connection(
    socket: TcpStream,
    addr: SocketAddr,
    _slot: Slot,
    router: Router,
    tls: Option<Arc<Tls>>,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let activity = Activity::new();
    let socket = Watched {
        inner: socket,
        activity: Arc::clone(&activity),
    };
    let Some(tls) = tls else {
        let client = ClientInfo {
            addr,
            secure: false,
            identity: None,
        };
        return requests(socket, client, router, &limits, &activity, &shutdown).await;
    };
    // The handshake gets the header timeout: it is the same slow-client risk, one layer down.
    let accepted = tokio::select! {
        () = shutdown.cancelled() => return,
        accepted = tokio::time::timeout(limits.header_timeout, tls.accept(socket)) => accepted,
    };
    match accepted {
        Ok(Ok(accepted)) => {
            let client = ClientInfo {
                addr,
                secure: true,
                identity: accepted.identity,
            };
            requests(accepted.stream, client, router, &limits, &activity, &shutdown).await;
        }
        Ok(Err(error)) => tracing::debug!(%addr, %error, "TLS handshake failed"),
        Err(_elapsed) => tracing::debug!(%addr, "TLS handshake not finished in time"),
    }
}

/// Serves HTTP/1.1 requests on one connection.
async fn requests<I>(
    io: I,
    client: ClientInfo,
    router: Router,
    limits: &HttpLimits,
    activity: &Activity,
    shutdown: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let addr = client.addr;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(client.clone());
        let mut router = router.clone();
        // axum's Router is always ready, so calling it without poll_ready is allowed.
        async move { tower_service::Service::call(&mut router, request).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timer arms `header_read_timeout`: counted from when the connection starts waiting for a request, so it
    // also closes keep-alive connections idle between requests.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(connection);
    let idle = activity.idle_for(limits.idle_timeout);
    tokio::pin!(idle);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%addr, %error, "HTTP connection ended");
            }
            return;
        }
        () = idle.as_mut() => {
            tracing::debug!(%addr, "HTTP connection idle for {:?}: closed", limits.idle_timeout);
            return;
        }
        () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    // Shutting down: the request in progress finishes (bounded by the idle timeout), then the connection closes.
    tokio::select! {
        _ = connection => {}
        () = idle => {}
    }
}

/// When a connection last moved a byte, shared between its I/O wrapper and its idle timer.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last read or write that moved bytes.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        // Relaxed: a timestamp read by one timer; a slightly stale value only delays the check by one round.
        self.last.store(elapsed, Ordering::Relaxed);
    }

    /// Completes once no byte has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// An I/O stream that records when it last moved bytes, for the idle timeout.
#[derive(Debug)]
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
