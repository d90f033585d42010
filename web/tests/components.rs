//! Components rendered in headless Chromium, one test per connection state.

use leptos::prelude::*;
use roost_web::components::ConnectionStatus;
use roost_web::mqtt::ConnectionState;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A `ConnectionStatus` for `state`, mounted in a fresh element of the page's body.
struct Mounted {
    parent: HtmlElement,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(state: RwSignal<ConnectionState>) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let handle = leptos::mount::mount_to(parent.clone(), move || {
            view! { <ConnectionStatus state=state broker="ws://pi.local/mqtt" /> }.into_any()
        });
        Self {
            parent,
            _handle: handle,
        }
    }

    fn section(&self) -> Element {
        self.parent
            .query_selector(".status")
            .unwrap()
            .expect("a .status element")
    }

    fn data_state(&self) -> Option<String> {
        self.section().get_attribute("data-state")
    }

    fn text(&self) -> String {
        self.parent.text_content().unwrap_or_default()
    }

    fn countdown(&self) -> Option<String> {
        let retry = self.parent.query_selector(".status-retry").unwrap()?;
        retry.text_content()
    }
}

#[wasm_bindgen_test]
async fn connecting() {
    let shown = Mounted::new(RwSignal::new(ConnectionState::Connecting));
    assert_eq!(shown.data_state().as_deref(), Some("connecting"));
    assert!(shown.text().contains("Connecting"), "{}", shown.text());
    assert!(shown.text().contains("ws://pi.local/mqtt"), "{}", shown.text());
    assert_eq!(shown.countdown(), None);
}

#[wasm_bindgen_test]
async fn connected_shows_success_and_the_assigned_client_id() {
    let shown = Mounted::new(RwSignal::new(ConnectionState::Connected {
        client_id: "roost-1".into(),
        keep_alive: 60,
    }));
    assert_eq!(shown.data_state().as_deref(), Some("connected"));
    let text = shown.text();
    assert!(
        text.contains("Connected") && text.contains("Success (0x00)") && text.contains("roost-1"),
        "{text}"
    );
    assert!(text.contains("Keep alive: 60\u{a0}s"), "{text}");
    assert_eq!(shown.countdown(), None);
}

#[wasm_bindgen_test]
async fn disconnected_shows_why_and_counts_down() {
    let state = RwSignal::new(ConnectionState::Disconnected {
        why: "The broker disconnected: Server shutting down (0x8B).".into(),
        reconnect_in: Some(4),
    });
    let shown = Mounted::new(state);
    assert_eq!(shown.data_state().as_deref(), Some("disconnected"));
    assert!(
        shown.text().contains("Disconnected") && shown.text().contains("Server shutting down (0x8B)"),
        "{}",
        shown.text()
    );
    assert_eq!(shown.countdown().as_deref(), Some("Reconnecting in 4\u{a0}s."));

    state.update(|state| {
        if let ConnectionState::Disconnected { reconnect_in, .. } = state {
            *reconnect_in = Some(3);
        }
    });
    leptos::task::tick().await;
    assert_eq!(shown.countdown().as_deref(), Some("Reconnecting in 3\u{a0}s."));
}

#[wasm_bindgen_test]
async fn disconnected_without_a_planned_attempt_shows_no_countdown() {
    let shown = Mounted::new(RwSignal::new(ConnectionState::Disconnected {
        why: "The browser cannot open a WebSocket to ws://[/mqtt.".into(),
        reconnect_in: None,
    }));
    assert_eq!(shown.data_state().as_deref(), Some("disconnected"));
    assert!(shown.text().contains("cannot open a WebSocket"), "{}", shown.text());
    assert_eq!(shown.countdown(), None);
}

#[wasm_bindgen_test]
async fn the_status_follows_the_state_as_it_changes() {
    let state = RwSignal::new(ConnectionState::Connecting);
    let shown = Mounted::new(state);
    state.set(ConnectionState::Connected {
        client_id: "roost-2".into(),
        keep_alive: 60,
    });
    leptos::task::tick().await;
    assert_eq!(shown.data_state().as_deref(), Some("connected"));
    state.set(ConnectionState::Disconnected {
        why: "The broker did not answer PINGREQ within 30 s, so the connection is taken as lost.".into(),
        reconnect_in: Some(1),
    });
    leptos::task::tick().await;
    assert_eq!(shown.data_state().as_deref(), Some("disconnected"));
    assert!(shown.text().contains("PINGREQ"), "{}", shown.text());
    assert_eq!(shown.countdown().as_deref(), Some("Reconnecting in 1\u{a0}s."));
    state.set(ConnectionState::Connecting);
    leptos::task::tick().await;
    assert_eq!(shown.data_state().as_deref(), Some("connecting"));
    assert_eq!(shown.countdown(), None);
}
