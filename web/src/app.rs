//! The page: a header and the broker connection's state.

use leptos::prelude::*;

use crate::components::ConnectionStatus;
use crate::mqtt::{ConnectionState, MqttConnection, page_mqtt_url};

/// The dashboard. Connects to the broker that served the page as soon as it is mounted.
#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(ConnectionState::Connecting);
    let url = page_mqtt_url();
    // Owned by the app: dropping it (when the app unmounts, or on reconnect) closes the WebSocket.
    let connection = StoredValue::new_local(MqttConnection::open(&url, state));
    let reconnect = {
        let url = url.clone();
        move |_| {
            state.set(ConnectionState::Connecting);
            connection.set_value(MqttConnection::open(&url, state));
        }
    };
    view! {
        <header class="topbar">
            <h1>"Roost"</h1>
        </header>
        <main>
            <ConnectionStatus state=state broker=url />
            <Show when=move || state.with(ConnectionState::is_disconnected)>
                <button class="reconnect" on:click=reconnect.clone()>"Reconnect"</button>
            </Show>
        </main>
    }
}
