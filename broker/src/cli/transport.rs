//! The byte stream under the MQTT client: plain TCP, or WebSocket binary frames with subprotocol `mqtt`
//! ([MQTT-6.0.0-3]), either of them over TLS. The only file of `cli` that knows sockets.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use super::error::CliError;
use super::options::Target;

/// How long closing waits for the server to close its side, so that nothing we sent is lost to a reset.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connected byte stream.
#[derive(Debug)]
pub(crate) enum Transport {
    /// MQTT over TCP, or over TLS.
    Tcp(Stream),
    /// MQTT over WebSocket (ws or wss); boxed, as the stream is large.
    WebSocket(Box<WebSocketStream<Stream>>),
}

/// TCP, or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS; boxed, as the session state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// Connects to `target`, with the TLS handshake first when it asks for TLS.
    pub(crate) async fn connect(target: &Target) -> Result<Self, CliError> {
        // The TLS files are read before connecting, so a bad file is reported as such even with no server.
        let tls = match &target.tls {
            Some(options) => Some((
                super::tls::client_config(options)?,
                super::tls::server_name(&target.host)?,
            )),
            None => None,
        };
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(CliError::Connect)?;
        // Small packets, often one per message: do not wait to fill a segment.
        tcp.set_nodelay(true).map_err(CliError::Connect)?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some((config, name)) => {
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| CliError::Tls(format!("TLS handshake failed: {}", tls_reason(&e))))?;
                Stream::Tls(Box::new(tls))
            }
        };
        let Some(path) = &target.websocket_path else {
            return Ok(Self::Tcp(stream));
        };
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        let scheme = if target.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{host}:{}{path}", target.port);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| CliError::Usage(format!("Invalid WebSocket URL '{url}': {e}")))?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        let (ws, _response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| CliError::WebSocket(e.to_string()))?;
        Ok(Self::WebSocket(Box::new(ws)))
    }

    /// Writes `bytes` and flushes them.
    pub(crate) async fn send(&mut self, bytes: Bytes) -> io::Result<()> {
        match self {
            Self::Tcp(tcp) => {
                tcp.write_all(&bytes).await?;
                tcp.flush().await
            }
            Self::WebSocket(ws) => ws.send(Message::Binary(bytes)).await.map_err(ws_error),
        }
    }

    /// The next bytes from the server; `None` once it closed the connection. Cancel safe: nothing is lost when
    /// the future is dropped before it completes.
    pub(crate) async fn recv(&mut self) -> io::Result<Option<Bytes>> {
        match self {
            Self::Tcp(tcp) => {
                let mut buf = BytesMut::with_capacity(16 * 1024);
                let n = tcp.read_buf(&mut buf).await?;
                Ok((n > 0).then(|| buf.freeze()))
            }
            Self::WebSocket(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(None),
                    Some(Ok(Message::Binary(bytes))) => return Ok(Some(bytes)),
                    // Pings are answered by tungstenite; MQTT never uses text frames ([MQTT-6.0.0-1]).
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ws_error(e)),
                }
            },
        }
    }

    /// Closes our side, then waits (briefly) for the server to close its side.
    pub(crate) async fn close(&mut self) {
        let drain = async {
            match self {
                Self::Tcp(tcp) => {
                    let _ = tcp.shutdown().await;
                    let mut sink = [0; 4096];
                    while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                }
                Self::WebSocket(ws) => {
                    let _ = ws.send(Message::Close(None)).await;
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
    }
}

/// The error for a connection that failed while reading: a TLS alert from the server (in TLS 1.3 a refused client
/// certificate arrives only after the handshake, on the first read) is a TLS error, as mosquitto reports it;
/// anything else is a lost connection.
pub(crate) fn lost(error: &io::Error) -> CliError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => CliError::TlsAlert(tls.to_string()),
        None => CliError::ConnectionLost,
    }
}

/// What went wrong in a TLS handshake, in a few words (rustls's error, without the I/O wrapping).
fn tls_reason(error: &io::Error) -> String {
    match error.get_ref() {
        Some(inner) => inner.to_string(),
        None => error.to_string(),
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A WebSocket error as an I/O error, for one error path.
fn ws_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}
