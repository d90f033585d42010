//! The transport layer: the only code that knows TCP, TLS, HTTP, WebSocket and axum. Each accepted connection
//! becomes an `AsyncRead + AsyncWrite` byte stream handed to [`crate::broker::Broker::connection`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

mod admin_api;
mod dashboard;
mod encoding;
mod history_api;
pub(crate) mod http;
pub(crate) mod limit;
mod login;
mod operations;
pub(crate) mod tcp;
pub(crate) mod tls;
mod websocket;

pub(crate) use websocket::check_origin_setting;

/// Who is on the other end of a connection: for logs, and for the handshake's authentication.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The remote socket address.
    pub(crate) addr: SocketAddr,
    /// How the bytes arrive.
    pub(crate) transport: Transport,
    /// The subject Common Name of the client's TLS certificate, when `[tls] use_identity_as_username` is on and the
    /// client presented a certificate signed by `client_ca`. The CONNECT check uses it as the user name (as
    /// Mosquitto's `use_identity_as_username` does); `None` on every other connection.
    pub(crate) certificate_identity: Option<Arc<str>>,
    /// The user of the dashboard's login session, when a WebSocket from the dashboard's own origin carried a valid
    /// session cookie: a CONNECT naming no user (or this one) is this user without a password.
    pub(crate) session_user: Option<Arc<str>>,
    /// The local side of one of Roost's own bridges (`bridge/`), an in-process byte stream: its client id is
    /// reserved ([`crate::bridge::LOCAL_CLIENT_PREFIX`]), it needs no password and the ACL does not apply to it.
    pub(crate) internal: bool,
}

impl Peer {
    /// A peer without a certificate identity.
    pub(crate) fn new(addr: SocketAddr, transport: Transport) -> Self {
        Peer {
            addr,
            transport,
            certificate_identity: None,
            session_user: None,
            internal: false,
        }
    }
}

/// How a connection's bytes arrive. Only a label for logs: the broker treats every transport the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// MQTT over plain TCP.
    Tcp,
    /// MQTT over TLS (`mqtts`).
    Tls,
    /// MQTT over WebSocket at `/mqtt`.
    WebSocket,
    /// MQTT over WebSocket over TLS (`wss://…/mqtt`).
    SecureWebSocket,
    /// The local side of a bridge, in process.
    Bridge,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::WebSocket => "websocket",
            Transport::SecureWebSocket => "websocket+tls",
            Transport::Bridge => "bridge",
        })
    }
}
