//! Views. They take signals of plain state and never see bytes or the WebSocket.

pub mod connection_status;
pub mod fields;

pub use connection_status::ConnectionStatus;
