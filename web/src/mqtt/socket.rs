//! The browser's WebSocket for MQTT ([`Socket`]) and the broker's address ([`page_mqtt_url`]).

use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::window;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// The WebSocket subprotocol for MQTT ([MQTT-6.0.0-3]); the broker refuses a handshake without it.
const SUBPROTOCOL: &str = "mqtt";

/// The `/mqtt` endpoint on the origin that served the page: `ws:` for an `http:` page, `wss:` for `https:`.
pub fn mqtt_url(page_protocol: &str, page_host: &str) -> String {
    let scheme = if page_protocol == "https:" { "wss:" } else { "ws:" };
    format!("{scheme}//{page_host}/mqtt")
}

/// [`mqtt_url`] for the current page.
pub fn page_mqtt_url() -> String {
    let location = window().location();
    let protocol = location.protocol().unwrap_or_default();
    let host = location.host().unwrap_or_default();
    mqtt_url(&protocol, &host)
}

/// What a WebSocket frame held.
#[derive(Debug)]
pub(super) enum Frame {
    /// A binary frame: MQTT bytes.
    Binary(Vec<u8>),
    /// A text frame, which MQTT does not use ([MQTT-6.0.0-1]).
    Text,
}

/// The event handlers every [`Socket`] is given. Made once and shared by the successive sockets, so reconnecting
/// allocates no new closures; they must outlive every socket that may call them.
#[derive(Debug)]
pub(super) struct Handlers {
    /// The socket opened.
    pub(super) on_open: Closure<dyn FnMut()>,
    /// A frame arrived.
    pub(super) on_message: Closure<dyn FnMut(MessageEvent)>,
    /// The socket closed (cleanly or not; the browser's error event carries no detail and is always followed
    /// by this one, so there is no error handler).
    pub(super) on_close: Closure<dyn FnMut(CloseEvent)>,
}

/// Decodes a message event's frame.
pub(super) fn frame(event: &MessageEvent) -> Frame {
    match event.data().dyn_into::<ArrayBuffer>() {
        Ok(buffer) => Frame::Binary(Uint8Array::new(&buffer).to_vec()),
        Err(_) => Frame::Text,
    }
}

/// One WebSocket to the broker. Dropping it detaches its handlers and closes it.
#[derive(Debug)]
pub(super) struct Socket {
    /// The browser's socket.
    socket: WebSocket,
}

impl Socket {
    /// Opens a WebSocket to `url` with `handlers`; `Err` with a sentence if the browser refuses to even try.
    pub(super) fn open(url: &str, handlers: &Handlers) -> Result<Self, String> {
        let socket = WebSocket::new_with_str(url, SUBPROTOCOL)
            .map_err(|error| format!("The browser cannot open a WebSocket to {url}: {error:?}."))?;
        // MQTT arrives in binary frames; ArrayBuffer is read synchronously (a Blob would need another await).
        socket.set_binary_type(BinaryType::Arraybuffer);
        socket.set_onopen(Some(handlers.on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(handlers.on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(handlers.on_close.as_ref().unchecked_ref()));
        Ok(Self { socket })
    }

    /// Sends one binary frame. A failure means the socket is closing, and its close event will say so.
    pub(super) fn send(&self, bytes: &[u8]) {
        if let Err(error) = self.socket.send_with_u8_array(bytes) {
            leptos::logging::warn!("sending to the broker failed: {error:?}");
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Detached first: events of a socket the link has given up on must not reach the next one's state.
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
