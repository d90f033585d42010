//! What the dashboard shows about its broker connection.

use roost_codec::ReasonCode;

/// The broker connection as components see it: no bytes, no sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The WebSocket is opening, or CONNECT is sent and the CONNACK has not arrived.
    Connecting,
    /// The broker accepted the connection.
    Connected {
        /// The CONNACK's reason code (Success, the only accepting code today).
        reason_code: ReasonCode,
        /// The client identifier in use: the one the broker assigned, since the dashboard asks for none.
        client_id: String,
    },
    /// The connection is over, or never happened.
    Disconnected {
        /// A sentence for a person saying why.
        why: String,
    },
}

impl ConnectionState {
    /// A short stable name, for CSS (`data-state`) and tests.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected { .. } => "connected",
            Self::Disconnected { .. } => "disconnected",
        }
    }

    /// Whether the connection is over (and a new one may be opened).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected { .. })
    }
}
