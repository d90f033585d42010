//! [`MqttService`]: runs a [`Link`] in the browser. WebSocket events and one timer are its inputs; after each it
//! writes the link's bytes to the socket, opens or closes sockets as asked, publishes the state in a signal and
//! re-arms the timer. Received messages go into the explorer's tree at once, but the tree's readers are told at
//! most every [`FLUSH_INTERVAL_MS`], so a busy `#` re-renders the page ten times a second, not per message.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use bytes::BytesMut;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent};
use web_time::Instant;

use super::ConnectionState;
use super::message::topic_message;
use super::outgoing::Outgoing;
use super::settings::ConnectionSettings;
use crate::explorer::TopicTree;

/// How long received messages wait before the explorer re-renders, in milliseconds.
const FLUSH_INTERVAL_MS: i32 = 100;
use super::link::{Action, Link, dashboard_options};
use super::socket::{Frame, Handlers, Socket, frame};

/// The dashboard's MQTT connection, reconnecting as long as it lives. Dropping it says DISCONNECT and closes
/// the WebSocket.
#[derive(Debug)]
pub struct MqttService {
    /// Shared with the event handlers, which hold it weakly: dropping the service ends it.
    inner: Rc<RefCell<Inner>>,
}

/// Everything the handlers need. Borrowed only for one input at a time; the browser never calls a handler while
/// another runs.
#[derive(Debug)]
struct Inner {
    /// The protocol and reconnect state.
    link: Link,
    /// Where the broker is.
    url: String,
    /// The current attempt's WebSocket.
    socket: Option<Socket>,
    /// The WebSocket handlers, shared by every socket.
    handlers: Handlers,
    /// Calls `handle_timeout`; one closure for every timer, so re-arming allocates nothing.
    on_timer: Closure<dyn FnMut()>,
    /// The armed timer: its deadline and the browser's handle.
    timer: Option<(Instant, i32)>,
    /// Bytes being written to the socket.
    out: BytesMut,
    /// Where the components read the state.
    state: RwSignal<ConnectionState>,
    /// Where the explorer reads the topics. Updated untracked per message; notified by the flush timer.
    tree: RwSignal<TopicTree>,
    /// Where the page reads the subscriptions the broker refused, in words.
    problems: RwSignal<Vec<String>>,
    /// Notifies the tree's readers; one closure for every flush.
    on_flush: Closure<dyn FnMut()>,
    /// The armed flush timer's handle, while messages wait to be shown.
    flush: Option<i32>,
}

impl MqttService {
    /// Starts connecting to `url` at once, and keeps `state` and `tree` up to date until dropped.
    pub fn start(url: &str, state: RwSignal<ConnectionState>, tree: RwSignal<TopicTree>) -> Self {
        Self::start_with(url, Link::new(dashboard_options()), state, tree)
    }

    /// [`MqttService::start`] with connection settings a person chose (see [`ConnectionSettings::check`]).
    pub fn start_with_settings(
        settings: &ConnectionSettings,
        state: RwSignal<ConnectionState>,
        tree: RwSignal<TopicTree>,
    ) -> Result<Self, String> {
        let (options, filter) = settings.check()?;
        Ok(Self::start_with(
            &settings.url,
            Link::with_filter(options, filter),
            state,
            tree,
        ))
    }

    /// Runs `link` against `url`.
    fn start_with(url: &str, link: Link, state: RwSignal<ConnectionState>, tree: RwSignal<TopicTree>) -> Self {
        let inner = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
            RefCell::new(Inner {
                link,
                url: url.to_owned(),
                socket: None,
                handlers: handlers(weak),
                on_timer: on_timer(weak),
                timer: None,
                out: BytesMut::new(),
                state,
                tree,
                problems: RwSignal::new(Vec::new()),
                on_flush: on_flush(weak),
                flush: None,
            })
        });
        let service = Self { inner };
        service.inner.borrow_mut().after_input();
        service
    }

    /// Publishes `outgoing` now, or says in words why it cannot be.
    pub fn publish(&self, outgoing: &Outgoing) -> Result<(), String> {
        let mut inner = self.inner.borrow_mut();
        let published = inner.link.publish(outgoing, Instant::now());
        inner.after_input();
        published
    }

    /// Connects anew with `settings` (the connection form's Connect button): the current connection ends with a
    /// DISCONNECT and a new one starts at once. `Err` in words, changing nothing, when the settings are wrong.
    pub fn apply(&self, settings: &ConnectionSettings) -> Result<(), String> {
        let (options, filter) = settings.check()?;
        let mut inner = self.inner.borrow_mut();
        inner.url = settings.url.clone();
        inner.link.reconfigure(options, filter);
        inner.after_input();
        Ok(())
    }

    /// The subscriptions the broker refused on the current connection, each a sentence; empty when all were
    /// granted.
    pub fn subscription_problems(&self) -> Signal<Vec<String>> {
        self.inner.borrow().problems.into()
    }

    /// Starts a new attempt now, if disconnected (the Reconnect button).
    pub fn reconnect_now(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.link.reconnect_now();
        inner.after_input();
    }
}

impl Drop for MqttService {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.link.shutdown();
        inner.after_input();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A timer left armed would call a freed closure.
        if let Some((_, handle)) = self.timer.take() {
            window().clear_timeout_with_handle(handle);
        }
        if let Some(handle) = self.flush.take() {
            window().clear_timeout_with_handle(handle);
        }
    }
}

