//! The page: a header, the broker connection's state and the topic explorer.

use leptos::prelude::*;

use crate::components::ConnectionStatus;
use crate::explorer::{Explorer, TopicTree};
use crate::mqtt::{ConnectionState, MqttService, Publisher, page_mqtt_url};
use crate::publish::PublishForm;

/// The dashboard. Connects to the broker that served the page as soon as it is mounted, and reconnects by itself.
#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(ConnectionState::Connecting);
    let tree = RwSignal::new(TopicTree::default());
    let url = page_mqtt_url();
    // Owned by the app: dropping it (when the app unmounts) says DISCONNECT and closes the WebSocket.
    let service = StoredValue::new_local(MqttService::start(&url, state, tree));
    let reconnect = move |_| service.with_value(MqttService::reconnect_now);
    // Components publish through this handle; a message sent after the app unmounted goes nowhere, and says so.
    provide_context(Publisher::new(move |outgoing| {
        service
            .try_with_value(|service| service.publish(&outgoing))
            .unwrap_or_else(|| Err("The dashboard has closed its connection.".to_owned()))
    }));
    view! {
        <header class="topbar">
            <h1>"Roost"</h1>
        </header>
        <main>
            <ConnectionStatus state=state broker=url />
            <Show when=move || state.with(ConnectionState::is_disconnected)>
                <button class="reconnect" on:click=reconnect>"Reconnect now"</button>
            </Show>
            <Explorer tree=tree />
            <PublishForm />
        </main>
    }
}
