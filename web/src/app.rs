//! The page: a header with the account controls, then either the login form or the dashboard: the broker
//! connection's state and settings, the control panel, discovered devices, the broker's figures, the topic
//! explorer and the publish form.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::account::{AccountBar, LoginView, SessionInfo, api};
use crate::broker_view::BrokerView;
use crate::components::ConnectionStatus;
use crate::connection::profiles::{ACTIVE_KEY, settings_from_json};
use crate::connection::{ConnectionForm, SubscriptionProblems};
use crate::explorer::{Explorer, TopicTree};
use crate::mqtt::{ConnectionSettings, ConnectionState, MqttService, Publisher, generated_client_id, page_mqtt_url};
use crate::panel::{DiscoveredDevices, Panel};
use crate::publish::saved::load;
use crate::publish::{PublishForm, PublishTarget};

/// What the page knows about logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    /// Waiting for `/api/session`.
    Asking,
    /// No login API where the page came from (another server, `trunk serve`): the dashboard as before.
    NoApi,
    /// The broker's answer.
    Known(SessionInfo),
}

/// What the page shows. The dashboard is keyed by the user, so logging in or out reconnects as the new user.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Screen {
    Asking,
    Login { remember_days: u64, may_cancel: bool },
    Dashboard { user: Option<String> },
}

/// The page. Asks the broker who this browser is; shows the login form when it must, else the dashboard, which
/// connects at once.
#[component]
pub fn App() -> impl IntoView {
    let gate = RwSignal::new(Gate::Asking);
    // The Log in button where anonymous clients are welcome.
    let signing_in = RwSignal::new(false);
    spawn_local(async move {
        gate.set(match api::session().await {
            Ok(info) => Gate::Known(info),
            Err(why) => {
                leptos::logging::log!("no login here ({why}); connecting as configured");
                Gate::NoApi
            }
        });
    });
    let screen = Memo::new(move |_| match gate.get() {
        Gate::Asking => Screen::Asking,
        Gate::NoApi => Screen::Dashboard { user: None },
        Gate::Known(info) if signing_in.get() || !info.may_connect() => Screen::Login {
            remember_days: info.remember_days,
            may_cancel: info.anonymous,
        },
        Gate::Known(info) => Screen::Dashboard { user: info.user },
    });
    let known = Callback::new(move |info: SessionInfo| {
        signing_in.set(false);
        gate.set(Gate::Known(info));
    });
    let sign_in = Callback::new(move |()| signing_in.set(true));
    let cancel = Callback::new(move |()| signing_in.set(false));
    let account = move || match gate.get() {
        Gate::Known(info) if screen.with(|screen| matches!(screen, Screen::Dashboard { .. })) => {
            Some(view! { <AccountBar info=info on_change=known on_sign_in=sign_in /> })
        }
        _ => None,
    };
    view! {
        <header class="topbar">
            <h1>"Roost"</h1>
            {account}
        </header>
        {move || match screen.get() {
            Screen::Asking => view! { <main><p class="loading">"Loading…"</p></main> }.into_any(),
            Screen::Login { remember_days, may_cancel } => {
                let on_cancel = may_cancel.then_some(cancel);
                view! {
                    <main>
                        <LoginView remember_days=remember_days on_login=known on_cancel=on_cancel />
                    </main>
                }
                .into_any()
            }
            Screen::Dashboard { .. } => view! { <Dashboard /> }.into_any(),
        }}
    }
}

/// The dashboard. Connects as soon as it is mounted (with the settings applied last time, else to `/mqtt` on the
/// page's own origin), and reconnects by itself; unmounting it disconnects.
#[component]
fn Dashboard() -> impl IntoView {
    let state = RwSignal::new(ConnectionState::Connecting);
    let tree = RwSignal::new(TopicTree::default());
    let initial = initial_settings();
    let broker = RwSignal::new(initial.url.clone());
    // Owned by the app: dropping it (when the app unmounts) says DISCONNECT and closes the WebSocket.
    let service = match MqttService::start_with_settings(&initial, state, tree) {
        Ok(service) => service,
        // Stored settings that no longer pass the checks: the page's own broker, as on a first visit.
        Err(why) => {
            leptos::logging::warn!("the stored connection settings are not usable: {why}");
            broker.set(page_mqtt_url());
            MqttService::start(&page_mqtt_url(), state, tree)
        }
    };
    let problems = service.subscription_problems();
    let service = StoredValue::new_local(service);
    let reconnect = move |_| service.with_value(MqttService::reconnect_now);
    // Components publish through this handle; a message sent after the app unmounted goes nowhere, and says so.
    provide_context(Publisher::new(move |outgoing| {
        service
            .try_with_value(|service| service.publish(&outgoing))
            .unwrap_or_else(|| Err("The dashboard has closed its connection.".to_owned()))
    }));
    // "Publish to this topic" in the explorer fills the publish form's topic.
    provide_context(PublishTarget(RwSignal::new(None)));
    let apply = Callback::new(move |settings: ConnectionSettings| {
        let applied = service
            .try_with_value(|service| service.apply(&settings))
            .unwrap_or_else(|| Err("The dashboard has closed its connection.".to_owned()));
        if applied.is_ok() {
            broker.set(settings.url.clone());
        }
        applied
    });
    view! {
        <main>
            {move || view! { <ConnectionStatus state=state broker=broker.get() /> }}
            <Show when=move || state.with(ConnectionState::is_disconnected)>
                <button class="reconnect" on:click=reconnect>"Reconnect now"</button>
            </Show>
            <SubscriptionProblems problems=problems />
            <details class="connection-settings">
                <summary>"Connection settings"</summary>
                <ConnectionForm initial=initial on_apply=apply />
            </details>
            <Panel tree=tree />
            <DiscoveredDevices tree=tree />
            <BrokerView tree=tree />
            <Explorer tree=tree />
            <PublishForm />
        </main>
    }
}

/// The settings applied last time in this browser, else the defaults for this page. A client id the dashboard
/// generated is generated afresh, so two open pages never share one (the broker would disconnect one for the
/// other, over and over, [MQTT-3.1.4-3]); one the person typed is kept.
fn initial_settings() -> ConnectionSettings {
    let fresh_id = generated_client_id(js_sys::Math::random());
    let defaults = ConnectionSettings::new(page_mqtt_url(), fresh_id.clone());
    let Some(mut settings) = load(ACTIVE_KEY)
        .ok()
        .flatten()
        .and_then(|text| settings_from_json(&text, &defaults))
    else {
        return defaults;
    };
    if settings.client_id.starts_with(GENERATED_PREFIX) {
        settings.client_id = fresh_id;
    }
    settings
}

/// How generated client ids start (see [`generated_client_id`]).
const GENERATED_PREFIX: &str = "roost-dashboard-";
