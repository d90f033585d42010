//! [`CliError`]: everything that ends `roost pub` or `roost sub` early, worded as mosquitto_pub and mosquitto_sub
//! word it, with the exit code a script tests.

use std::io;

use roost_codec::client::{ClientError, ProtocolError, PublishFailure};
use roost_codec::{ProtocolVersion, ReasonCode};

/// Why a command-line client stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line makes no sense (a bad topic, a missing flag). Exit code 1.
    #[error("Error: {0}")]
    Usage(String),
    /// A file or stdin could not be read, or stdout could not be written. Exit code 1.
    #[error("Error: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// The TCP connection could not be made. Exit code 1.
    #[error("Error: {}", connect_message(.0))]
    Connect(io::Error),
    /// A TLS file could not be used, or the TLS handshake failed. Exit code 1, as mosquitto's.
    #[error("Error: {0}")]
    Tls(String),
    /// The server ended the connection with a TLS alert after the handshake (TLS 1.3 refuses a client certificate
    /// this way). Exit code 7, as mosquitto's "connection lost" in the same case.
    #[error("Error: A TLS error occurred: {0}")]
    TlsAlert(String),
    /// The WebSocket handshake failed. Exit code 1.
    #[error("Error: WebSocket handshake failed: {0}")]
    WebSocket(String),
    /// The server refused the connection in CONNACK. The exit code is the CONNACK code, as mosquitto's.
    #[error("Connection error: {}", refused_message(*.version, *.reason_code))]
    Refused {
        /// The protocol version spoken, which decides the wording.
        version: ProtocolVersion,
        /// The server's reason (MQTT 3.x return codes mapped to their MQTT 5 equivalents).
        reason_code: ReasonCode,
    },
    /// No CONNACK in time. Exit code 27, mosquitto's timeout code.
    #[error("Error: no CONNACK from the server in time.")]
    ConnectTimeout,
    /// The server stopped answering PINGREQ. Exit code 7, mosquitto's "connection lost".
    #[error("Error: the server did not answer PINGREQ; the connection was lost.")]
    PingTimeout,
    /// The transport closed under us. Exit code 7, mosquitto's "connection lost".
    #[error("Error: The connection was lost.")]
    ConnectionLost,
    /// The server sent DISCONNECT. Exit code 7.
    #[error("Error: {0}")]
    Disconnected(String),
    /// The server broke the protocol. Exit code 2, mosquitto's "protocol error".
    #[error("Error: A network protocol error occurred when communicating with the broker: {0}")]
    Protocol(ProtocolError),
    /// The client refused a request (too large for the server, QoS above its maximum, ...). Exit code 1.
    #[error("Error: {0}")]
    Client(#[from] ClientError),
    /// Publications the server did not accept. Exit code 1.
    #[error("Error: {failed} message(s) not delivered: {first}")]
    PublishFailed {
        /// How many failed.
        failed: usize,
        /// Why the first one failed.
        first: PublishFailure,
    },
    /// SIGINT or SIGTERM before the connection was accepted. Exit code 130, the shell's for Ctrl-C.
    #[error("Interrupted")]
    Interrupted,
    /// `-W` seconds passed. Exit code 27, mosquitto's timeout code.
    #[error("Timed out")]
    TimedOut,
    /// Every SUBSCRIBE filter was refused. Exit code 1.
    #[error("All subscription requests were denied.")]
    SubscriptionsDenied,
}

impl CliError {
    /// The process exit code, mirroring mosquitto_pub and mosquitto_sub.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused { version, reason_code } if version.is_v5() => reason_code.as_u8(),
            Self::Refused { reason_code, .. } => reason_code.v3_connack_code(),
            Self::ConnectTimeout | Self::TimedOut => 27,
            Self::PingTimeout | Self::ConnectionLost | Self::Disconnected(_) | Self::TlsAlert(_) => 7,
            Self::Protocol(_) => 2,
            Self::Interrupted => 130,
            _ => 1,
        }
    }

    /// Whether the error is about the command line, so the usage hint follows it.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_))
    }
}

/// "Connection refused" as mosquitto says it; other errors as the OS says them.
fn connect_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused".to_owned(),
        _ => e.to_string(),
    }
}

/// The CONNACK wording of libmosquitto: `mosquitto_connack_string` for 3.x, `mosquitto_reason_string` for 5.0.
fn refused_message(version: ProtocolVersion, reason_code: ReasonCode) -> String {
    if version.is_v5() {
        return reason_code.description().to_owned();
    }
    match reason_code.v3_connack_code() {
        1 => "Connection Refused: unacceptable protocol version.",
        2 => "Connection Refused: identifier rejected.",
        3 => "Connection Refused: broker unavailable.",
        4 => "Connection Refused: bad user name or password.",
        5 => "Connection Refused: not authorised.",
        _ => "Connection Refused: unknown reason.",
    }
    .to_owned()
}