/// The WebSocket handlers, each feeding one input to the link.
fn handlers(weak: &Weak<RefCell<Inner>>) -> Handlers {
    let on_open = {
        let weak = weak.clone();
        Closure::new(move || feed(&weak, |link| link.socket_opened(Instant::now())))
    };
    let on_message = {
        let weak = weak.clone();
        Closure::new(move |event: MessageEvent| {
            let frame = frame(&event);
            feed(&weak, |link| match frame {
                Frame::Binary(bytes) => link.received(&bytes, Instant::now()),
                Frame::Text => link.received_text(Instant::now()),
            });
        })
    };
    let on_close = {
        let weak = weak.clone();
        Closure::new(move |event: CloseEvent| {
            feed(&weak, |link| {
                link.socket_closed(event.code(), &event.reason(), Instant::now())
            });
        })
    };
    Handlers {
        on_open,
        on_message,
        on_close,
    }
}

/// The timer's callback.
fn on_timer(weak: &Weak<RefCell<Inner>>) -> Closure<dyn FnMut()> {
    let weak = weak.clone();
    Closure::new(move || {
        if let Some(inner) = weak.upgrade() {
            // Fired, so no longer armed: `arm_timer` must set it again even for the same deadline.
            inner.borrow_mut().timer = None;
        }
        feed(&weak, |link| link.handle_timeout(Instant::now()));
    })
}

/// The flush timer's callback: the explorer re-renders with every message received since the last flush.
fn on_flush(weak: &Weak<RefCell<Inner>>) -> Closure<dyn FnMut()> {
    let weak = weak.clone();
    Closure::new(move || {
        let Some(inner) = weak.upgrade() else { return };
        let tree = {
            let mut inner = inner.borrow_mut();
            inner.flush = None;
            inner.tree
        };
        // Not borrowed while notifying: rendering never calls back into the service, but need not be trusted to.
        // A disposed signal (the app unmounted) has no readers, and `notify` then does nothing.
        tree.notify();
    })
}

/// Gives one input to the link, then carries out what the link asks. Does nothing once the service is dropped.
fn feed(weak: &Weak<RefCell<Inner>>, input: impl FnOnce(&mut Link)) {
    if let Some(inner) = weak.upgrade() {
        let mut inner = inner.borrow_mut();
        input(&mut inner.link);
        inner.after_input();
    }
}

impl Inner {
    /// After every input: bytes out, socket actions, the shown state, the timer.
    fn after_input(&mut self) {
        while self.link.poll_transmit(&mut self.out) {}
        if !self.out.is_empty() {
            if let Some(socket) = &self.socket {
                socket.send(&self.out);
            }
            self.out.clear();
        }
        while let Some(action) = self.link.poll_action() {
            // Either way the old socket goes first (dropping it detaches and closes it).
            self.socket = None;
            if action == Action::OpenSocket {
                match Socket::open(&self.url, &self.handlers) {
                    Ok(socket) => self.socket = Some(socket),
                    Err(why) => self.link.socket_unavailable(why),
                }
            }
        }
        let shown = self.link.state();
        if self.state.try_with_untracked(|state| state != shown) == Some(true) {
            // A new connection: the broker sends its retained messages again, which must not count twice.
            if matches!(shown, ConnectionState::Connected { .. }) {
                self.tree.try_update(TopicTree::clear);
            }
            self.state.try_set(shown.clone());
        }
        let problems = self.link.subscription_problems();
        if self.problems.try_with_untracked(|shown| shown.as_slice() != problems) == Some(true) {
            self.problems.try_set(problems.to_vec());
        }
        self.take_messages();
        self.arm_timer();
    }

    /// Puts received messages into the tree without telling its readers, and arms the flush timer that will.
    fn take_messages(&mut self) {
        let mut any = false;
        while let Some(publish) = self.link.poll_message() {
            let message = topic_message(&publish, js_sys::Date::now() as u64);
            self.tree.try_update_untracked(|tree| tree.insert(message));
            any = true;
        }
        if any && self.flush.is_none() {
            match window().set_timeout_with_callback_and_timeout_and_arguments_0(
                self.on_flush.as_ref().unchecked_ref(),
                FLUSH_INTERVAL_MS,
            ) {
                Ok(handle) => self.flush = Some(handle),
                Err(error) => leptos::logging::warn!("cannot set a timer: {error:?}"),
            }
        }
    }

    /// Arms the one timer for the link's next deadline, unless it is armed for it already.
    fn arm_timer(&mut self) {
        let deadline = self.link.poll_timeout();
        if self.timer.map(|(at, _)| at) == deadline {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            window().clear_timeout_with_handle(handle);
        }
        let Some(deadline) = deadline else { return };
        // Rounded up to whole milliseconds, so the timer never fires before the deadline.
        let wait = deadline.saturating_duration_since(Instant::now());
        let millis = wait.as_secs() * 1000 + u64::from(wait.subsec_nanos().div_ceil(1_000_000));
        let millis = i32::try_from(millis).unwrap_or(i32::MAX);
        match window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(self.on_timer.as_ref().unchecked_ref(), millis)
        {
            Ok(handle) => self.timer = Some((deadline, handle)),
            Err(error) => leptos::logging::warn!("cannot set a timer: {error:?}"),
        }
    }
}
