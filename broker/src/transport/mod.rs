//! The transport layer: the only code that knows TCP, HTTP, WebSocket and axum. Each accepted connection becomes an
//! `AsyncRead + AsyncWrite` byte stream handed to [`crate::broker::Broker::connection`].

use std::fmt;
use std::net::SocketAddr;

mod dashboard;
pub(crate) mod http;
pub(crate) mod tcp;
mod websocket;

/// Who is on the other end of a connection, for logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    /// The remote socket address.
    pub(crate) addr: SocketAddr,
    /// How the bytes arrive.
    pub(crate) transport: Transport,
}

/// How a connection's bytes arrive. Only a label for logs: the broker treats every transport the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// MQTT over plain TCP.
    Tcp,
    /// MQTT over WebSocket at `/mqtt`.
    WebSocket,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::WebSocket => "websocket",
        })
    }
}
