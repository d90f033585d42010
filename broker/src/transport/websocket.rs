//! MQTT over WebSocket at `/mqtt` (MQTT 5.0 §6, MQTT 3.1.1 §6): the upgrade, and an adapter that makes the
//! WebSocket look like the byte stream TCP gives.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Peer, Transport};
use crate::broker::Broker;

/// Subprotocols we accept, in order of preference. `mqtt` is the standard name; `mqttv3.1` is what MQTT 3.1 clients
/// (and some libraries' defaults) still offer.
const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// Frames are only a carrier (see [`WsByteStream`]), so a frame larger than the largest packet we accept plus room
/// for a few small packets batched with it has no legitimate use; refuse it before buffering it.
const FRAME_SLACK: usize = 64 * 1024;

/// `GET /mqtt`: upgrades to a WebSocket speaking MQTT and hands it to the broker.
///
/// A handshake that does not offer an MQTT subprotocol is refused with 400, as Mosquitto does: [MQTT-6.0.0-3] says
/// the client MUST offer `mqtt`, and accepting without one would leave the client unsure what it is talking to.
pub(crate) async fn upgrade(
    upgrade: WebSocketUpgrade,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    State(broker): State<Arc<Broker>>,
) -> Response {
    // [MQTT-6.0.0-4] the server selects (and so echoes) the subprotocol the client offered.
    let upgrade = upgrade.protocols(SUBPROTOCOLS);
    if upgrade.selected_protocol().is_none() {
        tracing::debug!(%addr, "refused a WebSocket without an MQTT subprotocol");
        return (
            StatusCode::BAD_REQUEST,
            "MQTT over WebSocket needs the subprotocol \"mqtt\"\n",
        )
            .into_response();
    }
    let limit = broker.config.max_packet_size as usize + FRAME_SLACK;
    upgrade
        .max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| {
            let peer = Peer {
                addr,
                transport: Transport::WebSocket,
            };
            broker.connection(WsByteStream::new(socket), peer)
        })
}

/// A WebSocket seen as a byte stream, so the connection handler is the same for TCP and WebSocket.
///
/// [MQTT-6.0.0-2] a frame may hold several packets or part of one, so frame boundaries are dropped: reads return the
/// payloads of binary frames back to back. Each write sends one binary frame ([MQTT-6.0.0-1]); the connection writes
/// whole packets, so a packet is never split across frames on the way out.
#[derive(Debug)]
pub(crate) struct WsByteStream {
    socket: WebSocket,
    /// What is left of the last binary frame after a read smaller than the frame.
    unread: Bytes,
}

impl WsByteStream {
    pub(crate) fn new(socket: WebSocket) -> Self {
        WsByteStream {
            socket,
            unread: Bytes::new(),
        }
    }
}

fn io_error(error: axum::Error) -> io::Error {
    io::Error::other(error)
}

impl AsyncRead for WsByteStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while self.unread.is_empty() {
            let Some(message) = ready!(Pin::new(&mut self.socket).poll_next(cx)) else {
                return Poll::Ready(Ok(())); // the peer went away: end of stream
            };
            match message.map_err(io_error)? {
                Message::Binary(bytes) => self.unread = bytes,
                // The WebSocket library answers pings itself; nothing here is MQTT.
                Message::Ping(_) | Message::Pong(_) => {}
                // A close frame ends the byte stream; the library replies to it.
                Message::Close(_) => return Poll::Ready(Ok(())),
                Message::Text(_) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "[MQTT-6.0.0-1] MQTT must be sent in binary WebSocket frames, got a text frame",
                    )));
                }
            }
        }
        let n = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread[..n]);
        self.unread.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for WsByteStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.socket).poll_ready(cx)).map_err(io_error)?;
        Pin::new(&mut self.socket)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx).map_err(io_error)
    }

    /// Sends a close frame.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_close(cx).map_err(io_error)
    }
}
