//! What the dashboard shows about its broker connection.

/// The broker connection as components see it: no bytes, no sockets, no protocol state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The WebSocket is opening, or CONNECT is sent and the CONNACK has not arrived.
    Connecting,
    /// The broker accepted the connection (an accepting MQTT 5 CONNACK always carries Success, 0x00).
    Connected {
        /// The client identifier in use: the one the broker assigned, since the dashboard asks for none.
        client_id: String,
        /// The keep alive in force, in seconds: ours, or the broker's Server Keep Alive.
        keep_alive: u16,
    },
    /// The connection is over, or never happened.
    Disconnected {
        /// A sentence for a person saying why.
        why: String,
        /// Whole seconds until the next automatic attempt, counting down; `None` when none is planned.
        reconnect_in: Option<u64>,
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

    /// Whether the connection is over (and a new one may be opened at once).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected { .. })
    }
}
