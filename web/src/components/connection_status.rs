//! Shows whether the dashboard is connected to the broker, and if not, why.

use leptos::prelude::*;

use roost_codec::ReasonCode;

use crate::mqtt::ConnectionState;

/// The broker connection's state: connecting, connected (with the client id the broker assigned) or disconnected
/// (with why, and when the next attempt starts).
#[component]
pub fn ConnectionStatus(
    /// The state to show.
    #[prop(into)]
    state: Signal<ConnectionState>,
    /// The broker's address, shown so a reader knows what "connected" refers to.
    #[prop(into)]
    broker: String,
) -> impl IntoView {
    // On a phone the status is one line, and "Details" opens the rest (see `roost.css`); wider, all of it shows.
    let expanded = RwSignal::new(false);
    view! {
        <section
            class="status"
            data-state=move || state.with(ConnectionState::name)
            data-expanded=move || expanded.get().to_string()
            aria-live="polite"
        >
            <p class="status-headline">
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-label">{move || state.with(headline)}</span>
                <button
                    type="button"
                    class="status-more"
                    aria-expanded=move || expanded.get().to_string()
                    on:click=move |_| expanded.update(|open| *open = !*open)
                >
                    "Details"
                </button>
            </p>
            <p class="status-detail">{move || state.with(detail)}</p>
            {move || {
                state
                    .with(reconnect_in)
                    .map(|secs| view! { <p class="status-retry">{format!("Reconnecting in {secs}\u{a0}s.")}</p> })
            }}
            <p class="status-broker">"Broker: " <code>{broker}</code></p>
        </section>
    }
}

// Numbers and their units are joined by a no-break space (U+00A0), so "60 s" never wraps apart.

fn headline(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connecting => "Connecting…",
        ConnectionState::Connected { .. } => "Connected",
        ConnectionState::Disconnected { .. } => "Disconnected",
    }
}

fn detail(state: &ConnectionState) -> String {
    match state {
        ConnectionState::Connecting => "Opening a WebSocket to the broker and sending CONNECT.".to_owned(),
        // An accepting MQTT 5 CONNACK always carries Success (0x00): the other codes below 0x80 are not CONNACK's.
        ConnectionState::Connected { client_id, keep_alive } => format!(
            "The broker answered {}. Client id: {client_id}. Keep alive: {keep_alive}\u{a0}s.",
            ReasonCode::Success
        ),
        ConnectionState::Disconnected { why, .. } => why.clone(),
    }
}

fn reconnect_in(state: &ConnectionState) -> Option<u64> {
    match state {
        ConnectionState::Disconnected { reconnect_in, .. } => *reconnect_in,
        _ => None,
    }
}
