//! The browser side of MQTT over WebSocket: owns the `WebSocket`, feeds its bytes to a [`Session`] and publishes
//! the resulting [`ConnectionState`] in a signal.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::session::KEEP_ALIVE_SECS;
use super::{ConnectionState, Session};

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

/// An open (or opening) MQTT connection to the broker. Dropping it says DISCONNECT and closes the WebSocket.
#[derive(Debug)]
pub struct MqttConnection {
    socket: WebSocket,
    session: Rc<RefCell<Session>>,
    /// The keep-alive timer, set once the socket opens.
    ping: Rc<Cell<Option<IntervalHandle>>>,
    /// The event handlers must live as long as the socket may call them.
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl MqttConnection {
    /// Opens a WebSocket to `url` and keeps `state` up to date until the connection ends. `None` (with `state`
    /// set to disconnected) if the browser refuses to even try, e.g. for a malformed URL.
    pub fn open(url: &str, state: RwSignal<ConnectionState>) -> Option<Self> {
        let socket = match WebSocket::new_with_str(url, SUBPROTOCOL) {
            Ok(socket) => socket,
            Err(error) => {
                let why = format!("The browser cannot open a WebSocket to {url}: {error:?}.");
                state.set(ConnectionState::Disconnected { why });
                return None;
            }
        };
        // MQTT arrives in binary frames; ArrayBuffer is read synchronously (a Blob would need another await).
        socket.set_binary_type(BinaryType::Arraybuffer);
        let session = Rc::new(RefCell::new(Session::new()));
        let ping = Rc::new(Cell::new(None));

        let on_open = Closure::<dyn FnMut()>::new({
            let (socket, session, ping) = (socket.clone(), session.clone(), ping.clone());
            move || {
                let connect = session.borrow_mut().opened();
                send(&socket, &connect);
                let (socket, pingreq) = (socket.clone(), session.borrow().ping());
                let period = Duration::from_secs(u64::from(KEEP_ALIVE_SECS));
                ping.set(set_interval_with_handle(move || send(&socket, &pingreq), period).ok());
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let (socket, session) = (socket.clone(), session.clone());
            move |event: MessageEvent| {
                let change = match event.data().dyn_into::<ArrayBuffer>() {
                    Ok(buffer) => session.borrow_mut().received(&Uint8Array::new(&buffer).to_vec()),
                    // [MQTT-6.0.0-1] a text frame is not MQTT: close.
                    Err(_) => Some(
                        session
                            .borrow_mut()
                            .end("The broker sent a text frame, which is not MQTT.".into()),
                    ),
                };
                if let Some(change) = change {
                    if change.is_disconnected() {
                        let _ = socket.close();
                    }
                    state.try_set(change);
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new({
            let (session, ping) = (session.clone(), ping.clone());
            move |event: CloseEvent| {
                if let Some(timer) = ping.take() {
                    timer.clear();
                }
                let change = session.borrow_mut().closed(event.code(), &event.reason());
                if let Some(change) = change {
                    state.try_set(change);
                }
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // No onerror: the browser reports no detail there, and a close event always follows.
        Some(MqttConnection {
            socket,
            session,
            ping,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }
}

impl Drop for MqttConnection {
    fn drop(&mut self) {
        // Detach first: the handlers are freed with `self` and must not be called afterwards.
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        if let Some(timer) = self.ping.take() {
            timer.clear();
        }
        if self.socket.ready_state() == WebSocket::OPEN {
            // A DISCONNECT first, so the broker knows this was on purpose ([MQTT-3.14.4-3]: no will message).
            let disconnect = self.session.borrow_mut().disconnect();
            send(&self.socket, &disconnect);
        }
        let _ = self.socket.close();
    }
}

/// Sends one binary frame. A failure means the socket is closing, and its close event will say so.
fn send(socket: &WebSocket, bytes: &[u8]) {
    if let Err(error) = socket.send_with_u8_array(bytes) {
        leptos::logging::warn!("sending to the broker failed: {error:?}");
    }
}
