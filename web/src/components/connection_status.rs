//! Shows whether the dashboard is connected to the broker, and if not, why.

use leptos::prelude::*;

use crate::mqtt::ConnectionState;

/// The broker connection's state: connecting, connected (with the broker's reason code) or disconnected (with why).
#[component]
pub fn ConnectionStatus(
    /// The state to show.
    #[prop(into)]
    state: Signal<ConnectionState>,
    /// The broker's address, shown so a reader knows what "connected" refers to.
    #[prop(into)]
    broker: String,
) -> impl IntoView {
    view! {
        <section class="status" data-state=move || state.with(ConnectionState::name) aria-live="polite">
            <p class="status-headline">
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-label">{move || state.with(headline)}</span>
            </p>
            <p class="status-detail">{move || state.with(detail)}</p>
            <p class="status-broker">"Broker: " <code>{broker}</code></p>
        </section>
    }
}

fn headline(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connecting => "Connecting…",
        ConnectionState::Connected { .. } => "Connected",
        ConnectionState::Disconnected { .. } => "Disconnected",
    }
}

fn detail(state: &ConnectionState) -> String {
    match state {
        ConnectionState::Connecting => "Opening a WebSocket to the broker.".to_owned(),
        ConnectionState::Connected { reason_code, client_id } => {
            format!("The broker answered {reason_code}. Client id: {client_id}.")
        }
        ConnectionState::Disconnected { why } => why.clone(),
    }
}
