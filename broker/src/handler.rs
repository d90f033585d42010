//! What the broker does with one connection. For the walking skeleton: CONNECT → CONNACK, PINGREQ → PINGRESP,
//! DISCONNECT closes, and nothing is routed yet. Sessions, subscriptions and routing plug in here later, through
//! the shared [`Broker`].

use std::sync::Arc;
use std::time::Duration;

use roost_codec::{ConnAck, Connect, Disconnect, Packet, ProtocolVersion, ReasonCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::connection::{Connection, ConnectionError};

/// Serves one connection until it ends, then closes it. Never panics on anything the peer sends.
pub(crate) async fn run<S>(stream: S, id: u64, broker: Arc<Broker>, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::new(stream, broker.config.max_packet_size);
    match serve(&mut conn, id, &broker, &shutdown).await {
        Ok(()) => tracing::info!("connection closed"),
        Err(error) => tracing::info!(%error, "connection closed"),
    }
    conn.shutdown().await;
}

/// What happened while waiting for the client.
#[allow(
    clippy::large_enum_variant,
    reason = "lives for one match; boxing would allocate per packet"
)]
enum Event {
    /// A packet, or `None` when the client closed the connection.
    Packet(Option<Packet>),
    /// The time limit passed without a packet.
    TimedOut,
    /// The broker is shutting down.
    Shutdown,
}

/// Waits for the next packet, at most `limit` (if any), or until shutdown.
async fn next_event<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    limit: Option<Duration>,
    shutdown: &CancellationToken,
) -> Result<Event, ConnectionError> {
    let read = async {
        match limit {
            Some(limit) => tokio::time::timeout(limit, conn.read_packet()).await.ok(),
            None => Some(conn.read_packet().await),
        }
    };
    tokio::select! {
        () = shutdown.cancelled() => Ok(Event::Shutdown),
        read = read => match read {
            Some(packet) => Ok(Event::Packet(packet?)),
            None => Ok(Event::TimedOut),
        },
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    id: u64,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Result<(), ConnectionError> {
    // A decode error here just closes: the version is not known yet, and MQTT 5 only allows a CONNACK (not a
    // DISCONNECT) before the connection is accepted [MQTT-3.14.0-1].
    let connect = match next_event(conn, Some(broker.config.connect_timeout), shutdown).await? {
        Event::Packet(Some(Packet::Connect(connect))) => connect,
        Event::Packet(Some(other)) => {
            tracing::debug!(packet = ?other.packet_type(), "[MQTT-3.1.0-1] first packet is not CONNECT");
            return Ok(());
        }
        Event::Packet(None) | Event::Shutdown => return Ok(()),
        Event::TimedOut => {
            tracing::debug!("no CONNECT within {:?}", broker.config.connect_timeout);
            return Ok(());
        }
    };
    let peer_max = connect.properties.maximum_packet_size.map(|max| max.get());
    conn.set_version(connect.protocol, peer_max);

    let Some(connack) = accept(&connect, id) else {
        tracing::info!(protocol = %connect.protocol, "refused: empty client identifier");
        let refusal = ConnAck::new(false, ReasonCode::ClientIdentifierNotValid);
        return conn.write_packet(&Packet::ConnAck(refusal)).await;
    };
    let client_id = connack
        .properties
        .assigned_client_identifier
        .as_ref()
        .unwrap_or(&connect.client_id);
    tracing::Span::current().record("client_id", client_id.as_ref() as &str);
    tracing::info!(protocol = %connect.protocol, keep_alive = connect.keep_alive, "connected");
    conn.write_packet(&Packet::ConnAck(connack)).await?;

    // [MQTT-3.1.2-22] a client silent for one and a half times its Keep Alive is gone; 0 turns the check off.
    let keep_alive = (connect.keep_alive > 0).then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    loop {
        let packet = match next_event(conn, keep_alive, shutdown).await {
            Ok(Event::Packet(Some(packet))) => packet,
            Ok(Event::Packet(None)) => return Ok(()),
            Ok(Event::TimedOut) => return disconnect(conn, ReasonCode::KeepAliveTimeout).await,
            Ok(Event::Shutdown) => return disconnect(conn, ReasonCode::ServerShuttingDown).await,
            Err(ConnectionError::Decode(error)) => {
                disconnect(conn, error.reason_code()).await?;
                return Err(error.into());
            }
            Err(error) => return Err(error),
        };
        match packet {
            Packet::PingReq => conn.write_packet(&Packet::PingResp).await?,
            Packet::Disconnect(disconnect) => {
                tracing::debug!(reason = %disconnect.reason_code, "client disconnected");
                return Ok(());
            }
            Packet::Connect(_) => {
                tracing::info!("[MQTT-3.1.0-2] a second CONNECT is a protocol error");
                return disconnect(conn, ReasonCode::ProtocolError).await;
            }
            // The skeleton has no sessions or routing yet: everything else is read, logged and dropped.
            other => tracing::debug!(packet = ?other.packet_type(), "not handled yet: the skeleton does not route"),
        }
    }
}

/// The CONNACK for an acceptable CONNECT, or `None` when the client identifier cannot be accepted.
fn accept(connect: &Connect, id: u64) -> Option<ConnAck> {
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    if connect.client_id.is_empty() {
        match connect.protocol {
            // [MQTT-3.2.2-16] an empty client id gets one assigned, and the CONNACK must say which.
            // Connection ids are unique for the life of the process, which is as long as any session lives today.
            ProtocolVersion::V5 => connack.properties.assigned_client_identifier = Some(format!("roost-{id}").into()),
            // [MQTT-3.1.3-8] 3.1.1 allows an empty id only with a clean session.
            ProtocolVersion::V311 if connect.clean_start => {}
            // MQTT 3.1 requires 1 to 23 characters.
            ProtocolVersion::V311 | ProtocolVersion::V31 => return None,
        }
    }
    Some(connack)
}

/// Tells an MQTT 5 client why the connection ends ([MQTT-4.13.2-1]); MQTT 3.x has no server DISCONNECT, the
/// connection is simply closed.
async fn disconnect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    reason: ReasonCode,
) -> Result<(), ConnectionError> {
    tracing::debug!(%reason, "disconnecting");
    if conn.version().is_v5() {
        conn.write_packet(&Packet::Disconnect(Disconnect::new(reason))).await?;
    }
    Ok(())
}
