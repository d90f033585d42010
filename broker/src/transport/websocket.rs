//! MQTT over WebSocket at `/mqtt` (MQTT 5.0 §6, MQTT 3.1.1 §6): the upgrade, and an adapter that makes the
//! WebSocket look like the byte stream TCP gives.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::http::{AppState, ClientInfo};
use super::{Peer, Transport, login};
use crate::log_text::{Clipped, Throttle};

/// WebSocket requests refused for their Origin or the per-address cap, for a throttled warning.
static REFUSED: Throttle = Throttle::new();

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
///
/// A browser's request is refused with 403 unless its `Origin` is the dashboard's own or listed in
/// `http.allowed_origins`: without this check any web page a person on the LAN visits could open the broker
/// through their browser (cross-site WebSocket hijacking; browsers do not apply the same-origin policy to
/// WebSockets). Requests without `Origin` come from programs, not pages, and are not affected.
pub(crate) async fn upgrade(
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let addr = client.addr;
    let broker = Arc::clone(&state.broker);
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, host, client.secure, &broker.config.http.allowed_origins) {
            if let Some(refused) = REFUSED.hit() {
                tracing::warn!(%addr, origin = %Clipped(origin), refused, "WebSocket from a foreign origin refused");
            }
            return (
                StatusCode::FORBIDDEN,
                "this origin may not connect; see http.allowed_origins\n",
            )
                .into_response();
        }
    }
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
    // Once upgraded this is an MQTT connection, and counts against the MQTT per-address cap like one over TCP.
    let Ok(slot) = state.mqtt_limits.try_acquire(addr.ip()) else {
        if let Some(refused) = REFUSED.hit() {
            tracing::warn!(%addr, refused, "WebSocket refused: max_connections_per_address reached");
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections from this address\n",
        )
            .into_response();
    };
    // The dashboard's login session, honoured only from the dashboard's own page: SameSite=Strict already keeps
    // other sites from sending the cookie, and an origin in `allowed_origins` is still not the dashboard.
    let session_user = if from_own_origin(&headers, client.secure) {
        login::session_user(&state, &headers)
    } else {
        None
    };
    let limit = broker.config.max_packet_size as usize + FRAME_SLACK;
    upgrade
        .max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| {
            let peer = Peer {
                addr,
                transport: if client.secure {
                    Transport::SecureWebSocket
                } else {
                    Transport::WebSocket
                },
                certificate_identity: client.identity,
                session_user,
                internal: false,
            };
            // A task of its own: inline in the upgrade's task, the connection's state would sit beside the
            // upgrade's for the connection's life.
            broker.spawn_connection(WsByteStream::new(socket), peer, slot);
            std::future::ready(())
        })
}

/// Whether the request's `Origin` is the dashboard's own (the scheme of this connection and the request's `Host`).
/// `false` without an `Origin`: programs send none, and only a browser page holds a session cookie.
pub(crate) fn from_own_origin(headers: &HeaderMap, secure: bool) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|origin| origin.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    origin_allowed(origin, host, secure, &[])
}

/// Whether a page from `origin` may open `/mqtt`: the dashboard's own origin (the scheme of this connection and
/// the request's `Host`), or one listed in `allowed_origins`. Compared as scheme, host and port, the port made
/// explicit, case-insensitively; `null` (sandboxed pages, `data:` and `file:` URLs) only when listed.
fn origin_allowed(origin: &str, host: Option<&str>, secure: bool, allowed_origins: &[String]) -> bool {
    let Some(origin) = parse_origin(origin) else {
        return allowed_origins.iter().any(|allowed| allowed == origin);
    };
    let scheme = if secure { "https" } else { "http" };
    let own = host.and_then(|host| parse_origin(&format!("{scheme}://{host}")));
    own.as_ref() == Some(&origin)
        || allowed_origins
            .iter()
            .any(|allowed| parse_origin(allowed).as_ref() == Some(&origin))
}

/// `scheme://host[:port]` as (scheme, host, port), lower case, with the scheme's default port made explicit.
fn parse_origin(origin: &str) -> Option<(String, String, u16)> {
    let origin = origin.to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    // An IPv6 literal is bracketed, and its colons are not a port separator.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (rest, default_port),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme.to_owned(), host.to_owned(), port))
}

/// Checks one `http.allowed_origins` entry when the configuration is read.
pub(crate) fn check_origin_setting(origin: &str) -> Result<(), String> {
    match parse_origin(origin) {
        Some(_) => Ok(()),
        None if origin == "null" => Ok(()),
        None => Err(format!(
            "{origin:?} is not an origin: write scheme://host[:port], with http or https and no path"
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboards_own_origin_is_allowed() {
        assert!(origin_allowed(
            "http://pi.local:8080",
            Some("pi.local:8080"),
            false,
            &[]
        ));
        assert!(origin_allowed(
            "HTTP://Pi.Local:8080",
            Some("pi.local:8080"),
            false,
            &[]
        ));
        assert!(origin_allowed("http://pi.local", Some("pi.local:80"), false, &[]));
        assert!(origin_allowed("https://pi.local", Some("pi.local"), true, &[]));
        assert!(origin_allowed("http://[::1]:8080", Some("[::1]:8080"), false, &[]));
    }

    #[test]
    fn other_origins_are_refused_unless_listed() {
        let allowed = ["https://home.example".to_owned(), "null".to_owned()];
        for foreign in [
            "http://evil.example",
            "http://pi.local:8081",
            "https://pi.local:8080",
            "garbage",
            "",
        ] {
            assert!(!origin_allowed(foreign, Some("pi.local:8080"), false, &[]), "{foreign}");
        }
        // Plain http page for an https dashboard: a different origin.
        assert!(!origin_allowed("http://pi.local", Some("pi.local"), true, &[]));
        assert!(!origin_allowed("null", Some("pi.local:8080"), false, &[]));
        assert!(!origin_allowed("http://pi.local:8080", None, false, &[]));
        assert!(origin_allowed(
            "https://home.example:443",
            Some("pi.local:8080"),
            false,
            &allowed
        ));
        assert!(origin_allowed("null", Some("pi.local:8080"), false, &allowed));
    }

    #[test]
    fn origin_settings_are_checked() {
        assert!(check_origin_setting("https://home.example:8443").is_ok());
        assert!(check_origin_setting("null").is_ok());
        for bad in [
            "home.example",
            "https://home.example/",
            "ftp://x",
            "https://",
            "https://h:99999",
        ] {
            assert!(check_origin_setting(bad).is_err(), "{bad}");
        }
    }
}
